//! The engine's limits: durations that never wrap, one memory bound that ordinary Rhai never
//! meets, deep values and import cycles that are errors rather than crashes, imports of regular
//! files only.

use crate::test::Test;

// ---- durations never wrap ----

#[test]
fn huge_durations_are_errors_not_negative_numbers() {
    Test::eval(r#"duration("10000000000000000000s")"#)
        .stderr_has("a duration of 10000000000000000000 seconds is too long")
        .status(1);
    Test::eval(r#"now() + "10000000000000000000s""#)
        .stderr_has("too long")
        .status(1);
    Test::eval("now() - (-9223372036854775807 - 1)")
        .stderr_has("outside the times barrack can represent")
        .status(1);
    Test::eval("now() + 9223372036854775807")
        .stderr_has("outside the times barrack can represent")
        .status(1);
}

#[test]
fn the_reaper_refuses_a_max_age_that_does_not_fit_and_deletes_nothing() {
    Test::run(
        r#"
        import "barrack/reaper" as reaper;
        let vm = deploy(#{name: "new-1", gpu: "L40", region: "CANADA-1"});
        wait_active(vm);
        try {
            reaper::reap(#{pattern: "new-*", max_age: "10000000000000000000s", action: "delete"});
            print("reaped");
        } catch (e) {
            print("refused");
        }
        print(instance(vm.id).status);
        "#,
    )
    .stdout("refused\nACTIVE\n")
    .success();
}

// ---- memory: one bound, ordinary Rhai untouched ----

#[test]
fn rhai_benchmark_scripts_run_as_under_the_stock_engine() {
    let primes = include_str!("data/primes.rhai");
    let strings = include_str!("data/strings_map.rhai");
    Test::run(primes).stdout_has("Total 78498 primes").success();
    Test::run(strings)
        .stdout_has("Entries = 120000")
        .stdout_has("Sum = 480000")
        .success();
}

#[test]
fn a_million_pushes_and_a_large_map_are_ordinary() {
    Test::eval(
        "let a = []; for i in 0..300000 { a.push(i) } let m = #{}; for i in 0..120000 { m[`k${i}`] = i } [a.len(), m.len()]",
    )
    .stdout_has("300000")
    .stdout_has("120000")
    .success();
}

#[test]
fn growth_by_index_assignment_meets_the_memory_bound() {
    Test::eval(
        r#"let m = #{}; let s = "x"; s.pad(1000, "y"); for i in 0..1000000 { m[`k${i}`] = s + i; } m.len()"#,
    )
    .args(["--max-memory", "64MiB"])
    .stderr_has("the script used more than 64 MiB of memory (--max-memory)")
    .status(1);
}

#[test]
fn a_string_doubling_loop_meets_the_memory_bound() {
    Test::eval(r#"let s = "x"; loop { s += s; }"#)
        .args(["--max-memory", "64MiB"])
        .stderr_has("more than 64 MiB of memory")
        .status(1);
}

#[test]
fn one_huge_allocation_is_refused_before_it_is_made() {
    Test::eval(r#"let s = "x"; s.pad(10000000000, "y"); s.len()"#)
        .args(["--max-memory", "1GiB"])
        .stderr_has("pad would need")
        .stderr_has("past 1 GiB of memory (--max-memory)")
        .status(1);
    Test::eval("let b = blob(10000000000); b.len()")
        .args(["--max-memory", "1GiB"])
        .stderr_has("blob would need")
        .status(1);
    Test::eval("let a = [1]; a.pad(10000000000, 0); a.len()")
        .args(["--max-memory", "1GiB"])
        .stderr_has("pad would need")
        .status(1);
    // Ordinary padding is untouched.
    Test::eval(r#"let s = "ab"; s.pad(5, "xy"); let a = [1]; a.pad(3, 0); `${s} ${a}`"#)
        .stdout("abxyx [1, 0, 0]\n")
        .success();
}

#[test]
fn max_memory_must_be_a_size() {
    Test::eval("1")
        .args(["--max-memory", "lots"])
        .stderr_has("not a size")
        .status(2);
}

// ---- no abort: deep values, import cycles, fifos ----

#[test]
fn comparing_a_deeply_nested_value_is_not_a_crash() {
    Test::eval("let a=[]; for i in 0..4600 { a=[a]; } a==a")
        .stdout("true\n")
        .success();
    Test::eval("let a=[]; for i in 0..5100 { a=[a]; } a==a")
        .stderr_has("cannot compare values nested deeper than 5000 levels")
        .status(1);
    Test::eval("let m=#{}; for i in 0..4600 { m=#{m: m}; } m!=m")
        .stdout("false\n")
        .success();
    // Like Rhai: different types are unequal, equal values of any kind compare equal.
    Test::eval(
        r#"[[1, "a", #{b: [now()]}] == [[1, "a", #{b: [now()]}]], [1] == ["1"], [1] != [2]]"#,
    )
    .stdout_has("false")
    .success();
}

#[test]
fn a_deep_value_passed_to_a_fleet_is_a_clear_error() {
    Test::run(
        r#"
        let s = #{gpu: "L40", region: "CANADA-1"};
        let a = [];
        for i in 0..3200 { a = [a]; }
        s.tags = a;
        deploy([s, s]);
        "#,
    )
    .stderr_has("nested deeper than 512 levels cannot be turned into JSON")
    .stderr_lacks("overflowed")
    .status(1);
}

#[test]
fn import_cycles_are_named() {
    Test::new()
        .file("me.rhai", "import \"me\" as me;\n1\n")
        .args(["run", "--sim", "me.rhai"])
        .stderr_has("import cycle: me → me")
        .status(1);
    Test::new()
        .file("a.rhai", "import \"b\" as b;\n1\n")
        .file("b.rhai", "import \"a\" as a;\n2\n")
        .args(["run", "--sim", "a.rhai"])
        .stderr_has("import cycle: b → a → b")
        .status(1);
    // A module imported twice, not in a cycle, is fine.
    Test::new()
        .file(
            "main.rhai",
            "import \"x\" as x;\nimport \"y\" as y;\nprint(y::v + x::v);\n",
        )
        .file("x.rhai", "export const v = 1;\n")
        .file("y.rhai", "import \"x\" as x;\nexport const v = x::v + 1;\n")
        .args(["run", "--sim", "main.rhai"])
        .stdout("3\n")
        .success();
}

#[cfg(unix)]
#[test]
fn an_import_of_a_fifo_is_refused_not_a_hang() {
    let test = Test::new().file("main.rhai", "import \"pipe\" as p;\n1\n");
    let fifo = test.path().join("pipe.rhai");
    let path = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("a path");
    // SAFETY: mkfifo(3) with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "mkfifo");
    test.args(["run", "--sim", "main.rhai"])
        .hang_limit(std::time::Duration::from_secs(120))
        .stderr_has("pipe.rhai is not a regular file")
        .status(1);
}
