//! Strict keys: every map a user writes is checked against the catalog's request
//! shapes. The per-operation tests are generated from the catalog, so a new operation is
//! covered without a new test.

use crate::support::{host, raw, requests, run_code};
use crate::test::Test;
use barrack::api::catalog::{ArgType, Kind, Op, OPS};
use barrack::api::check::{request_fields, script_keys};
use barrack::sim::{SimOptions, Simulator};
use serde_json::{json, Value};

/// What the world holds that a refused call could have made.
fn objects(sim: &Simulator) -> Value {
    let w = sim.world();
    json!([
        w.instances.len(),
        w.volumes.len(),
        w.snapshots.len(),
        w.firewalls.len(),
        w.ssh_keys.len(),
        w.scripts.len(),
        w.images.len(),
        w.balance
    ])
}

/// An id of `kind` in a form the client accepts; it is never sent, as the map is refused first.
fn id_literal(kind: Kind) -> String {
    match kind {
        Kind::Vm => "\"BRK-000000VM\"".into(),
        other => format!("\"{}0000test\"", other.id_prefix()),
    }
}

/// The Rhai arguments of a call of `op` whose map argument is `map`.
fn call_args(op: &Op, map: &str) -> String {
    op.args
        .iter()
        .map(|arg| match arg.ty {
            ArgType::Target(kind) => id_literal(kind),
            ArgType::Targets(kind) => format!("[{}]", id_literal(kind)),
            ArgType::Str => "\"x\"".into(),
            ArgType::Int => "1".into(),
            ArgType::Map => map.into(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A typo of `key`: its last letter doubled (one edit away, so it is suggested back).
fn typo(key: &str) -> String {
    let last = key.chars().last().unwrap_or('x');
    format!("{key}{last}")
}

#[test]
fn every_function_that_takes_a_map_refuses_a_misspelled_key_naming_the_closest_one() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    let world_before = objects(&sim);
    let mut covered = 0;
    for op in OPS
        .iter()
        .filter(|op| op.args.iter().any(|a| a.ty == ArgType::Map))
    {
        let keys = script_keys(op.fields);
        let (bad, suggestion) = match keys.first() {
            Some(key) => (typo(key), Some(*key)),
            None => ("bogus".to_string(), None),
        };
        let code = format!("{}({})", op.name, call_args(op, &format!("#{{{bad}: 1}}")));
        let before = requests(&sim);
        let err = run_code(&host, &code)
            .err()
            .unwrap_or_else(|| panic!("{code} was accepted"))
            .to_string();
        assert!(
            err.contains(&format!("{}: unknown key \"{bad}\"", op.name)),
            "{code}: {err}"
        );
        match suggestion {
            Some(key) => assert!(
                err.contains(&format!("did you mean \"{key}\"?")),
                "{code}: {err}"
            ),
            None => assert!(err.contains("(accepted: none)"), "{code}: {err}"),
        }
        for key in &keys {
            assert!(
                err.contains(key),
                "{code}: the accepted keys lack {key}: {err}"
            );
        }
        assert_eq!(requests(&sim), before, "{code} sent a request");
        covered += 1;
    }
    assert!(covered >= 20, "only {covered} operations take a map");
    assert_eq!(
        objects(&sim),
        world_before,
        "a refused call changed the world"
    );
}

#[test]
fn api_by_name_refuses_a_field_the_operation_does_not_take_for_every_operation() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    let before = requests(&sim);
    for op in OPS {
        let path = op.path_params();
        let fields: Vec<&str> = request_fields(op)
            .into_iter()
            .filter(|f| !path.contains(f))
            .collect();
        let (bad, suggestion) = match fields.first() {
            Some(f) => (typo(f), Some(*f)),
            None => ("bogus".to_string(), None),
        };
        let code = format!("api(\"{}\", #{{id: \"x-1\", {bad}: 1}})", op.name);
        let err = run_code(&host, &code)
            .err()
            .unwrap_or_else(|| panic!("{code} was accepted"))
            .to_string();
        assert!(
            err.contains(&format!("unknown key \"{bad}\"")),
            "{code}: {err}"
        );
        if let Some(field) = suggestion {
            assert!(
                err.contains(&format!("did you mean \"{field}\"?")),
                "{code}: {err}"
            );
        }
    }
    assert_eq!(requests(&sim), before, "a refused api() call was sent");
}

#[test]
fn the_simulator_answers_400_naming_an_unknown_body_field_or_query_parameter() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let world_before = objects(&sim);
    for op in OPS {
        let mut path = op.path.to_string();
        for param in op.path_params() {
            path = path.replace(&format!("{{{param}}}"), "unknown-1");
        }
        let method = op.method.as_str();
        let answer = if method == "GET" {
            raw(&sim, method, &format!("{path}?bogus_field=1"), None, &[])
        } else {
            raw(&sim, method, &path, Some(r#"{"bogus_field": 1}"#), &[])
        }
        .unwrap();
        assert_eq!(answer.status, 400, "{method} {path}: {}", answer.text);
        let body = answer.json();
        assert_eq!(body["code"], "VALIDATION_ERROR", "{method} {path}: {body}");
        let said = body["errors"]["bogus_field"][0]
            .as_str()
            .unwrap_or_default();
        assert!(
            said.contains(&format!("{}: unknown key \"bogus_field\"", op.name)),
            "{method} {path}: {body}"
        );
    }
    assert_eq!(objects(&sim), world_before);
}

#[test]
fn a_misspelled_count_and_disk_size_stop_the_deploy_before_anything_is_created() {
    // The issue's case: this deployed ONE GPU with a 100 GB disk, without a word.
    let out = Test::run(
        r#"
        try {
            deploy(#{gpu: "H100-SXM5-80GB", cout: 8, os_volume_size: 500});
        } catch (e) {
            print(`instances: ${instances().len()}`);
            throw e;
        }
        "#,
    )
    .stdout_has("instances: 0")
    .stderr_has("unknown key \"cout\"; did you mean \"count\"?")
    .stderr_has("unknown key \"os_volume_size\"; did you mean \"os_volume_gb\"?")
    .stderr_has("(accepted: gpu, count, region")
    .status(1);
    assert!(!out.stdout.contains("BRK-"), "{}", out.stdout);
}

#[test]
fn keys_of_one_tier_are_refused_in_a_region_of_the_other_naming_the_tier() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    let advanced = r#"gpu: "H100-SXM5-80GB", region: "FINLAND-1""#;
    let legacy = r#"gpu: "L40", region: "CANADA-1""#;
    for (spec, field, words) in [
        (
            format!("{advanced}, cloud_init: \"#cloud-config\""),
            "cloud_init",
            "\"cloud_init\" applies to legacy regions only; FINLAND-1 is a advanced region",
        ),
        (
            format!("{advanced}, public_ip: true"),
            "public_ip",
            "legacy regions only",
        ),
        (
            format!("{advanced}, security_rules: [#{{protocol: \"TCP\", port_range: \"22\"}}]"),
            "security_rules",
            "legacy regions only",
        ),
        (
            format!("{legacy}, startup_script: \"scr-1\""),
            "startup_script_id",
            "\"startup_script\" applies to advanced regions only",
        ),
        (
            format!("{legacy}, volumes: [\"vol-1\"]"),
            "volume_ids",
            "advanced regions only",
        ),
        (
            format!("{legacy}, os_volume_gb: 200"),
            "os_volume_size_gb",
            "advanced regions only",
        ),
    ] {
        let before = requests(&sim);
        let code = format!(
            "let m = (); try {{ deploy(#{{{spec}}}); }} catch (e) {{ m = e.errors.{field}[0]; }} m"
        );
        let said = run_code(&host, &code).unwrap().to_string();
        assert!(said.contains(words), "{spec}: {said}");
        assert_eq!(requests(&sim), before, "{spec} sent a request");
    }
    // The simulator refuses them the same way, over raw HTTP.
    let answer = raw(
        &sim,
        "POST",
        "/instances/",
        Some(
            &json!({
        "gpu_model": "H100-SXM5-80GB", "gpu_count": 1, "region": "FINLAND-1",
        "os_image_id": "ubuntu-22.04-cuda-12.4", "ssh_key_ids": ["key-x"], "cloud_init": "#x"})
            .to_string(),
        ),
        &[],
    )
    .unwrap();
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(answer.json()["errors"]["cloud_init"][0]
        .as_str()
        .unwrap_or("")
        .contains("legacy regions only"));
    assert_eq!(answer.json()["tier"], "advanced");
    // In its own tier the key is taken and kept, never dropped.
    let kept = run_code(
        &host,
        r##"let vm = deploy(#{gpu: "L40", region: "CANADA-1", cloud_init: "#cloud-config\nruncmd: [true]"}); vm.raw.cloud_init"##,
    )
    .unwrap();
    assert_eq!(kept.to_string(), "#cloud-config\nruncmd: [true]");
    assert!(sim
        .world()
        .instances
        .values()
        .all(|i| i.region == "CANADA-1"));
}

#[test]
fn filter_values_are_checked_against_what_exists() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    let before = requests(&sim);
    let err = run_code(&host, r#"instances(#{status: "RUNNING"})"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("Unknown instance state \"RUNNING\""), "{err}");
    for state in ["ACTIVE", "SHUTOFF", "HIBERNATED", "ERROR"] {
        assert!(err.contains(state), "{err}");
    }
    let err = run_code(&host, r#"volumes(#{region: "FINLAND-9"})"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("did you mean \"FINLAND-1\"?"), "{err}");
    let err = run_code(&host, r#"gpu_stocks(#{gpu: "H100"})"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("Unknown GPU model \"H100\""), "{err}");
    assert_eq!(requests(&sim), before, "a refused filter was sent");
    // Globs and short keys still select.
    let stocks = run_code(
        &host,
        r#"gpu_stocks(#{region: "FINLAND-*", gpu: "H100-SXM5-80GB"}).len()"#,
    )
    .unwrap();
    assert!(stocks.as_int().unwrap_or(0) >= 1, "{stocks}");
    let none = run_code(
        &host,
        r#"instances(#{status: "ACTIVE", region: "FIN*"}).len()"#,
    )
    .unwrap();
    assert_eq!(none.as_int().unwrap_or(-1), 0);
}

#[test]
fn a_waiter_option_typo_names_the_option_it_meant() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    let err = run_code(&host, r#"wait_active("BRK-000000VM", #{timout: "1m"})"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("wait_active: unknown key \"timout\"; did you mean \"timeout\"? (accepted: timeout, interval)"),
        "{err}"
    );
}

#[test]
fn recipe_parameters_are_declared_and_a_typo_is_refused() {
    Test::new()
        .args(["run", "--sim", "stdlib:rotation", "--set", "keep_lst=3"])
        .stderr_has("stdlib:rotation: unknown key \"keep_lst\"; did you mean \"keep_last\"?")
        .status(1);
    Test::run(
        r#"
        import "barrack/rotation" as rotation;
        rotation::rotate(#{select: "x", keep_last: 2, max_aeg: "7d"});
        "#,
    )
    .stderr_has("rotation::rotate: unknown key \"max_aeg\"; did you mean \"max_age\"?")
    .status(1);
    // A choice of the stock-aware deploy is a spec too.
    Test::run(
        r#"
        import "barrack/deploy" as stock;
        stock::first_available(#{name: "t-1", choices: [#{gpu: "H100-SXM5-80GB", cuont: 8, region: "FINLAND-1"}]});
        "#,
    )
    .stderr_has("unknown key \"cuont\"; did you mean \"count\"?")
    .status(1);
}

#[test]
fn quote_takes_the_keys_deploy_takes() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    let short = run_code(&host, r#"quote(#{gpu: "H100-SXM5-80GB", count: 8, region: "FINLAND-1", os_volume_gb: 500}).hourly_cost"#).unwrap();
    let long = run_code(&host, r#"quote(#{gpu_model: "H100-SXM5-80GB", gpu_count: 8, region: "FINLAND-1", os_volume_size_gb: 500}).hourly_cost"#).unwrap();
    assert_eq!(short.to_string(), long.to_string());
    let one = run_code(
        &host,
        r#"quote(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1"}).hourly_cost"#,
    )
    .unwrap();
    assert!(
        short.as_float().unwrap() > one.as_float().unwrap() * 7.0,
        "{short} vs {one}"
    );
    // Data volumes are named as deploy names them, and priced by their size and type.
    let with_volume = run_code(
        &host,
        r#"let v = create_volume(#{name: "q-data", size_gb: 1000, region: "FINLAND-1"});
           quote(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", volumes: [v]}).hourly_cost"#,
    )
    .unwrap();
    assert!(
        with_volume.as_float().unwrap() > one.as_float().unwrap(),
        "{with_volume} vs {one}"
    );
    let err = run_code(&host, r#"quote(#{gpu: "H100-SXM5-80GB", cout: 8})"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("quote: unknown key \"cout\"; did you mean \"count\"?"),
        "{err}"
    );
    let err = run_code(&host, r#"quote(#{gpu: "H100-SXM5-80GB", count: 3})"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("gpu_count: GPU count must be 1, 2, 4 or 8 (got 3) (your key \"count\")"),
        "{err}"
    );
}

#[test]
fn barrack_call_refuses_a_misspelled_field_before_sending() {
    Test::new()
        .args([
            "call",
            "--sim",
            "create_volume",
            "--body",
            r#"{"nmae": "data", "size_gb": 50, "region": "FINLAND-1"}"#,
        ])
        .stderr_has("create_volume: unknown key \"nmae\"; did you mean \"name\"?")
        .status(1);
}

#[test]
fn the_planner_runs_the_one_deployment_validation() {
    // api() sends API fields as given: the plan refuses what the server would.
    Test::new()
        .file("plan.rhai", r#"api("deploy", #{gpu_model: "L40", gpu_count: 1, region: "FINLAND-1", os_image_id: "ubuntu-22.04-cuda-12.4", ssh_key_ids: ["key-1"]});"#)
        .args(["plan", "--sim", "plan.rhai"])
        .stderr_has("L40 is not offered in FINLAND-1 (advanced tier)")
        .status(1);
}

#[test]
fn ops_and_openapi_list_every_key_from_the_catalog() {
    let out = Test::new().args(["ops", "--json"]).success();
    let ops: Value = serde_json::from_str(&out.stdout).unwrap();
    for op in OPS {
        let listed = ops
            .as_array()
            .and_then(|all| all.iter().find(|o| o["name"] == op.name))
            .unwrap_or_else(|| panic!("{} missing", op.name));
        let keys: Vec<&str> = listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k["key"].as_str())
            .collect();
        assert_eq!(keys, script_keys(op.fields), "{}", op.name);
    }
    Test::new()
        .args(["ops", "deploy"])
        .stdout_has("count: int (sent as gpu_count), required, default 1 (Rhai), 1, 2, 4 or 8")
        .stdout_has("cloud_init: String, legacy regions only")
        .stdout_has("Any other key is refused")
        .success();
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let doc = raw(&sim, "GET", "/openapi.json", None, &[]).unwrap().json();
    let body = &doc["paths"]["/instances/"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert_eq!(
        body["required"],
        json!(["gpu_model", "gpu_count", "region"]),
        "{body}"
    );
    assert_eq!(body["additionalProperties"], false);
    assert_eq!(body["properties"]["os_volume_size_gb"]["type"], "integer");
}

#[test]
fn the_repl_completes_and_explains_keys_from_the_shapes() {
    let out = Test::new()
        .args(["repl", "--sim"])
        .stdin(":complete add_rule(fw, #{por\n:complete instances(#{st\n:help deploy\n")
        .stdout_has("count: int (sent as gpu_count)")
        .stdout_has("security_rules: Array<Map>, legacy regions only")
        .success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    for key in [
        "port_range: ",
        "port_range_min: ",
        "port_range_max: ",
        "status: ",
    ] {
        assert!(lines.contains(&key), "{key}: {lines:?}");
    }
}
