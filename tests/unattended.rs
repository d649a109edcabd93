//! Runs nobody watches (cron, CI): one stop flag for `--timeout` and Ctrl-C (a second Ctrl-C
//! exits at once, the REPL keeps its scope), a crash that prints one line without the key, a
//! bounded `api_key_command`, locks that make a second run exit 75 at once, an audit log that
//! concurrent runs keep valid, a flag's missing directory named, fleet exit codes that keep their
//! cause, and an embedded host stopped by its deadline.

use crate::support::{self, KEY};
use crate::test::{Running, Test};

/// Far beyond what any run here needs: only a hang reaches it.
const HANG: Duration = Duration::from_secs(120);
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

// ---- api_key_command ----

#[test]
fn a_hanging_api_key_command_is_stopped_by_the_runs_deadline() {
    // Within the 2 s the run had left, far below the command's own 30 s limit.
    Test::eval("balance()")
        .args(["--timeout", "2s"])
        .config("default_profile = \"vault\"\n[profiles.vault]\napi_key_command = \"sleep 1000; echo k\"\n")
        .hang_limit(HANG)
        .stderr_has("api_key_command of profile vault did not finish within")
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
    let url = crate::support::unreachable_url();
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

// ---- a flag's missing directory is a configuration error naming both ----

#[test]
fn audit_log_and_lock_in_a_missing_directory_exit_78_naming_flag_and_directory() {
    Test::run("1")
        .args(["--audit-log", "logs/missing/audit.jsonl"])
        .stderr_has("--audit-log logs/missing/audit.jsonl")
        .stderr_has("the directory logs/missing does not exist")
        .stderr_has("mkdir -p logs/missing")
        .status(78);
    Test::run("1")
        .args(["--lock", "run/missing/x.lock"])
        .stderr_has("--lock run/missing/x.lock")
        .stderr_has("mkdir -p run/missing")
        .status(78);
}

// ---- locks ----

#[test]
fn a_second_run_with_the_same_lock_exits_75_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("nightly.lock");
    let lock = lock.to_str().unwrap();
    // Far longer than any test: the first run still holds the lock when the second ends.
    let mut first = Test::new()
        .file("slow.rhai", "sleep(\"7d\");")
        .args(["run", "--sim", "--lock", lock, "slow.rhai"])
        .spawn();
    // Wait until the first run holds the lock.
    let held = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::File::open(lock)
            .map(|f| f.try_lock_shared().is_err())
            .unwrap_or(false)
    });
    assert!(held, "the first run never took the lock");
    Test::new()
        .file("quick.rhai", "1")
        .args(["run", "--sim", "--lock", lock, "quick.rhai"])
        .status(75);
    // "At once": the second run gave up while the first still held the lock, instead of
    // waiting for it to be released.
    assert!(
        first.exited().is_none(),
        "the first run ended before the second answered: the second waited for the lock"
    );
    first.kill();
}

// ---- the audit log ----

#[test]
fn the_audit_log_has_one_json_line_per_mutating_call() {
    let out = Test::run(
        r#"
        let vm = deploy(#{gpu: "L40", region: "CANADA-1", name: "audited"});
        wait_active(vm);
        balance();
        vm.hibernate();
        try { vm.stop(); } catch (e) {}
        "#,
    )
    .args(["--audit-log", "audit.jsonl"])
    .env("BARRACK_API_KEY", "sk-test-SECRET")
    .success();
    let text = std::fs::read_to_string(out.path("audit.jsonl")).unwrap();
    assert!(!text.contains("SECRET"));
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let ops: Vec<&str> = lines.iter().map(|l| l["op"].as_str().unwrap()).collect();
    assert_eq!(ops, vec!["deploy", "hibernate_instance", "stop_instance"]);
    assert_eq!(lines[0]["outcome"], "ok");
    assert!(lines[0]["target"].as_str().unwrap().starts_with("BRK-"));
    assert!(lines[0]["request_id"].is_string() && lines[0]["time"].is_string());
    assert_eq!(lines[2]["outcome"], "error");
    assert_eq!(lines[2]["status"], 409);
}
