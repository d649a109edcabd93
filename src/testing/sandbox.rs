//! One test's world: a fresh, seeded simulator whose clock moves only when the test (or a wait,
//! or a sleep) moves it, a client for it over loopback HTTP, and the log of requests made.

use super::requests::RequestLog;
use crate::api::{Client, ClientSettings};
use crate::connect::SIM_KEY;
use crate::script::clock::Clock;
use crate::secret::ApiKey;
use crate::sim::{SimOptions, Simulator};
use std::sync::Arc;
use std::time::Duration;

/// Where every test's clock starts: 2026-01-01T00:00:00Z, a Thursday. A fixed start makes a
/// seeded test see the same times, names and weekdays on every run.
pub const START: &str = "2026-01-01T00:00:00Z";
const START_EPOCH: f64 = 1_767_225_600.0;

/// The wall-clock share of simulated time: a billionth, so nothing happens behind a test's back.
const FROZEN_SPEED: f64 = 1e-9;

pub struct Sandbox {
    pub sim: Arc<Simulator>,
    pub client: Client,
    pub clock: Arc<dyn Clock>,
    pub requests: Arc<RequestLog>,
}

impl Sandbox {
    pub fn start(seed: u64) -> std::io::Result<Sandbox> {
        let options = SimOptions {
            speed: FROZEN_SPEED,
            seed,
            ..SimOptions::fast()
        };
        let sim = Arc::new(Simulator::start_at(options, START_EPOCH)?);
        let clock: Arc<dyn Clock> = Arc::new(SimClock::frozen(sim.clone()));
        let requests = Arc::new(RequestLog::new());
        requests.attach(sim.clone());
        let mut settings = ClientSettings::new(sim.base_url(), ApiKey::new(SIM_KEY));
        // Retry backoff, like every wait in a test, moves this test's clock instead of sleeping.
        settings.sleep = Some(crate::script::clock::sleeper(&clock));
        let client = Client::new(settings)
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .with_observer(requests.observer());
        Ok(Sandbox {
            sim,
            client,
            clock,
            requests,
        })
    }
}

/// A simulator's clock. Frozen (a test's): sleeping moves it. Live (`repl --sim`): it runs by
/// itself, and only its time is read.
pub struct SimClock {
    sim: Arc<Simulator>,
    frozen: bool,
}

impl SimClock {
    pub fn frozen(sim: Arc<Simulator>) -> SimClock {
        SimClock { sim, frozen: true }
    }

    pub fn live(sim: Arc<Simulator>) -> SimClock {
        SimClock { sim, frozen: false }
    }
}

impl Clock for SimClock {
    fn now(&self) -> jiff::Timestamp {
        epoch_to_timestamp(self.sim.now())
    }

    fn skip(&self, d: Duration) -> bool {
        if self.frozen {
            // `advance_to`, not `advance`: parallel waiters of a fleet that read the same time
            // move the clock once. Waiters that read it one after the other still add up (a
            // fleet's wait may end up to one interval per waiter later than a lone wait).
            let start = self.sim.now();
            self.sim.advance_to(start + d.as_secs_f64());
        }
        self.frozen
    }
}

pub fn epoch_to_timestamp(epoch: f64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(epoch.floor() as i64).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}
