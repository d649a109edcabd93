//! Fault injection, as LocalStack and Toxiproxy do it: errors instead of answers, answers lost
//! after the change was made, added latency.

use super::reply::Refusal;
use std::time::Duration;

/// The most `latency_ms` may be: ten minutes is longer than any client waits for one request,
/// and a larger value is almost always a typo (seconds written as milliseconds).
pub const MAX_LATENCY_MS: u64 = 600_000;

/// Where an injected error happens, relative to the `Idempotency-Key` replay.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum FaultPoint {
    /// Before the simulator looks at the request at all, as a load balancer or proxy in front of
    /// the service fails: a retry of an applied request may be failed again before it reaches
    /// the replay of its first answer.
    #[default]
    Edge,
    /// Inside the service, after the idempotency check: a retry of an applied request always
    /// gets the replay; only requests the service has not seen yet can fail.
    App,
}

/// The fault settings of a simulator (`barrack sim` flags, `POST /_sim/faults`, `set_faults`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fraction of API requests answered with an injected error instead of being applied.
    pub fault_rate: f64,
    /// Statuses the injected errors are drawn from; a 429 carries `Retry-After`.
    pub fault_status: Vec<u16>,
    /// Fraction of mutating requests applied and then answered by closing the connection.
    pub drop_rate: f64,
    /// Added to every API request, at most [`MAX_LATENCY_MS`].
    pub latency_ms: u64,
    /// Whether injected errors come before or after the idempotency replay.
    pub point: FaultPoint,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            fault_rate: 0.0,
            fault_status: vec![500, 502, 503, 429],
            drop_rate: 0.0,
            latency_ms: 0,
            point: FaultPoint::Edge,
        }
    }
}

impl Faults {
    /// Why these settings cannot be used, naming the setting and its allowed range.
    pub fn check(&self) -> Result<(), String> {
        for (name, rate) in [
            ("fault_rate", self.fault_rate),
            ("drop_rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, not {rate}"));
            }
        }
        if let Some(bad) = self.fault_status.iter().find(|s| !(400..=599).contains(*s)) {
            return Err(format!("fault_status takes 4xx/5xx statuses, not {bad}"));
        }
        if self.latency_ms > MAX_LATENCY_MS {
            return Err(format!(
                "latency_ms must be at most {MAX_LATENCY_MS} (ten minutes), not {}",
                self.latency_ms
            ));
        }
        Ok(())
    }

    /// The delay to add before an API answer, if any (never above [`MAX_LATENCY_MS`]).
    pub fn latency(&self) -> Option<Duration> {
        (self.latency_ms > 0).then(|| Duration::from_millis(self.latency_ms.min(MAX_LATENCY_MS)))
    }

    /// Draw whether this request fails, and with which error.
    pub fn draw_error(&self, rng: &mut fastrand::Rng) -> Option<Refusal> {
        let rate = self.fault_rate;
        if rate <= 0.0 || self.fault_status.is_empty() || rng.f64() >= rate {
            return None;
        }
        let status = self.fault_status[rng.usize(..self.fault_status.len())];
        let mut refusal = Refusal::new(
            status,
            injected_code(status),
            "Injected fault (simulator --fault-rate)",
        );
        if status == 429 {
            refusal.retry_after = Some(1);
        }
        Some(refusal)
    }

    /// Draw whether the answer to an applied mutation is lost.
    pub fn draw_drop(&self, rng: &mut fastrand::Rng) -> bool {
        self.drop_rate > 0.0 && rng.f64() < self.drop_rate
    }
}

fn injected_code(status: u16) -> &'static str {
    match status {
        429 => "RATE_LIMITED",
        400..=499 => "VALIDATION_ERROR",
        _ => "INTERNAL_ERROR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_name_the_setting() {
        let check = |f: Faults| f.check().unwrap_err();
        assert!(check(Faults {
            fault_rate: 1.5,
            ..Faults::default()
        })
        .contains("fault_rate"));
        assert!(check(Faults {
            drop_rate: -0.1,
            ..Faults::default()
        })
        .contains("drop_rate"));
        assert!(check(Faults {
            fault_status: vec![200],
            ..Faults::default()
        })
        .contains("200"));
        assert!(check(Faults {
            latency_ms: u64::MAX,
            ..Faults::default()
        })
        .contains("at most"));
        assert!(Faults::default().check().is_ok());
    }
}
