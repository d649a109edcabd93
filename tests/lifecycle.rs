//! The instance lifecycle on the simulated clock: states and their transitions, refusals in the
//! wrong state, stock taken and given back, ERROR as a terminal state, per-minute billing of
//! instances and of data volumes (stopped and hibernated ones keep billing), restores, and a
//! snapshot deleted during its restore.

use crate::support::*;
use crate::test::Test;
use barrack::api::Client;
use barrack::sim::world::OS_VOLUME_RATE;
use barrack::sim::Simulator;
use serde_json::{json, Value};
use std::time::Duration;

/// Call an action and expect the transitional status it answers with.
#[track_caller]
fn act(client: &Client, op: &str, id: &str, via: &str) -> Value {
    let vm = ok(client, op, json!({"id": id}));
    assert_eq!(vm["status"], via, "{op} answered {vm}");
    vm
}

#[test]
fn an_instance_goes_through_its_whole_lifecycle_through_the_client() {
    let (sim, client) = sim();
    let stock0 = stock(&sim, REGION, GPU);

    let vm = ok(
        &client,
        "deploy",
        deploy_spec(&sim, REGION, json!({"name": "life", "gpu_count": 2})),
    );
    let id = vm["id"].as_str().unwrap().to_string();
    assert!(is_instance_id(&id, "VM"), "{id}");
    assert_eq!(vm["status"], "CREATING");
    assert_eq!(
        stock(&sim, REGION, GPU),
        stock0 - 2,
        "deploy takes the GPUs"
    );
    // "typically completes in 2–5 minutes".
    sim.advance(secs(119));
    assert_eq!(status_of(&client, &id), "CREATING");
    sim.advance(secs(181));
    assert_eq!(status_of(&client, &id), "ACTIVE");

    act(&client, "stop_instance", &id, "STOPPING");
    wait_status(&sim, &client, &id, "SHUTOFF");
    act(&client, "start_instance", &id, "STARTING");
    wait_status(&sim, &client, &id, "ACTIVE");

    act(&client, "hibernate_instance", &id, "HIBERNATING");
    assert_eq!(
        stock(&sim, REGION, GPU),
        stock0,
        "hibernation releases the GPUs"
    );
    wait_status(&sim, &client, &id, "HIBERNATED");
    assert_eq!(ok(&client, "hibernated_count", json!({}))["count"], 1);
    act(&client, "restore_instance", &id, "RESTORING");
    assert_eq!(
        stock(&sim, REGION, GPU),
        stock0 - 2,
        "restore takes them again"
    );
    wait_status(&sim, &client, &id, "ACTIVE");
    assert_eq!(ok(&client, "hibernated_count", json!({}))["count"], 0);

    act(&client, "reboot_instance", &id, "REBOOTING");
    wait_status(&sim, &client, &id, "ACTIVE");

    let snap = ok(
        &client,
        "snapshot",
        json!({"instance_id": id, "name": "life-snap"}),
    );
    assert_eq!(snap["status"], "CREATING");
    let snap_id = snap["id"].as_str().unwrap().to_string();
    let snap = wait_object(&sim, &client, "get_snapshot", &snap_id, "AVAILABLE");
    assert_eq!(
        (snap["gpu_model"].as_str(), snap["gpu_count"].as_i64()),
        (Some(GPU), Some(2))
    );

    let original = ok(&client, "instance", json!({"id": id}));
    let restored = ok(
        &client,
        "restore_snapshot",
        json!({"id": snap_id, "name": "life-2"}),
    );
    let restored_id = restored["id"].as_str().unwrap().to_string();
    assert!(is_instance_id(&restored_id, "D"), "{restored_id}");
    assert_ne!(restored_id, id);
    assert_eq!(restored["name"], "life-2");
    for same in [
        "gpu_model",
        "gpu_count",
        "vcpus",
        "ram_gb",
        "region",
        "ssh_key_ids",
    ] {
        assert_eq!(
            restored[same], original[same],
            "{same} comes from the snapshot"
        );
    }
    assert_eq!(restored["os_volume_size_gb"], original["os_volume_size_gb"]);
    assert!(restored["public_ip"].is_string());
    assert_ne!(restored["public_ip"], original["public_ip"], "a new IP");
    assert_eq!(stock(&sim, REGION, GPU), stock0 - 4);
    wait_status(&sim, &client, &restored_id, "ACTIVE");

    let deleted = ok(&client, "delete_instance", json!({"id": id}));
    assert_eq!(deleted["deleted"], true);
    assert_eq!(status_of(&client, &id), "DELETING");
    wait_gone(&sim, &client, &id);
    let err = fail(&client, "instance", json!({"id": id}));
    assert_refused(&err, 404, "NOT_FOUND", &id);
    assert_eq!(
        stock(&sim, REGION, GPU),
        stock0 - 2,
        "delete gives the GPUs back"
    );
    ok(&client, "delete_instance", json!({"id": restored_id}));
    wait_gone(&sim, &client, &restored_id);
    assert_eq!(stock(&sim, REGION, GPU), stock0);
    assert!(ok(&client, "instances", json!({}))
        .as_array()
        .unwrap()
        .is_empty());
    // The snapshot outlives its instance.
    assert_eq!(
        ok(&client, "get_snapshot", json!({"id": snap_id}))["status"],
        "AVAILABLE"
    );
}

#[test]
fn a_deploy_completes_in_two_to_five_minutes() {
    let (sim, client) = sim();
    let vms: Vec<String> = (0..12)
        .map(|i| deploy(&sim, &client, REGION, json!({"name": format!("batch-{i}")})))
        .collect();
    sim.advance(secs(119));
    for vm in &vms {
        assert_eq!(status_of(&client, vm), "CREATING", "{vm} after 1:59");
    }
    sim.advance(secs(181));
    for vm in &vms {
        assert_eq!(status_of(&client, vm), "ACTIVE", "{vm} after 5:00");
    }
}

#[test]
fn a_hibernated_instance_gives_its_gpus_back_once() {
    let (sim, client) = sim();
    let stock0 = stock(&sim, REGION, GPU);
    let vm = active_instance(&sim, &client, REGION, json!({"gpu_count": 8}));
    assert_eq!(stock(&sim, REGION, GPU), stock0 - 8);
    act(&client, "hibernate_instance", &vm, "HIBERNATING");
    wait_status(&sim, &client, &vm, "HIBERNATED");
    assert_eq!(stock(&sim, REGION, GPU), stock0);
    ok(&client, "delete_instance", json!({"id": vm}));
    wait_gone(&sim, &client, &vm);
    assert_eq!(stock(&sim, REGION, GPU), stock0, "not returned twice");

    // Stopped instances keep theirs until deleted.
    let vm = active_instance(&sim, &client, REGION, json!({"gpu_count": 4}));
    act(&client, "stop_instance", &vm, "STOPPING");
    wait_status(&sim, &client, &vm, "SHUTOFF");
    ok(&client, "delete_instance", json!({"id": vm}));
    wait_gone(&sim, &client, &vm);
    assert_eq!(stock(&sim, REGION, GPU), stock0);
}

#[test]
fn an_action_in_the_wrong_state_is_refused_naming_the_state() {
    let (sim, client) = sim();
    let vm = deploy(&sim, &client, REGION, json!({"name": "stateful"}));
    let refused = |op: &str, state: &str| {
        let err = fail(&client, op, json!({"id": vm}));
        assert_refused(&err, 409, "CONFLICT", &format!("it is {state}"));
        assert!(
            err.message.contains(&vm) && err.message.contains("stateful"),
            "{err}"
        );
        assert_eq!(status_of(&client, &vm), state, "{op} changed nothing");
    };
    for op in [
        "stop_instance",
        "reboot_instance",
        "hibernate_instance",
        "start_instance",
        "restore_instance",
        "delete_instance",
    ] {
        refused(op, "CREATING");
    }
    wait_status(&sim, &client, &vm, "ACTIVE");
    let err = fail(&client, "start_instance", json!({"id": vm}));
    assert_refused(
        &err,
        409,
        "CONFLICT",
        "it is ACTIVE; start needs SHUTOFF or HIBERNATED",
    );
    let err = fail(&client, "restore_instance", json!({"id": vm}));
    assert_refused(
        &err,
        409,
        "CONFLICT",
        "it is ACTIVE; restore needs HIBERNATED",
    );

    act(&client, "stop_instance", &vm, "STOPPING");
    refused("start_instance", "STOPPING");
    refused("stop_instance", "STOPPING");
    wait_status(&sim, &client, &vm, "SHUTOFF");
    for op in [
        "stop_instance",
        "reboot_instance",
        "hibernate_instance",
        "restore_instance",
    ] {
        refused(op, "SHUTOFF");
    }

    // Start works from HIBERNATED too.
    act(&client, "start_instance", &vm, "STARTING");
    wait_status(&sim, &client, &vm, "ACTIVE");
    act(&client, "hibernate_instance", &vm, "HIBERNATING");
    wait_status(&sim, &client, &vm, "HIBERNATED");
    for op in ["stop_instance", "reboot_instance", "hibernate_instance"] {
        refused(op, "HIBERNATED");
    }
    act(&client, "start_instance", &vm, "STARTING");
    wait_status(&sim, &client, &vm, "ACTIVE");

    act(&client, "delete_instance", &vm, "DELETING");
    for op in [
        "stop_instance",
        "start_instance",
        "delete_instance",
        "reboot_instance",
    ] {
        refused(op, "DELETING");
    }
}

#[test]
fn error_is_terminal_and_can_only_be_deleted() {
    let (sim, client) = sim();
    let vm = active_instance(&sim, &client, REGION, json!({"name": "broken"}));
    let answer = raw(
        &sim,
        "POST",
        "/_sim/error",
        Some(&json!({"id": vm}).to_string()),
        &[],
    )
    .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(status_of(&client, &vm), "ERROR");
    for op in [
        "start_instance",
        "stop_instance",
        "reboot_instance",
        "hibernate_instance",
        "restore_instance",
    ] {
        let err = fail(&client, op, json!({"id": vm}));
        assert_refused(&err, 409, "CONFLICT", "it is ERROR");
    }
    let err = fail(&client, "snapshot", json!({"instance_id": vm}));
    assert_refused(&err, 409, "CONFLICT", "it is ERROR");
    sim.advance(Duration::from_secs(3600));
    assert_eq!(status_of(&client, &vm), "ERROR", "ERROR is terminal");
    act(&client, "delete_instance", &vm, "DELETING");
    wait_gone(&sim, &client, &vm);
}

/// The world's exact balance (the API rounds it to cents).
fn balance(sim: &Simulator) -> f64 {
    sim.world().balance
}

#[test]
fn billing_is_per_minute_while_active() {
    let (sim, client) = sim();
    let vm = deploy(&sim, &client, REGION, json!({"gpu_count": 2}));
    let start = balance(&sim);
    sim.advance(secs(119));
    assert_eq!(balance(&sim), start, "nothing is billed while CREATING");
    wait_status(&sim, &client, &vm, "ACTIVE");

    let hourly = 2.49 * 2.0 + 100.0 * OS_VOLUME_RATE;
    let quoted = ok(&client, "instance_billing", json!({"id": vm}));
    assert!(
        (quoted["hourly_cost"].as_f64().unwrap() - hourly).abs() < 1e-4,
        "{quoted}"
    );
    assert_eq!(quoted["billing"], "per minute");

    // Whole minutes only: up to the next minute boundary nothing more is charged.
    let partial = sim.world().instances[&vm].partial_seconds;
    let (minutes0, before) = (
        ok(&client, "instance_billing", json!({"id": vm}))["billed_minutes"]
            .as_i64()
            .unwrap(),
        balance(&sim),
    );
    let to_boundary = 60.0 - partial;
    sim.advance(Duration::from_secs_f64(to_boundary - 0.5));
    assert_eq!(balance(&sim), before, "no charge inside a minute");
    sim.advance(Duration::from_secs(1));
    let charged = before - balance(&sim);
    assert!(
        (charged - hourly / 60.0).abs() < 1e-9,
        "one minute: {charged}"
    );

    let before = balance(&sim);
    sim.advance(secs(600));
    let charged = before - balance(&sim);
    assert!(
        (charged - 10.0 * hourly / 60.0).abs() < 1e-9,
        "ten minutes: {charged}"
    );
    let billing = ok(&client, "instance_billing", json!({"id": vm}));
    assert_eq!(billing["billed_minutes"].as_i64().unwrap(), minutes0 + 11);
    let total = billing["total_cost"].as_f64().unwrap();
    assert!((total - (start - balance(&sim))).abs() < 1e-3, "{billing}");
    // The balance the API reports is the world's, to the cent.
    let api = ok(&client, "balance", json!({}))["balance"]
        .as_f64()
        .unwrap();
    assert!((api - balance(&sim)).abs() <= 0.005, "{api}");

    // SHUTOFF: storage only.
    act(&client, "stop_instance", &vm, "STOPPING");
    wait_status(&sim, &client, &vm, "SHUTOFF");
    let before = balance(&sim);
    sim.advance(secs(3600));
    let charged = before - balance(&sim);
    let storage = 100.0 * OS_VOLUME_RATE;
    assert!(
        (charged - storage).abs() < storage / 30.0,
        "an hour SHUTOFF: {charged}"
    );
}

#[test]
fn hibernation_stops_gpu_billing_at_once() {
    let (sim, client) = sim();
    let vm = active_instance(&sim, &client, REGION, json!({"gpu_count": 8}));
    let before = balance(&sim);
    act(&client, "hibernate_instance", &vm, "HIBERNATING");
    sim.advance(secs(3600));
    assert_eq!(status_of(&client, &vm), "HIBERNATED");
    let charged = before - balance(&sim);
    let storage = 100.0 * OS_VOLUME_RATE;
    // Eight H100s cost ~$0.33 a minute; an hour of the 100 GB disk is $0.014.
    assert!(
        charged <= storage + 1e-9,
        "an hour from hibernate: {charged}"
    );
    assert!(
        charged > storage * 0.9,
        "the disk is still billed: {charged}"
    );
}

#[test]
fn restored_instances_are_billed_from_restore_completion() {
    let (sim, client) = sim();
    let vm = active_instance(&sim, &client, REGION, json!({}));
    let snap = ok(&client, "snapshot", json!({"instance_id": vm, "name": "s"}))["id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_object(&sim, &client, "get_snapshot", &snap, "AVAILABLE");
    ok(&client, "delete_instance", json!({"id": vm}));
    wait_gone(&sim, &client, &vm);
    let copy = ok(
        &client,
        "restore_snapshot",
        json!({"id": snap, "name": "copy"}),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    sim.advance(secs(170));
    assert_eq!(status_of(&client, &copy), "RESTORING");
    let billing = ok(&client, "instance_billing", json!({"id": copy}));
    assert_eq!(
        (
            billing["billed_minutes"].as_i64(),
            billing["total_cost"].as_f64()
        ),
        (Some(0), Some(0.0))
    );
    wait_status(&sim, &client, &copy, "ACTIVE");
    sim.advance(secs(600));
    let billing = ok(&client, "instance_billing", json!({"id": copy}));
    assert!(
        billing["billed_minutes"].as_i64().unwrap() >= 10,
        "{billing}"
    );
}

// ---- billing of data volumes ----

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

// ---- restores ----

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
