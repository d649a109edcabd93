//! The seeds' rules, kept (issue 14): each rule the reference pages set, checked against the
//! simulator over real HTTP — through the client with a frozen clock, or through the real
//! binary running Rhai.

use crate::support::*;
use crate::test::Test;
use barrack::api::catalog::{ArgType, Kind, Method, OPS};
use serde_json::{json, Value};
use std::time::Duration;

fn id_of(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_string()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().expect("a list").iter().map(id_of).collect()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn firewall(client: &barrack::api::Client, id: &str) -> Value {
    ok(client, "firewall", json!({"id": id}))
}

// ---- Rule 1: attaching adds; detaching is its own, explicit operation ----

#[test]
fn attaching_a_firewall_adds_it_and_never_detaches_it_from_other_instances() {
    let (sim, client) = sim();
    let a = active_instance(&sim, &client, REGION, json!({"name": "alpha"}));
    let b = active_instance(&sim, &client, REGION, json!({"name": "bravo"}));
    let fw = id_of(&ok(
        &client,
        "create_firewall",
        json!({"name": "web", "region": REGION}),
    ));
    ok(
        &client,
        "attach_firewall",
        json!({"id": fw, "instance_ids": [a]}),
    );
    let answer = ok(
        &client,
        "attach_firewall",
        json!({"id": fw, "instance_ids": [b]}),
    );
    assert_eq!(answer["instance_ids"], json!([a, b]), "{answer}");
    for vm in [&a, &b] {
        let on = ok(&client, "instance_firewalls", json!({"id": vm}));
        assert_eq!(ids(&on), vec![fw.clone()], "{vm} keeps the firewall");
    }
    // Attaching again changes nothing; attaching nothing is an error, not a detach.
    ok(
        &client,
        "attach_firewall",
        json!({"id": fw, "instance_ids": [a]}),
    );
    assert_eq!(firewall(&client, &fw)["instance_ids"], json!([a, b]));
    let err = fail(
        &client,
        "attach_firewall",
        json!({"id": fw, "instance_ids": []}),
    );
    assert_invalid(&err, "instance_ids", "At least one instance id");
    assert_eq!(firewall(&client, &fw)["instance_ids"], json!([a, b]));

    // Detaching names the instances and takes the firewall off those only.
    let answer = ok(
        &client,
        "detach_firewall",
        json!({"id": fw, "instance_ids": [a]}),
    );
    assert_eq!(answer["instance_ids"], json!([b]), "{answer}");
    assert!(ids(&ok(&client, "instance_firewalls", json!({"id": a}))).is_empty());
    let err = fail(
        &client,
        "detach_firewall",
        json!({"id": fw, "instance_ids": [a]}),
    );
    assert_refused(&err, 409, "CONFLICT", &format!("is not attached to {a}"));
    assert_eq!(firewall(&client, &fw)["instance_ids"], json!([b]));
    ok(
        &client,
        "detach_firewall",
        json!({"id": fw, "instance_ids": [b]}),
    );
    ok(&client, "delete_firewall", json!({"id": fw}));
}

#[test]
fn rhai_attaches_and_detaches_firewalls_and_ops_says_how() {
    let out = Test::eval(
        r#"
        let a = deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "fw-a"});
        let b = deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "fw-b"});
        wait_active([a, b]);
        let fw = create_firewall(#{name: "web", region: "FINLAND-1"});
        fw.attach([a]);
        attach(fw, b);
        let both = fw.instance_ids;
        fw.detach(a);
        #{both: both, after: fw.instance_ids, on_a: firewalls(a).len(), on_b: firewalls(b).len(), a: a.id, b: b.id}
        "#,
    )
    .args(["-o", "json"])
    .success();
    let v = out.json();
    assert_eq!(v["both"], json!([v["a"], v["b"]]), "{v}");
    assert_eq!(v["after"], json!([v["b"]]), "{v}");
    assert_eq!((v["on_a"].as_i64(), v["on_b"].as_i64()), (Some(0), Some(1)));

    // The dry run keeps the same rules: attach adds, detach removes, an attached firewall
    // cannot be deleted.
    Test::new()
        .file(
            "fw.rhai",
            r#"
            let a = deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "plan-a"});
            let b = deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "plan-b"});
            wait_active([a, b]);
            let fw = create_firewall(#{name: "web", region: "FINLAND-1"});
            fw.attach([a]);
            fw.attach([b]);
            print(`attached to ${fw.instance_ids.len()}`);
            fw.detach(a);
            print(`left on ${fw.instance_ids.len()}`);
            delete(fw);
            "#,
        )
        .args(["plan", "--sim", "fw.rhai"])
        .stdout_has("attached to 2")
        .stdout_has("left on 1")
        .stderr_has("is attached to 1 instance(s)")
        .stderr_has("detach it first")
        .status(1);

    Test::new()
        .args(["ops", "attach_firewall"])
        .stdout_has("those it is attached to stay attached")
        .stdout_has("detach_firewall")
        .stdout_has("Choice:   detaching a firewall")
        .success();
    Test::new()
        .args(["ops", "detach_firewall"])
        .stdout_has("POST /firewalls/{id}/detach/")
        .stdout_has("detach(firewall: Firewall | String, instance_ids: Array<Vm> | Vm)")
        .success();
}

// ---- Rule 2: firewall and rule states; RFC 3339 time fields; a waiter ----

#[test]
fn firewall_rules_apply_over_time_and_the_firewall_is_success_once_they_do() {
    let (sim, client) = sim();
    let created = ok(
        &client,
        "create_firewall",
        json!({"name": "ssh", "region": REGION, "rules": [{"protocol": "TCP", "port_range": "22"}]}),
    );
    let fw = id_of(&created);
    assert_eq!(created["status"], "UPDATING", "{created}");
    let rule = &created["rules"][0];
    assert_eq!(rule["status"], "APPLYING");
    let created_at: jiff::Timestamp = created["created_at"].as_str().unwrap().parse().unwrap();
    let applies_at: jiff::Timestamp = rule["applies_at"]
        .as_str()
        .expect("applies_at is a string")
        .parse()
        .expect("applies_at is RFC 3339");
    let wait = applies_at.duration_since(created_at).as_secs();
    assert!((1..=600).contains(&wait), "within 10 minutes: {wait} s");

    // Not deletable while it is changing; nothing changed by the refusal.
    let err = fail(&client, "delete_firewall", json!({"id": fw}));
    assert_refused(&err, 409, "CONFLICT", "is UPDATING");
    sim.advance(secs(wait as u64 - 1));
    assert_eq!(firewall(&client, &fw)["status"], "UPDATING");
    sim.advance(secs(2));
    let now = firewall(&client, &fw);
    assert_eq!(now["status"], "SUCCESS", "{now}");
    assert_eq!(now["rules"][0]["status"], "ACTIVE");
    assert_eq!(now["rules"][0]["applies_at"], rule["applies_at"]);

    // A new rule puts it back to UPDATING; removing that rule before it applies settles it.
    let added = ok(
        &client,
        "add_firewall_rule",
        json!({"id": fw, "protocol": "UDP", "port_range": "53"}),
    );
    assert!(added["rule"]["applies_at"].is_string(), "{added}");
    assert_eq!(firewall(&client, &fw)["status"], "UPDATING");
    let listed = ok(&client, "firewalls", json!({}));
    assert_eq!(listed[0]["status"], "UPDATING", "{listed}");
    ok(
        &client,
        "remove_firewall_rule",
        json!({"id": fw, "rule_id": added["rule"]["id"]}),
    );
    assert_eq!(firewall(&client, &fw)["status"], "SUCCESS");
    ok(&client, "delete_firewall", json!({"id": fw}));
}

#[test]
fn wait_status_success_waits_for_a_firewalls_rules() {
    let out = Test::eval(
        r#"
        let fw = create_firewall(#{name: "web", region: "FINLAND-1", rules: [#{protocol: "TCP", port_range: "443"}]});
        let before = [fw.status, fw.rules[0].status];
        wait_status(fw, "SUCCESS");
        #{before: before, after: [fw.status, fw.rules[0].status], applies_at: fw.rules[0].applies_at}
        "#,
    )
    .args(["-o", "json"])
    .success();
    let v = out.json();
    assert_eq!(v["before"], json!(["UPDATING", "APPLYING"]), "{v}");
    assert_eq!(v["after"], json!(["SUCCESS", "ACTIVE"]), "{v}");
    let at = v["applies_at"].as_str().unwrap();
    assert!(at.parse::<jiff::Timestamp>().is_ok(), "{at}");

    // The dry run predicts the same states.
    Test::new()
        .file(
            "fw.rhai",
            r#"
            let fw = create_firewall(#{name: "web", region: "FINLAND-1", rules: [#{protocol: "TCP", port_range: "443"}]});
            let before = fw.status;
            wait_status(fw, "SUCCESS");
            print(`${before} then ${fw.status}`);
            delete(fw);
            "#,
        )
        .args(["plan", "--sim", "fw.rhai"])
        .stdout_has("UPDATING then SUCCESS")
        .stdout_has("Plan: 2 changes")
        .status(2);
}

/// Every field named like a time (`…_at`, `time`, `date`) anywhere in `value`.
fn time_fields<'a>(value: &'a Value, path: String, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let here = format!("{path}.{key}");
                if key.ends_with("_at") || key == "time" || key.ends_with("_time") || key == "date"
                {
                    out.push((here.clone(), v));
                }
                time_fields(v, here, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                time_fields(v, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_time_field_of_every_answer_is_an_rfc3339_timestamp() {
    let (sim, client) = sim();
    // One object of every kind, and some history (billing, AI usage, a pending rule).
    let vm = active_instance(&sim, &client, REGION, json!({"name": "timed"}));
    let vol = id_of(&ok(
        &client,
        "create_volume",
        json!({"name": "t-data", "size_gb": 20, "region": REGION}),
    ));
    wait_object(&sim, &client, "volume", &vol, "AVAILABLE");
    let snap = id_of(&ok(
        &client,
        "snapshot",
        json!({"instance_id": vm, "name": "t-snap"}),
    ));
    wait_object(&sim, &client, "get_snapshot", &snap, "AVAILABLE");
    let image = id_of(&ok(&client, "create_image", json!({"id": snap})));
    let fw = id_of(&ok(
        &client,
        "create_firewall",
        json!({"name": "t-fw", "region": REGION, "rules": [{"protocol": "ICMP"}]}),
    ));
    let mut answers = vec![ok(
        &client,
        "add_firewall_rule",
        json!({"id": fw, "protocol": "TCP", "port_range": "80"}),
    )];
    ok(
        &client,
        "create_script",
        json!({"name": "t-script", "script": "echo"}),
    );
    let script = id_of(&ok(&client, "scripts", json!({}))[0]);
    let models = ok(&client, "ai_models", json!({}));
    let model = models[0]["id"].as_str().unwrap_or("llama-3.1-70b-instruct");
    answers.push(ok(
        &client,
        "chat",
        json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}),
    ));
    sim.advance(secs(60));
    let key = default_key(&sim);
    let id_for = |kind: Kind| -> String {
        match kind {
            Kind::Vm => vm.clone(),
            Kind::Volume => vol.clone(),
            Kind::Snapshot => snap.clone(),
            Kind::Firewall => fw.clone(),
            Kind::SshKey => key.clone(),
            Kind::Script => script.clone(),
            Kind::Image => image.clone(),
        }
    };
    // Every read of the catalog, generated from it.
    let mut read = 0;
    for op in OPS.iter().filter(|op| op.method == Method::Get) {
        let args = match op.args.first().map(|a| a.ty) {
            Some(ArgType::Target(kind)) => json!({"id": id_for(kind)}),
            _ => json!({}),
        };
        answers.push(ok(&client, op.name, args));
        read += 1;
    }
    assert!(read >= 30, "{read} reads");
    // The world's own dump (admin route, `--state` files) writes its instants the same way.
    let state = raw(&sim, "GET", "/_sim/state", None, &[]).unwrap().json();
    let due = &state["firewalls"][&fw]["rule_due"];
    assert_eq!(
        due.as_object().map(|m| m.len()),
        Some(2),
        "both rules apply: {due}"
    );
    for (name, value) in [("clock", &state["clock"])].into_iter().chain(
        due.as_object()
            .unwrap()
            .iter()
            .map(|(_, v)| ("rule_due", v)),
    ) {
        let text = value
            .as_str()
            .unwrap_or_else(|| panic!("{name} is {value}"));
        assert!(text.parse::<jiff::Timestamp>().is_ok(), "{name} = {text}");
    }
    let mut fields = Vec::new();
    for (i, answer) in answers.iter().enumerate() {
        time_fields(answer, format!("answer{i}"), &mut fields);
    }
    assert!(
        fields.iter().any(|(p, _)| p.ends_with("applies_at")),
        "the audit saw a rule's applies_at"
    );
    assert!(fields.len() > 20, "{} time fields", fields.len());
    for (path, value) in fields {
        if value.is_null() {
            continue;
        }
        let text = value
            .as_str()
            .unwrap_or_else(|| panic!("{path} is {value}, not an RFC 3339 string"));
        assert!(
            text.parse::<jiff::Timestamp>().is_ok(),
            "{path} = {text:?} is not RFC 3339"
        );
    }
}

// ---- Rule 3: disks keep billing; the budget's burn counts them ----

#[test]
fn data_volumes_of_stopped_and_hibernated_instances_keep_billing() {
    let (sim, client) = sim();
    let vm = active_instance(&sim, &client, REGION, json!({"name": "sleeper"}));
    let vol = id_of(&ok(
        &client,
        "create_volume",
        json!({"name": "big-data", "size_gb": 1000, "region": REGION, "type": "NVMe"}),
    ));
    wait_object(&sim, &client, "volume", &vol, "AVAILABLE");
    ok(
        &client,
        "attach_volumes",
        json!({"id": vm, "volume_ids": [vol]}),
    );
    let hourly = ok(&client, "volume", json!({"id": vol}))["hourly_cost"]
        .as_f64()
        .unwrap();
    assert!(hourly > 0.1, "1000 GB of NVMe: {hourly}");
    let billed = |client: &barrack::api::Client| {
        ok(client, "volume_billing", json!({"id": vol}))["total_cost"]
            .as_f64()
            .unwrap()
    };
    let instance_billing = ok(&client, "instance_billing", json!({"id": vm}));
    assert!(
        (instance_billing["data_volumes_hourly_cost"]
            .as_f64()
            .unwrap()
            - hourly)
            .abs()
            < 1e-4,
        "{instance_billing}"
    );

    for (action, rest) in [
        ("hibernate_instance", "HIBERNATED"),
        ("stop_instance", "SHUTOFF"),
    ] {
        if rest == "SHUTOFF" {
            ok(&client, "restore_instance", json!({"id": vm}));
            wait_status(&sim, &client, &vm, "ACTIVE");
        }
        ok(&client, action, json!({"id": vm}));
        wait_status(&sim, &client, &vm, rest);
        let (before, balance_before) = (billed(&client), sim.world().balance);
        sim.advance(secs(3600));
        let grew = billed(&client) - before;
        assert!(
            (grew - hourly).abs() < hourly * 0.01,
            "an hour {rest}: the volume billed {grew}, its rate is {hourly}"
        );
        let paid = balance_before - sim.world().balance;
        assert!(
            paid >= grew * 0.999,
            "the balance pays for it: {paid} < {grew}"
        );
        assert_eq!(
            ok(&client, "volume", json!({"id": vol}))["instance_id"],
            vm.as_str()
        );
    }
}

#[test]
fn the_budget_guard_burn_counts_instances_volumes_and_snapshots() {
    let (sim, client) = sim();
    let vm = active_instance(&sim, &client, REGION, json!({"name": "budgeted"}));
    let vol = id_of(&ok(
        &client,
        "create_volume",
        json!({"name": "ledger", "size_gb": 2000, "region": REGION}),
    ));
    wait_object(&sim, &client, "volume", &vol, "AVAILABLE");
    let snap = id_of(&ok(
        &client,
        "snapshot",
        json!({"instance_id": vm, "name": "b-snap"}),
    ));
    wait_object(&sim, &client, "get_snapshot", &snap, "AVAILABLE");
    ok(&client, "hibernate_instance", json!({"id": vm}));
    wait_status(&sim, &client, &vm, "HIBERNATED");

    let host = barrack::script::Host::builder(client_for(&sim, Some(KEY))).build();
    let result = host
        .run(&barrack::script::Source::snippet(
            "<test>",
            r#"import "barrack/budget" as b; b::guard(#{warn_hours: 1, hibernate_hours: 0})"#,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let result: Value = rhai::serde::from_dynamic(&result).unwrap();

    let volume_rate = ok(&client, "volume", json!({"id": vol}))["hourly_cost"]
        .as_f64()
        .unwrap();
    let snapshot_rate = ok(&client, "get_snapshot", json!({"id": snap}))["hourly_cost"]
        .as_f64()
        .unwrap();
    let instance_rate = ok(&client, "instance_billing", json!({"id": vm}))["current_hourly_rate"]
        .as_f64()
        .unwrap();
    let burn = &result["burn"];
    let close = |a: &Value, b: f64| (a.as_f64().unwrap_or(-1.0) - b).abs() < 1e-6;
    assert!(close(&burn["volumes"], volume_rate), "{result}");
    assert!(close(&burn["snapshots"], snapshot_rate), "{result}");
    assert!(close(&burn["instances"], instance_rate), "{result}");
    assert!(
        close(
            &result["burn_per_hour"],
            volume_rate + snapshot_rate + instance_rate
        ),
        "{result}"
    );
    assert!(
        volume_rate > instance_rate,
        "the hibernated instance pays its disk only"
    );
}

// ---- Rule 4: create_script returns a Script; deploy takes it every way ----

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

// ---- Rule 5: actions update the handle they are called on ----

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

// ---- Rule 6: Snapshot Deleted During Restore ----

#[test]
fn deleting_a_snapshot_during_its_restore_fails_the_restore_with_that_error() {
    let (sim, client) = sim();
    let vm = active_instance(&sim, &client, REGION, json!({"name": "origin"}));
    let snap = id_of(&ok(
        &client,
        "snapshot",
        json!({"instance_id": vm, "name": "base"}),
    ));
    wait_object(&sim, &client, "get_snapshot", &snap, "AVAILABLE");
    let free = stock(&sim, REGION, GPU);
    let copy = id_of(&ok(
        &client,
        "restore_snapshot",
        json!({"id": snap, "name": "copy"}),
    ));
    assert_eq!(stock(&sim, REGION, GPU), free - 1);
    let answer = ok(&client, "delete_snapshot", json!({"id": snap}));
    assert_eq!(answer["failed_restores"], json!([copy]), "{answer}");
    let restored = ok(&client, "instance", json!({"id": copy}));
    assert_eq!(restored["status"], "ERROR", "{restored}");
    let why = restored["error"].as_str().unwrap_or("");
    assert!(
        why.starts_with("Snapshot deleted during restore") && why.contains(&snap),
        "{restored}"
    );
    assert_eq!(stock(&sim, REGION, GPU), free, "the GPU is given back");
    sim.advance(secs(3600));
    let billing = ok(&client, "instance_billing", json!({"id": copy}));
    assert_eq!(billing["total_cost"].as_f64(), Some(0.0), "{billing}");
    // A restore that finished is no longer reading its snapshot.
    let snap2 = id_of(&ok(
        &client,
        "snapshot",
        json!({"instance_id": vm, "name": "base2"}),
    ));
    wait_object(&sim, &client, "get_snapshot", &snap2, "AVAILABLE");
    let done = id_of(&ok(
        &client,
        "restore_snapshot",
        json!({"id": snap2, "name": "done"}),
    ));
    wait_status(&sim, &client, &done, "ACTIVE");
    let answer = ok(&client, "delete_snapshot", json!({"id": snap2}));
    assert_eq!(answer["failed_restores"], json!([]));
    assert_eq!(
        ok(&client, "instance", json!({"id": done}))["status"],
        "ACTIVE"
    );
}

#[test]
fn a_waiter_on_a_restore_whose_snapshot_was_deleted_says_why() {
    Test::eval(
        r#"
        let vm = deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "origin"});
        wait_active(vm);
        let snap = snapshot(vm, "base");
        wait_status(snap, "AVAILABLE");
        let copy = restore_snapshot(snap, "copy");
        delete(snap);
        wait_active(copy);
        "#,
    )
    .stderr_has("wait_active: instance BRK-")
    .stderr_has("(copy) will not become ACTIVE: it is in ERROR (Snapshot deleted during restore: snapshot snap-")
    .status(1);
}

// ---- Rule 7: toggle_public_ip follows deploy's tier rule ----

#[test]
fn toggle_public_ip_is_for_the_legacy_tier_only_like_deploys_public_ip() {
    let (sim, client) = sim();
    let advanced = active_instance(&sim, &client, REGION, json!({"name": "adv"}));
    let before = ok(&client, "instance", json!({"id": advanced}));
    let err = fail(&client, "toggle_public_ip", json!({"id": advanced}));
    assert_refused(&err, 409, "CONFLICT", "legacy-tier instances only");
    assert!(err.message.contains("advanced tier"), "{err}");
    assert_eq!(err.tier.as_deref(), Some("advanced"), "{err}");
    let after = ok(&client, "instance", json!({"id": advanced}));
    assert_eq!(before["public_ip"], after["public_ip"], "nothing changed");
    // deploy's public_ip is refused on the same tier, naming it.
    let err = fail(
        &client,
        "deploy",
        deploy_spec(&sim, REGION, json!({"public_ip": true})),
    );
    assert_invalid(&err, "public_ip", "legacy regions only");

    let legacy = active_instance(&sim, &client, LEGACY_REGION, json!({"name": "old"}));
    let on = ok(&client, "toggle_public_ip", json!({"id": legacy}));
    assert_eq!(on["public_ip_enabled"], true, "{on}");
    assert!(on["public_ip"].is_string(), "{on}");
    let off = ok(&client, "toggle_public_ip", json!({"id": legacy}));
    assert_eq!(off["public_ip_enabled"], false, "{off}");

    // The dry run refuses it as the run would.
    Test::new()
        .file(
            "toggle.rhai",
            r#"
            let vm = deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "plan-adv"});
            wait_active(vm);
            vm.toggle_public_ip();
            "#,
        )
        .args(["plan", "--sim", "toggle.rhai"])
        .stderr_has("legacy-tier instances only")
        .stderr_has("(advanced tier)")
        .status(1);
}

// ---- Rule 8: choices are said to be choices ----

#[test]
fn ops_says_which_rules_are_barracks_choices_and_the_readme_claims_no_server_words() {
    let deploy = Test::new().args(["ops", "deploy"]).success();
    for topic in [
        "Choice:   billing start",
        "Choice:   SSH keys on a volume boot",
        "Choice:   regions' GPU sets",
        "Choice:   message wording",
        "barrack's choice, not the reference's",
    ] {
        assert!(deploy.stdout.contains(topic), "{topic}:\n{}", deploy.stdout);
    }
    Test::new()
        .args(["ops", "create_volume"])
        .stdout_has("Choice:   volume size maximum")
        .stdout_has("1,048,576 GB")
        .success();
    for (op, topic) in [
        ("delete_snapshot", "snapshot deleted during restore"),
        ("toggle_public_ip", "public IP tier"),
        ("add_firewall_rule", "firewall and rule states"),
        ("hibernate_instance", "data volumes of stopped instances"),
        ("create_script", "creating a startup script"),
    ] {
        Test::new()
            .args(["ops", op])
            .stdout_has(&format!("Choice:   {topic}"))
            .success();
    }
    Test::new()
        .args(["ops", "balance"])
        .stdout_lacks("Choice:")
        .success();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("the README");
    assert!(
        !readme.contains("server's own"),
        "the README calls chosen words the server's own"
    );
}

#[test]
fn cleanup_skips_a_firewall_whose_rules_still_apply_and_deletes_it_next_run() {
    let (sim, client) = sim();
    let settled = id_of(&ok(
        &client,
        "create_firewall",
        json!({"name": "bare", "region": REGION}),
    ));
    let applying = id_of(&ok(
        &client,
        "create_firewall",
        json!({"name": "fresh", "region": REGION, "rules": [{"protocol": "ICMP"}]}),
    ));
    let host = barrack::script::Host::builder(client_for(&sim, Some(KEY))).build();
    let run = || -> Value {
        let out = host
            .run(&barrack::script::Source::snippet(
                "<test>",
                r#"import "barrack/cleanup" as c; c::run(#{confirm: true})"#,
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        rhai::serde::from_dynamic(&out).unwrap()
    };
    let first = run();
    assert_eq!(first["deleted"], json!([settled]), "{first}");
    assert_eq!(first["skipped"][0]["id"], applying.as_str(), "{first}");
    assert!(sim.world().firewalls.contains_key(&applying));
    sim.advance(secs(600));
    let second = run();
    assert_eq!(second["deleted"], json!([applying]), "{second}");
    assert!(sim.world().firewalls.is_empty());
}
