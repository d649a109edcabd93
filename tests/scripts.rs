//! The Rhai surface: every catalog operation callable by its documented Rhai names, handles (and
//! every action updating the handle it was called on), fleet actions, waiters, catchable errors
//! and errors in plain words, imports; run in-process against the simulator, or through the
//! binary where the message is the CLI's.

use crate::support::{host, run_code};
use crate::test::Test;
use barrack::api::OPS;
use barrack::script::Source;
use barrack::sim::{SimOptions, Simulator};
use rhai::Dynamic;
use serde_json::json;

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
    let value = run_code(&host(&sim), EVERY_FUNCTION).unwrap_or_else(|e| panic!("{e}"));
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
    let value = run_code(
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
        let message = run_code(
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
    let value = run_code(&host(&sim), r#"let vm = deploy(#{gpu: "H100-SXM5-80GB", count: 8}); [vm.region, vm.os_volume_size_gb, vm.ssh_key_ids.len(), vm.name]"#).unwrap();
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
    let value = run_code(
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
    let message = run_code(
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
    let message = run_code(
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
    let message = run_code(
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
    let value = run_code(
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
    let err = run_code(&host(&sim), r#"delete("xyz-1")"#)
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

// ---- errors in plain words ----

#[test]
fn a_string_from_set_in_a_range_names_both_types_and_the_flag() {
    Test::run("for i in 0..params.size { print(i); }")
        .set("size", "abc")
        .stderr_has("cannot use `..` between an integer and a string")
        .stderr_has("`--set size=abc`")
        .stderr_lacks("ImmutableString")
        .stderr_lacks("i64")
        .status(1);
}

#[test]
fn wrong_argument_types_are_said_as_people_say_them() {
    Test::eval("snapshot(42)")
        .stderr_has("got an integer")
        .stderr_lacks("i64")
        .status(1);
    Test::eval("[1] - 3")
        .stderr_has("cannot use `-` between an array and an integer")
        .status(1);
    Test::eval("let m = #{}; m[3]")
        .stderr_has("expected a string, got an integer")
        .stderr_lacks("i64")
        .status(1);
}

#[test]
fn waiting_for_an_id_that_never_existed_says_it_does_not_exist() {
    Test::eval(r#"wait_active("BRK-000000VM")"#)
        .stderr_has("BRK-000000VM will not become ACTIVE: it does not exist")
        .stderr_lacks("deleted")
        .status(1);
    Test::run(
        r#"
        let vm = deploy(#{gpu: "L40", region: "CANADA-1"});
        wait_active(vm);
        delete(vm);
        wait_deleted(vm);
        wait_active(vm);
        "#,
    )
    .stderr_has("it was deleted")
    .stderr_lacks("does not exist")
    .status(1);
}

// ---- handles ----

#[test]
fn create_script_returns_a_script_and_deploy_takes_its_handle_id_or_name() {
    let out = Test::eval(
        r##"
        let s = create_script("boot one", "#!/bin/sh\necho one");
        let by_handle = deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "by-handle", startup_script: s});
        let by_id = deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "by-id", startup_script: s.id});
        let by_name = deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "by-name", startup_script: "boot one"});
        #{type: type_of(s), name: s.name, id: s.id, body: s.script,
          used: [by_handle["startup_script_id"], by_id["startup_script_id"], by_name["startup_script_id"]]}
        "##,
    )
    .args(["-o", "json"])
    .success();
    let v = out.json();
    assert_eq!(v["type"], "Script", "{v}");
    assert_eq!(v["name"], "boot one");
    assert_eq!(v["body"], "#!/bin/sh\necho one");
    assert_eq!(v["used"], json!([v["id"], v["id"], v["id"]]), "{v}");

    Test::eval(
        r#"create_script("boot one", "echo"); deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", startup_script: "boot two"})"#,
    )
    .stderr_has("startup_script: no startup script has the id or the name \"boot two\"")
    .stderr_has("\"boot one\" (scr-")
    .status(1);
}

#[test]
fn every_action_updates_the_handle_it_was_called_on() {
    let out = Test::eval(
        r#"
        let seen = #{};
        let vm = deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "acted"});
        wait_active(vm);
        vm.stop(); seen.stop = vm.status;
        wait_status(vm, "SHUTOFF");
        start(vm); seen.start = vm.status;
        wait_active(vm);
        vm.reboot(); seen.reboot = vm.status;
        wait_active(vm);
        hibernate(vm); seen.hibernate = vm.status;
        wait_status(vm, "HIBERNATED");
        vm.restore(); seen.restore = vm.status;
        wait_active(vm);
        const HELD = instance(vm.id);
        HELD.reboot(); seen.const_reboot = HELD.status;
        wait_active(vm);
        let vol = create_volume(#{name: "grow", size_gb: 50, region: "FINLAND-1"});
        wait_status(vol, "AVAILABLE");
        vol.resize(80); seen.resize = vol.size_gb;
        vm.attach([vol]); seen.attach = vm.volume_ids;
        vm.detach(vol); seen.detach = vm.volume_ids.len();
        let fw = create_firewall(#{name: "acted", region: "FINLAND-1"});
        fw.add_rule(#{protocol: "TCP", port_range: "22"}); seen.add_rule = [fw.rules.len(), fw.status];
        fw.attach(vm); seen.fw_attach = fw.instance_ids;
        let s = create_script("acted", "echo 1");
        s.update_script(#{script: "echo 2"}); seen.update = s.script;
        vol.delete(); seen.delete_volume = vol.status;
        let pair = deploy([#{gpu: "L40", region: "CANADA-1", name: "pair-1"}, #{gpu: "L40", region: "CANADA-1", name: "pair-2"}]);
        wait_active(pair);
        pair.stop(); seen.fleet_stop = [pair[0].status, pair[1].status];
        wait_status(pair, "SHUTOFF");
        delete(pair);
        vm.delete(); seen.delete_vm = vm.status;
        seen.vm = vm.id; seen.vol = vol.id;
        seen
        "#,
    )
    .args(["-o", "json"])
    .success();
    let v = out.json();
    for (action, status) in [
        ("stop", "STOPPING"),
        ("start", "STARTING"),
        ("reboot", "REBOOTING"),
        ("hibernate", "HIBERNATING"),
        ("restore", "RESTORING"),
        ("const_reboot", "REBOOTING"),
        ("delete_volume", "DELETED"),
        ("delete_vm", "DELETING"),
    ] {
        assert_eq!(v[action], status, "after {action}: {v}");
    }
    assert_eq!(v["fleet_stop"], json!(["STOPPING", "STOPPING"]), "{v}");
    assert_eq!(v["resize"], 80, "{v}");
    assert_eq!(v["attach"], json!([v["vol"]]), "{v}");
    assert_eq!(v["detach"], 0, "{v}");
    assert_eq!(v["add_rule"], json!([1, "UPDATING"]), "{v}");
    assert_eq!(v["fw_attach"], json!([v["vm"]]), "{v}");
    assert_eq!(v["update"], "echo 2", "{v}");
}
