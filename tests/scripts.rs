//! The Rhai surface: every catalog operation callable by its documented Rhai names, handles,
//! fleet actions, waiters and catchable errors, run in-process against the simulator.

use crate::support::{client_for, KEY};
use barrack::api::OPS;
use barrack::script::{Host, Source};
use barrack::sim::{SimOptions, Simulator};
use rhai::Dynamic;

fn host(sim: &Simulator) -> Host {
    Host::builder(client_for(sim, Some(KEY))).build()
}

fn run(host: &Host, code: &str) -> Result<Dynamic, barrack::error::Error> {
    host.run(&Source::snippet("<test>", code))
}

const EVERY_FUNCTION: &str = include_str!("data/every_function.rhai");

#[test]
fn every_catalog_name_is_called_by_the_every_function_script() {
    for op in OPS {
        for name in op.rhai_names() {
            let called = EVERY_FUNCTION.contains(&format!("{name}("))
                || EVERY_FUNCTION.contains(&format!(".{name}("));
            assert!(
                called,
                "tests/data/every_function.rhai never calls {name} ({})",
                op.name
            );
        }
    }
}

#[test]
fn every_function_script_runs_green() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let value = run(&host(&sim), EVERY_FUNCTION).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value.to_string(), "all done");
    let world = sim.world();
    assert!(
        world.instances.is_empty(),
        "the script deletes every instance it made"
    );
}

#[test]
fn every_rhai_name_is_registered_with_the_engine() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    let signatures = host.engine(None).gen_fn_signatures(false).join("\n");
    for op in OPS {
        for name in op.rhai_names() {
            assert!(
                signatures.contains(&format!("{name}(")),
                "{name} is not registered"
            );
        }
    }
}

#[test]
fn api_errors_are_catchable_maps_with_the_documented_keys() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let value = run(
        &host(&sim),
        r#"
        let caught = #{};
        try { instance("BRK-000000VM"); } catch (e) { caught = e; }
        [caught.status, caught.code, caught.op, type_of(caught.errors), type_of(caught.request_id), caught.message]
        "#,
    )
    .unwrap();
    let items = value.into_array().unwrap();
    assert_eq!(items[0].as_int().unwrap(), 404);
    assert_eq!(items[1].to_string(), "NOT_FOUND");
    assert_eq!(items[2].to_string(), "instance");
    assert_eq!(items[3].to_string(), "map");
    assert_eq!(items[4].to_string(), "string");
    assert!(items[5].to_string().contains("BRK-000000VM"));
}

#[test]
fn deploy_refuses_bad_input_before_any_request() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    for (spec, field, words) in [
        (
            r#"#{gpu: "H100-SXM5-80GB", count: 3, region: "FINLAND-1"}"#,
            "gpu_count",
            "1, 2, 4 or 8",
        ),
        (
            r#"#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "-bad"}"#,
            "name",
            "start or end",
        ),
        (
            r#"#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "ab"}"#,
            "name",
            "3-30",
        ),
        (
            r#"#{gpu: "L40", region: "FINLAND-1"}"#,
            "gpu_model",
            "not offered in FINLAND-1",
        ),
        (
            r#"#{gpu: "H100-SXM5-80GB", region: "MARS-1"}"#,
            "region",
            "Unknown region",
        ),
        (
            r#"#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", os_volume_gb: 50}"#,
            "os_volume_size_gb",
            "between 100 and 10000",
        ),
        (r#"#{count: 1}"#, "gpu_model", "required"),
    ] {
        let before = sim.stats()["requests"].as_u64().unwrap();
        let message = run(
            &host,
            &format!(
                "let m = (); try {{ deploy({spec}); }} catch (e) {{ m = e.errors.{field}[0]; }} m"
            ),
        )
        .unwrap();
        assert!(message.to_string().contains(words), "{spec}: {message}");
        let after = sim.stats()["requests"].as_u64().unwrap();
        assert_eq!(before, after, "{spec} sent a request");
    }
    assert!(sim.world().instances.is_empty());
}

#[test]
fn deploy_fills_the_documented_defaults() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let value = run(&host(&sim), r#"let vm = deploy(#{gpu: "H100-SXM5-80GB", count: 8}); [vm.region, vm.os_volume_size_gb, vm.ssh_key_ids.len(), vm.name]"#).unwrap();
    let items = value.into_array().unwrap();
    assert_eq!(items[0].to_string(), "FINLAND-1", "first region with stock");
    assert_eq!(items[1].as_int().unwrap(), 100, "OS volume 100 GB");
    assert_eq!(items[2].as_int().unwrap(), 1, "the account's only SSH key");
    assert!(
        items[3].to_string().starts_with("barrack-h100s-"),
        "auto name {}",
        items[3]
    );
}

#[test]
fn fleet_actions_keep_order_and_report_every_failure_after_all_ran() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let value = run(
        &host(&sim),
        r#"
        let fleet = deploy([
            #{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "f-1"},
            #{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "f-2"},
            #{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "f-3"}]);
        wait_active(fleet);
        stop(fleet[1]);
        wait_status(fleet[1], "SHUTOFF");
        let failure = ();
        try { hibernate(fleet); } catch (e) { failure = e; }
        [fleet.map(|vm| vm.name), failure.code, failure.failures.len(), failure.failures[0].id, failure.message]
        "#,
    )
    .unwrap();
    let items = value.into_array().unwrap();
    assert_eq!(
        format!(
            "{:?}",
            items[0]
                .clone()
                .into_array()
                .unwrap()
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
        ),
        r#"["f-1", "f-2", "f-3"]"#
    );
    assert_eq!(items[1].to_string(), "FLEET_FAILED");
    assert_eq!(items[2].as_int().unwrap(), 1);
    assert!(items[4].to_string().contains("SHUTOFF"), "{}", items[4]);
    let world = sim.world();
    let statuses: Vec<&str> = world
        .instances
        .values()
        .map(|i| i.status.as_str())
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| s.starts_with("HIBERNAT"))
            .count(),
        2,
        "the other two were still hibernated: {statuses:?}"
    );
}

#[test]
fn waiters_fail_early_naming_the_object_and_state() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    let message = run(
        &host,
        r#"let vm = deploy(#{gpu: "L40", region: "CANADA-1", name: "w-1"}); wait_active(vm); vm.stop(); wait_status(vm, "SHUTOFF");
           let m = (); try { wait_active(vm, #{timeout: "1h"}); } catch (e) { m = e.message; } m"#,
    )
    .unwrap()
    .to_string();
    assert!(
        message.contains("w-1") && message.contains("SHUTOFF") && message.contains("start()"),
        "{message}"
    );
    let id = sim.world().instances.keys().next().unwrap().clone();
    sim.with_world(|w| w.instances.get_mut(&id).unwrap().status = "ERROR".into());
    let message = run(
        &host,
        &format!(r#"let m = (); try {{ wait_active("{id}"); }} catch (e) {{ m = e.message; }} m"#),
    )
    .unwrap()
    .to_string();
    assert!(
        message.contains("ERROR") && message.contains(&id),
        "{message}"
    );
}

#[test]
fn waiters_time_out_in_server_time() {
    // speed 1000: a 30 s (server time) timeout is 30 ms of wall time; a deploy takes ≥ 120 s.
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let message = run(
        &host(&sim),
        r#"let vm = deploy(#{gpu: "L40", region: "CANADA-1", name: "slow-1"});
           let m = (); try { wait_active(vm, #{timeout: "30s", interval: "10s"}); } catch (e) { m = [e.code, e.message]; } m"#,
    )
    .unwrap()
    .into_array()
    .unwrap();
    assert_eq!(messages(&message)[0], "WAIT_TIMEOUT");
    assert!(
        messages(&message)[1].contains("still CREATING"),
        "{:?}",
        messages(&message)
    );
}

fn messages(items: &[Dynamic]) -> Vec<String> {
    items.iter().map(|d| d.to_string()).collect()
}

#[test]
fn handles_print_as_one_line_and_keep_unknown_fields() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let value = run(
        &host(&sim),
        r#"let vm = deploy(#{gpu: "H100-SXM5-80GB", count: 2, region: "FINLAND-2", name: "p-1"});
           [`${vm}`, vm.raw.private_ip != (), vm["vcpus"], type_of(vm)]"#,
    )
    .unwrap()
    .into_array()
    .unwrap();
    let line = value[0].to_string();
    assert!(
        line.starts_with("Vm BRK-") && line.contains("\"p-1\" CREATING FINLAND-2 2×H100-SXM5-80GB"),
        "{line}"
    );
    assert!(value[1].as_bool().unwrap());
    assert_eq!(value[2].as_int().unwrap(), 32);
    assert_eq!(value[3].to_string(), "Vm");
}

#[test]
fn ambiguous_ids_are_refused_with_the_names_to_use() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let err = run(&host(&sim), r#"delete("xyz-1")"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("delete_volume") && err.contains("delete_instance"),
        "{err}"
    );
}

#[test]
fn imports_reach_only_the_stdlib_and_files_beside_the_script() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("lib")).unwrap();
    std::fs::write(dir.path().join("lib/util.rhai"), "fn twice(x) { x * 2 }").unwrap();
    std::fs::write(dir.path().join("secret.rhai"), "fn leak() { 1 }").unwrap();
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    let inner = dir.path().join("inner");
    std::fs::create_dir_all(&inner).unwrap();
    let ok = Source {
        name: "main.rhai".into(),
        dir: Some(dir.path().to_path_buf()),
        code: r#"import "lib/util" as u; u::twice(21)"#.into(),
    };
    assert_eq!(host.run(&ok).unwrap().as_int().unwrap(), 42);
    for path in ["../secret", "/etc/passwd", "../../etc/hosts"] {
        let bad = Source {
            name: "inner/main.rhai".into(),
            dir: Some(inner.clone()),
            code: format!(r#"import "{path}" as s; 1"#),
        };
        let err = host.run(&bad).unwrap_err().to_string();
        assert!(err.contains("cannot import"), "{path}: {err}");
    }
    assert_eq!(
        host.run(&Source::snippet(
            "<eval>",
            r#"import "barrack/rotation" as r; 7"#
        ))
        .unwrap()
        .as_int()
        .unwrap(),
        7
    );
    let err = host
        .run(&Source::snippet(
            "<eval>",
            r#"import "barrack/nope" as r; 1"#,
        ))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("rotation") && err.contains("hibernation"),
        "{err}"
    );
    let err = host
        .run(&Source::snippet("<eval>", r#"import "lib/util" as r; 1"#))
        .unwrap_err()
        .to_string();
    assert!(err.contains("only barrack/NAME"), "{err}");
}
