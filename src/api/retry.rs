//! When to try a request again: a budget of time per request (`--retry-for`), full-jitter
//! exponential backoff, `Retry-After` honoured, and an optional hard cap on tries (`--retries`).

use std::time::Duration;

/// How the client retries one request's transient failures (429, 500, 502, 503, 504, a
/// connection refused, reset or timed out).
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Hard cap on tries, the first included (`--retries N`); `None`: only the budget limits.
    /// `Some(1)` disables retries.
    pub max_tries: Option<u32>,
    /// Time budget for retrying one request (`--retry-for`, default 2 minutes): the time its
    /// tries took plus the waits between them. Waits are server time, so under a simulator whose
    /// clock runs faster they pass as fast as its clock (the tries themselves count as they
    /// take: a loopback round trip is no simulated latency).
    pub budget: Duration,
    /// Backoff before try n+1 is uniform in [0, min(cap, base × 2ⁿ)] (full jitter).
    pub base: Duration,
    /// The longest wait between two tries.
    pub cap: Duration,
}

/// `--retry-for`'s default.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(120);

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_tries: None,
            budget: DEFAULT_BUDGET,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(20),
        }
    }
}

/// The retry state of one request: tries made and server time spent.
pub(crate) struct Backoff<'a> {
    policy: &'a RetryPolicy,
    pub tries: u32,
    /// Time spent so far: each try's wall time, plus every wait (in server time).
    pub spent: Duration,
}

impl<'a> Backoff<'a> {
    pub fn new(policy: &'a RetryPolicy) -> Backoff<'a> {
        Backoff {
            policy,
            tries: 0,
            spent: Duration::ZERO,
        }
    }

    /// A try ended after `wall` of real time.
    pub fn tried(&mut self, wall: Duration) {
        self.tries += 1;
        self.spent = self.spent.saturating_add(wall);
    }

    /// The wait (server time) before the next try, or `None` when the cap or the budget says
    /// stop. `Retry-After` replaces the jittered wait but is clamped to what the budget has left.
    pub fn next_wait(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        if self.policy.max_tries.is_some_and(|max| self.tries >= max) {
            return None;
        }
        let left = self.policy.budget.checked_sub(self.spent)?;
        if left.is_zero() {
            return None;
        }
        let wait = match retry_after {
            Some(after) => after,
            None => {
                let ceiling = self
                    .policy
                    .base
                    .saturating_mul(1 << self.tries.min(16))
                    .min(self.policy.cap);
                ceiling.mul_f64(fastrand::f64())
            }
        }
        .min(left);
        self.spent = self.spent.saturating_add(wait);
        Some(wait)
    }
}

/// `Retry-After` as seconds or an HTTP-date.
pub fn parse_retry_after(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        // Absurdly large values are clamped by the budget; they must not panic here.
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX));
    }
    let when = jiff::fmt::rfc2822::parse(text).ok()?;
    let now = jiff::Timestamp::now();
    let delta = when.timestamp().duration_since(now);
    Some(Duration::try_from(delta).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn the_budget_bounds_the_waits_and_retry_after_is_clamped_to_it() {
        let policy = RetryPolicy {
            budget: Duration::from_secs(30),
            ..RetryPolicy::default()
        };
        let mut backoff = Backoff::new(&policy);
        backoff.tried(Duration::from_secs(1));
        assert_eq!(
            backoff.next_wait(Some(Duration::from_secs(3600))),
            Some(Duration::from_secs(29)),
            "Retry-After is honoured up to the budget's end"
        );
        backoff.tried(Duration::ZERO);
        assert_eq!(backoff.next_wait(None), None, "the budget is spent");
        let mut waits = Duration::ZERO;
        let mut backoff = Backoff::new(&policy);
        loop {
            backoff.tried(Duration::from_millis(100));
            match backoff.next_wait(None) {
                Some(wait) => {
                    assert!(wait <= policy.cap);
                    waits += wait;
                }
                None => break,
            }
        }
        assert!(waits <= policy.budget, "{waits:?}");
        assert!(backoff.tries > 1);
    }

    #[test]
    fn a_cap_on_tries_stops_first_when_given() {
        let policy = RetryPolicy {
            max_tries: Some(2),
            ..RetryPolicy::default()
        };
        let mut backoff = Backoff::new(&policy);
        backoff.tried(Duration::ZERO);
        assert!(backoff.next_wait(None).is_some());
        backoff.tried(Duration::ZERO);
        assert_eq!(backoff.next_wait(None), None);
    }
}
