//! The meter: what every billing object of the world together has run up between two instants,
//! in O(log n) whatever the number of objects, so that no request walks the world to keep the
//! balance current.
//!
//! Two ways of billing (barrack-api.md, "Billing"; see `world::Instance::hourly_rate`):
//!
//! - An instance bills per whole minute: at rate `r` it charges `r / 60` at each instant
//!   `s + 60k` (k ≥ 1), where `s = billed_to - partial_seconds` is where its current minute
//!   started. With `t = 60·M + τ` and `s = 60·m + φ` (0 ≤ τ, φ < 60), the minutes it has run by
//!   `t` are `M - m - [φ > τ]`. Summed over every such instance, the minutes-times-rate charged
//!   between `T` and `t` are `R·(M_t - M_T) - S(τ_t) + S(τ_T)`, where `R` is the sum of their
//!   rates and `S(τ)` the sum of the rates of those whose phase φ is past τ: [`Phases`] answers
//!   that in O(log n).
//! - Storage (volumes, snapshots) bills continuously: the sum of their rates times the time.
//!
//! Exact arithmetic, so that adding and removing objects never leaves a drift: rates are whole
//! micro-dollars per hour ([`micros`]; every price the simulator charges is one), and instants
//! are whole [`ticks`] of 2⁻²² s. Every f64 instant from 2³⁰ s (January 2004) on is a whole
//! number of ticks, so for the simulator's clock (which starts at the wall clock's now) the
//! conversion loses nothing; earlier instants, which only unit tests use, are rounded to 0.24 µs.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// Ticks per second: 2²².
const TICKS_PER_SECOND: f64 = 4_194_304.0;
/// One minute, in ticks (2²⁸ > MINUTE, so a phase fits the buckets below).
pub const MINUTE: i64 = 60 * (1 << 22);

/// An instant (or a span) in whole ticks. A non-finite input gives 0 rather than a panic.
pub fn ticks(seconds: f64) -> i64 {
    (seconds * TICKS_PER_SECOND).round() as i64
}

/// A span of ticks in seconds (exact for spans under 2⁵³ ticks, some 68 years).
pub fn seconds(ticks: i64) -> f64 {
    ticks as f64 / TICKS_PER_SECOND
}

/// An hourly price in whole micro-dollars (or micro-euros, micro-rupees) per hour.
pub fn micros(hourly: f64) -> i64 {
    (hourly * 1e6).round() as i64
}

/// How one object bills, as the meter counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Billing {
    /// Per whole minute at `rate` µ/h, the minutes counted from the instant `start` (ticks).
    PerMinute { rate: i64, start: i64 },
    /// Continuously at `rate` µ/h.
    PerSecond { rate: i64 },
}

impl Billing {
    /// Its rate, µ/h.
    pub fn rate(self) -> i64 {
        match self {
            Billing::PerMinute { rate, .. } | Billing::PerSecond { rate } => rate,
        }
    }
}

/// The meter of every billing object, by key. Objects that cost nothing are not in it.
#[derive(Clone)]
pub struct Meter<K> {
    /// The instant (ticks) up to which charges have been taken.
    stamp: i64,
    /// Sum of the rates of the objects billed per minute (`R`).
    per_minute: i64,
    /// Sum of the rates of the objects billed continuously.
    per_second: i64,
    phases: Phases,
    entries: HashMap<K, Billing>,
}

impl<K> Default for Meter<K> {
    fn default() -> Self {
        Meter {
            stamp: 0,
            per_minute: 0,
            per_second: 0,
            phases: Phases::default(),
            entries: HashMap::new(),
        }
    }
}

// A world's Debug output stays readable: the meter's sums, not its sixty thousand buckets.
impl<K> std::fmt::Debug for Meter<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("stamp", &self.stamp)
            .field("per_minute", &self.per_minute)
            .field("per_second", &self.per_second)
            .field("objects", &self.entries.len())
            .finish()
    }
}

impl<K: Hash + Eq> Meter<K> {
    /// An empty meter whose charges are taken up to `stamp` (ticks).
    pub fn starting_at(stamp: i64) -> Self {
        Meter {
            stamp,
            ..Meter::default()
        }
    }

    /// What every object in the meter has run up from the stamp to `to` (ticks), in currency
    /// units; the stamp moves to `to`. A `to` before the stamp charges nothing and moves nothing.
    pub fn charge_to(&mut self, to: i64) -> f64 {
        if to <= self.stamp {
            return 0.0;
        }
        let from = std::mem::replace(&mut self.stamp, to);
        let (m_from, tau_from) = (from.div_euclid(MINUTE), from.rem_euclid(MINUTE));
        let (m_to, tau_to) = (to.div_euclid(MINUTE), to.rem_euclid(MINUTE));
        // µ/h × minutes: whole numbers, so the sum is exact.
        let minutes = i128::from(self.per_minute) * i128::from(m_to - m_from)
            - i128::from(self.phases.above(tau_to))
            + i128::from(self.phases.above(tau_from));
        // µ/h × ticks.
        let continuous = i128::from(self.per_second) * i128::from(to - from);
        minutes as f64 / 60.0 / 1e6 + continuous as f64 / TICKS_PER_SECOND / 3600.0 / 1e6
    }

    /// How `key` bills now, if it is in the meter.
    pub fn billing(&self, key: &K) -> Option<Billing> {
        self.entries.get(key).copied()
    }

    /// Set how `key` bills from the stamp on (`None`, or a rate of 0: not at all). The caller
    /// has taken the charges up to now first ([`Meter::charge_to`]), so the old way of billing
    /// ran until now and the new one counts from now.
    pub fn set(&mut self, key: K, billing: Option<Billing>) {
        if let Some(old) = self.entries.remove(&key) {
            self.count(old, -1);
        }
        if let Some(new) = billing.filter(|b| b.rate() > 0) {
            self.count(new, 1);
            self.entries.insert(key, new);
        }
    }

    /// How many objects the meter bills.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn count(&mut self, billing: Billing, sign: i64) {
        match billing {
            Billing::PerMinute { rate, start } => {
                self.per_minute += sign * rate;
                self.phases.add(start.rem_euclid(MINUTE), sign * rate);
            }
            Billing::PerSecond { rate } => self.per_second += sign * rate,
        }
    }
}

/// Bucket `b` holds the phases `[b << SHIFT, (b + 1) << SHIFT)`: 2¹² ticks, about a millisecond.
const SHIFT: u32 = 12;
const BUCKETS: usize = (MINUTE >> SHIFT) as usize;

/// Rates by phase within the minute (ticks, `0..MINUTE`): a Fenwick tree of per-millisecond
/// sums, and the exact phases for the part of one millisecond a query cuts through. A query
/// costs O(log B) plus the distinct phases of one millisecond, which a world of instances that
/// became ACTIVE at different moments spreads over 61,440 of them.
#[derive(Clone, Default)]
struct Phases {
    /// 1-based Fenwick tree over the buckets; allocated when the first instance bills.
    tree: Vec<i64>,
    /// The sum of the rates at each phase present.
    exact: BTreeMap<i64, i64>,
    total: i64,
}

impl Phases {
    fn add(&mut self, phase: i64, rate: i64) {
        if self.tree.is_empty() {
            self.tree = vec![0; BUCKETS + 1];
        }
        let mut i = (phase >> SHIFT) as usize + 1;
        while i <= BUCKETS {
            self.tree[i] += rate;
            i += i & i.wrapping_neg();
        }
        let sum = self.exact.entry(phase).or_insert(0);
        *sum += rate;
        if *sum == 0 {
            self.exact.remove(&phase);
        }
        self.total += rate;
    }

    /// The sum of the rates whose phase is after `tau`.
    fn above(&self, tau: i64) -> i64 {
        if self.total == 0 {
            return 0;
        }
        let bucket = (tau >> SHIFT) as usize;
        // Whole buckets before tau's, then the phases of tau's bucket up to tau itself.
        let mut at_most = 0;
        let mut i = bucket;
        while i > 0 {
            at_most += self.tree[i];
            i -= i & i.wrapping_neg();
        }
        let bucket_start = (bucket as i64) << SHIFT;
        at_most += self
            .exact
            .range(bucket_start..=tau)
            .map(|(_, r)| r)
            .sum::<i64>();
        self.total - at_most
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious model: each instance's whole minutes from its own start, one by one.
    fn minutes_between(start: i64, from: i64, to: i64) -> i64 {
        (to - start).div_euclid(MINUTE) - (from - start).div_euclid(MINUTE)
    }

    #[test]
    fn every_price_is_a_whole_number_of_micros_per_hour() {
        use crate::sim::world::*;
        let prices = ADVANCED_GPUS
            .iter()
            .chain(LEGACY_GPUS.iter())
            .chain(VOLUME_TYPES.iter())
            .map(|(_, r)| *r)
            .chain([OS_VOLUME_RATE, SNAPSHOT_RATE]);
        for price in prices {
            let exact = micros(price) as f64 / 1e6;
            assert!((exact - price).abs() < 1e-12, "{price} is not whole micros");
        }
    }

    #[test]
    fn instants_of_the_simulators_clock_are_whole_ticks() {
        let now = 1_780_000_000.123_456_7;
        assert_eq!(seconds(ticks(now)), now);
        assert_eq!(ticks(f64::NAN), 0);
    }

    #[test]
    fn a_minute_is_charged_at_its_end_and_not_before() {
        let mut meter = Meter::starting_at(10 * MINUTE);
        let start = 10 * MINUTE - 7;
        meter.set(
            "vm",
            Some(Billing::PerMinute {
                rate: 60_000_000,
                start,
            }),
        );
        assert_eq!(meter.charge_to(start + MINUTE - 1), 0.0);
        assert_eq!(meter.charge_to(start + MINUTE), 1.0);
        assert_eq!(meter.charge_to(start + 3 * MINUTE - 1), 1.0);
        assert_eq!(meter.charge_to(start + 3 * MINUTE), 1.0);
    }

    #[test]
    fn storage_is_charged_continuously() {
        let mut meter = Meter::starting_at(0);
        meter.set(
            1,
            Some(Billing::PerSecond {
                rate: 3_600_000_000,
            }),
        );
        assert_eq!(meter.charge_to(ticks(1.5)), 1.5);
        meter.set(1, None);
        assert_eq!(meter.charge_to(ticks(10.0)), 0.0);
        assert_eq!(meter.len(), 0);
    }

    /// A small deterministic generator, so the test needs no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self, below: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (self.0 >> 33) % below
        }
    }

    #[test]
    fn the_meter_charges_what_each_instance_alone_would() {
        let mut rng = Rng(42);
        let mut meter = Meter::starting_at(1_000 * MINUTE);
        let mut now = meter.stamp;
        let mut live: HashMap<u32, (i64, i64)> = HashMap::new();
        for step in 0..4_000u32 {
            match rng.next(3) {
                0 => {
                    // A new instance whose minute started up to a minute ago; phases often
                    // share a bucket, sometimes land exactly on one another.
                    let start = now
                        - rng.next(MINUTE as u64) as i64 / [1, 4096, 1 << 20][step as usize % 3];
                    let rate = 1 + rng.next(10_000_000) as i64;
                    meter.set(step, Some(Billing::PerMinute { rate, start }));
                    live.insert(step, (rate, start));
                }
                1 if !live.is_empty() => {
                    let key = *live
                        .keys()
                        .nth(rng.next(live.len() as u64) as usize)
                        .unwrap();
                    live.remove(&key);
                    meter.set(key, None);
                }
                _ => {
                    // Forward by ticks, by whole buckets or by whole minutes (onto boundaries).
                    let unit = [1, 1 << SHIFT, MINUTE][rng.next(3) as usize];
                    let to = now + rng.next(3 * MINUTE as u64 / unit as u64) as i64 * unit;
                    let expected: i128 = live
                        .values()
                        .map(|&(rate, start)| {
                            i128::from(rate) * i128::from(minutes_between(start, now, to))
                        })
                        .sum();
                    let charged = meter.charge_to(to);
                    assert!(
                        to <= now || (charged - expected as f64 / 60e6).abs() < 1e-9,
                        "step {step}"
                    );
                    now = now.max(to);
                }
            }
        }
    }
}
