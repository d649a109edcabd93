//! One way to stop a run. `--timeout` (a timer thread), Ctrl-C (the signal handler) and the
//! memory bound set one flag; the engine's progress callback, waits, sleeps and fleet workers
//! read it. Reading it is one atomic load, so a CPU-bound script pays next to nothing for a
//! deadline (a clock read per engine operation made such scripts 1.4–1.65× slower).
//!
//! It also keeps what is in flight (HTTP calls, waits, sleeps), so the line that reports a stop
//! can say what was interrupted, and which mutations finished after the stop was asked for.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Why a run is stopping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// `--timeout` expired.
    Timeout,
    /// Ctrl-C.
    Interrupted,
    /// The live heap passed `--max-memory`.
    Memory,
}

impl StopReason {
    fn code(self) -> u8 {
        match self {
            StopReason::Timeout => 1,
            StopReason::Interrupted => 2,
            StopReason::Memory => 3,
        }
    }

    fn from_code(code: u8) -> Option<StopReason> {
        match code {
            1 => Some(StopReason::Timeout),
            2 => Some(StopReason::Interrupted),
            3 => Some(StopReason::Memory),
            _ => None,
        }
    }

    /// The token of Rhai's `ErrorTerminated`.
    pub fn token(self) -> &'static str {
        match self {
            StopReason::Timeout => "timeout",
            StopReason::Interrupted => "interrupted",
            StopReason::Memory => "memory",
        }
    }
}

/// A cheap, shared stop flag. Clones share the flag.
#[derive(Clone, Default)]
pub struct Stop {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    reason: AtomicU8,
    /// Guards `closed` and is the mutex of `wake`: sleepers and the timer wait on it.
    state: Mutex<bool>,
    wake: Condvar,
    next: AtomicU64,
    in_flight: Mutex<Vec<(u64, String)>>,
    /// What was in flight when the stop came.
    at_stop: Mutex<Vec<String>>,
    /// Mutations that were sent before the stop and finished after it, with their outcome.
    after_stop: Mutex<Vec<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Stop {
    /// A flag that is not set.
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Why the run is stopping, if it is. One relaxed atomic load.
    #[inline]
    pub fn reason(&self) -> Option<StopReason> {
        StopReason::from_code(self.inner.reason.load(Ordering::Relaxed))
    }

    /// Ask the run to stop. The first reason wins; returns whether this call set it.
    pub fn request(&self, reason: StopReason) -> bool {
        let set = self
            .inner
            .reason
            .compare_exchange(0, reason.code(), Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if set {
            let doing: Vec<String> = lock(&self.inner.in_flight)
                .iter()
                .map(|(_, what)| what.clone())
                .collect();
            *lock(&self.inner.at_stop) = doing;
            let _state = lock(&self.inner.state);
            self.inner.wake.notify_all();
        }
        set
    }

    /// Forget an interruption or a memory stop (the REPL, before each entry). A timeout stays:
    /// the session's time is up.
    pub fn clear(&self) {
        let current = self.inner.reason.load(Ordering::SeqCst);
        if current != StopReason::Timeout.code()
            && self
                .inner
                .reason
                .compare_exchange(current, 0, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            lock(&self.inner.at_stop).clear();
            lock(&self.inner.after_stop).clear();
        }
    }

    /// Stop with [`StopReason::Timeout`] at `deadline`, from a timer thread that ends early
    /// when the run is stopped or closed.
    pub fn arm(&self, deadline: Instant) {
        let stop = self.clone();
        let spawned = std::thread::Builder::new()
            .name("barrack-deadline".into())
            .spawn(move || {
                let mut closed = lock(&stop.inner.state);
                loop {
                    if *closed || stop.reason().is_some() {
                        return;
                    }
                    let now = Instant::now();
                    if now >= deadline {
                        drop(closed);
                        stop.request(StopReason::Timeout);
                        return;
                    }
                    closed = stop
                        .inner
                        .wake
                        .wait_timeout(closed, deadline - now)
                        .map(|(guard, _)| guard)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
            });
        if spawned.is_err() {
            // No thread for the timer: the deadline is still checked by waits and sleeps, and
            // the flag is set there; a pure CPU loop is then bounded by the operations limit.
        }
    }

    /// The run is over: a timer still waiting ends now.
    pub fn close(&self) {
        let mut closed = lock(&self.inner.state);
        *closed = true;
        self.inner.wake.notify_all();
    }

    /// Sleep `wall`, waking at once when a stop is asked for. `None` sleeps until a stop.
    pub fn sleep(&self, wall: Option<Duration>) -> Result<(), StopReason> {
        let end = wall.and_then(|w| Instant::now().checked_add(w));
        let mut closed = lock(&self.inner.state);
        loop {
            if let Some(reason) = self.reason() {
                return Err(reason);
            }
            let now = Instant::now();
            let wait = match end {
                Some(end) if now >= end => return Ok(()),
                Some(end) => end - now,
                // A pause longer than the clock can express: until a stop, in long slices.
                None => Duration::from_secs(3600),
            };
            closed = self
                .inner
                .wake
                .wait_timeout(closed, wait)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Note `what` as in flight until the returned guard drops.
    pub fn doing(&self, what: String) -> Doing<'_> {
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.inner.in_flight).push((id, what));
        Doing { stop: self, id }
    }

    /// A mutation sent before the stop finished after it: remember the outcome for the report.
    pub fn finished_after_stop(&self, line: String) {
        lock(&self.inner.after_stop).push(line);
    }

    /// What was in flight when the stop came, in one phrase (`"" ` when nothing was).
    pub fn in_flight_phrase(&self) -> String {
        phrase(&lock(&self.inner.at_stop))
    }

    /// Mutations that finished after the stop, in one phrase.
    pub fn after_stop_phrase(&self) -> String {
        phrase(&lock(&self.inner.after_stop))
    }
}

/// `a, b, c and 4 more`: a list that stays one short line.
fn phrase(items: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut text = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}

/// Removes its entry from the in-flight list when dropped.
pub struct Doing<'a> {
    stop: &'a Stop,
    id: u64,
}

impl Drop for Doing<'_> {
    fn drop(&mut self) {
        lock(&self.stop.inner.in_flight).retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_wins_and_a_timeout_survives_clear() {
        let stop = Stop::new();
        assert_eq!(stop.reason(), None);
        let _sleeping = stop.doing("sleep(5h)".into());
        assert!(stop.request(StopReason::Interrupted));
        assert!(!stop.request(StopReason::Timeout));
        assert_eq!(stop.reason(), Some(StopReason::Interrupted));
        assert_eq!(stop.in_flight_phrase(), "sleep(5h)");
        stop.clear();
        assert_eq!(stop.reason(), None);
        stop.request(StopReason::Timeout);
        stop.clear();
        assert_eq!(stop.reason(), Some(StopReason::Timeout));
    }

    #[test]
    fn a_sleeper_wakes_when_the_timer_fires() {
        let stop = Stop::new();
        stop.arm(Instant::now() + Duration::from_millis(20));
        assert_eq!(stop.sleep(None), Err(StopReason::Timeout));
    }

    #[test]
    fn long_lists_stay_short() {
        let items: Vec<String> = (0..10).map(|i| format!("deploy {i}")).collect();
        assert_eq!(
            phrase(&items),
            "deploy 0, deploy 1, deploy 2, deploy 3 and 6 more"
        );
    }
}
