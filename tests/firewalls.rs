//! Firewalls and security rules: attaching adds a firewall and never detaches it from other
//! instances, rules apply over minutes and the firewall reports success once they have, the rules
//! a rule must meet (protocol, ports, CIDR, direction, ethertype), security rules for the legacy
//! tier, detaching before deleting, `wait_status(fw, "SUCCESS")`, and the cleanup recipe waiting
//! for a firewall whose rules still apply. Through the client on a frozen clock, or the binary.

use crate::support::*;
use crate::test::Test;
use serde_json::{json, Value};
use std::time::Duration;

fn ids(list: &Value) -> Vec<String> {
    list.as_array().expect("a list").iter().map(id_of).collect()
}

fn firewall(client: &barrack::api::Client, id: &str) -> Value {
    ok(client, "firewall", json!({"id": id}))
}

// ---- attaching adds; detaching is its own, explicit operation ----

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

// ---- firewall and rule states; a waiter for the rules ----

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

// ---- the cleanup recipe and a firewall whose rules still apply ----

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

// ---- the rules a firewall rule must meet ----

#[test]
fn firewall_rules_check_protocol_ports_cidr_direction_and_ethertype() {
    let (sim, client) = sim();
    let fw = id_of(&ok(
        &client,
        "create_firewall",
        json!({"name": "rules", "region": REGION}),
    ));
    #[allow(clippy::result_large_err)]
    let add = |rule: Value| {
        let mut args = rule;
        args["id"] = json!(fw);
        call(&client, "add_firewall_rule", args)
    };
    let cases = [
        (
            json!({"port_range": "22"}),
            "protocol",
            "This field is required",
        ),
        (
            json!({"protocol": "FOO"}),
            "protocol",
            "Unsupported protocol \"FOO\"; supported: TCP, UDP, ICMP",
        ),
        (
            json!({"protocol": "TCP", "direction": "sideways"}),
            "direction",
            "ingress or egress",
        ),
        (
            json!({"protocol": "TCP", "ethertype": "IPv5"}),
            "ethertype",
            "IPv4 or IPv6",
        ),
        (
            json!({"protocol": "TCP", "remote_ip_prefix": "300.1.1.1/8"}),
            "remote_ip_prefix",
            "not a valid IPv4 CIDR",
        ),
        (
            json!({"protocol": "TCP", "remote_ip_prefix": "10.0.0.0/33"}),
            "remote_ip_prefix",
            "not a valid IPv4 CIDR",
        ),
        (
            json!({"protocol": "TCP", "remote_ip_prefix": "::/0"}),
            "remote_ip_prefix",
            "not a valid IPv4 CIDR",
        ),
        (
            json!({"protocol": "TCP", "ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"}),
            "remote_ip_prefix",
            "not a valid IPv6 CIDR",
        ),
        (
            json!({"protocol": "TCP", "port_range": "0"}),
            "port_range_min",
            "1-65535",
        ),
        (
            json!({"protocol": "UDP", "port_range": "9000-8000"}),
            "port_range_min",
            "min ≤ max",
        ),
        (
            json!({"protocol": "TCP", "port_range_min": 1, "port_range_max": 70_000}),
            "port_range_min",
            "1-65535",
        ),
        (
            json!({"protocol": "TCP", "port_range": "ssh"}),
            "port_range",
            "22 or 8000-9000",
        ),
    ];
    for (rule, field, says) in cases {
        let err = add(rule.clone()).expect_err(&format!("{rule} was accepted"));
        assert_invalid(&err, field, says);
    }
    assert!(sim.world().firewalls[&fw].rules.is_empty());

    // Every protocol the API lists is accepted; port-less ones drop the ports.
    let protocols = ok(&client, "protocols", json!({}));
    for p in protocols.as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let rule = add(
            json!({"protocol": name, "port_range": "8000-8080", "direction": "egress",
                              "ethertype": "IPv6", "remote_ip_prefix": "2001:db8::/32"}),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let takes_ports = p["supports_ports"].as_bool().unwrap();
        assert_eq!(
            rule["rule"]["port_range_min"].is_null(),
            !takes_ports,
            "{rule}"
        );
        assert_eq!(rule["rule"]["direction"], "egress");
    }
    // Rules in a new firewall are checked the same way, each named by its index.
    let err = fail(
        &client,
        "create_firewall",
        json!({"name": "bad", "region": REGION, "rules": [{"protocol": "TCP"}, {"protocol": "NOPE"}]}),
    );
    assert_invalid(&err, "rules[1].protocol", "Unsupported protocol");
    let err = fail(
        &client,
        "create_firewall",
        json!({"name": "legacy", "region": LEGACY_REGION}),
    );
    assert_invalid(&err, "region", "advanced regions only");
}

#[test]
fn a_firewall_rule_takes_up_to_ten_minutes_to_apply() {
    let (sim, client) = sim();
    let fw = id_of(&ok(
        &client,
        "create_firewall",
        json!({"name": "slow", "region": REGION}),
    ));
    let rule = ok(
        &client,
        "add_firewall_rule",
        json!({"id": fw, "protocol": "TCP", "port_range": "22"}),
    );
    assert_eq!(rule["rule"]["status"], "APPLYING");
    let rule_id = rule["rule"]["id"].as_str().unwrap().to_string();
    sim.advance(Duration::from_secs(600));
    let fw = ok(&client, "firewall", json!({"id": fw}));
    let applied = fw["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == rule_id.as_str())
        .unwrap();
    assert_eq!(applied["status"], "ACTIVE", "{fw}");
}

#[test]
fn security_rules_are_for_legacy_instances_with_the_same_checks() {
    let (sim, client) = sim();
    let advanced = deploy(&sim, &client, REGION, json!({}));
    let err = fail(
        &client,
        "add_security_rule",
        json!({"id": advanced, "protocol": "TCP", "port_range": "22"}),
    );
    assert_refused(&err, 409, "CONFLICT", "use a firewall");
    let legacy = deploy(&sim, &client, LEGACY_REGION, json!({}));
    let err = fail(
        &client,
        "add_security_rule",
        json!({"id": legacy, "protocol": "TCP", "port_range": "99999"}),
    );
    assert_invalid(&err, "port_range_min", "1-65535");
    let err = fail(
        &client,
        "deploy",
        deploy_spec(
            &sim,
            LEGACY_REGION,
            json!({"security_rules": [{"protocol": "XYZ"}]}),
        ),
    );
    assert_invalid(&err, "security_rules.protocol", "Unsupported protocol");
    assert!(sim.world().instances[&legacy].security_rules.is_empty());
}

#[test]
fn a_firewall_is_detached_from_every_instance_before_it_can_be_deleted() {
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
        json!({"id": fw, "instance_ids": [a, b]}),
    );
    let err = fail(&client, "delete_firewall", json!({"id": fw}));
    assert_refused(&err, 409, "CONFLICT", "attached to 2 instance(s)");
    assert!(
        err.message.contains(&a) && err.message.contains(&b),
        "{err}"
    );
    // Detaching one is not enough.
    ok(
        &client,
        "detach_firewall",
        json!({"id": fw, "instance_ids": [a]}),
    );
    assert!(ok(&client, "instance_firewalls", json!({"id": a}))
        .as_array()
        .unwrap()
        .is_empty());
    let err = fail(&client, "delete_firewall", json!({"id": fw}));
    assert_refused(&err, 409, "CONFLICT", "attached to 1 instance(s)");
    // Deleting the instance detaches it.
    ok(&client, "delete_instance", json!({"id": b}));
    wait_gone(&sim, &client, &b);
    ok(&client, "delete_firewall", json!({"id": fw}));
    let err = fail(&client, "firewall", json!({"id": fw}));
    assert_refused(&err, 404, "NOT_FOUND", &fw);

    // A firewall only takes instances of its own region.
    let fw = id_of(&ok(
        &client,
        "create_firewall",
        json!({"name": "iceland", "region": "ICELAND-1"}),
    ));
    let err = fail(
        &client,
        "attach_firewall",
        json!({"id": fw, "instance_ids": [a]}),
    );
    assert_refused(&err, 409, "CONFLICT", "the firewall is in ICELAND-1");
}
