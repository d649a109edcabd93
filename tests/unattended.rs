//! Run control and engine bounds (issue 13, the Ctrl-C item of 17, the `--timeout` cost of 18):
//! one stop flag for `--timeout` and Ctrl-C, durations that never wrap, one memory bound, no
//! stack overflow, a bounded `api_key_command`, imports of regular files only, an audit log
//! that concurrent runs keep valid, and fleet exit codes that keep their cause. Every test runs
//! the real binary or talks real HTTP to the simulator.

use crate::support::{self, KEY};
use crate::test::{Running, Test};
use barrack::script::{Host, Source};
use std::time::Duration;

// ---- the stop flag: --timeout and Ctrl-C ----

#[test]
fn a_timeout_says_what_was_in_flight() {
    Test::eval(r#"sleep("5h")"#)
        .args(["--timeout", "1s"])
        .stderr_has("stopped by --timeout after 1s while sleep(5h) was in flight")
        .status(75);
}

#[test]
fn a_timeout_stops_a_fleet_wait_and_names_it() {
    // 5 h of server time is 18 s of wall time on --sim: the deadline ends it long before.
    Test::run(
        r#"
        let vms = deploy([#{gpu: "L40", region: "CANADA-1"}, #{gpu: "L40", region: "CANADA-1"}]);
        wait_active(vms);
        stop(vms);
        wait_status(vms, "SHUTOFF", #{interval: "5h"});
        wait_active(vms);
        "#,
    )
    .args(["--timeout", "6s"])
    .stderr_has("stopped by --timeout after 6s while")
    .stderr_has("wait_status BRK-")
    .status(75);
}

#[test]
fn ctrl_c_stops_a_run_with_130_and_reports_the_mutation_in_flight() {
    // Every request takes 3 s: the delete is in flight when Ctrl-C comes.
    let mut run = Test::new()
        .file(
            "s.rhai",
            "print(\"ready\");\ntry { delete(\"BRK-000000VM\"); } catch (e) { print(e.code); }\nsleep(\"5h\");\n",
        )
        .args(["run", "--sim", "--latency-ms", "3000", "s.rhai"])
        .stderr_has("interrupted (Ctrl-C) while delete_instance BRK-000000VM was in flight")
        .stderr_has("requests already sent were let finish: delete_instance BRK-000000VM (failed: NOT_FOUND)")
        .spawn();
    run.stdout_until("ready");
    std::thread::sleep(Duration::from_millis(300));
    run.interrupt();
    run.finish(130);
}

#[test]
fn a_second_ctrl_c_exits_at_once() {
    // A request that takes 20 s: the first Ctrl-C waits for it, the second does not.
    let mut run = Test::new()
        .file("s.rhai", "print(\"ready\");\nbalance();\n")
        .args(["run", "--sim", "--latency-ms", "20000", "s.rhai"])
        .stderr_has("interrupted again: exiting now")
        .spawn();
    run.stdout_until("ready");
    std::thread::sleep(Duration::from_millis(300));
    run.interrupt();
    run.stderr_until("Ctrl-C again exits at once");
    run.interrupt();
    run.finish(130);
}

#[test]
fn ctrl_c_in_the_repl_stops_the_evaluation_and_keeps_the_scope() {
    let mut repl = Test::new()
        .args(["repl", "--sim"])
        .stderr_has("interrupted (Ctrl-C) while sleep(5h) was in flight")
        .spawn();
    repl.type_line("let x = 41;");
    repl.type_line("print(\"ready\"); sleep(\"5h\"); x = 0;");
    repl.stdout_until("ready");
    std::thread::sleep(Duration::from_millis(300));
    repl.interrupt();
    repl.type_line("x + 1");
    let out = repl.wait();
    assert!(
        out.stdout.lines().any(|l| l.trim() == "42"),
        "{}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    assert_ne!(
        out.status, 130,
        "the session went on after Ctrl-C: {}",
        out.stderr
    );
    assert_ne!(
        out.status, -1,
        "the REPL was not killed by the signal: {}",
        out.stderr
    );
}

/// A crash that is not a panic (a stack overflow is a SIGSEGV on the guard page; here the signal
/// is sent) ends with barrack's one fixed line and exit 70, never Rust's abort (134) or the key.
#[test]
fn a_crash_prints_one_line_without_the_key_and_exits_70() {
    let mut run = Test::new()
        .file("s.rhai", "print(\"ready\");\nsleep(\"5h\");\n")
        .args(["run", "--sim", "s.rhai"])
        .env("BARRACK_API_KEY", "sk-crash-SECRET")
        .stderr_lacks("SECRET")
        .stderr_lacks("overflowed")
        .spawn();
    run.stdout_until("ready");
    run.signal(libc::SIGSEGV);
    let out = run.finish(70);
    assert!(
        out.stderr.starts_with("barrack: internal error: a crash")
            && out.stderr.lines().count() == 1,
        "{}",
        out.stderr
    );
}

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

// ---- no abort: deep values, import cycles ----

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
        .stderr_has("pipe.rhai is not a regular file")
        .status(1);
}

// ---- api_key_command ----

#[test]
fn a_hanging_api_key_command_is_stopped_by_the_runs_deadline() {
    let test = Test::eval("balance()").args(["--timeout", "2s"]);
    let config = test.path().join("home/.config/barrack");
    std::fs::create_dir_all(&config).expect("config dir");
    let file = config.join("config.toml");
    std::fs::write(
        &file,
        "default_profile = \"vault\"\n[profiles.vault]\napi_key_command = \"sleep 1000; echo k\"\n",
    )
    .expect("config written");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    // Within the 2 s the run had left, far below the command's own 30 s limit.
    test.stderr_has("api_key_command of profile vault did not finish within")
        .stderr_has("and was stopped")
        .status(78);
}

// ---- the audit log under concurrent writers ----

#[test]
fn six_concurrent_runs_keep_the_audit_log_valid() {
    let shared = tempfile::tempdir().expect("a directory");
    let log = shared.path().join("audit.jsonl");
    let log = log.to_str().expect("a UTF-8 path");
    let runs: Vec<Running> = (0..6)
        .map(|_| {
            Test::new()
                .file(
                    "s.rhai",
                    "for i in 0..50 { try { hibernate(`BRK-${i}`); } catch {} }\n",
                )
                .args(["run", "--sim", "-q", "--audit-log", log, "s.rhai"])
                .spawn()
        })
        .collect();
    for run in runs {
        run.finish(0);
    }
    let text = std::fs::read_to_string(log).expect("the log");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 300);
    let invalid: Vec<&&str> = lines
        .iter()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .map_or(true, |v| v["op"] != "hibernate_instance")
        })
        .collect();
    assert!(
        invalid.is_empty(),
        "{} invalid lines: {:?}",
        invalid.len(),
        invalid.first()
    );
}

// ---- fleet exit codes keep their cause ----

#[test]
fn a_fleet_wait_on_an_unreachable_api_exits_69_like_a_single_wait() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    Test::new()
        .args(["eval", r#"wait_active(["BRK-000001VM", "BRK-000002VM"])"#])
        .args(["--api-url", &url, "--retries", "1"])
        .env("BARRACK_API_KEY", KEY)
        .stderr_has("2 of 2 failed")
        .status(69);
    Test::new()
        .args(["eval", r#"wait_active("BRK-000001VM")"#])
        .args(["--api-url", &url, "--retries", "1"])
        .env("BARRACK_API_KEY", KEY)
        .status(69);
}

#[test]
fn a_fleet_with_mixed_causes_exits_1_and_lists_each() {
    Test::eval(r#"hibernate(["BRK-000000VM", 42])"#)
        .stderr_has("(mixed causes: VALIDATION_ERROR ×1, NOT_FOUND ×1)")
        .status(1);
}

// ---- the in-process stop flag ----

/// An embedder's runtime with a deadline and no `barrack` binary: the same flag stops a
/// CPU-bound loop, and the error says what the run was doing.
#[test]
fn an_embedded_host_is_stopped_by_its_deadline() {
    let (sim, _) = support::sim();
    let host = Host::builder(support::client_for(&sim, Some(KEY)))
        .timeout(Duration::from_millis(200))
        .build();
    let err = host
        .run(&Source::snippet("<t>", "let n = 0; loop { n += 1; }"))
        .expect_err("stopped");
    assert_eq!(err.exit_code(), 75, "{err}");
    assert!(err.to_string().contains("--timeout"), "{err}");
}

// ---- property: no recipe input makes a recipe act on an object it should not ----

mod recipes {
    use crate::support::{self, KEY, LEGACY_REGION};
    use barrack::script::{Host, Source};
    use barrack::sim::Simulator;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};
    use rhai::Dynamic;
    use serde_json::json;
    use std::sync::OnceLock;
    use std::time::Duration;

    /// A fixed seed (no flakes, no regression files); more cases with PROPTEST_CASES.
    fn config(cases: u32) -> Config {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(cases);
        Config {
            cases,
            rng_seed: RngSeed::Fixed(13),
            failure_persistence: None,
            ..Config::default()
        }
    }

    /// A frozen world: two ACTIVE instances `p-1`, `p-2` (a few simulated minutes old) and
    /// three snapshots of `p-1` named `auto-…`.
    struct World {
        sim: Simulator,
        /// Ages in seconds of the two instances, and of the (youngest) snapshot.
        vm_ages: [i64; 2],
        snap_age: i64,
        vm: String,
    }

    fn world() -> &'static World {
        static WORLD: OnceLock<World> = OnceLock::new();
        WORLD.get_or_init(|| {
            let (sim, client) = support::sim();
            let vm = support::active_instance(&sim, &client, LEGACY_REGION, json!({"name": "p-1"}));
            let other =
                support::active_instance(&sim, &client, LEGACY_REGION, json!({"name": "p-2"}));
            let mut snaps = Vec::new();
            for name in ["auto-a", "auto-b", "auto-c"] {
                let s = support::ok(
                    &client,
                    "snapshot",
                    json!({"instance_id": vm, "name": name}),
                );
                snaps.push(s["id"].as_str().expect("an id").to_string());
            }
            for id in &snaps {
                support::wait_object(&sim, &client, "get_snapshot", id, "AVAILABLE");
            }
            let now = client.server_now().as_second();
            let age = |op: &str, id: &str| {
                let obj = support::ok(&client, op, json!({"id": id}));
                let created: jiff::Timestamp = obj["created_at"]
                    .as_str()
                    .expect("created_at")
                    .parse()
                    .expect("a time");
                now - created.as_second()
            };
            World {
                vm_ages: [age("instance", &vm), age("instance", &other)],
                snap_age: snaps
                    .iter()
                    .map(|s| age("get_snapshot", s))
                    .min()
                    .unwrap_or(0),
                vm,
                sim,
            }
        })
    }

    /// Run `code` with `params`, planning (nothing is sent); the mutations it would make.
    fn plan(code: &str, params: rhai::Map) -> Result<Vec<String>, String> {
        let w = world();
        let host = Host::builder(support::client_for(&w.sim, Some(KEY)))
            .quiet(true)
            .plan()
            .params(params)
            .build();
        let outcome = host.run(&Source::snippet("<prop>", code));
        let changes = host
            .runtime()
            .planner()
            .map(|p| p.changes().into_iter().map(|c| c.op.to_string()).collect())
            .unwrap_or_default();
        match outcome {
            Ok(_) => Ok(changes),
            Err(e) if changes.iter().all(|c| c == "create_snapshot") => Err(e.to_string()),
            Err(e) => Err(format!("failed after acting ({changes:?}): {e}")),
        }
    }

    /// A `max_age` as scripts and `--set` give it: integers (negative, huge), numbers, and
    /// duration texts with any count, including ones past what a duration can hold.
    fn max_age() -> impl Strategy<Value = Dynamic> {
        prop_oneof![
            (0_i64..2_000).prop_map(Dynamic::from),
            any::<i64>().prop_map(Dynamic::from),
            (0.0_f64..1e25).prop_map(Dynamic::from),
            (
                any::<u64>(),
                prop::sample::select(vec!["s", "m", "h", "d", "y", ""])
            )
                .prop_map(|(n, u)| Dynamic::from(format!("{n}{u}"))),
            (0_u64..600, prop::sample::select(vec!["s", "m"]))
                .prop_map(|(n, u)| Dynamic::from(format!("{n}{u}"))),
            prop::sample::select(vec!["10000000000000000000s", "-5s", "soon", "", "1e300"])
                .prop_map(Dynamic::from),
        ]
    }

    /// Seconds of a valid `max_age`, as a person reads it; `None` when it is no duration.
    fn reference_seconds(value: &Dynamic) -> Option<i64> {
        if let Ok(i) = value.as_int() {
            return (i >= 0).then_some(i);
        }
        let secs = if let Ok(f) = value.as_float() {
            Duration::try_from_secs_f64(f).ok()?.as_secs()
        } else {
            barrack::script::time::parse_duration(&value.to_string())
                .ok()?
                .as_secs()
        };
        i64::try_from(secs).ok()
    }

    proptest! {
        #![proptest_config(config(24))]

        /// The reaper deletes exactly the instances older than `max_age`; an input that is no
        /// duration (or does not fit one) is an error that deletes nothing.
        #[test]
        fn the_reaper_acts_only_on_what_is_older_than_max_age(age in max_age()) {
            let w = world();
            let mut params = rhai::Map::new();
            params.insert("max_age".into(), age.clone());
            let acted = plan(
                r#"import "barrack/reaper" as r; r::reap(#{pattern: "p-*", max_age: params.max_age, action: "delete"})"#,
                params,
            );
            match (reference_seconds(&age), acted) {
                (Some(limit), Ok(ops)) => {
                    let expected = w.vm_ages.iter().filter(|a| **a > limit).count();
                    prop_assert_eq!(ops.iter().filter(|o| *o == "delete_instance").count(), expected,
                        "max_age {} (= {} s), instances {:?} s old", age, limit, w.vm_ages);
                }
                (None, Err(_)) => {}
                (want, got) => prop_assert!(false, "max_age {}: reference {:?}, got {:?}", age, want, got),
            }
        }

        /// Rotation keeps the `keep_last` newest and deletes by age only what is older than
        /// `max_age`; bad options are refused before anything is deleted.
        #[test]
        fn rotation_deletes_only_beyond_keep_last_or_max_age(
            keep_last in prop_oneof![(-3_i64..6), any::<i64>()],
            age in prop::option::of(max_age()),
        ) {
            let w = world();
            let mut params = rhai::Map::new();
            params.insert("keep_last".into(), keep_last.into());
            params.insert("max_age".into(), age.clone().unwrap_or(Dynamic::UNIT));
            params.insert("vm".into(), w.vm.clone().into());
            let acted = plan(
                r#"import "barrack/rotation" as r; r::rotate(#{instance: params.vm, keep_last: params.keep_last, max_age: params.max_age})"#,
                params,
            );
            let limit = age.as_ref().map(reference_seconds);
            let valid = keep_last >= 1 && limit != Some(None);
            match (valid, acted) {
                (true, Ok(ops)) => {
                    // Three existing snapshots, the newest first; keep_last counts the new one.
                    let too_old = matches!(limit, Some(Some(l)) if w.snap_age > l);
                    let kept = usize::try_from(keep_last - 1).unwrap_or(usize::MAX).min(3);
                    let expected = if too_old { 3 } else { 3 - kept };
                    prop_assert_eq!(ops.iter().filter(|o| *o == "delete_snapshot").count(), expected,
                        "keep_last {} max_age {:?} snapshots {} s old", keep_last, age, w.snap_age);
                }
                (false, Err(_)) => {}
                (want, got) => prop_assert!(false, "keep_last {} max_age {:?}: valid {}, got {:?}", keep_last, age, want, got),
            }
        }

        /// The hibernation schedule hibernates only outside its period; a period that is not a
        /// time of day is refused before anything is hibernated.
        #[test]
        fn hibernation_acts_only_outside_its_periods(
            begin in (-2_i64..27, -2_i64..62),
            end in (-2_i64..27, -2_i64..62),
            junk in prop::option::of(prop::sample::select(vec!["9", "ab:cd", "99999999999999999999:00", "12:00:00", ""])),
        ) {
            let text = |(h, m): (i64, i64)| format!("{h:02}:{m:02}");
            let begin_text = junk.map(str::to_string).unwrap_or_else(|| text(begin));
            let mut params = rhai::Map::new();
            params.insert("begin".into(), begin_text.clone().into());
            params.insert("end".into(), text(end).into());
            let acted = plan(
                r#"import "barrack/hibernation" as h;
                   h::apply(#{select: #{name: "p-*"}, now: "2026-12-02T12:00:00Z", timezone: "UTC",
                              periods: [#{begin: params.begin, end: params.end, weekdays: "mon-sun"}]})"#,
                params,
            );
            let minutes = |(h, m): (i64, i64)| ((0..=24).contains(&h) && (0..=59).contains(&m)).then_some(h * 60 + m);
            let b = if junk.is_some() { None } else { minutes(begin) };
            match (b, minutes(end), acted) {
                (Some(b), Some(e), Ok(ops)) => {
                    let noon = 12 * 60;
                    let inside = if b <= e { b <= noon && noon < e } else { noon >= b || noon < e };
                    let expected = if inside { 0 } else { 2 };
                    prop_assert_eq!(ops.iter().filter(|o| *o == "hibernate_instance").count(), expected,
                        "period {}–{}", begin_text, text(end));
                }
                (b, e, Err(_)) if b.is_none() || e.is_none() => {}
                (b, e, got) => prop_assert!(false, "period {}–{} ({:?}, {:?}): got {:?}", begin_text, text(end), b, e, got),
            }
        }
    }
}
