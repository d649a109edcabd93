//! The bundled recipes against the simulator: correct under re-runs, never destroying data
//! before its replacement exists. Plus the cron safety of `barrack run`.

use crate::support::{client_for, KEY};
use crate::test::Test;
use barrack::script::{Host, Source};
use barrack::sim::{SimOptions, Simulator};
use rhai::{Dynamic, Map};

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
fn rotation_by_age_and_bad_options() {
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

#[test]
fn a_second_run_with_the_same_lock_exits_75_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("nightly.lock");
    let lock = lock.to_str().unwrap();
    // Far longer than any test: the first run still holds the lock when the second ends.
    let mut first = Test::new()
        .file("slow.rhai", "sleep(\"7d\");")
        .args(["run", "--sim", "--lock", lock, "slow.rhai"])
        .spawn();
    // Wait until the first run holds the lock.
    let held = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::File::open(lock)
            .map(|f| f.try_lock_shared().is_err())
            .unwrap_or(false)
    });
    assert!(held, "the first run never took the lock");
    Test::new()
        .file("quick.rhai", "1")
        .args(["run", "--sim", "--lock", lock, "quick.rhai"])
        .status(75);
    // "At once": the second run gave up while the first still held the lock, instead of
    // waiting for it to be released.
    assert!(
        first.exited().is_none(),
        "the first run ended before the second answered: the second waited for the lock"
    );
    first.kill();
}

#[test]
fn the_audit_log_has_one_json_line_per_mutating_call() {
    let out = Test::run(
        r#"
        let vm = deploy(#{gpu: "L40", region: "CANADA-1", name: "audited"});
        wait_active(vm);
        balance();
        vm.hibernate();
        try { vm.stop(); } catch (e) {}
        "#,
    )
    .args(["--audit-log", "audit.jsonl"])
    .env("BARRACK_API_KEY", "sk-test-SECRET")
    .success();
    let text = std::fs::read_to_string(out.path("audit.jsonl")).unwrap();
    assert!(!text.contains("SECRET"));
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let ops: Vec<&str> = lines.iter().map(|l| l["op"].as_str().unwrap()).collect();
    assert_eq!(ops, vec!["deploy", "hibernate_instance", "stop_instance"]);
    assert_eq!(lines[0]["outcome"], "ok");
    assert!(lines[0]["target"].as_str().unwrap().starts_with("BRK-"));
    assert!(lines[0]["request_id"].is_string() && lines[0]["time"].is_string());
    assert_eq!(lines[2]["outcome"], "error");
    assert_eq!(lines[2]["status"], 409);
}

#[allow(dead_code)]
fn unit() -> Dynamic {
    Dynamic::UNIT
}
