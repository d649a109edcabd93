//! How to drive reqwest, measured: the blocking wrapper (each request handed to its runtime
//! thread and back) against the async client on a current-thread runtime the caller
//! `block_on`s (what `src/api/transport.rs` does), and barrack's whole client on top of the
//! latter. Each does GET /balance/ against the in-process simulator over loopback keep-alive;
//! rounds alternate so both sides share the machine's noise; medians per call are printed.
//!
//! `cargo bench --bench drive` (a release-profile build).

use barrack::api::{catalog, Args, Client, ClientSettings};
use barrack::secret::ApiKey;
use barrack::sim::{SimOptions, Simulator};
use std::time::{Duration, Instant};

const CALLS: u32 = 2000;
const ROUNDS: usize = 7;

fn per_call(mut f: impl FnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..CALLS {
        f();
    }
    started.elapsed() / CALLS
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let sim = Simulator::start(SimOptions::fast()).expect("a simulator");
    let url = format!("{}/balance/", sim.base_url());
    let auth = "Bearer bench-key";

    let blocking = reqwest::blocking::Client::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let asynchronous = reqwest::Client::new();
    let client = Client::new(ClientSettings::new(
        sim.base_url(),
        ApiKey::new("bench-key"),
    ))
    .expect("a client");
    let balance = catalog::find("balance").expect("balance");

    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        a.push(per_call(|| {
            let answer = blocking.get(&url).header("Authorization", auth).send();
            let _ = answer.and_then(|r| r.bytes()).expect("an answer");
        }));
        b.push(per_call(|| {
            runtime.block_on(async {
                tokio::task::yield_now().await;
                tokio::task::yield_now().await;
                let answer = asynchronous
                    .get(&url)
                    .header("Authorization", auth)
                    .send()
                    .await
                    .expect("an answer");
                answer.bytes().await.expect("a body");
            })
        }));
        c.push(per_call(|| {
            client.call(balance, &Args::new()).expect("a balance");
        }));
    }
    let (a, b, c) = (median(a), median(b), median(c));
    println!("per GET /balance/ on loopback keep-alive, median of {ROUNDS} rounds of {CALLS}:");
    println!("  reqwest::blocking (runtime thread hand-off): {a:?}");
    println!("  async reqwest, current-thread block_on:      {b:?}");
    println!("  barrack Client::call (the latter + envelope): {c:?}");
}
