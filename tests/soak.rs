//! The reliability soak: the real binary runs `tests/data/soak.rhai` — deploy N named
//! instances in fleets, wait, snapshot each, hibernate half, delete everything — against a
//! simulator that fails 30 % of API requests (`--fault-rate 0.3`, statuses 500/502/503/429) and
//! applies-then-drops 5 % of mutating ones (`--drop-rate 0.05`). Afterwards the script must have
//! exited 0 and the world must hold exactly what is expected: no duplicate instance or snapshot
//! ever created, nothing left behind, every GPU back in stock.
//!
//! It runs with the DEFAULT retry settings (no `--retries`): each request may be retried for
//! `--retry-for`'s default 2 minutes of server time, with full-jitter backoff.
//!
//! Why it cannot flake: a try fails with probability at most 0.3 + 0.7 × 0.05 = 0.335 (an
//! injected fault, or an applied request whose answer is dropped; a replayed answer is never
//! dropped). Waits average half of min(20 s, 2ⁿ s), so a 2-minute budget holds about 15 tries
//! (at least 9 even if every wait drew its ceiling): a request fails for good with probability
//! ≤ 0.335⁹ ≈ 5·10⁻⁵ in the worst draw and ≈ 10⁻⁷ typically; and a mutation that ends with its
//! outcome unknown is then looked up by name, not reported failed. The N = 200 soak sends
//! about 2 500 requests (its figures print with `--nocapture`). Retries cost little: backoff is
//! divided by the simulator's 1000× clock (10–20 ms each). Waits get 12 h of simulated time,
//! far more than the 2–5 minute transitions need. The simulator is seeded, so its fault draws
//! are reproducible; thread interleaving in the fleets still varies which request gets which
//! draw, hence the bound rather than a fixed outcome.
//!
//! Run the big one with `cargo test --test integration a_soak_of_200_instances_ends_clean -- --ignored --nocapture`.

use crate::support::KEY;
use crate::test::{Output, Test};
use barrack::sim::world::World;
use barrack::sim::{Faults, SimOptions, Simulator};
use serde_json::Value;
use std::collections::BTreeMap;

fn script() -> String {
    format!("{}/tests/data/soak.rhai", env!("CARGO_MANIFEST_DIR"))
}

fn faults() -> Faults {
    Faults {
        fault_rate: 0.3,
        drop_rate: 0.05,
        ..Faults::default()
    }
}

/// What one soak did, as the issue's closing note asks for.
#[derive(Debug, Default)]
struct Figures {
    n: u64,
    requests: u64,
    faults_injected: u64,
    responses_dropped: u64,
    /// Not visible from outside the process that runs the simulator (`--sim`).
    idempotent_replays: Option<u64>,
    /// Tries after the first, counted from the `-v` log.
    retries: u64,
    /// Reported by the script at the peak: instances, snapshots, hibernated.
    found: (u64, u64, u64),
    /// Left in the world afterwards: instances, snapshots.
    left: (usize, usize),
    seconds: f64,
}

impl Figures {
    fn print(&self, label: &str) {
        println!(
            "soak {label}: N = {n}: {req} requests, {faults} injected faults, {drops} dropped \
             responses, {replays} idempotent replays, {retries} retries; objects expected vs \
             found: instances {n}/{fi}, snapshots {n}/{fs}, hibernated {h}/{fh}, left behind \
             {li} instances + {ls} snapshots (expected 0); {secs:.1} s",
            n = self.n,
            req = self.requests,
            faults = self.faults_injected,
            drops = self.responses_dropped,
            replays = self
                .idempotent_replays
                .map_or("(not visible)".to_string(), |r| r.to_string()),
            retries = self.retries,
            fi = self.found.0,
            fs = self.found.1,
            h = self.n / 2,
            fh = self.found.2,
            li = self.left.0,
            ls = self.left.1,
            secs = self.seconds,
        );
    }
}

/// Check the run and the world it left; returns the figures read from the script and the log.
#[track_caller]
fn check(n: u64, out: &Output, world: &World) -> Figures {
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    let context = || {
        let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
        format!(
            "--- stdout ---\n{stdout}\n--- stderr (last lines) ---\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    };
    assert_eq!(out.status, 0, "the soak failed\n{}", context());
    assert!(!stderr.contains("panicked"), "{}", context());
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("the script's report is not JSON ({e})\n{}", context()));
    let num = |k: &str| report[k].as_u64().unwrap_or(u64::MAX);
    let found = (
        num("instances_found"),
        num("snapshots_found"),
        num("hibernated_found"),
    );
    assert_eq!(found, (n, n, n / 2), "at the peak: {report}");

    // Nothing left behind, every GPU back.
    let left = (world.instances.len(), world.snapshots.len());
    assert_eq!(left, (0, 0), "left behind: {:?}", world.instances.keys());
    assert!(
        world.volumes.is_empty() && world.images.is_empty(),
        "no stray volumes or images"
    );
    let fresh = World::seeded(1, 0.0);
    assert_eq!(world.stock, fresh.stock, "every GPU is back in stock");
    // Exactly one applied POST per object asked for: every applied mutating POST is remembered
    // under its Idempotency-Key, so a duplicate deploy or snapshot would show as an extra key.
    let mut applied: BTreeMap<&str, u64> = BTreeMap::new();
    for key in world.idempotency.keys() {
        let op = key.split(':').next().unwrap_or_default();
        *applied.entry(op).or_default() += 1;
    }
    let expected: BTreeMap<&str, u64> = [
        ("deploy", n),
        ("snapshot", n),
        ("hibernate_instance", n / 2),
    ]
    .into_iter()
    .filter(|(_, count)| *count > 0)
    .collect();
    assert_eq!(applied, expected, "applied POSTs per operation");
    // Ids carry serial numbers: after the seeded SSH key, one per instance and per snapshot
    // ever created (deleted ones included), so any duplicate would show here.
    assert_eq!(world.next_serial, 2 + 2 * n, "ids handed out");

    Figures {
        n,
        retries: stderr.lines().filter(|l| l.contains(", try ")).count() as u64,
        found,
        left,
        ..Figures::default()
    }
}

/// The real binary against an in-process faulty simulator, whose counters and world the test
/// reads directly.
/// With `tls`, the simulator serves HTTPS and the run trusts its certificate through `--ca-cert`:
/// the path a run against the real service takes.
fn soak_against_sim(n: u64, fleet: u64, seed: u64, tls: bool) -> Figures {
    let sim = Simulator::start(SimOptions {
        seed,
        faults: faults(),
        tls,
        ..SimOptions::fast()
    })
    .expect("the simulator starts");
    let mut run = Test::new().file("sim.pem", sim.ca_cert_pem().unwrap_or_default());
    if tls {
        assert!(sim.base_url().starts_with("https://"));
        run = run.args(["--ca-cert", "sim.pem"]);
    }
    let started = std::time::Instant::now();
    let out = run
        .env("BARRACK_API_KEY", KEY)
        .args(["-v", "run", "--api-url", &sim.base_url()])
        .args(["--parallel", "32"])
        .set("n", &n.to_string())
        .set("fleet", &fleet.to_string())
        .arg(&script())
        .output();
    let seconds = started.elapsed().as_secs_f64();
    let mut figures = check(n, &out, &sim.world());
    let stats = sim.stats();
    let stat = |k: &str| stats[k].as_u64().unwrap_or_default();
    figures.requests = stat("requests");
    figures.faults_injected = stat("faults_injected");
    figures.responses_dropped = stat("responses_dropped");
    figures.idempotent_replays = Some(stat("idempotent_replays"));
    figures.seconds = seconds;
    assert!(
        figures.faults_injected > 0 && figures.retries >= figures.faults_injected,
        "faults were injected and each was retried: {stats}"
    );
    figures
}

/// The issue's run: 40 instances, faults 0.3, drops 0.05, default retry settings.
#[test]
fn a_soak_of_40_instances_through_faults_and_lost_answers_ends_clean_with_default_retries() {
    let figures = soak_against_sim(40, 10, 7, false);
    figures.print("(N = 40, default retries)");
}

/// The same soak over TLS: faults and lost answers on HTTPS connections.
#[test]
fn a_soak_of_40_instances_over_tls_ends_clean() {
    let figures = soak_against_sim(40, 10, 8, true);
    figures.print("(N = 40, TLS, default retries)");
}

/// The user-facing flags themselves: `barrack run --sim --fault-rate 0.3 --drop-rate 0.05`, the
/// world saved with `--state` and read back; the figures come from the `-v` request log.
#[test]
fn a_soak_with_the_sim_flags_ends_clean_and_saves_its_world() {
    let n = 8;
    let started = std::time::Instant::now();
    let out = Test::new()
        .args(["-v", "run", "--sim", "--seed", "3"])
        .args(["--fault-rate", "0.3", "--drop-rate", "0.05"])
        .args(["--state", "world.json"])
        .set("n", &n.to_string())
        .set("fleet", "3")
        .arg(&script())
        .output();
    let state = out.path("world.json");
    let world: World = std::fs::read_to_string(&state)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| panic!("the world was saved to {}\n{}", state.display(), out.stderr));
    let mut figures = check(n, &out, &world);
    figures.seconds = started.elapsed().as_secs_f64();
    let log: Vec<String> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("barrack: ") && l.contains(" → "))
        .map(str::to_string)
        .collect();
    let status_is = |l: &&String, codes: &[&str]| {
        l.split(" → ")
            .nth(1)
            .is_some_and(|s| codes.iter().any(|c| s.starts_with(c)))
    };
    figures.requests = log.len() as u64;
    figures.faults_injected = log
        .iter()
        .filter(|l| status_is(l, &["429 ", "500 ", "502 ", "503 "]))
        .count() as u64;
    figures.responses_dropped = log.iter().filter(|l| status_is(l, &["no answer"])).count() as u64;
    assert!(figures.faults_injected > 0, "faults were injected");
    figures.print("(--sim flags; figures from the -v log)");
}

#[test]
#[ignore = "N = 200: about 2 500 requests; run with --ignored"]
fn a_soak_of_200_instances_ends_clean() {
    let figures = soak_against_sim(200, 25, 11, false);
    figures.print("(N = 200)");
}

/// The soak's rare case made certain: a DELETE of an instance is applied (the instance is now
/// DELETING) and its answer lost; the client's retry is refused 409 "it is DELETING". From the
/// script's view the delete succeeded, as a retried DELETE answered 404 does.
#[test]
fn a_lost_instance_delete_retried_counts_as_done() {
    use barrack::script::{Host, Source};
    let (sim, client) = crate::support::sim();
    let vm = crate::support::active_instance(
        &sim,
        &client,
        crate::support::REGION,
        serde_json::json!({"name": "lost-delete"}),
    );
    let host = Host::builder(client).build();
    sim.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    let value = host
        .run(&Source::snippet("<test>", &format!(r#"delete("{vm}")"#)))
        .unwrap_or_else(|e| panic!("the retried delete counts as done: {e}"));
    sim.set_faults(Faults::default());
    let answer = barrack::script::convert::to_json(&value).unwrap_or_default();
    assert_eq!(answer["status"], "DELETING", "{answer}");
    assert_eq!(answer["deleted"], true, "{answer}");
    assert_eq!(sim.stats()["responses_dropped"], 1);
    assert_eq!(sim.world().instances[&vm].status, "DELETING");

    // A first try refused because the instance is already DELETING is still an error.
    let err = host
        .run(&Source::snippet("<test>", &format!(r#"delete("{vm}")"#)))
        .expect_err("a first-try 409 stays an error")
        .to_string();
    assert!(
        err.contains("409") && err.contains("it is DELETING"),
        "{err}"
    );
}
