//! The bundled recipes (`stdlib:rotation`, `hibernation`, `budget`, `cleanup`, `reaper`, ...)
//! against the simulator: correct under re-runs, never destroying data before its replacement
//! exists, driven by `--set` as people type it, logging figures people read; and property tests
//! that no recipe input makes a recipe act on an object it should not.

use crate::support::{
    active_instance, client_for, id_of, ok, sim, wait_object, wait_status, KEY, REGION,
};
use crate::test::{help_says, Test};
use barrack::script::{Host, Source};
use barrack::sim::{SimOptions, Simulator};
use rhai::{Dynamic, Map};
use serde_json::json;
use serde_json::Value;

fn host(sim: &Simulator) -> Host {
    Host::builder(client_for(sim, Some(KEY))).build()
}

#[track_caller]
fn run(host: &Host, code: &str) -> Map {
    match host.run(&Source::snippet("<test>", code)) {
        Ok(v) => v.try_cast::<Map>().expect("the recipe returns a map"),
        Err(e) => panic!("{e}"),
    }
}

fn len(map: &Map, key: &str) -> usize {
    map.get(key)
        .and_then(|v| v.clone().into_array().ok())
        .map(|a| a.len())
        .unwrap_or(0)
}

fn deploy(host: &Host, name: &str) {
    let _ = host.run(&Source::snippet("<setup>", &format!(r#"let vm = deploy(#{{gpu: "L40", region: "CANADA-1", name: "{name}"}}); wait_active(vm);"#)))
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn rotation_keeps_exactly_the_newest_n_across_runs_and_never_touches_others() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    deploy(&host, "db-1");
    deploy(&host, "web-1");
    let _ = host.run(&Source::snippet("<setup>", r#"let s = snapshot(instances(#{name: "db-1"})[0], "manual-keep"); let t = snapshot(instances(#{name: "web-1"})[0], "nightly-web"); wait_status([s, t], "AVAILABLE");"#)).unwrap();
    for round in 1..=5 {
        let result = run(
            &host,
            r#"import "barrack/rotation" as rotation; rotation::rotate(#{select: #{name: "db-*"}, keep_last: 3, prefix: "nightly-"})"#,
        );
        assert_eq!(len(&result, "created"), 1, "round {round}");
        assert_eq!(len(&result, "failed"), 0, "round {round}");
        assert_eq!(
            len(&result, "deleted"),
            if round > 3 { 1 } else { 0 },
            "round {round}: {result:?}"
        );
        sim.advance(std::time::Duration::from_secs(3600));
    }
    let world = sim.world();
    let names: Vec<&str> = world.snapshots.values().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("nightly-db-1-"))
            .count(),
        3,
        "{names:?}"
    );
    assert!(
        names.contains(&"manual-keep") && names.contains(&"nightly-web"),
        "other snapshots are never touched: {names:?}"
    );
}

#[test]
fn rotation_deletes_nothing_when_the_new_snapshot_is_not_confirmed() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    deploy(&host, "db-1");
    for _ in 0..3 {
        run(
            &host,
            r#"import "barrack/rotation" as r; r::rotate(#{instance: instances()[0], keep_last: 1, prefix: "n-"})"#,
        );
        sim.advance(std::time::Duration::from_secs(60));
    }
    let before: Vec<String> = sim.world().snapshots.keys().cloned().collect();
    assert_eq!(before.len(), 1, "keep_last 1");
    // A snapshot takes 60 s of server time: with a 1 s timeout it is never confirmed.
    let result = run(
        &host,
        r#"import "barrack/rotation" as r; r::rotate(#{instance: instances()[0], keep_last: 1, prefix: "n-", timeout: "1s"})"#,
    );
    assert_eq!(len(&result, "failed"), 1);
    assert_eq!(len(&result, "deleted"), 0);
    let after: Vec<String> = sim.world().snapshots.keys().cloned().collect();
    assert!(
        before.iter().all(|id| after.contains(id)),
        "the old snapshot survives a failed run"
    );
}

#[test]
fn rotation_by_age_deletes_the_old_and_refuses_unknown_options() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    deploy(&host, "db-1");
    run(
        &host,
        r#"import "barrack/rotation" as r; r::rotate(#{instance: instances()[0], max_age: "2d", prefix: "a-"})"#,
    );
    sim.advance(std::time::Duration::from_secs(3 * 86_400));
    let result = run(
        &host,
        r#"import "barrack/rotation" as r; r::rotate(#{instance: instances()[0], max_age: "2d", prefix: "a-"})"#,
    );
    assert_eq!(len(&result, "deleted"), 1, "{result:?}");
    let err = host
        .run(&Source::snippet(
            "<t>",
            r#"import "barrack/rotation" as r; r::rotate(#{instance: instances()[0]})"#,
        ))
        .unwrap_err();
    assert!(err.to_string().contains("keep_last, max_age"), "{err}");
}

const SCHEDULE: &str = r#"import "barrack/hibernation" as h;
    h::apply(#{select: #{name: "dev-*"}, periods: [#{begin: "09:00", end: "19:00", weekdays: "mon-fri"}],
               timezone: "Europe/Helsinki", enforced: true, now: NOW})"#;

fn schedule(host: &Host, now: &str) -> Map {
    run(host, &SCHEDULE.replace("NOW", &format!("{now:?}")))
}

#[test]
fn hibernation_follows_the_schedule_across_a_weekend_and_a_dst_change() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    deploy(&host, "dev-1");
    deploy(&host, "prod-1");
    // Friday 18:30 in Helsinki (EET, +02:00): inside the period, nothing happens.
    let r = schedule(&host, "2026-03-27T16:30:00Z");
    assert!(r["in_period"].as_bool().unwrap());
    assert_eq!(len(&r, "hibernated"), 0);
    // Friday 19:30: outside, dev-1 hibernates; prod-1 is not selected.
    let r = schedule(&host, "2026-03-27T17:30:00Z");
    assert_eq!(len(&r, "hibernated"), 1);
    let _ = host
        .run(&Source::snippet(
            "<t>",
            r#"wait_status(instances(#{name: "dev-1"})[0], "HIBERNATED")"#,
        ))
        .unwrap();
    // Saturday noon: the weekend is outside every period; nothing to start.
    let r = schedule(&host, "2026-03-28T10:00:00Z");
    assert!(!r["in_period"].as_bool().unwrap());
    assert_eq!(len(&r, "started"), 0);
    // Summer time began on Sunday 29 March. Monday 06:30 UTC is 09:30 EEST (+03:00): inside.
    // (Without DST it would be 08:30 and outside.)
    let r = schedule(&host, "2026-03-30T06:30:00Z");
    assert!(r["in_period"].as_bool().unwrap(), "{r:?}");
    assert_eq!(len(&r, "started"), 1);
    assert_eq!(r["local_time"].to_string(), "2026-03-30 09:30:00 EEST");
    let world = sim.world();
    let prod = world
        .instances
        .values()
        .find(|i| i.name == "prod-1")
        .unwrap();
    assert_eq!(
        prod.status, "ACTIVE",
        "unselected instances are never touched"
    );
}

#[test]
fn hibernation_retains_instances_started_by_hand_outside_the_periods() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    deploy(&host, "dev-1");
    let updated = sim
        .world()
        .instances
        .values()
        .next()
        .unwrap()
        .updated_at
        .clone();
    let code = format!(
        r#"import "barrack/hibernation" as h; h::apply(#{{select: #{{name: "dev-*"}}, periods: [#{{begin: "00:00", end: "00:01"}}], retain_running: true, now: "{updated}"}})"#
    );
    let r = run(&host, &code);
    assert_eq!(len(&r, "hibernated"), 0, "{r:?}");
    assert_eq!(len(&r, "skipped"), 1);
}

#[test]
fn budget_warns_then_hibernates_most_expensive_first_and_never_deletes() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    let _ = host.run(&Source::snippet("<setup>", r#"let a = deploy(#{gpu: "H100-SXM5-80GB", count: 8, region: "FINLAND-1", name: "big"}); let b = deploy(#{gpu: "L40", region: "CANADA-1", name: "small"}); wait_active([a, b]);"#)).unwrap();
    let guard = r#"import "barrack/budget" as b; b::guard(#{warn_hours: 72, hibernate_hours: 24})"#;
    let r = run(&host, guard);
    assert!(
        !r["warned"].as_bool().unwrap() && len(&r, "hibernated") == 0,
        "{r:?}"
    );
    sim.with_world(|w| w.balance = 1000.0);
    let r = run(&host, guard);
    assert!(
        r["warned"].as_bool().unwrap() && len(&r, "hibernated") == 0,
        "50 h of runway: warn only: {r:?}"
    );
    sim.with_world(|w| w.balance = 300.0);
    let r = run(&host, guard);
    assert_eq!(len(&r, "hibernated"), 1, "{r:?}");
    let world = sim.world();
    let big = world.instances.values().find(|i| i.name == "big").unwrap();
    let small = world
        .instances
        .values()
        .find(|i| i.name == "small")
        .unwrap();
    assert!(
        big.status.starts_with("HIBERNAT"),
        "the most expensive goes first: {}",
        big.status
    );
    assert_eq!(small.status, "ACTIVE");
    assert_eq!(world.instances.len(), 2, "nothing deleted");
}

#[test]
fn cleanup_lists_orphans_and_removes_them_only_with_confirm() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    let _ = host.run(&Source::snippet(
        "<setup>",
        r#"let gone = deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "gone"});
           let live = deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "live"});
           wait_active([gone, live]);
           let s1 = snapshot(gone, "of-gone"); let s2 = snapshot(live, "of-live"); wait_status([s1, s2], "AVAILABLE");
           let v1 = create_volume(#{name: "loose", size_gb: 20, region: "FINLAND-1"});
           let v2 = create_volume(#{name: "used", size_gb: 20, region: "FINLAND-1"});
           wait_status([v1, v2], "AVAILABLE"); attach(live, v2);
           let f1 = create_firewall(#{name: "lonely", region: "FINLAND-1"});
           let f2 = create_firewall(#{name: "busy", region: "FINLAND-1"}); attach(f2, [live]);
           delete(gone); wait_deleted(gone);"#,
    ))
    .unwrap();
    let before = sim.world();
    let r = run(&host, r#"import "barrack/cleanup" as c; c::run(#{})"#);
    assert_eq!(
        (
            len(&r, "volumes"),
            len(&r, "snapshots"),
            len(&r, "firewalls"),
            len(&r, "deleted")
        ),
        (1, 1, 1, 0)
    );
    let same = sim.world();
    assert_eq!(
        (
            same.volumes.len(),
            same.snapshots.len(),
            same.firewalls.len()
        ),
        (
            before.volumes.len(),
            before.snapshots.len(),
            before.firewalls.len()
        )
    );
    let r = run(
        &host,
        r#"import "barrack/cleanup" as c; c::run(#{confirm: true})"#,
    );
    assert_eq!(len(&r, "deleted"), 3);
    let after = sim.world();
    assert_eq!(
        after
            .volumes
            .values()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>(),
        vec!["used"]
    );
    assert_eq!(
        after
            .snapshots
            .values()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        vec!["of-live"]
    );
    assert_eq!(
        after
            .firewalls
            .values()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        vec!["busy"]
    );
}

#[test]
fn reaper_restore_and_stock_aware_deploy() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let host = host(&sim);
    deploy(&host, "ci-1");
    sim.advance(std::time::Duration::from_secs(13 * 3600));
    deploy(&host, "ci-2");
    let r = run(
        &host,
        r#"import "barrack/reaper" as r; r::reap(#{pattern: "ci-*", max_age: "12h", action: "delete", dry_run: true})"#,
    );
    assert_eq!(len(&r, "deleted"), 1);
    assert_eq!(sim.world().instances.len(), 2, "dry run changes nothing");
    run(
        &host,
        r#"import "barrack/reaper" as r; r::reap(#{pattern: "ci-*", max_age: "12h"})"#,
    );
    let world = sim.world();
    let old = world.instances.values().find(|i| i.name == "ci-1").unwrap();
    assert!(old.status.starts_with("HIBERNAT"), "{}", old.status);

    let _ = host.run(&Source::snippet("<setup>", r#"let a = snapshot(instances(#{name: "ci-2"})[0], "nightly-1"); wait_status(a, "AVAILABLE"); sleep("1m"); let b = snapshot(instances(#{name: "ci-2"})[0], "nightly-2"); wait_status(b, "AVAILABLE");"#)).unwrap();
    let r = run(
        &host,
        r#"import "barrack/restore" as r; r::latest(#{pattern: "nightly-*", name: "ci-2-back"})"#,
    );
    let newest = sim
        .world()
        .snapshots
        .values()
        .find(|s| s.name == "nightly-2")
        .unwrap()
        .id
        .clone();
    assert_eq!(r["snapshot"].to_string(), newest);
    let again = run(
        &host,
        r#"import "barrack/restore" as r; r::latest(#{pattern: "nightly-*", name: "ci-2-back"})"#,
    );
    assert!(
        !again["existing"].is_unit(),
        "a re-run does not restore twice"
    );

    sim.with_world(|w| {
        w.stock.insert("FINLAND-1/H100-SXM5-80GB".into(), 4);
    });
    let r = run(
        &host,
        r#"import "barrack/deploy" as d; d::first_available(#{name: "train-1", max_hourly: 30.0, choices: [
        #{gpu: "H100-SXM5-80GB", count: 8, region: "FINLAND-1"}, #{gpu: "B300-262GB", count: 8, region: "FINLAND-2"}, #{gpu: "H200-141GB", count: 8, region: "ICELAND-1"}]})"#,
    );
    assert_eq!(
        r["choice"].to_string(),
        "8× H200-141GB in ICELAND-1",
        "{r:?}"
    );
    assert_eq!(len(&r, "skipped"), 2);
    let again = run(
        &host,
        r#"import "barrack/deploy" as d; d::first_available(#{name: "train-1", choices: [#{gpu: "L40", count: 1, region: "CANADA-1"}]})"#,
    );
    assert!(!again["existing"].is_unit());
    assert_eq!(
        sim.world()
            .instances
            .values()
            .filter(|i| i.name == "train-1")
            .count(),
        1
    );
}

#[test]
fn recipes_are_listed_shown_and_runnable_with_set() {
    Test::new()
        .args(["stdlib", "list"])
        .stdout_has("rotation")
        .stdout_has("hibernation")
        .stdout_has("cleanup")
        .success();
    Test::new()
        .args(["stdlib", "show", "rotation"])
        .stdout_has("fn rotate(opts)")
        .success();
    Test::new().args(["stdlib", "show", "nope"]).status(2);
    let out = Test::new()
        .args(["run", "--sim", "stdlib:cleanup", "--set", "confirm=false"])
        .success();
    let result: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(result["confirm"], false);
    Test::new()
        .args(["run", "--sim", "stdlib:reaper"])
        .stderr_has("pattern is required")
        .status(1);
}

#[allow(dead_code)]
fn unit() -> Dynamic {
    Dynamic::UNIT
}

// ---- recipes as people read and drive them ----

#[test]
fn the_budget_recipe_logs_runway_and_burn_rounded_for_people() {
    let (sim, client) = crate::support::sim();
    crate::support::active_instance(
        &sim,
        &client,
        crate::support::REGION,
        serde_json::json!({"gpu_count": 8, "name": "big"}),
    );
    sim.with_world(|w| w.balance = 1000.0 / 3.0);
    let out = Test::new()
        .args(["run", "--api-url", &sim.base_url(), "stdlib:budget"])
        .args(["--set", "hibernate_hours=1"])
        .env("BARRACK_API_KEY", crate::support::KEY)
        .success();
    // 333.33 USD at 19.934 USD/h (8×2.49 + the OS volume's 0.014) lasts 16.7 h.
    assert!(
        out.stderr
            .contains("budget: WARNING 333.33 USD lasts 16.7 h at 19.934 USD/h"),
        "{}",
        out.stderr
    );
    let result: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(result["runway_hours"], 16.7, "{result}");
    assert_eq!(result["burn_per_hour"], 19.934, "{result}");
}

#[test]
fn set_takes_json_arrays_of_maps_that_drive_the_hibernation_recipe() {
    let (sim, client) = crate::support::sim();
    let vm = crate::support::active_instance(
        &sim,
        &client,
        crate::support::LEGACY_REGION,
        serde_json::json!({"name": "dev-1"}),
    );
    // Saturday 23:00 UTC: outside every mon-fri 09:00–19:00 period, so dev-1 is hibernated.
    let out = Test::new()
        .args(["run", "--api-url", &sim.base_url(), "stdlib:hibernation"])
        .env("BARRACK_API_KEY", crate::support::KEY)
        .args(["--set", "name=dev-*"])
        .args([
            "--set",
            r#"periods=[{"begin":"09:00","end":"19:00","weekdays":"mon-fri"}]"#,
        ])
        .args(["--set", "timezone=UTC", "--set", "now=2026-12-05T23:00:00Z"])
        .success();
    let result: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(result["in_period"], false, "{result}");
    assert!(result["hibernated"].to_string().contains(&vm), "{result}");
    let status = crate::support::ok(&client, "instance", serde_json::json!({"id": vm}));
    assert_eq!(status["status"], "HIBERNATING", "{status}");
    assert!(help_says(
        &["run", "--help"],
        "JSON arrays and maps as Rhai arrays and maps"
    ));
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

// ---- property: no recipe input makes a recipe act on an object it should not ----

mod properties {
    use crate::support::{self, KEY, LEGACY_REGION};
    use barrack::script::{Host, Source};
    use barrack::sim::Simulator;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};
    use rhai::Dynamic;
    use serde_json::json;
    use std::sync::OnceLock;
    use std::time::Duration;

    /// A fixed seed (no flakes, no regression files); more cases with PROPTEST_CASES.
    fn config(cases: u32) -> Config {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(cases);
        Config {
            cases,
            rng_seed: RngSeed::Fixed(13),
            failure_persistence: None,
            ..Config::default()
        }
    }

    /// A frozen world: two ACTIVE instances `p-1`, `p-2` (a few simulated minutes old) and
    /// three snapshots of `p-1` named `auto-…`.
    struct World {
        sim: Simulator,
        /// Ages in seconds of the two instances, and of the (youngest) snapshot.
        vm_ages: [i64; 2],
        snap_age: i64,
        vm: String,
    }

    fn world() -> &'static World {
        static WORLD: OnceLock<World> = OnceLock::new();
        WORLD.get_or_init(|| {
            let (sim, client) = support::sim();
            let vm = support::active_instance(&sim, &client, LEGACY_REGION, json!({"name": "p-1"}));
            let other =
                support::active_instance(&sim, &client, LEGACY_REGION, json!({"name": "p-2"}));
            let mut snaps = Vec::new();
            for name in ["auto-a", "auto-b", "auto-c"] {
                let s = support::ok(
                    &client,
                    "snapshot",
                    json!({"instance_id": vm, "name": name}),
                );
                snaps.push(s["id"].as_str().expect("an id").to_string());
            }
            for id in &snaps {
                support::wait_object(&sim, &client, "get_snapshot", id, "AVAILABLE");
            }
            let now = client.server_now().as_second();
            let age = |op: &str, id: &str| {
                let obj = support::ok(&client, op, json!({"id": id}));
                let created: jiff::Timestamp = obj["created_at"]
                    .as_str()
                    .expect("created_at")
                    .parse()
                    .expect("a time");
                now - created.as_second()
            };
            World {
                vm_ages: [age("instance", &vm), age("instance", &other)],
                snap_age: snaps
                    .iter()
                    .map(|s| age("get_snapshot", s))
                    .min()
                    .unwrap_or(0),
                vm,
                sim,
            }
        })
    }

    /// Run `code` with `params`, planning (nothing is sent); the mutations it would make.
    fn plan(code: &str, params: rhai::Map) -> Result<Vec<String>, String> {
        let w = world();
        let host = Host::builder(support::client_for(&w.sim, Some(KEY)))
            .quiet(true)
            .plan()
            .params(params)
            .build();
        let outcome = host.run(&Source::snippet("<prop>", code));
        let changes = host
            .runtime()
            .planner()
            .map(|p| p.changes().into_iter().map(|c| c.op.to_string()).collect())
            .unwrap_or_default();
        match outcome {
            Ok(_) => Ok(changes),
            Err(e) if changes.iter().all(|c| c == "create_snapshot") => Err(e.to_string()),
            Err(e) => Err(format!("failed after acting ({changes:?}): {e}")),
        }
    }

    /// A `max_age` as scripts and `--set` give it: integers (negative, huge), numbers, and
    /// duration texts with any count, including ones past what a duration can hold.
    fn max_age() -> impl Strategy<Value = Dynamic> {
        prop_oneof![
            (0_i64..2_000).prop_map(Dynamic::from),
            any::<i64>().prop_map(Dynamic::from),
            (0.0_f64..1e25).prop_map(Dynamic::from),
            (
                any::<u64>(),
                prop::sample::select(vec!["s", "m", "h", "d", "y", ""])
            )
                .prop_map(|(n, u)| Dynamic::from(format!("{n}{u}"))),
            (0_u64..600, prop::sample::select(vec!["s", "m"]))
                .prop_map(|(n, u)| Dynamic::from(format!("{n}{u}"))),
            prop::sample::select(vec!["10000000000000000000s", "-5s", "soon", "", "1e300"])
                .prop_map(Dynamic::from),
        ]
    }

    /// Seconds of a valid `max_age`, as a person reads it; `None` when it is no duration.
    fn reference_seconds(value: &Dynamic) -> Option<i64> {
        if let Ok(i) = value.as_int() {
            return (i >= 0).then_some(i);
        }
        let secs = if let Ok(f) = value.as_float() {
            Duration::try_from_secs_f64(f).ok()?.as_secs()
        } else {
            barrack::script::time::parse_duration(&value.to_string())
                .ok()?
                .as_secs()
        };
        i64::try_from(secs).ok()
    }

    proptest! {
        #![proptest_config(config(24))]

        /// The reaper deletes exactly the instances older than `max_age`; an input that is no
        /// duration (or does not fit one) is an error that deletes nothing.
        #[test]
        fn the_reaper_acts_only_on_what_is_older_than_max_age(age in max_age()) {
            let w = world();
            let mut params = rhai::Map::new();
            params.insert("max_age".into(), age.clone());
            let acted = plan(
                r#"import "barrack/reaper" as r; r::reap(#{pattern: "p-*", max_age: params.max_age, action: "delete"})"#,
                params,
            );
            match (reference_seconds(&age), acted) {
                (Some(limit), Ok(ops)) => {
                    let expected = w.vm_ages.iter().filter(|a| **a > limit).count();
                    prop_assert_eq!(ops.iter().filter(|o| *o == "delete_instance").count(), expected,
                        "max_age {} (= {} s), instances {:?} s old", age, limit, w.vm_ages);
                }
                (None, Err(_)) => {}
                (want, got) => prop_assert!(false, "max_age {}: reference {:?}, got {:?}", age, want, got),
            }
        }

        /// Rotation keeps the `keep_last` newest and deletes by age only what is older than
        /// `max_age`; bad options are refused before anything is deleted.
        #[test]
        fn rotation_deletes_only_beyond_keep_last_or_max_age(
            keep_last in prop_oneof![(-3_i64..6), any::<i64>()],
            age in prop::option::of(max_age()),
        ) {
            let w = world();
            let mut params = rhai::Map::new();
            params.insert("keep_last".into(), keep_last.into());
            params.insert("max_age".into(), age.clone().unwrap_or(Dynamic::UNIT));
            params.insert("vm".into(), w.vm.clone().into());
            let acted = plan(
                r#"import "barrack/rotation" as r; r::rotate(#{instance: params.vm, keep_last: params.keep_last, max_age: params.max_age})"#,
                params,
            );
            let limit = age.as_ref().map(reference_seconds);
            let valid = keep_last >= 1 && limit != Some(None);
            match (valid, acted) {
                (true, Ok(ops)) => {
                    // Three existing snapshots, the newest first; keep_last counts the new one.
                    let too_old = matches!(limit, Some(Some(l)) if w.snap_age > l);
                    let kept = usize::try_from(keep_last - 1).unwrap_or(usize::MAX).min(3);
                    let expected = if too_old { 3 } else { 3 - kept };
                    prop_assert_eq!(ops.iter().filter(|o| *o == "delete_snapshot").count(), expected,
                        "keep_last {} max_age {:?} snapshots {} s old", keep_last, age, w.snap_age);
                }
                (false, Err(_)) => {}
                (want, got) => prop_assert!(false, "keep_last {} max_age {:?}: valid {}, got {:?}", keep_last, age, want, got),
            }
        }

        /// The hibernation schedule hibernates only outside its period; a period that is not a
        /// time of day is refused before anything is hibernated.
        #[test]
        fn hibernation_acts_only_outside_its_periods(
            begin in (-2_i64..27, -2_i64..62),
            end in (-2_i64..27, -2_i64..62),
            junk in prop::option::of(prop::sample::select(vec!["9", "ab:cd", "99999999999999999999:00", "12:00:00", ""])),
        ) {
            let text = |(h, m): (i64, i64)| format!("{h:02}:{m:02}");
            let begin_text = junk.map(str::to_string).unwrap_or_else(|| text(begin));
            let mut params = rhai::Map::new();
            params.insert("begin".into(), begin_text.clone().into());
            params.insert("end".into(), text(end).into());
            let acted = plan(
                r#"import "barrack/hibernation" as h;
                   h::apply(#{select: #{name: "p-*"}, now: "2026-12-02T12:00:00Z", timezone: "UTC",
                              periods: [#{begin: params.begin, end: params.end, weekdays: "mon-sun"}]})"#,
                params,
            );
            let minutes = |(h, m): (i64, i64)| ((0..=24).contains(&h) && (0..=59).contains(&m)).then_some(h * 60 + m);
            let b = if junk.is_some() { None } else { minutes(begin) };
            match (b, minutes(end), acted) {
                (Some(b), Some(e), Ok(ops)) => {
                    let noon = 12 * 60;
                    let inside = if b <= e { b <= noon && noon < e } else { noon >= b || noon < e };
                    let expected = if inside { 0 } else { 2 };
                    prop_assert_eq!(ops.iter().filter(|o| *o == "hibernate_instance").count(), expected,
                        "period {}–{}", begin_text, text(end));
                }
                (b, e, Err(_)) if b.is_none() || e.is_none() => {}
                (b, e, got) => prop_assert!(false, "period {}–{} ({:?}, {:?}): got {:?}", begin_text, text(end), b, e, got),
            }
        }
    }
}
