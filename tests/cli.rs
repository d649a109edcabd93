//! The command line of the core: `barrack ops`, `barrack call`, `barrack sim`, run as the built
//! binary with a private HOME and no BARRACK_* variables, against the simulator.

use crate::support::*;
use crate::test::Test;
use barrack::api::OPS;
use std::time::{Duration, Instant};

#[test]
fn ops_json_lists_every_operation_with_its_route() {
    let list = Test::new().args(["ops", "--json"]).success().json();
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
    Test::new()
        .args(["ops", "stop"])
        .stdout_has("POST /instances/{id}/stop/")
        .stdout_has("stop_instance")
        .success();
    Test::new()
        .args(["ops", "stpo"])
        .stderr_has("did you mean stop")
        .status(2);
}

#[test]
fn call_balance_against_the_in_process_simulator() {
    let balance = Test::new()
        .args(["call", "balance", "--sim", "-o", "json"])
        .success()
        .json();
    assert!(balance["balance"].as_f64().unwrap() > 0.0, "{balance}");
    assert_eq!(balance["currency"], "USD");
}

#[test]
fn call_takes_key_value_and_json_fields() {
    // Every --sim run starts the same seeded world, so its SSH key id is stable.
    let keys = Test::new()
        .args(["call", "ssh_keys", "--sim", "-o", "json"])
        .success()
        .json();
    let key = keys[0]["id"].as_str().unwrap().to_string();
    let ids = format!("ssh_key_ids:=[\"{key}\"]");
    let vm = Test::new()
        .args([
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
        ])
        .success()
        .json();
    assert_eq!(vm["name"], "from-cli");
    assert_eq!(vm["gpu_count"], 2);
    assert_eq!(vm["status"], "CREATING");
    // A validation error exits 1 and names the field and the printed message.
    Test::new()
        .args([
            "call",
            "create_script",
            "--sim",
            "name=bad/name",
            "script=echo",
        ])
        .stderr_has("VALIDATION_ERROR")
        .stderr_has("name: Name must contain only alphanumeric characters")
        .status(1);
}

#[test]
fn an_unknown_operation_is_a_usage_error_with_a_suggestion() {
    Test::new()
        .args(["call", "nope", "--sim"])
        .stderr_has("no operation named \"nope\"")
        // It points at the list.
        .stderr_has("barrack ops")
        .status(2);
    Test::new()
        .args(["call", "balanse", "--sim"])
        .stderr_has("did you mean balance")
        .status(2);
}

#[test]
fn an_api_error_exits_1_with_the_servers_code() {
    Test::new()
        .args(["call", "instance", "id=BRK-000000VM", "--sim"])
        .stderr_has("NOT_FOUND")
        .stderr_has("BRK-000000VM")
        .stderr_has("request_id")
        .stdout("")
        .status(1);
}

#[test]
fn call_without_a_key_or_sim_is_a_configuration_error_saying_how_to_fix_it() {
    Test::new()
        .args(["call", "balance"])
        .stderr_has("no API key")
        .stderr_has("BARRACK_API_KEY")
        .status(78);
}

#[test]
fn a_catalog_override_with_an_unknown_operation_is_a_configuration_error() {
    for args in [
        vec!["call", "balance", "--sim", "--catalog", "catalog.json"],
        vec!["ops", "--catalog", "catalog.json"],
    ] {
        // It names the entry.
        Test::new()
            .file(
                "catalog.json",
                r#"[{"name": "balance"}, {"name": "no_such_op", "path": "/x/"}]"#,
            )
            .args(args)
            .stderr_has("\"no_such_op\"")
            .status(78);
    }
    Test::new()
        .file(
            "catalog.json",
            r#"[{"name": "instance", "path": "/instances/{id/"}]"#,
        )
        .args(["ops", "--catalog", "catalog.json"])
        .stderr_has("\"instance\"")
        .status(78);

    // A valid override is what the client uses: the simulator does not know the new path.
    let valid = r#"[{"name": "balance", "path": "/v2/balance/"}]"#;
    let listed = Test::new()
        .file("catalog.json", valid)
        .args(["ops", "--json", "--catalog", "catalog.json", "balance"])
        .success()
        .json();
    assert_eq!(listed[0]["path"], "/v2/balance/");
    Test::new()
        .file("catalog.json", valid)
        .args(["call", "balance", "--sim", "--catalog", "catalog.json"])
        .stderr_has("/v2/balance/")
        .status(1);
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn barrack_sim_serves_the_api_over_http() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");
    let mut sim = Test::new()
        .args(["sim", "--listen", &listen, "--speed", "1000", "--seed", "7"])
        .stderr_has(&format!("serving the Barrack API on {url}"))
        .spawn();

    let started = Instant::now();
    let balance = loop {
        match raw_to(&url, "GET", "/balance/", None, &[]) {
            Ok(answer) => break answer,
            Err(_) if started.elapsed() < Duration::from_secs(15) => {
                if let Some(status) = sim.exited() {
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
    let regions = Test::new()
        .args(["call", "regions", "--api-url", &url, "-o", "json"])
        .env("BARRACK_API_KEY", "sk-any")
        .success()
        .json();
    assert!(regions
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == "CANADA-1" && r["tier"] == "legacy"));

    sim.kill();
}
