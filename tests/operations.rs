//! Every catalog operation over real HTTP, and the documented failures of each: 404 for an
//! unknown id, 401 without a key, 402 without credits, 409 out of stock, 403 with an incomplete
//! profile; the success and error envelopes as sent, RFC 3339 times in every answer; idempotency
//! keys; pagination; faults.

use crate::support::*;
use barrack::api::catalog::ArgType;
use barrack::api::rules::{SCRIPT_NAME_CHARS, SCRIPT_TOO_LARGE};
use barrack::api::{Kind, Method, OPS};
use barrack::sim::{Faults, SimOptions};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// The ids in a list answer.
fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("expected a list, got {list}"))
        .iter()
        .filter_map(|item| item["id"].as_str())
        .collect()
}

fn script_id(client: &barrack::api::Client, name: &str) -> String {
    let found = ok(client, "scripts", json!({"name": name}));
    ids(&found)
        .first()
        .unwrap_or_else(|| panic!("no script named {name}: {found}"))
        .to_string()
}

/// One object of each kind, in the state the operation acting on it needs.
struct World {
    key: String,
    key_del: String,
    vm: String,
    vm_stop: String,
    vm_reboot: String,
    vm_hibernate: String,
    vm_restore: String,
    vm_start: String,
    vm_delete: String,
    vm_toggle: String,
    legacy: String,
    legacy_rule: String,
    volume: String,
    volume_del: String,
    snap: String,
    snap_del: String,
    snap_for_image: String,
    image: String,
    image_del: String,
    firewall: String,
    firewall_rule: String,
    firewall_del: String,
    script: String,
    script_del: String,
    scripts_del: [String; 2],
}

fn build_world(sim: &barrack::sim::Simulator, client: &barrack::api::Client) -> World {
    let key = default_key(sim);
    let made = ok(
        client,
        "create_ssh_key",
        json!({"name": "to-delete", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIToDeleteKeyData0001 me@host"}),
    );
    let key_del = made["id"].as_str().unwrap().to_string();

    let names = [
        "main",
        "stopper",
        "rebooter",
        "hibernator",
        "restorer",
        "starter",
        "deleter",
        "toggler",
    ];
    let vms: Vec<String> = names
        .iter()
        .map(|n| deploy(sim, client, REGION, json!({"name": n})))
        .collect();
    let legacy = ok(
        client,
        "deploy",
        deploy_spec(
            sim,
            LEGACY_REGION,
            json!({"name": "legacy", "public_ip": true,
                   "security_rules": [{"protocol": "TCP", "port_range": "22", "remote_ip_prefix": "0.0.0.0/0"}]}),
        ),
    );
    assert_eq!(legacy["tier"], "legacy");
    let legacy_rule = legacy["security_rules"][0]["id"]
        .as_str()
        .expect("the deploy answer lists the security rule with its id")
        .to_string();
    let legacy = legacy["id"].as_str().unwrap().to_string();
    for id in vms.iter().chain([&legacy]) {
        wait_status(sim, client, id, "ACTIVE");
    }
    let [vm, vm_stop, vm_reboot, vm_hibernate, vm_restore, vm_start, vm_delete, vm_toggle] =
        <[String; 8]>::try_from(vms).unwrap();
    ok(client, "stop_instance", json!({"id": vm_start}));
    ok(client, "hibernate_instance", json!({"id": vm_restore}));
    wait_status(sim, client, &vm_start, "SHUTOFF");
    wait_status(sim, client, &vm_restore, "HIBERNATED");

    let mut volume_ids = Vec::new();
    for name in ["data", "doomed"] {
        let v = ok(
            client,
            "create_volume",
            json!({"name": name, "size_gb": 50, "region": REGION, "type": "NVMe"}),
        );
        volume_ids.push(v["id"].as_str().unwrap().to_string());
    }
    for id in &volume_ids {
        wait_object(sim, client, "volume", id, "AVAILABLE");
    }
    let [volume, volume_del] = <[String; 2]>::try_from(volume_ids).unwrap();

    let mut snaps = Vec::new();
    for name in ["snap-a", "snap-b", "snap-c"] {
        let s = ok(client, "snapshot", json!({"instance_id": vm, "name": name}));
        snaps.push(s["id"].as_str().unwrap().to_string());
    }
    for id in &snaps {
        wait_object(sim, client, "get_snapshot", id, "AVAILABLE");
    }
    let [snap, snap_del, snap_for_image] = <[String; 3]>::try_from(snaps).unwrap();
    let mut images = Vec::new();
    for (s, name) in [(&snap, "image-a"), (&snap_del, "image-b")] {
        let i = ok(client, "create_image", json!({"id": s, "name": name}));
        images.push(i["id"].as_str().unwrap().to_string());
    }
    for id in &images {
        wait_object(sim, client, "image", id, "AVAILABLE");
    }
    let [image, image_del] = <[String; 2]>::try_from(images).unwrap();

    let fw = ok(
        client,
        "create_firewall",
        json!({"name": "web", "region": REGION, "description": "web servers",
               "rules": [{"protocol": "TCP", "port_range": "443", "direction": "ingress",
                          "ethertype": "IPv4", "remote_ip_prefix": "0.0.0.0/0"}]}),
    );
    let firewall = fw["id"].as_str().unwrap().to_string();
    let firewall_rule = fw["rules"][0]["id"].as_str().unwrap().to_string();
    ok(
        client,
        "attach_firewall",
        json!({"id": firewall, "instance_ids": [vm]}),
    );
    let fw_del = ok(
        client,
        "create_firewall",
        json!({"name": "unused", "region": REGION}),
    );
    let firewall_del = fw_del["id"].as_str().unwrap().to_string();

    for name in ["setup", "old", "older", "oldest"] {
        assert_eq!(
            ok(
                client,
                "create_script",
                json!({"name": name, "script": "#!/bin/sh\necho hi\n"})
            ),
            Value::Null
        );
    }
    World {
        key,
        key_del,
        vm,
        vm_stop,
        vm_reboot,
        vm_hibernate,
        vm_restore,
        vm_start,
        vm_delete,
        vm_toggle,
        legacy,
        legacy_rule,
        volume,
        volume_del,
        snap,
        snap_del,
        snap_for_image,
        image,
        image_del,
        firewall,
        firewall_rule,
        firewall_del,
        script: script_id(client, "setup"),
        script_del: script_id(client, "old"),
        scripts_del: [script_id(client, "older"), script_id(client, "oldest")],
    }
}

#[test]
fn every_catalog_operation_succeeds_with_valid_arguments() {
    let (sim, client) = sim();
    let w = build_world(&sim, &client);
    let mut called = BTreeSet::new();
    // Every operation is tried; a failing one is noted and the rest still run, so one run of
    // the test names every broken operation, not only the first.
    let mut failures = Vec::new();
    for op in OPS {
        let name = op.name;
        let status = |v: &Value| v["status"].as_str().unwrap_or("").to_string();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match name {
            "balance" => {
                let b = ok(&client, name, json!({}));
                assert!(b["balance"].as_f64().unwrap() > 9_000.0, "{b}");
                assert_eq!(b["currency"], "USD");
            }
            "gpu_stocks" => {
                let list = ok(&client, name, json!({}));
                let row = list
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["region"] == REGION && r["gpu_model"] == GPU)
                    .unwrap_or_else(|| panic!("no {REGION}/{GPU} row in {list}"));
                assert_eq!(row["available_gpus"], stock(&sim, REGION, GPU));
            }
            "gpu_specs" => {
                let list = ok(&client, name, json!({}));
                assert_eq!(list.as_array().unwrap().len(), 10, "{list}");
                assert!(list
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["gpu_model"] == "B300-262GB"));
            }
            "regions" => {
                let list = ok(&client, name, json!({}));
                for (region, tier) in [
                    ("FINLAND-1", "advanced"),
                    ("FINLAND-2", "advanced"),
                    ("FINLAND-3", "advanced"),
                    ("ICELAND-1", "advanced"),
                    ("CANADA-1", "legacy"),
                ] {
                    assert!(
                        list.as_array()
                            .unwrap()
                            .iter()
                            .any(|r| r["name"] == region && r["tier"] == tier),
                        "{region} ({tier}) missing from {list}"
                    );
                }
            }
            "pricing" => {
                let p = ok(&client, name, json!({}));
                assert!(p["gpus"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|g| g["gpu_model"] == GPU && g["hourly_per_gpu"].as_f64() > Some(0.0)));
            }
            "quote" => {
                let one = ok(
                    &client,
                    name,
                    json!({"gpu_model": GPU, "gpu_count": 1, "region": REGION}),
                );
                let eight = ok(
                    &client,
                    name,
                    json!({"gpu_model": GPU, "gpu_count": 8, "region": REGION}),
                );
                let (one, eight) = (
                    one["breakdown"]["gpu"].as_f64().unwrap(),
                    eight["breakdown"]["gpu"].as_f64().unwrap(),
                );
                assert!((eight - 8.0 * one).abs() < 1e-6, "{one} × 8 != {eight}");
            }
            "deploy" => {
                let vm = ok(
                    &client,
                    name,
                    deploy_spec(&sim, REGION, json!({"name": "fresh"})),
                );
                assert!(is_instance_id(vm["id"].as_str().unwrap(), "VM"), "{vm}");
                assert_eq!(status(&vm), "CREATING");
                assert_eq!(vm["name"], "fresh");
            }
            "instances" => {
                let list = ok(&client, name, json!({}));
                let listed = ids(&list);
                for id in [&w.vm, &w.vm_stop, &w.legacy, &w.vm_restore] {
                    assert!(listed.contains(&id.as_str()), "{id} not listed");
                }
                let active = ok(&client, name, json!({"status": "SHUTOFF"}));
                assert_eq!(ids(&active), vec![w.vm_start.as_str()]);
            }
            "instance" => {
                let vm = ok(&client, name, json!({"id": w.vm}));
                assert_eq!(
                    (vm["id"].as_str(), status(&vm).as_str()),
                    (Some(w.vm.as_str()), "ACTIVE")
                );
                assert_eq!(vm["region"], REGION);
                assert_eq!(vm["gpu_model"], GPU);
            }
            "instance_billing" => {
                let b = ok(&client, name, json!({"id": w.vm}));
                assert_eq!(b["instance_id"], w.vm.as_str());
                assert!(b["hourly_cost"].as_f64() > Some(2.0), "{b}");
            }
            "start_instance" => {
                let vm = ok(&client, name, json!({"id": w.vm_start}));
                assert_eq!(status(&vm), "STARTING");
            }
            "stop_instance" => {
                let vm = ok(&client, name, json!({"id": w.vm_stop}));
                assert_eq!(status(&vm), "STOPPING");
            }
            "reboot_instance" => {
                let vm = ok(&client, name, json!({"id": w.vm_reboot}));
                assert_eq!(status(&vm), "REBOOTING");
            }
            "hibernate_instance" => {
                let vm = ok(&client, name, json!({"id": w.vm_hibernate}));
                assert_eq!(status(&vm), "HIBERNATING");
            }
            "restore_instance" => {
                let vm = ok(&client, name, json!({"id": w.vm_restore}));
                assert_eq!(status(&vm), "RESTORING");
            }
            "toggle_public_ip" => {
                // A legacy-tier switch, as deploy's public_ip: refused on the advanced tier.
                let err = fail(&client, name, json!({"id": w.vm_toggle}));
                assert_refused(&err, 409, "CONFLICT", "legacy-tier instances only");
                let before = ok(&client, "instance", json!({"id": w.legacy}));
                let after = ok(&client, name, json!({"id": w.legacy}));
                assert_ne!(before["public_ip_enabled"], after["public_ip_enabled"]);
                assert_eq!(
                    after["public_ip"].is_null(),
                    after["public_ip_enabled"] == false,
                    "{after}"
                );
            }
            "hibernated_count" => {
                let expected = sim
                    .world()
                    .instances
                    .values()
                    .filter(|i| i.status == "HIBERNATED")
                    .count();
                let c = ok(&client, name, json!({}));
                assert_eq!(c["count"], expected);
            }
            "add_security_rule" => {
                let r = ok(
                    &client,
                    name,
                    json!({"id": w.legacy, "protocol": "UDP", "port_range": "5000-5010",
                           "direction": "ingress", "ethertype": "IPv4", "remote_ip_prefix": "10.0.0.0/8"}),
                );
                assert!(r["rule"]["id"].as_str().is_some(), "{r}");
                let vm = ok(&client, "instance", json!({"id": w.legacy}));
                assert!(vm["security_rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x["protocol"] == "UDP" && x["port_range_max"] == 5010));
            }
            "remove_security_rule" => {
                ok(
                    &client,
                    name,
                    json!({"id": w.legacy, "rule_id": w.legacy_rule}),
                );
                let vm = ok(&client, "instance", json!({"id": w.legacy}));
                assert!(!vm["security_rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x["id"] == w.legacy_rule.as_str()));
            }
            "delete_instance" => {
                let d = ok(&client, name, json!({"id": w.vm_delete}));
                assert_eq!(d["deleted"], true);
                assert_eq!(
                    status(&ok(&client, "instance", json!({"id": w.vm_delete}))),
                    "DELETING"
                );
            }
            "instance_firewalls" => {
                let list = ok(&client, name, json!({"id": w.vm}));
                assert_eq!(ids(&list), vec![w.firewall.as_str()]);
            }
            "snapshot_eligible" => {
                let list = ok(&client, name, json!({}));
                let listed = ids(&list);
                assert!(listed.contains(&w.vm.as_str()));
                assert!(
                    !listed.contains(&w.vm_start.as_str()),
                    "a STARTING vm is not eligible"
                );
            }
            "os_images" => {
                let list = ok(&client, name, json!({}));
                assert!(ids(&list).contains(&OS_IMAGE));
            }
            "ssh_keys" => {
                let list = ok(&client, name, json!({}));
                assert!(ids(&list).contains(&w.key.as_str()));
            }
            "create_ssh_key" => {
                let k = ok(
                    &client,
                    name,
                    json!({"name": "laptop", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILaptopKeyData00001 me@laptop"}),
                );
                assert!(k["id"].as_str().unwrap().starts_with("key-"));
                assert!(k["fingerprint"].as_str().unwrap().starts_with("SHA256:"));
            }
            "ssh_key" => {
                let k = ok(&client, name, json!({"id": w.key}));
                assert_eq!(k["name"], "default");
            }
            "delete_ssh_key" => {
                ok(&client, name, json!({"id": w.key_del}));
                assert!(!sim.world().ssh_keys.contains_key(&w.key_del));
            }
            "volumes" => {
                let list = ok(&client, name, json!({}));
                assert!(ids(&list).contains(&w.volume.as_str()));
            }
            "create_volume" => {
                let v = ok(
                    &client,
                    name,
                    json!({"name": "scratch", "size_gb": 20, "region": REGION, "type": "HDD"}),
                );
                assert_eq!(
                    (v["size_gb"].as_i64(), status(&v).as_str()),
                    (Some(20), "CREATING")
                );
                assert_eq!(v["type"], "HDD");
            }
            "volume" => {
                let v = ok(&client, name, json!({"id": w.volume}));
                assert_eq!(
                    (v["name"].as_str(), status(&v).as_str()),
                    (Some("data"), "AVAILABLE")
                );
            }
            "delete_volume" => {
                ok(&client, name, json!({"id": w.volume_del}));
                assert!(!sim.world().volumes.contains_key(&w.volume_del));
            }
            "resize_volume" => {
                let v = ok(&client, name, json!({"id": w.volume, "size_gb": 100}));
                assert_eq!(v["size_gb"], 100);
            }
            "clone_volume" => {
                let v = ok(&client, name, json!({"id": w.volume, "name": "data copy"}));
                assert_ne!(v["id"], w.volume.as_str());
                assert_eq!(
                    (v["name"].as_str(), v["size_gb"].as_i64()),
                    (Some("data copy"), Some(100))
                );
            }
            "attach_volumes" => {
                ok(&client, name, json!({"id": w.vm, "volume_ids": [w.volume]}));
                let v = ok(&client, "volume", json!({"id": w.volume}));
                assert_eq!(
                    (v["instance_id"].as_str(), status(&v).as_str()),
                    (Some(w.vm.as_str()), "IN_USE")
                );
            }
            "detach_volumes" => {
                ok(&client, name, json!({"id": w.vm, "volume_ids": [w.volume]}));
                let v = ok(&client, "volume", json!({"id": w.volume}));
                assert_eq!(
                    (v["instance_id"].is_null(), status(&v).as_str()),
                    (true, "AVAILABLE")
                );
            }
            "volume_types" => {
                let list = ok(&client, name, json!({}));
                let names: Vec<&str> = list
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|t| t["name"].as_str())
                    .collect();
                assert_eq!(names, vec!["NVMe", "HDD"]);
            }
            "volume_billing" => {
                let b = ok(&client, name, json!({"id": w.volume}));
                assert_eq!(b["volume_id"], w.volume.as_str());
            }
            "firewalls" => {
                let list = ok(&client, name, json!({}));
                assert!(ids(&list).contains(&w.firewall.as_str()));
            }
            "create_firewall" => {
                let f = ok(
                    &client,
                    name,
                    json!({"name": "ssh", "region": "ICELAND-1",
                           "rules": [{"protocol": "TCP", "port_range": "22"}]}),
                );
                assert!(f["id"].as_str().unwrap().starts_with("fw-"));
                assert_eq!(f["rules"][0]["port_range_min"], 22);
            }
            "firewall" => {
                let f = ok(&client, name, json!({"id": w.firewall}));
                assert_eq!(f["rules"][0]["id"], w.firewall_rule.as_str());
                assert_eq!(f["instance_ids"], json!([w.vm]));
            }
            "delete_firewall" => {
                ok(&client, name, json!({"id": w.firewall_del}));
                assert!(!sim.world().firewalls.contains_key(&w.firewall_del));
            }
            "protocols" => {
                let list = ok(&client, name, json!({}));
                for p in ["TCP", "UDP", "ICMP"] {
                    assert!(list.as_array().unwrap().iter().any(|x| x["name"] == p));
                }
            }
            "available_instances" => {
                let list = ok(&client, name, json!({"id": w.firewall}));
                let listed = ids(&list);
                assert!(!listed.contains(&w.vm.as_str()), "already attached");
                assert!(listed.contains(&w.vm_reboot.as_str()));
                assert!(!listed.contains(&w.legacy.as_str()), "another region");
            }
            "add_firewall_rule" => {
                let r = ok(
                    &client,
                    name,
                    json!({"id": w.firewall, "protocol": "ICMP", "direction": "egress", "ethertype": "IPv6",
                           "remote_ip_prefix": "::/0"}),
                );
                assert_eq!(r["rule"]["status"], "APPLYING");
            }
            "remove_firewall_rule" => {
                ok(
                    &client,
                    name,
                    json!({"id": w.firewall, "rule_id": w.firewall_rule}),
                );
                let f = ok(&client, "firewall", json!({"id": w.firewall}));
                assert!(!f["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["id"] == w.firewall_rule.as_str()));
            }
            "attach_firewall" => {
                ok(
                    &client,
                    name,
                    json!({"id": w.firewall, "instance_ids": [w.vm, w.vm_reboot]}),
                );
                let list = ok(&client, "instance_firewalls", json!({"id": w.vm_reboot}));
                assert_eq!(ids(&list), vec![w.firewall.as_str()]);
            }
            "detach_firewall" => {
                let f = ok(
                    &client,
                    name,
                    json!({"id": w.firewall, "instance_ids": [w.vm_reboot]}),
                );
                assert_eq!(f["instance_ids"], json!([w.vm]), "{f}");
                let list = ok(&client, "instance_firewalls", json!({"id": w.vm_reboot}));
                assert!(ids(&list).is_empty(), "{list}");
            }
            "scripts" => {
                let list = ok(&client, name, json!({}));
                assert!(ids(&list).contains(&w.script.as_str()));
            }
            "create_script" => {
                let answer = ok(
                    &client,
                    name,
                    json!({"name": "fresh.sh", "script": "echo fresh"}),
                );
                assert_eq!(answer, Value::Null, "201 with no body");
                let id = script_id(&client, "fresh.sh");
                let s = ok(&client, "script", json!({"id": id}));
                assert_eq!(s["script"], "echo fresh");
            }
            "script" => {
                let s = ok(&client, name, json!({"id": w.script}));
                assert_eq!(s["name"], "setup");
                assert_eq!(s["size_bytes"], "#!/bin/sh\necho hi\n".len());
            }
            "update_script" => {
                let s = ok(
                    &client,
                    name,
                    json!({"id": w.script, "name": "setup v2", "script": "echo v2"}),
                );
                assert_eq!(
                    (s["name"].as_str(), s["script"].as_str()),
                    (Some("setup v2"), Some("echo v2"))
                );
            }
            "delete_script" => {
                ok(&client, name, json!({"id": w.script_del}));
                assert!(!sim.world().scripts.contains_key(&w.script_del));
            }
            "delete_scripts" => {
                let d = ok(&client, name, json!({"ids": w.scripts_del}));
                assert_eq!(d["count"], 2);
                let world = sim.world();
                assert!(w
                    .scripts_del
                    .iter()
                    .all(|id| !world.scripts.contains_key(id)));
            }
            "snapshots" => {
                let list = ok(&client, name, json!({}));
                assert!(ids(&list).contains(&w.snap.as_str()));
            }
            "snapshot" => {
                let s = ok(
                    &client,
                    name,
                    json!({"instance_id": w.vm, "name": "nightly"}),
                );
                assert_eq!(
                    (s["name"].as_str(), status(&s).as_str()),
                    (Some("nightly"), "CREATING")
                );
                assert_eq!(s["instance_id"], w.vm.as_str());
            }
            "get_snapshot" => {
                let s = ok(&client, name, json!({"id": w.snap}));
                assert_eq!(
                    (s["name"].as_str(), status(&s).as_str()),
                    (Some("snap-a"), "AVAILABLE")
                );
            }
            "delete_snapshot" => {
                ok(&client, name, json!({"id": w.snap_del}));
                assert!(!sim.world().snapshots.contains_key(&w.snap_del));
            }
            "snapshot_billing" => {
                let b = ok(&client, name, json!({"id": w.snap}));
                assert_eq!(b["snapshot_id"], w.snap.as_str());
            }
            "restore_snapshot" => {
                let vm = ok(&client, name, json!({"id": w.snap, "name": "reborn"}));
                assert!(is_instance_id(vm["id"].as_str().unwrap(), "D"), "{vm}");
                assert_eq!(status(&vm), "RESTORING");
                assert_eq!(vm["source_snapshot_id"], w.snap.as_str());
            }
            "images" => {
                let list = ok(&client, name, json!({}));
                assert!(ids(&list).contains(&w.image.as_str()));
            }
            "image" => {
                let i = ok(&client, name, json!({"id": w.image}));
                assert_eq!(
                    (i["snapshot_id"].as_str(), status(&i).as_str()),
                    (Some(w.snap.as_str()), "AVAILABLE")
                );
            }
            "delete_image" => {
                ok(&client, name, json!({"id": w.image_del}));
                assert!(!sim.world().images.contains_key(&w.image_del));
            }
            "create_image" => {
                let i = ok(
                    &client,
                    name,
                    json!({"id": w.snap_for_image, "name": "golden"}),
                );
                assert_eq!(
                    (i["name"].as_str(), status(&i).as_str()),
                    (Some("golden"), "CREATING")
                );
            }
            "snapshot_image" => {
                let r = ok(&client, name, json!({"id": w.snap}));
                assert_eq!(
                    (r["has_image"].as_bool(), r["image_id"].as_str()),
                    (Some(true), Some(w.image.as_str()))
                );
            }
            "snapshot_images" => {
                let list = ok(
                    &client,
                    name,
                    json!({"snapshot_ids": [w.snap, w.snap_for_image]}),
                );
                let list = list.as_array().unwrap();
                assert_eq!(list.len(), 2);
                assert_eq!(list[0]["image_id"], w.image.as_str());
                assert_eq!(list[1]["has_image"], true, "created just above");
            }
            "ai_models" => {
                let list = ok(&client, name, json!({}));
                assert!(!ids(&list).is_empty());
            }
            "chat" => {
                let model = ok(&client, "ai_models", json!({}))[0]["id"].clone();
                let answer = ok(
                    &client,
                    name,
                    json!({"model": model, "messages": [{"role": "user", "content": "hello barrack"}]}),
                );
                let text = answer["choices"][0]["message"]["content"].as_str().unwrap();
                assert!(text.contains("hello barrack"), "{answer}");
                assert!(answer["usage"]["total_tokens"].as_i64() > Some(0));
            }
            "ai_usage" => {
                let u = ok(&client, name, json!({}));
                assert_eq!(u["total_requests"], 1, "one chat so far: {u}");
            }
            "ai_usage_history" => {
                let list = ok(&client, name, json!({}));
                assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
            }
            other => panic!("the test has no case for operation {other}: add one"),
        }));
        if let Err(payload) = outcome {
            failures.push(format!("{name}: {}", panic_text(payload.as_ref())));
        }
        called.insert(name);
    }
    assert!(
        failures.is_empty(),
        "{} of {} operations failed:\n{}",
        failures.len(),
        OPS.len(),
        failures.join("\n")
    );
    assert_eq!(called.len(), OPS.len());
    assert_eq!(
        OPS.len(),
        69,
        "barrack-api.md lists 68 operations; barrack adds detach_firewall"
    );
}

/// An id of `kind` that the simulator never minted.
fn unknown_id(kind: Kind) -> String {
    match kind {
        Kind::Vm => "BRK-999999VM".into(),
        other => format!("{}9999zzzz", other.id_prefix()),
    }
}

#[test]
fn every_operation_on_an_unknown_id_answers_404_naming_the_id() {
    let (sim, client) = sim();
    let before = sim.world();
    let mut checked = 0;
    for op in OPS {
        let Some(ArgType::Target(kind)) = op.args.first().map(|a| a.ty) else {
            continue;
        };
        let missing = unknown_id(kind);
        let mut args = json!({ op.args[0].field: missing });
        // The other arguments are well-formed, so that only the unknown id is wrong.
        for arg in &op.args[1..] {
            let value = match (arg.ty, arg.field) {
                (ArgType::Str, "rule_id") => json!("rule-0001abcd"),
                (ArgType::Str, _) => json!("a-name"),
                (ArgType::Int, _) => json!(500),
                (ArgType::Targets(k), f) => {
                    args[f] = json!([unknown_id(k)]);
                    continue;
                }
                (ArgType::Map, _) => {
                    // Only keys the operation's shape lists: an unknown one is a 400 of its own.
                    let sample = json!({"protocol": "TCP", "port_range": "22", "name": "renamed"});
                    for field in op.fields {
                        if let Some(value) = sample.get(field.name) {
                            args[field.name] = value.clone();
                        }
                    }
                    continue;
                }
                (ArgType::Target(_), _) => unreachable!("one target per operation"),
            };
            args[arg.field] = value;
        }
        let err = fail(&client, op.name, args);
        assert_refused(&err, 404, "NOT_FOUND", &missing);
        checked += 1;
    }
    assert!(checked >= 39, "only {checked} operations take an id");
    // Nothing changed.
    let after = sim.world();
    assert_eq!(after.instances.len(), before.instances.len());
    assert_eq!(after.ssh_keys.len(), before.ssh_keys.len());
    assert_eq!(after.balance, before.balance);
}

#[test]
fn unknown_rules_scripts_and_routes_answer_404() {
    let (sim, client) = sim();
    let legacy = deploy(&sim, &client, LEGACY_REGION, json!({}));
    let err = fail(
        &client,
        "remove_security_rule",
        json!({"id": legacy, "rule_id": "rule-0000none"}),
    );
    assert_refused(&err, 404, "NOT_FOUND", "rule-0000none");
    let fw = ok(
        &client,
        "create_firewall",
        json!({"name": "fw", "region": REGION}),
    );
    let err = fail(
        &client,
        "remove_firewall_rule",
        json!({"id": fw["id"], "rule_id": "rule-0000none"}),
    );
    assert_refused(&err, 404, "NOT_FOUND", "rule-0000none");

    // Deleting several scripts is all or nothing.
    ok(
        &client,
        "create_script",
        json!({"name": "keep", "script": "x"}),
    );
    let keep = sim.world().scripts.keys().next().cloned().unwrap();
    let err = fail(
        &client,
        "delete_scripts",
        json!({"ids": [keep, "scr-9999zzzz"]}),
    );
    assert_refused(&err, 404, "NOT_FOUND", "scr-9999zzzz");
    assert!(sim.world().scripts.contains_key(&keep));

    let nope = raw(&sim, "GET", "/nope/", None, &[]).unwrap();
    assert_eq!(nope.status, 404);
    assert_eq!(nope.json()["code"], "NOT_FOUND");
    let wrong_method = raw(&sim, "PUT", "/balance/", Some("{}"), &[]).unwrap();
    assert_eq!(wrong_method.status, 405);
}

/// Arguments that fill every path placeholder, for calls that must be refused before routing.
fn placeholder_args(op: &barrack::api::Op) -> Value {
    let mut args = json!({});
    for param in op.path_params() {
        args[param] = json!("x1");
    }
    args
}

#[test]
fn every_operation_without_a_key_answers_401_and_changes_nothing() {
    let (sim, _) = sim();
    let anonymous = client_for(&sim, None);
    let before = sim.world();
    for op in OPS {
        let mut args = placeholder_args(op);
        if op.name == "deploy" {
            args = deploy_spec(&sim, REGION, json!({}));
        }
        let err = fail(&anonymous, op.name, args);
        assert_refused(&err, 401, "UNAUTHORIZED", "Authorization: Bearer");
        assert_eq!(
            barrack::error::Error::from(err).exit_code(),
            77,
            "{}",
            op.name
        );
    }
    let after = sim.world();
    assert!(after.instances.is_empty());
    assert_eq!(after.balance, before.balance);
}

#[test]
fn a_simulator_that_requires_a_key_refuses_any_other() {
    let (sim, _) = sim_with(SimOptions {
        api_key: Some("sk-right".into()),
        ..frozen_options()
    });
    let wrong = client_for(&sim, Some("sk-wrong"));
    let err = fail(&wrong, "balance", json!({}));
    assert_refused(&err, 401, "UNAUTHORIZED", "Invalid API key");
    let right = client_for(&sim, Some("sk-right"));
    assert!(ok(&right, "balance", json!({}))["balance"].is_number());
}

#[test]
fn deploy_and_restore_need_credits_402() {
    let (sim, client) = sim();
    let vm = active_instance(&sim, &client, REGION, json!({"name": "src"}));
    let snap = ok(&client, "snapshot", json!({"instance_id": vm, "name": "s"}));
    let snap = snap["id"].as_str().unwrap().to_string();
    wait_object(&sim, &client, "get_snapshot", &snap, "AVAILABLE");
    ok(&client, "hibernate_instance", json!({"id": vm}));
    wait_status(&sim, &client, &vm, "HIBERNATED");
    let count = sim.world().instances.len();

    sim.with_world(|w| w.balance = 0.5);
    let err = fail(&client, "deploy", deploy_spec(&sim, REGION, json!({})));
    assert_refused(&err, 402, "INSUFFICIENT_CREDITS", "Insufficient credits");
    assert_eq!(barrack::error::Error::from(err).exit_code(), 1);
    let err = fail(
        &client,
        "restore_snapshot",
        json!({"id": snap, "name": "again"}),
    );
    assert_refused(&err, 402, "INSUFFICIENT_CREDITS", "Insufficient credits");
    let err = fail(&client, "restore_instance", json!({"id": vm}));
    assert_refused(&err, 402, "INSUFFICIENT_CREDITS", "Insufficient credits");
    let err = fail(&client, "start_instance", json!({"id": vm}));
    assert_refused(&err, 402, "INSUFFICIENT_CREDITS", "Insufficient credits");
    assert_eq!(sim.world().instances.len(), count, "nothing was created");
    assert_eq!(
        ok(&client, "instance", json!({"id": vm}))["status"],
        "HIBERNATED",
        "nothing was restored"
    );

    // "A deployment needs at least one hour of prepaid cost": $5 buys an hour of one H100
    // ($2.50), not of eight B300s.
    sim.with_world(|w| w.balance = 5.0);
    let err = fail(
        &client,
        "deploy",
        deploy_spec(
            &sim,
            REGION,
            json!({"gpu_model": "B300-262GB", "gpu_count": 8}),
        ),
    );
    assert_refused(&err, 402, "INSUFFICIENT_CREDITS", "one hour prepaid");
    ok(&client, "deploy", deploy_spec(&sim, REGION, json!({})));
}

#[test]
fn the_minimum_balance_follows_the_currency() {
    // $1.00 / €1.00 / ₹100.00: ₹50 pays an hour of a cheap GPU but is under the minimum.
    let (sim, client) = sim();
    sim.with_world(|w| {
        w.currency = "INR".into();
        w.balance = 50.0;
    });
    let b = ok(&client, "balance", json!({}));
    assert_eq!(
        (b["currency"].as_str(), b["minimum_balance"].as_f64()),
        (Some("INR"), Some(100.0))
    );
    let err = fail(
        &client,
        "deploy",
        deploy_spec(&sim, LEGACY_REGION, json!({"gpu_model": "RTX-A6000"})),
    );
    assert_refused(&err, 402, "INSUFFICIENT_CREDITS", "100.00 INR");
    sim.with_world(|w| w.balance = 150.0);
    ok(
        &client,
        "deploy",
        deploy_spec(&sim, LEGACY_REGION, json!({"gpu_model": "RTX-A6000"})),
    );
    sim.with_world(|w| {
        w.currency = "EUR".into();
        w.balance = 0.99;
    });
    let err = fail(
        &client,
        "deploy",
        deploy_spec(&sim, LEGACY_REGION, json!({"gpu_model": "RTX-A6000"})),
    );
    assert_refused(&err, 402, "INSUFFICIENT_CREDITS", "1.00 EUR");
}

#[test]
fn the_prepaid_hour_includes_data_volumes() {
    let (sim, client) = sim();
    let v = ok(
        &client,
        "create_volume",
        json!({"name": "big", "size_gb": 100_000, "region": REGION}),
    );
    let vol = v["id"].as_str().unwrap().to_string();
    wait_object(&sim, &client, "volume", &vol, "AVAILABLE");
    // One H100 with its OS disk is ~$2.50/h; the 100 TB NVMe volume adds ~$14/h.
    sim.with_world(|w| w.balance = 10.0);
    let err = fail(
        &client,
        "deploy",
        deploy_spec(&sim, REGION, json!({"volume_ids": [vol]})),
    );
    assert_refused(&err, 402, "INSUFFICIENT_CREDITS", "one hour prepaid");
    ok(&client, "deploy", deploy_spec(&sim, REGION, json!({})));
}

#[test]
fn deploy_restore_and_start_answer_409_out_of_stock() {
    let (sim, client) = sim();
    sim.with_world(|w| {
        w.stock
            .insert(barrack::sim::world::stock_key(REGION, GPU), 4);
    });
    let err = fail(
        &client,
        "deploy",
        deploy_spec(&sim, REGION, json!({"gpu_count": 8})),
    );
    assert_refused(&err, 409, "OUT_OF_STOCK", "4 GPUs available");
    assert_eq!(err.tier.as_deref(), Some("advanced"));
    let vm = active_instance(&sim, &client, REGION, json!({"gpu_count": 4}));
    assert_eq!(stock(&sim, REGION, GPU), 0);
    let err = fail(&client, "deploy", deploy_spec(&sim, REGION, json!({})));
    assert_refused(&err, 409, "OUT_OF_STOCK", "Out of stock");

    // Hibernating gives the GPUs back; when someone else takes them, restore and start are refused.
    let snap = ok(&client, "snapshot", json!({"instance_id": vm, "name": "s"}))["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_object(&sim, &client, "get_snapshot", &snap, "AVAILABLE");
    ok(&client, "hibernate_instance", json!({"id": vm}));
    assert_eq!(stock(&sim, REGION, GPU), 4);
    deploy(&sim, &client, REGION, json!({"gpu_count": 2}));
    wait_status(&sim, &client, &vm, "HIBERNATED");
    for op in ["restore_instance", "start_instance"] {
        let err = fail(&client, op, json!({"id": vm}));
        assert_refused(&err, 409, "OUT_OF_STOCK", "2 GPUs available");
    }
    let err = fail(
        &client,
        "restore_snapshot",
        json!({"id": snap, "name": "copy"}),
    );
    assert_refused(&err, 409, "OUT_OF_STOCK", "Out of stock");
    assert_eq!(
        ok(&client, "instance", json!({"id": vm}))["status"],
        "HIBERNATED"
    );

    // The legacy tier answers with its own tier.
    sim.with_world(|w| {
        w.stock
            .insert(barrack::sim::world::stock_key(LEGACY_REGION, LEGACY_GPU), 0);
    });
    let err = fail(
        &client,
        "deploy",
        deploy_spec(&sim, LEGACY_REGION, json!({})),
    );
    assert_refused(&err, 409, "OUT_OF_STOCK", "0 GPUs available");
    assert_eq!(err.tier.as_deref(), Some("legacy"));
}

#[test]
fn an_incomplete_profile_blocks_deploy_and_snapshot_restore() {
    let (sim, client) = sim();
    let vm = active_instance(&sim, &client, REGION, json!({}));
    let snap = ok(&client, "snapshot", json!({"instance_id": vm, "name": "s"}))["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_object(&sim, &client, "get_snapshot", &snap, "AVAILABLE");
    sim.with_world(|w| w.profile_complete = false);
    let err = fail(&client, "deploy", deploy_spec(&sim, REGION, json!({})));
    assert_refused(&err, 403, "PROFILE_INCOMPLETE", "Profile incomplete");
    let err = fail(
        &client,
        "restore_snapshot",
        json!({"id": snap, "name": "copy"}),
    );
    assert_refused(&err, 403, "PROFILE_INCOMPLETE", "Profile incomplete");
    assert_eq!(sim.world().instances.len(), 1);
}

/// The envelope as the reference prints it.
const PRINTED_ENVELOPE: &str = r#"{"success": false, "message": "Invalid request data", "code": "VALIDATION_ERROR", "errors": {"<field>": ["<message>"]}, "request_id": "i9j0k1l2", "tier": "advanced"}"#;

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn the_error_envelope_is_the_printed_one() {
    let (sim, _) = sim();
    let body = json!({"name": "bad/name!", "script": "x".repeat(17_000)}).to_string();
    let answer = raw(&sim, "POST", "/scripts/", Some(&body), &[]).unwrap();
    assert_eq!(answer.status, 400);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let got = answer.json();
    let printed: Value = serde_json::from_str(PRINTED_ENVELOPE).unwrap();
    assert_eq!(
        keys(&got),
        keys(&printed),
        "field set and order: {}",
        answer.text
    );
    assert_eq!(
        keys(&got),
        ["success", "message", "code", "errors", "request_id", "tier"]
    );
    assert_eq!(got["success"], false);
    assert_eq!(got["message"], "Invalid request data");
    assert_eq!(got["code"], "VALIDATION_ERROR");
    assert_eq!(got["tier"], "advanced");
    assert_eq!(
        got["errors"],
        json!({"name": [SCRIPT_NAME_CHARS], "script": [SCRIPT_TOO_LARGE]})
    );
    assert_eq!(
        SCRIPT_NAME_CHARS,
        "Name must contain only alphanumeric characters, spaces, hyphens, underscores, and dots"
    );
    assert_eq!(
        SCRIPT_TOO_LARGE,
        "Script content must be 16384 bytes or less"
    );
    let request_id = got["request_id"].as_str().unwrap();
    assert_eq!(request_id.len(), 8, "like the printed i9j0k1l2");
    assert!(request_id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    assert_eq!(answer.header("x-request-id"), Some(request_id));
    assert!(sim.world().scripts.is_empty());
}

#[test]
fn create_script_answers_201_with_an_empty_body() {
    let (sim, client) = sim();
    let body = json!({"name": "hello", "script": "#!/bin/sh\necho hello\n"}).to_string();
    let answer = raw(&sim, "POST", "/scripts/", Some(&body), &[]).unwrap();
    assert_eq!(answer.status, 201);
    assert_eq!(answer.text, "", "the reference: no body");
    assert_eq!(answer.header("content-length"), Some("0"));
    // And it was created.
    let list = ok(&client, "scripts", json!({}));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "hello");
}

#[test]
fn success_answers_use_the_envelope_and_carry_the_tier() {
    let (sim, client) = sim();
    let answer = raw(&sim, "GET", "/balance/", None, &[]).unwrap();
    assert_eq!(answer.status, 200);
    let body = answer.json();
    assert_eq!(keys(&body), ["success", "data", "request_id", "tier"]);
    assert_eq!(body["success"], true);
    assert!(body["data"]["balance"].is_number());
    assert_eq!(answer.header("x-sim-speed"), Some("0.000000001"));

    let legacy = deploy(&sim, &client, LEGACY_REGION, json!({}));
    let answer = raw(&sim, "GET", &format!("/instances/{legacy}/"), None, &[]).unwrap();
    assert_eq!(answer.json()["tier"], "legacy");
    assert_eq!(answer.json()["data"]["tier"], "legacy");
    let advanced = deploy(&sim, &client, REGION, json!({}));
    let answer = raw(&sim, "GET", &format!("/instances/{advanced}/"), None, &[]).unwrap();
    assert_eq!(answer.json()["tier"], "advanced");

    // Errors about a legacy instance, or a legacy deploy, carry the legacy tier too.
    let err = fail(&client, "reboot_instance", json!({"id": legacy}));
    assert_eq!(err.tier.as_deref(), Some("legacy"), "{err}");
    let err = fail(
        &client,
        "deploy",
        deploy_spec(&sim, LEGACY_REGION, json!({"name": "x"})),
    );
    assert_eq!(err.status, 400);
    assert_eq!(err.tier.as_deref(), Some("legacy"), "{err}");
    let err = fail(&client, "add_security_rule", json!({"id": legacy}));
    assert_eq!(
        (err.status, err.tier.as_deref()),
        (400, Some("legacy")),
        "{err}"
    );
}

#[test]
fn a_repeated_idempotency_key_creates_one_instance_and_returns_the_same_answer() {
    let (sim, _) = sim();
    let spec = deploy_spec(&sim, REGION, json!({"name": "once"})).to_string();
    let headers = [("Idempotency-Key", "deploy-once-1")];
    let first = raw(&sim, "POST", "/instances/", Some(&spec), &headers).unwrap();
    let second = raw(&sim, "POST", "/instances/", Some(&spec), &headers).unwrap();
    assert_eq!((first.status, second.status), (201, 201));
    assert_eq!(first.text, second.text, "the first answer, byte for byte");
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(sim.world().instances.len(), 1);
    assert_eq!(sim.stats()["idempotent_replays"], 1);
    // Another key is another request: the name is now taken.
    let third = raw(
        &sim,
        "POST",
        "/instances/",
        Some(&spec),
        &[("Idempotency-Key", "deploy-once-2")],
    )
    .unwrap();
    assert_eq!(third.status, 409);
    assert_eq!(sim.world().instances.len(), 1);
}

#[test]
fn a_lost_response_retried_with_the_same_key_is_applied_once() {
    let (sim, _) = sim();
    let spec = deploy_spec(&sim, REGION, json!({})).to_string();
    let headers = [("Idempotency-Key", "lost-1")];
    sim.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    let lost = raw(&sim, "POST", "/instances/", Some(&spec), &headers);
    assert!(
        lost.is_err(),
        "the connection closes without an answer: {lost:?}"
    );
    assert_eq!(sim.world().instances.len(), 1, "applied before the drop");
    sim.set_faults(Faults::default());
    let retried = raw(&sim, "POST", "/instances/", Some(&spec), &headers).unwrap();
    assert_eq!(retried.status, 201);
    let id = retried.json()["data"]["id"].as_str().unwrap().to_string();
    let world = sim.world();
    assert_eq!(world.instances.len(), 1);
    assert!(
        world.instances.contains_key(&id),
        "the answer names the one instance"
    );
    assert_eq!(sim.stats()["responses_dropped"], 1);
}

#[test]
fn the_client_keys_its_mutating_posts_so_its_retries_apply_once() {
    let (sim, client) = sim();
    sim.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    // The first try is applied and its answer lost; the client's retry carries the same
    // Idempotency-Key, so the simulator replays the first answer instead of deploying again.
    let vm = ok(
        &client,
        "deploy",
        deploy_spec(&sim, REGION, json!({"name": "retried"})),
    );
    let world = sim.world();
    assert_eq!(world.instances.len(), 1);
    assert!(world.instances.contains_key(vm["id"].as_str().unwrap()));
    let stats = sim.stats();
    assert_eq!(stats["responses_dropped"], 1, "{stats}");
    assert_eq!(stats["idempotent_replays"], 1, "{stats}");

    // A second deploy gets a fresh key: a second instance.
    ok(
        &client,
        "deploy",
        deploy_spec(&sim, REGION, json!({"name": "second"})),
    );
    assert_eq!(sim.world().instances.len(), 2);
}

#[test]
fn the_client_follows_every_page() {
    let (sim, client) = sim();
    for i in 0..250 {
        ok(
            &client,
            "create_script",
            json!({"name": format!("script {i:03}"), "script": "echo"}),
        );
    }
    let all = ok(&client, "scripts", json!({}));
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 250);
    let names: BTreeSet<&str> = all.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names.len(), 250, "no page read twice");

    let page = raw(&sim, "GET", "/scripts/?page=2&per_page=100", None, &[]).unwrap();
    assert_eq!(page.status, 200);
    let body = page.json();
    assert_eq!(body["data"].as_array().unwrap().len(), 100);
    assert_eq!(
        body["pagination"],
        json!({"page": 2, "per_page": 100, "total": 250, "total_pages": 3, "has_next": true})
    );
    let last = raw(&sim, "GET", "/scripts/?page=3&per_page=100", None, &[])
        .unwrap()
        .json();
    assert_eq!(last["data"].as_array().unwrap().len(), 50);
    assert_eq!(last["pagination"]["has_next"], false);
    let bad = raw(&sim, "GET", "/scripts/?page=0", None, &[]).unwrap();
    assert_eq!(bad.status, 400);
    assert!(bad.json()["errors"]["page"].is_array());
}

#[test]
fn injected_faults_use_the_documented_codes_and_the_client_retries_them() {
    let (sim, client) = sim();
    sim.set_faults(Faults {
        fault_rate: 1.0,
        fault_status: vec![429],
        ..Faults::default()
    });
    let limited = raw(&sim, "GET", "/balance/", None, &[]).unwrap();
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert_eq!(limited.json()["code"], "RATE_LIMITED");
    let err = fail(&client, "balance", json!({}));
    assert_refused(&err, 429, "RATE_LIMITED", "Injected fault");
    assert_eq!(err.retry_after, Some(Duration::from_secs(1)));
    assert_eq!(barrack::error::Error::from(err).exit_code(), 75);

    sim.set_faults(Faults {
        fault_rate: 1.0,
        fault_status: vec![500],
        ..Faults::default()
    });
    let before = sim.stats()["faults_injected"].as_u64().unwrap();
    let err = fail(&client, "deploy", deploy_spec(&sim, REGION, json!({})));
    assert_refused(&err, 500, "INTERNAL_ERROR", "Injected fault");
    let after = sim.stats()["faults_injected"].as_u64().unwrap();
    assert_eq!(after - before, 3, "three tries, all refused");
    assert!(sim.world().instances.is_empty(), "a fault applies nothing");

    sim.set_faults(Faults::default());
    assert!(ok(&client, "balance", json!({}))["balance"].is_number());
}

// ---- RFC 3339 times in every answer ----

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
