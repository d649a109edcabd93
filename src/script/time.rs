//! Calendar time for scripts: `now()`, `parse_time`, `age`, durations, and local time in an
//! IANA zone (DST-correct, from jiff's bundled tz database).

use rhai::{Dynamic, EvalAltResult, Map};
use std::fmt;
use std::time::Duration;

/// An instant, printed as RFC 3339 UTC. `t2 - t1` is seconds; `t + 3600` and `t - "1h"` shift it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time(pub jiff::Timestamp);

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.strftime("%Y-%m-%dT%H:%M:%SZ"))
    }
}

impl Time {
    /// Parse an RFC 3339 time (`2026-03-29T01:30:00Z`), a zoned time, or Unix seconds.
    pub fn parse(text: &str) -> Result<Time, String> {
        let text = text.trim();
        if let Ok(ts) = text.parse::<jiff::Timestamp>() {
            return Ok(Time(ts));
        }
        if let Ok(zoned) = text.parse::<jiff::ZonedDateTime>() {
            return Ok(Time(zoned.timestamp()));
        }
        if let Ok(secs) = text.parse::<i64>() {
            return jiff::Timestamp::from_second(secs)
                .map(Time)
                .map_err(|e| e.to_string());
        }
        Err(format!(
            "{text:?} is not a time; use RFC 3339 such as 2026-11-26T02:00:00Z or 2026-11-26T04:00:00+02:00"
        ))
    }

    /// Seconds since the Unix epoch.
    pub fn epoch(self) -> i64 {
        self.0.as_second()
    }

    /// `self + secs`, refused when it leaves the calendar (years -9999…9999), never wrapped.
    pub fn plus_seconds(self, secs: i64) -> Result<Time, String> {
        self.0
            .checked_add(jiff::SignedDuration::from_secs(secs))
            .map(Time)
            .map_err(|_| out_of_range(self, "+", secs))
    }

    /// `self - secs`, refused like [`Time::plus_seconds`] (`-i64::MIN` does not exist).
    pub fn minus_seconds(self, secs: i64) -> Result<Time, String> {
        self.0
            .checked_sub(jiff::SignedDuration::from_secs(secs))
            .map(Time)
            .map_err(|_| out_of_range(self, "-", secs))
    }

    /// Seconds from `earlier` to `self` (negative when `earlier` is later). Both lie within
    /// jiff's range (±9999 years, under 2^39 s), so the difference always fits.
    pub fn seconds_since(self, earlier: Time) -> i64 {
        self.epoch() - earlier.epoch()
    }

    /// Date and time in a zone: `#{year, month, day, hour, minute, second, weekday, offset, zone}`;
    /// weekday as `mon`…`sun`.
    pub fn local(self, zone: &str) -> Result<Map, String> {
        let tz = jiff::tz::TimeZone::get(zone).map_err(|_| {
            format!("unknown time zone {zone:?}; use an IANA name such as Europe/Helsinki or UTC")
        })?;
        let zoned = self.0.to_zoned_datetime(tz);
        let weekday = match zoned.weekday() {
            jiff::civil::Weekday::Monday => "mon",
            jiff::civil::Weekday::Tuesday => "tue",
            jiff::civil::Weekday::Wednesday => "wed",
            jiff::civil::Weekday::Thursday => "thu",
            jiff::civil::Weekday::Friday => "fri",
            jiff::civil::Weekday::Saturday => "sat",
            jiff::civil::Weekday::Sunday => "sun",
        };
        let mut map = Map::new();
        map.insert("year".into(), (zoned.year() as i64).into());
        map.insert("month".into(), (zoned.month() as i64).into());
        map.insert("day".into(), (zoned.day() as i64).into());
        map.insert("hour".into(), (zoned.hour() as i64).into());
        map.insert("minute".into(), (zoned.minute() as i64).into());
        map.insert("second".into(), (zoned.second() as i64).into());
        map.insert("weekday".into(), weekday.into());
        map.insert("offset".into(), zoned.offset().to_string().into());
        map.insert("zone".into(), zone.into());
        map.insert(
            "text".into(),
            zoned.strftime("%Y-%m-%d %H:%M:%S %Z").to_string().into(),
        );
        Ok(map)
    }
}

fn out_of_range(t: Time, op: &str, secs: i64) -> String {
    format!(
        "{t} {op} {secs} seconds would overflow: it is outside the times barrack can represent (years -9999 to 9999)"
    )
}

/// A duration as the whole seconds a script sees (an `INT`), refused when it does not fit
/// (`duration("10000000000000000000s")` was negative once, which made every object "older").
pub fn seconds_i64(d: Duration) -> Result<i64, Box<EvalAltResult>> {
    i64::try_from(d.as_secs()).map_err(|_| {
        format!(
            "a duration of {} seconds is too long; the longest is {} seconds (about 292 billion years)",
            d.as_secs(),
            i64::MAX
        )
        .into()
    })
}

/// A number of seconds as a duration, refused (not a panic) when no `Duration` can hold it.
fn seconds(f: f64) -> Result<Duration, Box<EvalAltResult>> {
    Duration::try_from_secs_f64(f)
        .map_err(|_| format!("{f:e} seconds is too long for a duration").into())
}

/// Seconds from a duration given as `"90s"`, `"15m"`, `"2h"`, `"7d"` or a number of seconds.
pub fn duration(value: &Dynamic) -> Result<Duration, Box<EvalAltResult>> {
    if let Ok(i) = value.as_int() {
        if i >= 0 {
            return Ok(Duration::from_secs(i as u64));
        }
    }
    if let Ok(f) = value.as_float() {
        if f.is_finite() && f >= 0.0 {
            return seconds(f);
        }
    }
    if value.is_string() {
        let text = value.to_string();
        // A number of seconds is read here: it may be too large for a `Duration`.
        if let Ok(f) = text.trim().parse::<f64>() {
            if f.is_finite() && f >= 0.0 {
                return seconds(f);
            }
        }
        return parse_duration(&text).map_err(|e| e.into());
    }
    Err(format!(
        "{} is not a duration; use forms like \"90s\", \"15m\", \"2h\", \"7d\" or a number of seconds",
        if value.is_string() { format!("{:?}", value.to_string()) } else { value.to_string() }
    )
    .into())
}

/// Parse a duration as the command line and scripts write it: `90s`, `15m`, `2h`, `7d`, `1h30m`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Duration::try_from_secs_f64(secs)
                .map_err(|_| format!("{text:?} is too long for a duration"));
        }
    }
    humantime::parse_duration(text)
        .map_err(|_| format!("{text:?} is not a duration; use forms like 90s, 15m, 2h, 7d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("-3s").is_err());
    }

    #[test]
    fn local_time_follows_dst() {
        // 2026-03-29 is the EU switch to summer time: 01:00 UTC becomes 04:00 in Helsinki.
        let before = Time::parse("2026-03-29T00:30:00Z")
            .unwrap()
            .local("Europe/Helsinki")
            .unwrap();
        let after = Time::parse("2026-03-29T01:30:00Z")
            .unwrap()
            .local("Europe/Helsinki")
            .unwrap();
        assert_eq!(before["hour"].as_int().unwrap(), 2);
        assert_eq!(after["hour"].as_int().unwrap(), 4);
        assert_eq!(after["weekday"].to_string(), "sun");
        assert!(Time::parse("2026-03-29T01:30:00Z")
            .unwrap()
            .local("Mars/Olympus")
            .is_err());
    }

    #[test]
    fn parsing_and_printing() {
        let t = Time::parse("2026-11-26T04:00:00+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-26T02:00:00Z");
        assert!(Time::parse("yesterday").is_err());
        assert_eq!(
            duration(&Dynamic::from("15m")).unwrap(),
            Duration::from_secs(900)
        );
        assert!(duration(&Dynamic::from("soon")).is_err());
    }
}
