//! Retries within a time budget (`--retry-for`, default 2m; `--retries N` a hard cap only when
//! given), and unknown outcomes found out rather than reported as failures.

use crate::support::{self, deploy_spec, KEY, REGION};
use crate::test::Test;
use barrack::api::{catalog, Args, Client, ClientSettings, RetryPolicy};
use barrack::secret::ApiKey;
use barrack::sim::{Faults, SimOptions, Simulator};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn always(status: u16) -> Faults {
    Faults {
        fault_rate: 1.0,
        fault_status: vec![status],
        ..Faults::default()
    }
}

/// With default flags a request is retried for its whole budget (far more than the old three
/// tries), and the error says how many tries over how long.
#[test]
fn the_default_is_a_time_budget_and_the_error_counts_the_tries() {
    let sim = Simulator::start(SimOptions {
        faults: always(503),
        ..SimOptions::fast()
    })
    .expect("a simulator");
    let out = Test::new()
        .env("BARRACK_API_KEY", KEY)
        .args([
            "call",
            "balance",
            "--retry-for",
            "1m",
            "--api-url",
            &sim.base_url(),
        ])
        .status(1);
    let stderr = out.stderr;
    let requests = sim.stats()["requests"].as_u64().unwrap_or(0);
    assert!(
        requests > 3,
        "retried past the old default of 3 tries: {requests}"
    );
    assert!(
        stderr.contains(&format!("gave up after {requests} tries over ")),
        "{stderr}"
    );

    // --retries N caps the tries when given.
    let sim = Simulator::start(SimOptions {
        faults: always(503),
        ..SimOptions::fast()
    })
    .expect("a simulator");
    let out = Test::new()
        .env("BARRACK_API_KEY", KEY)
        .args([
            "call",
            "balance",
            "--retries",
            "2",
            "--api-url",
            &sim.base_url(),
        ])
        .stderr_has("gave up after 2 tries over ")
        .output();
    assert_eq!(sim.stats()["requests"], 2, "{}", out.stderr);
}

/// `ClientSettings::sleep` receives every backoff wait (server time), so a caller can run them
/// on a simulated clock; together they stay within the budget.
#[test]
fn backoff_waits_go_to_the_sleep_hook_within_the_budget() {
    let sim = Simulator::start(SimOptions {
        faults: always(502),
        ..support::frozen_options()
    })
    .expect("a simulator");
    let waits = Arc::new(Mutex::new(Vec::new()));
    let seen = waits.clone();
    let mut settings = ClientSettings::new(sim.base_url(), ApiKey::new(KEY));
    settings.retry = RetryPolicy {
        budget: Duration::from_secs(600),
        ..RetryPolicy::default()
    };
    settings.sleep = Some(Arc::new(move |wait| seen.lock().unwrap().push(wait)));
    let client = Client::new(settings).expect("a client");
    let err = client
        .call(catalog::find("balance").expect("balance"), &Args::new())
        .expect_err("every try fails");
    let waits = waits.lock().unwrap().clone();
    let total: Duration = waits.iter().sum();
    assert!(waits.len() > 5, "{waits:?}");
    assert!(total <= Duration::from_secs(600), "{total:?}");
    assert!(
        total >= Duration::from_secs(60),
        "the budget was used: {total:?}"
    );
    assert!(
        err.message
            .contains(&format!("gave up after {} tries", waits.len() + 1)),
        "{err}"
    );
}

/// A deploy applied on its first try, whose answer is lost, and whose later tries all fail
/// (faults before the idempotency check): the client finds the instance by name.
fn lost_deploy(lookup_fails: bool) -> (Simulator, Result<Value, barrack::api::ApiError>) {
    let sim = Arc::new(
        Simulator::start(SimOptions {
            faults: Faults {
                drop_rate: 1.0,
                ..Faults::default()
            },
            ..support::frozen_options()
        })
        .expect("a simulator"),
    );
    let spec = deploy_spec(&sim, REGION, json!({"name": "lost-answer"}));
    let hooks = Arc::new(AtomicU32::new(0));
    let target = sim.clone();
    let mut settings = ClientSettings::new(sim.base_url(), ApiKey::new(KEY));
    settings.retry = RetryPolicy {
        max_tries: Some(3),
        ..RetryPolicy::default()
    };
    // Between tries the world changes: after the first (applied, answer dropped) every request
    // fails; the lookup's own retry finds the API back, unless it is to fail as well.
    settings.sleep = Some(Arc::new(move |_| {
        match hooks.fetch_add(1, Ordering::SeqCst) {
            0 => target.set_faults(always(500)),
            2 if !lookup_fails => target.set_faults(Faults::default()),
            _ => {}
        }
    }));
    let client = Client::new(settings).expect("a client");
    let Value::Object(args) = spec else {
        panic!("a spec map")
    };
    let outcome = client.call(catalog::find("deploy").expect("deploy"), &args);
    sim.set_faults(Faults::default());
    drop(client);
    let sim = Arc::try_unwrap(sim).unwrap_or_else(|_| panic!("the hook is gone"));
    (sim, outcome)
}

#[test]
fn a_lost_deploy_answer_is_found_by_name() {
    let (sim, outcome) = lost_deploy(false);
    let vm = outcome.expect("the instance that was made");
    let world = sim.world();
    let named: Vec<_> = world
        .instances
        .values()
        .filter(|i| i.name == "lost-answer")
        .collect();
    assert_eq!(named.len(), 1, "made once");
    assert_eq!(vm["id"], named[0].id.as_str());
    assert_eq!(vm["name"], "lost-answer");
}

#[test]
fn a_lost_deploy_that_cannot_be_checked_says_it_may_have_been_applied() {
    let (sim, outcome) = lost_deploy(true);
    let err = outcome.expect_err("the outcome is unknown");
    assert_eq!(err.code, "OUTCOME_UNKNOWN", "{err}");
    assert!(err.message.contains("may have been applied"), "{err}");
    assert_eq!(sim.world().instances.len(), 1, "it was applied");
}

/// The issue's run: faults 0.5, drops 0.1, few tries. Every deploy the script was told failed
/// (any code but OUTCOME_UNKNOWN) made no instance; every instance that exists was either
/// returned or reported as possibly applied.
#[test]
fn no_instance_exists_that_the_script_was_told_failed() {
    let sim = Simulator::start(SimOptions {
        seed: 5,
        faults: Faults {
            fault_rate: 0.5,
            drop_rate: 0.1,
            ..Faults::default()
        },
        // The fast clock: backoff waits are server time, so they pass 1000× faster.
        ..SimOptions::fast()
    })
    .expect("a simulator");
    sim.with_world(|w| w.balance = 1e9);
    let spec = deploy_spec(&sim, REGION, json!({}));
    let script = r#"
        let made = []; let unknown = []; let failed = [];
        for i in 0..30 {
            let spec = params.spec;
            spec.name = `u-${i}`;
            try { let vm = api("deploy", spec); made.push(vm.name); }
            catch (e) { if e.code == "OUTCOME_UNKNOWN" { unknown.push(spec.name) } else { failed.push(spec.name) } }
        }
        print(to_json(#{made: made, unknown: unknown, failed: failed}));
    "#;
    let out = Test::new()
        .file("s.rhai", script)
        .env("BARRACK_API_KEY", KEY)
        .args([
            "run",
            "s.rhai",
            "--retries",
            "2",
            "--api-url",
            &sim.base_url(),
        ])
        .set("spec", &spec.to_string())
        .output();
    let report: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {} {}", out.stdout, out.stderr));
    let names = |k: &str| -> Vec<String> {
        report[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let (made, unknown, failed) = (names("made"), names("unknown"), names("failed"));
    assert_eq!(made.len() + unknown.len() + failed.len(), 30, "{report}");
    assert!(!failed.is_empty(), "the run met failures: {report}");
    let world = sim.world();
    for instance in world.instances.values() {
        assert!(
            !failed.contains(&instance.name),
            "{} exists but the script was told it failed: {report}",
            instance.name
        );
        assert!(
            made.contains(&instance.name) || unknown.contains(&instance.name),
            "{} exists unreported: {report}",
            instance.name
        );
    }
    for name in &made {
        let count = world.instances.values().filter(|i| &i.name == name).count();
        assert_eq!(count, 1, "{name} made once");
    }
}
