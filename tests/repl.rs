//! `barrack repl` driven through piped stdin, as a user's terminal session would be; a piped
//! session exits 1 when any entry failed.

use crate::test::Test;

fn repl(input: &str) -> Test {
    Test::new().args(["repl", "--sim"]).stdin(input)
}

#[test]
fn the_scope_persists_across_lines_and_multi_line_input_works() {
    repl(
        "
        let x = 40;
        x + 2
        let m = #{
            a: 1,
            b: [2,
                3]
        };
        m.b[1] +
            m.a
        fn twice(v) {
            v * 2
        }
        twice(x)
        ",
    )
    .stdout("42\n4\n80\n")
    .success();
}

#[test]
fn an_error_does_not_end_the_session() {
    repl(
        "
        nope(1)
        let vm = deploy(#{gpu: \"L40\", region: \"CANADA-1\", name: \"r-1\"});
        vm.stop()
        vm.name
        ",
    )
    .stderr_has("unknown function nope")
    .stderr_has("it is CREATING; stop needs ACTIVE")
    .stdout("r-1\n")
    // Piped, the session still ran every entry, and says in its exit status that two failed.
    .stderr_has("2 entries of the piped input failed")
    .status(1);
}

#[test]
fn history_is_written_0600_and_never_holds_the_key() {
    let out = repl(
        "
        let greeting = \"hello\";
        let k = \"sk-test-SECRET\";
        greeting
        ",
    )
    .env("BARRACK_API_KEY", "sk-test-SECRET")
    .stdout("hello\n")
    .success();
    let path = out.path("home/.local/state/barrack/history");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("let greeting = \"hello\";"), "{text}");
    assert!(
        !text.contains("SECRET"),
        "the key reached the history: {text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn completion_help_and_ops_come_from_the_catalog() {
    let out = repl(":complete insta\n:complete vm.hib\n:complete deploy(#{g\n").success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines.contains(&"instances") && lines.contains(&"instance_billing"),
        "{lines:?}"
    );
    assert!(lines.contains(&"hibernate"), "{lines:?}");
    assert!(lines.contains(&"gpu: "), "{lines:?}");
    repl(":help deploy\n")
        .stdout_has("POST /instances/")
        .stdout_has("Example:")
        .success();
    repl(":help wait_active\n")
        .stdout_has("wait_active")
        .stdout_has("ACTIVE")
        .success();
    repl(":ops\n")
        .stdout_has("/snapshots/{id}/restore/")
        .success();
    repl(":help\n").stdout_has(":explain on|off").success();
}

#[test]
fn explain_prints_each_request_without_the_key() {
    let out = repl(":explain on\nbalance().currency\n:explain off\nbalance().currency\n")
        .env("BARRACK_API_KEY", "sk-test-SECRET")
        .stdout_has("USD")
        .stderr_has("→ GET http://127.0.0.1:")
        .stderr_has("/balance/")
        .success();
    assert_eq!(
        out.stderr.matches("/balance/").count(),
        1,
        "only the request made with explain on: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("SECRET"));
}

#[test]
fn the_repl_commands_scope_load_clear_and_quit_do_what_they_say() {
    Test::new()
        .file("setup.rhai", "let loaded = 7;")
        .args(["repl", "--sim"])
        .stdin(":load setup.rhai\nloaded * 6\n:scope\n:clear\n:quit\nloaded\n")
        .stdout_has("42\n")
        .stdout_has("loaded = 7")
        .stdout_has("scope cleared")
        .stderr_lacks("loaded")
        .success();
}

// ---- a piped REPL exits 1 when an entry failed ----

#[test]
fn a_piped_repl_exits_1_when_any_entry_failed_and_0_otherwise() {
    Test::new()
        .args(["repl", "--sim"])
        .stdin("let a = 1;\nnope(a);\nprint(a + 1);\n")
        .stdout_has("2")
        .stderr_has("unknown function nope")
        .stderr_has("1 entry of the piped input failed")
        .status(1);
    Test::new()
        .args(["repl", "--sim"])
        .stdin("let a = 1;\nprint(a + 1);\n")
        .stdout_has("2")
        .success();
}
