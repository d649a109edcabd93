//! The simulator at scale: thousands of objects, each transition at its own simulated
//! instant, bills that match the per-minute formula, pages cut from thousands of instances.
//! Outcomes only; how fast is measured in benches/, never asserted here.

use crate::support::*;
use barrack::sim::world::{Instance, OS_VOLUME_RATE};
use barrack::sim::Simulator;
use serde_json::{json, Value};
use std::time::Duration;

/// Put `count` CREATING instances into the world, the i-th due to become ACTIVE `first_due + i *
/// spacing` seconds from now. Returns their ids in creation order.
fn seed_creating(sim: &Simulator, count: usize, first_due: f64, spacing: f64) -> Vec<String> {
    sim.with_world(|w| {
        (0..count)
            .map(|i| {
                let id = w.new_instance_id(false);
                let due = w.clock + first_due + i as f64 * spacing;
                let mut vm = Instance::starting(
                    id.clone(),
                    format!("vm-{i}"),
                    "CREATING",
                    REGION,
                    GPU,
                    1,
                    format!("10.0.{}.{}", i / 250, i % 250 + 2),
                    w.timestamp(),
                    due,
                );
                vm.os_volume_size_gb = 100;
                w.instances.insert(id.clone(), vm.into());
                id
            })
            .collect()
    })
}

fn status_of(sim: &Simulator, id: &str) -> String {
    let got =
        raw(sim, "GET", &format!("/instances/{id}/"), None, &[]).expect("the request is sent");
    assert_eq!(got.status, 200, "{}", got.text);
    got.json()["data"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn two_thousand_instances_each_become_active_at_their_own_time_and_bill_per_minute() {
    let (sim, client) = sim();
    // Due 10 s, 10.5 s, 11 s, … from now: 2,000 distinct instants over 1,000 seconds.
    let ids = seed_creating(&sim, 2000, 10.0, 0.5);
    let start = sim.world().balance;

    // Half way: exactly the first 1,000 are due (the 1,000th at 10 + 999 * 0.5 = 509.5 s).
    sim.advance(Duration::from_secs_f64(509.75));
    let world = sim.world();
    let active = ids
        .iter()
        .filter(|id| world.instances[*id].status == "ACTIVE")
        .count();
    assert_eq!(active, 1000);
    assert_eq!(status_of(&sim, &ids[999]), "ACTIVE");
    assert_eq!(status_of(&sim, &ids[1000]), "CREATING");

    // Past the last one: all are ACTIVE, each billed for its own whole minutes since then.
    sim.advance(Duration::from_secs_f64(3000.0 - 509.75));
    // Read before anything settles the bills: an instance shows its minutes so far.
    let got = raw(&sim, "GET", &format!("/instances/{}/", ids[1]), None, &[]).expect("sent");
    assert_eq!(
        got.json()["data"]["billed_minutes"],
        json!(49),
        "{}",
        got.text
    );
    let page = raw(&sim, "GET", "/instances/?per_page=100", None, &[]).expect("sent");
    let listed = page.json()["data"].as_array().cloned().unwrap_or_default();
    assert!(
        listed
            .iter()
            .all(|i| i["billed_minutes"].as_i64() > Some(0)),
        "{}",
        page.text
    );
    let world = sim.world();
    let hourly = 2.49 + 100.0 * OS_VOLUME_RATE;
    let mut expected = 0.0;
    for (i, id) in ids.iter().enumerate() {
        let vm = &world.instances[id];
        assert_eq!(vm.status, "ACTIVE", "{id}");
        let active_for = 3000.0 - (10.0 + i as f64 * 0.5);
        let minutes = (active_for / 60.0).floor() as i64;
        assert_eq!(vm.billed_minutes, minutes, "instance {i} ({id})");
        expected += hourly / 60.0 * minutes as f64;
    }
    let billing = ok(&client, "instance_billing", json!({"id": ids[0]}));
    assert_eq!(billing["billed_minutes"], json!(49));
    let charged = start - sim.world().balance;
    assert!((charged - expected).abs() < 1e-6, "{charged} vs {expected}");
}

#[test]
fn a_page_of_twenty_out_of_five_thousand_is_that_page_in_id_order() {
    let (sim, _client) = sim();
    let mut ids = seed_creating(&sim, 5000, 60.0, 1.0);
    ids.sort();
    let got = raw(&sim, "GET", "/instances/?page=3&per_page=20", None, &[]).expect("sent");
    assert_eq!(got.status, 200, "{}", got.text);
    let body = got.json();
    let page: Vec<&str> = body["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|i| i["id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        page,
        ids[40..60].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(body["pagination"]["total"], 5000);
    assert_eq!(body["pagination"]["total_pages"], 250);
    assert_eq!(body["pagination"]["has_next"], true);
    // Each item is the full public instance, without the simulator's bookkeeping.
    let first = &body["data"][0];
    assert_eq!(first["status"], "CREATING");
    assert!(
        first.get("hourly_cost").is_some() && first.get("pending").is_none(),
        "{first}"
    );

    // A filter is applied before the page is cut: 2,500 become ACTIVE (due 60 … 2559 s).
    sim.advance(Duration::from_secs_f64(2559.5));
    let got = raw(&sim, "GET", "/instances/?status=ACTIVE&page=125", None, &[]).expect("sent");
    let body = got.json();
    assert_eq!(body["pagination"]["total"], 2500, "{}", got.text);
    let last_page: Vec<Value> = body["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(last_page.len(), 20);
    assert!(last_page.iter().all(|i| i["status"] == "ACTIVE"));
    let got = raw(&sim, "GET", "/instances/?page=251", None, &[]).expect("sent");
    assert_eq!(got.json()["data"], json!([]), "past the last page: empty");
}

#[test]
fn a_state_file_survives_a_crash_mid_write_and_keeps_due_transitions() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("world.json");
    let options = || barrack::sim::SimOptions {
        state: Some(path.clone()),
        ..frozen_options()
    };
    let (sim, client) = sim_with(options());
    let vm = deploy(&sim, &client, REGION, json!({}));
    drop(sim);
    // What a crash in the middle of the next save leaves: a torn temporary file beside it.
    let torn = dir
        .path()
        .join(format!(".world.json.{}.tmp", std::process::id()));
    std::fs::write(&torn, "{\"clock\": \"2026-").expect("written");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("saved"))
        .expect("the state file is whole JSON");
    assert_eq!(saved["instances"][&vm]["status"], "CREATING");

    // A restart reads the last whole world and still knows when the instance is due.
    let (sim, client) = sim_with(options());
    assert_eq!(status_of(&sim, &vm), "CREATING");
    wait_status(&sim, &client, &vm, "ACTIVE");
    // The next save replaces the file whole, and leaves no temporary file of its own.
    ok(&client, "stop_instance", json!({"id": vm}));
    // Saves run behind the requests; stopping the simulator saves the last change.
    sim.stop().expect("the last change is saved");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("saved")).expect("whole");
    assert_eq!(saved["instances"][&vm]["status"], "STOPPING");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("listed")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") && !dir.path().join(n).eq(&torn))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
