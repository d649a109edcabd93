//! Simulated time for scripts. Under `barrack test` a run's waits and sleeps must not wait in
//! real time: the runtime is given a [`Clock`] that owns the simulated time, and letting time
//! pass moves that clock instead of blocking the thread. Without one, time passes on the wall
//! clock, scaled by the server's announced speed.

use super::runtime::Runtime;
use super::wait::pause;
use rhai::EvalAltResult;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A clock the script's time follows (a simulator's).
pub trait Clock: Send + Sync {
    /// The current simulated time.
    fn now(&self) -> jiff::Timestamp;
    /// Let `d` of simulated time pass at once by moving the clock. `false` when the clock runs
    /// by itself (a live simulator): then the time passes on the wall clock.
    fn skip(&self, d: Duration) -> bool;
}

/// The same clock as a plain function, the shape a client's retry backoff takes.
pub fn sleeper(clock: &Arc<dyn Clock>) -> Arc<dyn Fn(Duration) + Send + Sync> {
    let clock = clock.clone();
    Arc::new(move |d| {
        if !clock.skip(d) {
            std::thread::sleep(d);
        }
    })
}

/// Let `d` of server time pass: on the runtime's clock when it has one, else on the wall clock
/// (scaled by the server's speed, waking for the run's deadline).
pub fn pass(rt: &Runtime, d: Duration) -> Result<(), Box<EvalAltResult>> {
    match rt.clock.get() {
        Some(clock) if clock.skip(d) => rt.check_stop(),
        _ => pause(rt, rt.client.scaled(d)),
    }
}

/// Server time elapsed since a start: exact on a runtime clock, else wall time times the
/// server's announced speed.
pub struct Stopwatch {
    wall: Instant,
    simulated: Option<jiff::Timestamp>,
}

impl Stopwatch {
    /// Start timing on the run's clock.
    pub fn start(rt: &Runtime) -> Stopwatch {
        Stopwatch {
            wall: Instant::now(),
            simulated: rt.clock.get().map(|c| c.now()),
        }
    }

    /// Time passed on the run's clock since the start.
    pub fn elapsed(&self, rt: &Runtime) -> Duration {
        match (rt.clock.get(), self.simulated) {
            (Some(clock), Some(start)) => {
                let secs = clock.now().as_second() - start.as_second();
                Duration::from_secs(secs.max(0) as u64)
            }
            _ => Duration::try_from_secs_f64(
                self.wall.elapsed().as_secs_f64() * rt.client.speed().max(1.0),
            )
            .unwrap_or(Duration::MAX),
        }
    }
}
