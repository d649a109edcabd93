//! `barrack status`: a world with known instances, volumes and snapshots (built over real HTTP
//! on a frozen clock) → the figures `status` prints are exactly the ones a person would work
//! out from the price list.

use crate::support::*;
use crate::test::Test;
use barrack::sim::Simulator;
use serde_json::{json, Value};
use std::time::Duration;

struct Fleet {
    sim: Simulator,
    h100: String,
    l40: String,
    sleeper: String,
    broken: String,
    newest_h100_snapshot: String,
    l40_snapshot: String,
}

/// 8×H100 and 2×L40 ACTIVE, one L40 HIBERNATED, one L40 in ERROR; a detached 500 GB NVMe
/// volume and a 100 GB HDD volume attached to the H100 instance; two snapshots of the H100
/// instance (a minute apart) and one of the 2×L40 one.
fn fleet() -> Fleet {
    let (sim, client) = sim();
    let h100 = active_instance(
        &sim,
        &client,
        REGION,
        json!({"gpu_count": 8, "name": "train"}),
    );
    let l40 = active_instance(
        &sim,
        &client,
        LEGACY_REGION,
        json!({"gpu_count": 2, "name": "infer"}),
    );
    let sleeper = active_instance(&sim, &client, LEGACY_REGION, json!({"name": "dev"}));
    let broken = active_instance(&sim, &client, LEGACY_REGION, json!({"name": "bad"}));
    ok(&client, "hibernate_instance", json!({"id": sleeper}));
    wait_status(&sim, &client, &sleeper, "HIBERNATED");
    let detached = ok(
        &client,
        "create_volume",
        json!({"name": "data", "size_gb": 500, "region": REGION, "type": "NVMe"}),
    );
    let attached = ok(
        &client,
        "create_volume",
        json!({"name": "scratch", "size_gb": 100, "region": REGION, "type": "HDD"}),
    );
    assert!(detached["id"].is_string() && attached["id"].is_string());
    sim.advance(Duration::from_secs(60));
    ok(
        &client,
        "attach_volumes",
        json!({"id": h100, "volume_ids": [attached["id"]]}),
    );
    ok(
        &client,
        "snapshot",
        json!({"instance_id": h100, "name": "train-old"}),
    );
    sim.advance(Duration::from_secs(60));
    let newest = ok(
        &client,
        "snapshot",
        json!({"instance_id": h100, "name": "train-new"}),
    );
    let l40_snap = ok(
        &client,
        "snapshot",
        json!({"instance_id": l40, "name": "infer-1"}),
    );
    sim.advance(Duration::from_secs(120));
    let body = json!({"id": broken}).to_string();
    let answer = raw(&sim, "POST", "/_sim/error", Some(&body), &[]).unwrap();
    assert_eq!(answer.status, 200);
    Fleet {
        h100,
        l40,
        sleeper,
        broken,
        newest_h100_snapshot: newest["id"].as_str().unwrap().to_string(),
        l40_snapshot: l40_snap["id"].as_str().unwrap().to_string(),
        sim,
    }
}

fn status(sim: &Simulator) -> Test {
    Test::new()
        .args(["status", "--api-url", &sim.base_url()])
        .env("BARRACK_API_KEY", KEY)
}

fn close(actual: &Value, expected: f64) -> bool {
    actual.as_f64().is_some_and(|a| (a - expected).abs() < 1e-9)
}

#[test]
fn status_json_has_the_exact_figures_of_a_known_fleet() {
    let f = fleet();
    let out = status(&f.sim).args(["-o", "json"]).success();
    let s = out.json();
    // Instances bill GPUs + their 100 GB OS volume (0.00014/GB-h) while ACTIVE, storage only
    // while HIBERNATED, nothing in ERROR: 8×2.49 + 0.014, 2×0.99 + 0.014, 0.014, 0.
    let instances: f64 = 8.0 * 2.49 + 0.014 + 2.0 * 0.99 + 0.014 + 0.014;
    // The detached NVMe volume (500 × 0.00014) and the HDD one of the ACTIVE H100 (100 × 0.00005).
    let volumes: f64 = 500.0 * 0.000_14 + 100.0 * 0.000_05;
    // Three snapshots of 100 GB at 0.00007/GB-h.
    let snapshots: f64 = 3.0 * 100.0 * 0.000_07;
    let burn = instances + volumes + snapshots;
    assert!(close(&s["hourly_burn_by_kind"]["instances"], 21.942), "{s}");
    assert!(close(
        &s["hourly_burn_by_kind"]["instances"],
        (instances * 1e4).round() / 1e4
    ));
    assert!(close(&s["hourly_burn_by_kind"]["volumes"], volumes), "{s}");
    assert!(
        close(&s["hourly_burn_by_kind"]["snapshots"], snapshots),
        "{s}"
    );
    assert!(close(&s["hourly_burn"], (burn * 1e4).round() / 1e4), "{s}");
    assert!(close(&s["hourly_burn"], 22.038), "{s}");

    let balance = ok(&client_for(&f.sim, Some(KEY)), "balance", json!({}));
    assert_eq!(s["balance"], balance["balance"], "the server's own figure");
    assert_eq!(s["currency"], "USD");
    let runway = balance["balance"].as_f64().unwrap() / 22.038;
    assert!(
        close(&s["runway_hours"], (runway * 10.0).round() / 10.0),
        "{s}"
    );

    assert_eq!(
        s["instances"],
        json!({"ACTIVE": 2, "HIBERNATED": 1, "ERROR": 1})
    );
    assert_eq!(s["instances_total"], 4);
    assert_eq!(
        s["regions"],
        json!({REGION: {"ACTIVE": 1}, LEGACY_REGION: {"ACTIVE": 1, "HIBERNATED": 1, "ERROR": 1}})
    );
    // Hibernation gives the GPUs back; ERROR and ACTIVE instances hold theirs.
    assert_eq!(s["gpus_in_use"], 8 + 2 + 1);
    assert_eq!(s["hibernated"], 1);
    assert_eq!(s["errors"], json!([f.broken]));

    let newest = &s["newest_snapshots"];
    assert_eq!(newest[&f.h100]["id"], f.newest_h100_snapshot.as_str());
    assert_eq!(newest[&f.h100]["name"], "train-new");
    assert_eq!(newest[&f.l40]["id"], f.l40_snapshot.as_str());
    assert_eq!(newest[&f.sleeper], Value::Null);
    assert_eq!(newest[&f.broken], Value::Null);
    // Ages by the server's clock: the newest H100 snapshot was taken 120 simulated seconds
    // before the status (the clock is frozen otherwise).
    let age = newest[&f.h100]["age_seconds"].as_i64().unwrap();
    assert!((120..=121).contains(&age), "{age}");
}

#[test]
fn status_text_shows_money_runway_gpus_errors_and_snapshots_on_one_screen() {
    let f = fleet();
    let out = status(&f.sim)
        .stdout_has("Burn       22.0380 USD/h   instances 21.9420 USD/h · volumes 0.0750 USD/h · snapshots 0.0210 USD/h")
        .stdout_has("Instances  4   GPUs in use 11   hibernated 1   in ERROR 1")
        .stdout_has(&format!("ERROR {} (bad)", f.broken))
        .stdout_has("train-new AVAILABLE")
        .stdout_has("REGION")
        .success();
    let balance_line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("Balance"))
        .unwrap_or_else(|| panic!("no Balance line in\n{}", out.stdout));
    // Cents, hours to one decimal and days, and a bar; no colour off a terminal.
    assert!(balance_line.contains(" USD   runway "), "{balance_line}");
    assert!(balance_line.contains(" days)  ["), "{balance_line}");
    let amount = balance_line.split_whitespace().nth(1).unwrap();
    assert_eq!(amount.split('.').nth(1).map(str::len), Some(2), "{amount}");
    assert!(!out.stdout.contains('\x1b'), "{}", out.stdout);
}

#[test]
fn status_watch_prints_repeated_blocks_off_a_terminal() {
    let f = fleet();
    let out = status(&f.sim)
        .args(["--watch", "10ms", "--count", "3"])
        .success();
    assert_eq!(
        out.stdout.matches("Fleet status at").count(),
        3,
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("\x1b[2J"),
        "no redraw codes off a terminal"
    );
}

#[test]
fn status_runs_against_the_built_in_simulator() {
    Test::new()
        .args(["status", "--sim"])
        .stdout_has("Balance    10000.00 USD   runway unlimited (nothing is billing)")
        .stdout_has("Instances  0   GPUs in use 0   hibernated 0   in ERROR 0")
        .success();
    let out = Test::new()
        .args(["status", "--sim", "-o", "json"])
        .success();
    let s = out.json();
    for key in [
        "balance",
        "currency",
        "hourly_burn",
        "runway_hours",
        "instances",
        "gpus_in_use",
        "hibernated",
        "errors",
        "newest_snapshots",
    ] {
        assert!(s.get(key).is_some(), "no {key} in {s}");
    }
    assert_eq!(s["runway_hours"], Value::Null, "nothing burns: no runway");
}
