//! Simulated time for scripts. Under `barrack test` a run's waits and sleeps must not wait in
//! real time: the runtime is given a [`Clock`] that owns the simulated time, and letting time
//! pass moves that clock instead of blocking the thread. Without one, time passes on the wall
//! clock, scaled by the server's announced speed (how a run lets time pass is `server_time`'s).

use std::sync::Arc;
use std::time::Duration;

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
