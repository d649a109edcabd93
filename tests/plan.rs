//! `barrack plan`: nothing changes, the plan lists what a real run then does, exit 0/2/1, and its
//! figures read like money.

use crate::test::Test;
use barrack::sim::{SimOptions, Simulator};
use serde_json::Value;

fn scripts_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

/// A fingerprint of the world a user could list: every object's id and status, and the balance.
fn listing(sim: &Simulator) -> String {
    let w = sim.world();
    let mut out: Vec<String> = Vec::new();
    out.extend(
        w.instances
            .values()
            .map(|i| format!("{} {}", i.id, i.status)),
    );
    out.extend(
        w.snapshots
            .values()
            .map(|s| format!("{} {}", s.id, s.status)),
    );
    out.extend(w.volumes.values().map(|v| format!("{} {}", v.id, v.status)));
    out.extend(w.firewalls.keys().cloned());
    out.extend(w.scripts.keys().cloned());
    out.extend(w.ssh_keys.keys().cloned());
    out.extend(w.images.keys().cloned());
    out.join("\n")
}

fn plan_ops(sim: &Simulator, script: &str, sets: &[&str]) -> Vec<String> {
    let mut test = Test::new()
        .args(["plan", "-o", "json", "--api-url", &sim.base_url(), script])
        .env("BARRACK_API_KEY", "k");
    for s in sets {
        test = test.args(["--set", s]);
    }
    let out = test.output();
    assert!(
        out.status == 0 || out.status == 2,
        "{script}: plan exit {}: {}",
        out.status,
        out.stderr
    );
    let plan: Value = serde_json::from_str(
        out.stdout
            .rsplit_once("\n{")
            .map(|(_, j)| format!("{{{j}"))
            .as_deref()
            .unwrap_or(&out.stdout),
    )
    .unwrap_or_else(|e| panic!("plan JSON ({e}): {}", out.stdout));
    let mut ops: Vec<String> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["op"].as_str().unwrap().to_string())
        .collect();
    ops.sort();
    ops
}

fn run_ops(sim: &Simulator, script: &str, sets: &[&str]) -> Vec<String> {
    let mut test = Test::new()
        .args([
            "run",
            "--audit-log",
            "audit.jsonl",
            "--api-url",
            &sim.base_url(),
            script,
        ])
        .env("BARRACK_API_KEY", "k");
    for s in sets {
        test = test.args(["--set", s]);
    }
    let out = test.success();
    let text = std::fs::read_to_string(out.path("audit.jsonl")).unwrap_or_default();
    let mut ops: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["outcome"] == "ok")
        .map(|l| l["op"].as_str().unwrap().to_string())
        .collect();
    ops.sort();
    ops
}

#[track_caller]
fn plan_matches_run(sim: &Simulator, script: &str, sets: &[&str]) {
    // Let every transition of earlier steps settle, so only the plan could change the world.
    sim.advance(std::time::Duration::from_secs(3600));
    let before = listing(sim);
    let planned = plan_ops(sim, script, sets);
    assert_eq!(listing(sim), before, "{script}: the plan changed the world");
    let done = run_ops(sim, script, sets);
    assert_eq!(planned, done, "{script}: the plan differs from the run");
}

#[test]
fn example_scripts_plan_what_they_then_do() {
    for name in ["quickstart", "fleet", "snapshot-all"] {
        let sim = Simulator::start(SimOptions::fast()).unwrap();
        plan_matches_run(
            &sim,
            scripts_dir().join(format!("{name}.rhai")).to_str().unwrap(),
            &[],
        );
    }
}

#[test]
fn every_recipe_plans_what_it_then_does() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let setup = barrack::script::Host::builder(crate::support::client_for(&sim, Some("k"))).build();
    let _ = setup
        .run(&barrack::script::Source::snippet(
            "<setup>",
            r#"let a = deploy(#{gpu: "L40", region: "CANADA-1", name: "db-1"});
               let b = deploy(#{gpu: "L40", region: "CANADA-1", name: "dev-1"});
               wait_active([a, b]);
               let s = snapshot(a, "nightly-a"); wait_status(s, "AVAILABLE");
               let v = create_volume(#{name: "loose", size_gb: 10, region: "FINLAND-1"}); wait_status(v, "AVAILABLE");"#,
        ))
        .unwrap();
    sim.advance(std::time::Duration::from_secs(2 * 86_400));
    plan_matches_run(
        &sim,
        "stdlib:rotation",
        &["name=db-*", "keep_last=1", "prefix=nightly-"],
    );
    plan_matches_run(&sim, "stdlib:reaper", &["pattern=dev-*", "max_age=1d"]);
    plan_matches_run(&sim, "stdlib:cleanup", &["confirm=true"]);
    plan_matches_run(
        &sim,
        "stdlib:restore",
        &["pattern=nightly-*", "name=db-1-back"],
    );
    plan_matches_run(
        &sim,
        "stdlib:deploy",
        &[
            "name=fresh-1",
            r#"choices=[{"gpu": "L40", "count": 1, "region": "CANADA-1"}]"#,
        ],
    );
    plan_matches_run(
        &sim,
        "stdlib:hibernation",
        &["name=db-*", "begin=00:00", "end=00:01"],
    );
    sim.with_world(|w| w.balance = 30.0);
    plan_matches_run(
        &sim,
        "stdlib:budget",
        &["warn_hours=72", "hibernate_hours=24"],
    );
}

#[test]
fn rotation_plan_shows_the_snapshot_it_takes_and_the_ones_it_deletes() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let setup = barrack::script::Host::builder(crate::support::client_for(&sim, Some("k"))).build();
    let _ = setup
        .run(&barrack::script::Source::snippet(
            "<setup>",
            r#"let a = deploy(#{gpu: "L40", region: "CANADA-1", name: "db-1"}); wait_active(a);
               for i in 1..=3 { let s = snapshot(a, `auto-${i}`); wait_status(s, "AVAILABLE"); }"#,
        ))
        .unwrap();
    let id = sim.world().instances.keys().next().unwrap().clone();
    let out = Test::new()
        .args([
            "plan",
            "--api-url",
            &sim.base_url(),
            "stdlib:rotation",
            "--set",
            &format!("instance={id}"),
            "--set",
            "keep_last=2",
        ])
        .env("BARRACK_API_KEY", "k")
        .stdout_has("+  snapshot")
        .stdout_has("-  delete_snapshot")
        .stdout_has("Hourly cost change:")
        .status(2);
    assert_eq!(
        out.stdout.matches("delete_snapshot").count(),
        2,
        "{}",
        out.stdout
    );
    assert_eq!(
        sim.world().snapshots.len(),
        3,
        "nothing deleted by the plan"
    );
}

#[test]
fn exit_codes_are_0_without_changes_2_with_changes_1_on_error() {
    Test::new()
        .file("read.rhai", "balance(); instances();")
        .args(["plan", "--sim", "read.rhai"])
        .stdout("Plan: no changes.\n")
        .success();
    Test::new()
        .file(
            "write.rhai",
            r#"deploy(#{gpu: "H100-SXM5-80GB", count: 8, region: "FINLAND-1", name: "p-1"});"#,
        )
        .args(["plan", "--sim", "write.rhai"])
        .stdout_has("+  deploy")
        .stdout_has("8× H100-SXM5-80GB FINLAND-1")
        .stdout_has("+19.9340 USD/h")
        .status(2);
    Test::new()
        .file(
            "bad.rhai",
            r#"deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "-no"});"#,
        )
        .args(["plan", "--sim", "bad.rhai"])
        .stderr_has("start or end")
        .status(1);
    Test::new()
        .file(
            "dry.rhai",
            r#"deploy(#{gpu: "L40", region: "CANADA-1", name: "d-1"});"#,
        )
        .args(["run", "--dry-run", "--sim", "dry.rhai"])
        .stdout_has("+  deploy")
        .status(2);
}

#[test]
fn a_plan_fails_on_a_wrong_state_or_missing_stock_as_the_run_would() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    sim.with_world(|w| {
        w.stock.insert("FINLAND-1/B300-262GB".into(), 4);
    });
    let url = sim.base_url();
    Test::new()
        .file(
            "stock.rhai",
            r#"deploy(#{gpu: "B300-262GB", count: 8, region: "FINLAND-1"});"#,
        )
        .args(["plan", "--api-url", &url, "stock.rhai"])
        .env("BARRACK_API_KEY", "k")
        .stderr_has("OUT_OF_STOCK")
        .status(1);
    Test::new()
        .file("state.rhai", r#"let vm = deploy(#{gpu: "L40", region: "CANADA-1", name: "s-1"}); wait_active(vm); vm.stop(); vm.hibernate();"#)
        .args(["plan", "--api-url", &url, "state.rhai"])
        .env("BARRACK_API_KEY", "k")
        .stderr_has("it is STOPPING; hibernate needs ACTIVE")
        .status(1);
    assert!(sim.world().instances.is_empty());
}

// ---- figures read like money ----

#[test]
fn plan_figures_are_cents_and_rates_without_float_noise() {
    let out = Test::new()
        .args(["plan", "--sim", "-o", "json"])
        .file(
            "snap.rhai",
            r#"
            let vm = deploy(#{gpu: "L40", region: "CANADA-1", name: "snap-1"});
            wait_active(vm);
            snapshot(vm, "s-1");
            vm.hibernate();
            "#,
        )
        .arg("snap.rhai")
        .status(2);
    let plan = out.json();
    let text = out.stdout.clone();
    assert!(!text.contains("99999"), "{text}");
    assert!(!text.contains("00000"), "{text}");
    let snapshot = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["op"] == "snapshot")
        .unwrap();
    assert_eq!(snapshot["hourly_delta"], 0.007);
    Test::new()
        .file(
            "stop.rhai",
            r#"
            let vm = deploy(#{gpu: "L40", region: "CANADA-1", name: "snap-1"});
            wait_active(vm);
            snapshot(vm, "s-1");
            "#,
        )
        .args(["plan", "--sim", "stop.rhai"])
        .stdout_has("+0.0070 USD/h")
        .stdout_has("Plan: 2 changes")
        .stdout_lacks("-0.0")
        .status(2);
}

#[test]
fn a_plan_with_no_cost_change_says_zero_not_minus_zero() {
    let out = Test::new()
        .file("none.rhai", "let x = 1;")
        .args(["plan", "--sim", "-o", "json", "none.rhai"])
        .success();
    assert_eq!(out.stdout.matches("-0.0").count(), 0, "{}", out.stdout);
    assert_eq!(out.json()["hourly_cost_change"], 0.0);
}
