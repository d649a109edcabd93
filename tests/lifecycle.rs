//! The instance lifecycle on the simulated clock: states and their transitions, refusals in the
//! wrong state, stock taken and given back, per-minute billing, the fast clock and admin routes.

use crate::support::is_instance_id;
use crate::support::*;
use barrack::api::Client;
use barrack::sim::world::OS_VOLUME_RATE;
use barrack::sim::Simulator;
use serde_json::{json, Value};
use std::time::Duration;

fn status_of(client: &Client, id: &str) -> String {
    ok(client, "instance", json!({"id": id}))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Call an action and expect the transitional status it answers with.
#[track_caller]
fn act(client: &Client, op: &str, id: &str, via: &str) -> Value {
    let vm = ok(client, op, json!({"id": id}));
    assert_eq!(vm["status"], via, "{op} answered {vm}");
    vm
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn full_lifecycle_through_the_client() {
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

#[test]
fn the_fast_clock_runs_a_documented_deploy_in_simulated_minutes() {
    let (sim, client) = fast_sim();
    let vm = deploy(&sim, &client, REGION, json!({}));
    assert_eq!(client.speed(), 1000.0, "the client read X-Sim-Speed");
    // Poll (at most 500 times) until ACTIVE; every status seen before is CREATING.
    let mut active = None;
    for _ in 0..500 {
        let answer = ok(&client, "instance", json!({"id": vm}));
        if answer["status"] == "ACTIVE" {
            active = Some(answer);
            break;
        }
        assert_eq!(answer["status"], "CREATING");
        std::thread::sleep(Duration::from_millis(20));
    }
    let active = active.expect("the deploy became ACTIVE");
    // The deploy took the documented 2–5 minutes, on the server's clock: the transition is
    // timed by the simulated clock, not instant (speed is measured in benches, not here).
    let at = |field: &str| -> i64 {
        active[field]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_second())
            .unwrap_or_else(|| panic!("{field} is a time in {active}"))
    };
    let took = at("updated_at") - at("created_at");
    assert!(
        (120..=300).contains(&took),
        "deploy took {took} simulated seconds"
    );
    let answer = raw(&sim, "GET", "/balance/", None, &[]).unwrap();
    assert_eq!(answer.header("x-sim-speed"), Some("1000"));
}

#[test]
fn admin_routes_move_the_clock_and_set_the_world() {
    let (sim, client) = sim();
    let vm = deploy(&sim, &client, REGION, json!({}));
    let post = |route: &str, body: Value| {
        // Admin routes need no key.
        let http = reqwest::blocking::Client::new();
        let response = http
            .post(format!("{}/_sim/{route}", sim.base_url()))
            .body(body.to_string())
            .send()
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().unwrap(),
        )
    };
    let (status, _) = post("advance", json!({"seconds": 300}));
    assert_eq!(status, 200);
    assert_eq!(status_of(&client, &vm), "ACTIVE");
    assert_eq!(post("advance", json!({"seconds": -1})).0, 400);

    post(
        "stock",
        json!({"region": REGION, "gpu_model": GPU, "available": 0}),
    );
    let err = fail(&client, "deploy", deploy_spec(&sim, REGION, json!({})));
    assert_refused(&err, 409, "OUT_OF_STOCK", "0 GPUs available");

    post("balance", json!({"balance": 0.25}));
    assert_eq!(ok(&client, "balance", json!({}))["balance"], 0.25);
    post("profile", json!({"complete": false}));
    assert!(!sim.world().profile_complete);

    let state = raw(&sim, "GET", "/_sim/state", None, &[]).unwrap().json();
    assert!(state["instances"][&vm].is_object());
    let stats = raw(&sim, "GET", "/_sim/stats", None, &[]).unwrap().json();
    assert!(stats["requests"].as_u64().unwrap() >= 3, "{stats}");

    // The OpenAPI document describes every operation at its catalog route.
    let doc = raw(&sim, "GET", "/openapi.json", None, &[]).unwrap().json();
    for op in barrack::api::OPS {
        let method = op.method.as_str().to_ascii_lowercase();
        assert_eq!(
            doc["paths"][op.path][&method]["operationId"], op.name,
            "{} {}",
            op.method, op.path
        );
    }
}
