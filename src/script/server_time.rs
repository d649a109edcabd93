//! Time passing for one run, in the server's time: letting it pass (a script's `sleep`, a
//! waiter's interval) and measuring it. On the run's [`Clock`](super::clock::Clock) when it has one (a simulator's,
//! under `barrack test`), else on the wall clock scaled by the server's announced speed.

use super::runtime::{terminated, Runtime};
use rhai::EvalAltResult;
use std::time::{Duration, Instant};

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

/// Sleep `wall` of real time, waking at once when the run is stopped (`--timeout`, Ctrl-C).
/// A pause too long for the clock to express (`sleep(9223372036854775807)`) lasts until a stop.
fn pause(rt: &Runtime, wall: Duration) -> Result<(), Box<EvalAltResult>> {
    rt.check_stop()?;
    // The deadline's own timer wakes the sleeper; this bound covers an embedder's runtime
    // whose deadline has no timer (it is then noticed when the pause ends).
    let wall = match rt.deadline {
        Some(deadline) => wall.min(deadline.saturating_duration_since(Instant::now())),
        None => wall,
    };
    let wall = (wall < Duration::from_secs(u64::MAX / 4)).then_some(wall);
    rt.stop.sleep(wall).map_err(terminated)?;
    rt.check_stop()
}
