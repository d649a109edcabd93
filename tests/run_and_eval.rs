//! `barrack run` and `barrack eval` as a user types them: the example scripts and the quickstart,
//! params and args, values printed readably and as JSON, and the exit codes with their messages
//! (65 syntax, 66 a missing script, 69 unreachable, 75 timeout or held lock, 77 a refused key,
//! 78 configuration, 2 usage).

use crate::test::{help_says, Test};

#[test]
fn every_example_script_runs_green() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rhai") {
            count += 1;
            Test::new()
                .args(["run", "--sim", path.to_str().unwrap()])
                .success();
        }
    }
    assert!(count >= 4, "expected the example scripts, found {count}");
}

#[test]
fn quickstart_shows_the_whole_workflow() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/quickstart.rhai");
    Test::new()
        .args(["run", "--sim", path.to_str().unwrap()])
        .stdout_has("Ready:     Vm BRK-")
        .stdout_has("ACTIVE FINLAND-1 8×H100-SXM5-80GB")
        .stdout_has("Asleep:    Vm")
        .stdout_has("HIBERNATED")
        .stdout_has("D \"train-1-copy\" ACTIVE")
        .stdout_has("Cleaned up.")
        .success();
}

#[test]
fn params_and_args_reach_the_script() {
    Test::run(r#"print(`${params.n + 1} ${params.name} ${params.on} ${ARGS}`);"#)
        .set("n", "41")
        .set("name", "db-*")
        .set("on", "true")
        .args(["--", "a", "b"])
        .stdout("42 db-* true [\"a\", \"b\"]\n")
        .success();
}

#[test]
fn eval_prints_values_readably_and_as_json() {
    Test::eval(r#"let vm = deploy(#{gpu: "L40", region: "CANADA-1", name: "e-1"}); vm"#)
        .stdout_has("Vm BRK-")
        .stdout_has("\"e-1\" CREATING CANADA-1 1×L40")
        .success();
    let out = Test::eval("balance()").args(["-o", "json"]).success();
    assert_eq!(out.json()["currency"], "USD");
}

#[test]
fn a_bad_name_is_exit_1_and_names_the_field() {
    Test::run(r#"deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "bad name!"});"#)
        .stderr_has("script.rhai:1:1: deploy was not sent: VALIDATION_ERROR")
        .stderr_has(
            "name: Instance name may contain only letters, numbers, hyphens and underscores",
        )
        .status(1);
}

#[test]
fn a_wrong_state_is_exit_1_and_names_the_state() {
    Test::run(
        r#"
        let vm = deploy(#{gpu: "L40", region: "CANADA-1", name: "ws-1"});
        vm.stop();
        "#,
    )
    .stderr_has("409 CONFLICT")
    .stderr_has("Cannot stop instance BRK-")
    .stderr_has("(ws-1): it is CREATING; stop needs ACTIVE")
    .stderr_has("request_id")
    .status(1);
}

#[test]
fn an_unknown_function_is_exit_1_with_a_suggestion() {
    Test::run("let x = instancs();")
        .stderr_has("unknown function instancs")
        .stderr_has("did you mean")
        .stderr_has("instances")
        .status(1);
}

#[test]
fn syntax_errors_are_exit_65_with_every_location() {
    Test::new()
        .file("bad.rhai", "let a = ;\nlet ok = 1;\nlet b = (;\n")
        .args(["check", "bad.rhai"])
        .stderr_has("bad.rhai:1:")
        .stderr_has("bad.rhai:3:")
        .stderr_has("2 syntax errors")
        .status(65);
    Test::new()
        .file("bad.rhai", "let a = ;")
        .args(["run", "--sim", "bad.rhai"])
        .stderr_has("bad.rhai:1:")
        .status(65);
    Test::new()
        .file("good.rhai", "let a = 1;")
        .args(["check", "good.rhai"])
        .stdout("ok  good.rhai\n")
        .success();
}

#[test]
fn timeout_stops_the_run_with_exit_75() {
    Test::run("loop { sleep(0.01); }")
        .args(["--timeout", "300ms"])
        .stderr_has("--timeout")
        .status(75);
    Test::run(r#"let vm = deploy(#{gpu: "L40", region: "CANADA-1"}); wait_active(vm, #{interval: "1s"}); loop { vm.refresh(); }"#)
        .args(["--timeout", "1s"])
        .status(75);
}

#[test]
fn an_uncaught_throw_is_exit_1() {
    Test::run(r#"throw "stop here";"#)
        .stderr_has("uncaught: stop here")
        .status(1);
}

#[test]
fn a_held_lock_is_exit_75_at_once() {
    let test = Test::run("sleep(0.01);");
    let lock = test.path().join("run.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .unwrap();
    file.lock().unwrap();
    test.args(["--lock", lock.to_str().unwrap()])
        .stderr_has("holds the lock")
        .status(75);
    drop(file);
}

#[test]
fn no_key_and_no_sim_is_a_configuration_error() {
    Test::new()
        .args(["eval", "balance()"])
        .stderr_has("no API key")
        .stderr_has("--sim")
        .status(78);
}

#[test]
fn an_unreachable_api_is_exit_69() {
    let url = crate::support::unreachable_url();
    Test::new()
        .args(["eval", "balance()", "--api-url", &url, "--retries", "1"])
        .env("BARRACK_API_KEY", "sk-test")
        .stderr_has("could not be reached")
        .status(69);
}

#[test]
fn a_refused_key_is_exit_77_and_never_printed() {
    let mut options = barrack::sim::SimOptions::fast();
    options.api_key = Some("sk-right".into());
    let sim = barrack::sim::Simulator::start(options).unwrap();
    let base = sim.base_url();
    let out = Test::new()
        .args(["eval", "balance()", "--api-url", &base, "-v"])
        .env("BARRACK_API_KEY", "sk-test-SECRET")
        .stderr_has("401 UNAUTHORIZED")
        .status(77);
    assert!(!out.stderr.contains("SECRET") && !out.stdout.contains("SECRET"));
}

#[test]
fn a_bad_script_path_is_a_clear_error() {
    Test::new()
        .args(["run", "--sim", "missing.rhai"])
        .stderr_has("script missing.rhai does not exist")
        .status(66);
    Test::new()
        .args(["run", "--sim", "stdlib:nope"])
        .stderr_has("rotation")
        .status(2);
}

#[test]
fn bad_flags_are_usage_errors() {
    Test::new()
        .args(["run", "--parallel", "0", "x.rhai"])
        .status(2);
    Test::new()
        .args(["run", "--timeout", "soon", "x.rhai"])
        .status(2);
    Test::new()
        .args(["run", "--sim", "--fault-rate", "2", "x.rhai"])
        .stderr_has("--fault-rate")
        .status(2);
    Test::new().args(["frobnicate"]).status(2);
}

#[test]
fn a_missing_script_exits_66_with_its_path() {
    Test::new()
        .args(["run", "--sim", "nowhere/job.rhai"])
        .stderr_has("script nowhere/job.rhai does not exist")
        .status(66);
    Test::new()
        .args(["check", "gone.rhai"])
        .stderr_has("gone.rhai")
        .status(66);
    assert!(help_says(
        &["--help"],
        "66 a script or input file does not exist"
    ));
}
