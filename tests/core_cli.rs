//! The command line of the core: `barrack ops`, `barrack call`, `barrack sim`, run as the built
//! binary with a private HOME and no BARRACK_* variables, against the simulator.

use crate::support::*;
use barrack::api::OPS;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

fn run(home: &Path, args: &[&str]) -> Output {
    barrack(home)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the barrack binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn expect_code(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

#[track_caller]
fn json_out(out: &Output) -> Value {
    expect_code(out, 0);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", stdout(out)))
}

#[test]
fn ops_json_lists_every_operation_with_its_route() {
    let home = tempfile::tempdir().unwrap();
    let list = json_out(&run(home.path(), &["ops", "--json"]));
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), 69);
    assert_eq!(list.len(), OPS.len());
    for (entry, op) in list.iter().zip(OPS) {
        assert_eq!(entry["name"], op.name);
        assert_eq!(entry["method"], op.method.as_str(), "{}", op.name);
        assert_eq!(entry["path"], op.path, "{}", op.name);
    }
}

#[test]
fn ops_name_shows_one_operation_in_detail() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["ops", "stop"]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("POST /instances/{id}/stop/"), "{text}");
    assert!(text.contains("stop_instance"), "{text}");
    let out = run(home.path(), &["ops", "stpo"]);
    expect_code(&out, 2);
    assert!(
        stderr(&out).contains("did you mean stop"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn call_balance_against_the_in_process_simulator() {
    let home = tempfile::tempdir().unwrap();
    let balance = json_out(&run(
        home.path(),
        &["call", "balance", "--sim", "-o", "json"],
    ));
    assert!(balance["balance"].as_f64().unwrap() > 0.0, "{balance}");
    assert_eq!(balance["currency"], "USD");
}

#[test]
fn call_takes_key_value_and_json_fields() {
    let home = tempfile::tempdir().unwrap();
    // Every --sim run starts the same seeded world, so its SSH key id is stable.
    let keys = json_out(&run(
        home.path(),
        &["call", "ssh_keys", "--sim", "-o", "json"],
    ));
    let key = keys[0]["id"].as_str().unwrap().to_string();
    let ids = format!("ssh_key_ids:=[\"{key}\"]");
    let vm = json_out(&run(
        home.path(),
        &[
            "call",
            "deploy",
            "--sim",
            "-o",
            "json",
            "gpu_model=H100-SXM5-80GB",
            "gpu_count:=2",
            "region=FINLAND-1",
            "os_image_id=ubuntu-22.04-cuda-12.4",
            &ids,
            "name=from-cli",
        ],
    ));
    assert_eq!(vm["name"], "from-cli");
    assert_eq!(vm["gpu_count"], 2);
    assert_eq!(vm["status"], "CREATING");
    // A validation error exits 1 and names the field and the printed message.
    let out = run(
        home.path(),
        &[
            "call",
            "create_script",
            "--sim",
            "name=bad/name",
            "script=echo",
        ],
    );
    expect_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("VALIDATION_ERROR"), "{err}");
    assert!(
        err.contains("name: Name must contain only alphanumeric characters"),
        "{err}"
    );
}

#[test]
fn an_unknown_operation_is_a_usage_error_with_a_suggestion() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["call", "nope", "--sim"]);
    expect_code(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("no operation named \"nope\""), "{err}");
    assert!(err.contains("barrack ops"), "points at the list: {err}");
    let out = run(home.path(), &["call", "balanse", "--sim"]);
    expect_code(&out, 2);
    assert!(
        stderr(&out).contains("did you mean balance"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_api_error_exits_1_with_the_servers_code() {
    let home = tempfile::tempdir().unwrap();
    let out = run(
        home.path(),
        &["call", "instance", "id=BRK-000000VM", "--sim"],
    );
    expect_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("NOT_FOUND"), "{err}");
    assert!(err.contains("BRK-000000VM"), "{err}");
    assert!(err.contains("request_id"), "{err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn no_key_and_no_sim_is_a_configuration_error() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["call", "balance"]);
    expect_code(&out, 78);
    let err = stderr(&out);
    assert!(err.contains("no API key"), "{err}");
    assert!(err.contains("BARRACK_API_KEY"), "says how to fix it: {err}");
}

#[test]
fn a_catalog_override_with_an_unknown_operation_is_a_configuration_error() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("catalog.json");
    std::fs::write(
        &file,
        r#"[{"name": "balance"}, {"name": "no_such_op", "path": "/x/"}]"#,
    )
    .unwrap();
    let file = file.to_str().unwrap();
    for args in [
        vec!["call", "balance", "--sim", "--catalog", file],
        vec!["ops", "--catalog", file],
    ] {
        let out = run(home.path(), &args);
        expect_code(&out, 78);
        assert!(
            stderr(&out).contains("\"no_such_op\""),
            "names the entry: {}",
            stderr(&out)
        );
    }
    std::fs::write(
        home.path().join("catalog.json"),
        r#"[{"name": "instance", "path": "/instances/{id/"}]"#,
    )
    .unwrap();
    let out = run(home.path(), &["ops", "--catalog", file]);
    expect_code(&out, 78);
    assert!(stderr(&out).contains("\"instance\""), "{}", stderr(&out));

    // A valid override is what the client uses: the simulator does not know the new path.
    std::fs::write(
        home.path().join("catalog.json"),
        r#"[{"name": "balance", "path": "/v2/balance/"}]"#,
    )
    .unwrap();
    let listed = json_out(&run(
        home.path(),
        &["ops", "--json", "--catalog", file, "balance"],
    ));
    assert_eq!(listed[0]["path"], "/v2/balance/");
    let out = run(
        home.path(),
        &["call", "balance", "--sim", "--catalog", file],
    );
    expect_code(&out, 1);
    assert!(stderr(&out).contains("/v2/balance/"), "{}", stderr(&out));
}

/// Kills the child process (ours) if a test fails before it does.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn barrack_sim_serves_the_api_over_http() {
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");
    let child = barrack(home.path())
        .args(["sim", "--listen", &listen, "--speed", "1000", "--seed", "7"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("barrack sim starts");
    let mut running = Running(Some(child));

    let started = Instant::now();
    let balance = loop {
        match raw_to(&url, "GET", "/balance/", None, &[]) {
            Ok(answer) => break answer,
            Err(_) if started.elapsed() < Duration::from_secs(15) => {
                if let Some(status) = running.0.as_mut().unwrap().try_wait().unwrap() {
                    panic!("barrack sim exited early with {status}");
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(e) => panic!("barrack sim never answered on {url}: {e}"),
        }
    };
    assert_eq!(balance.status, 200);
    assert_eq!(balance.json()["data"]["balance"], 10_000.0);
    assert_eq!(balance.header("x-sim-speed"), Some("1000"));
    let unauthorized = reqwest::blocking::get(format!("{url}/balance/")).unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);

    // The CLI's own client against it, with the key from the environment.
    let out = barrack(home.path())
        .args(["call", "regions", "--api-url", &url, "-o", "json"])
        .env("BARRACK_API_KEY", "sk-any")
        .output()
        .unwrap();
    let regions = json_out(&out);
    assert!(regions
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == "CANADA-1" && r["tier"] == "legacy"));

    let mut child = running.0.take().unwrap();
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains(&format!("serving the Barrack API on {url}")),
        "{log}"
    );
}
