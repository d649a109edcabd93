//! The text screen of `barrack status`: money to the cent, rates to four decimals, the runway
//! as hours and a bar (red under a day, yellow under three; colour only when asked for).

use super::status::{text, Status};
use crate::output::figures;
use std::fmt::Write;
use std::time::Duration;

/// The bar is full at 30 days of runway.
const BAR_FULL_HOURS: f64 = 30.0 * 24.0;
const BAR_WIDTH: usize = 20;

fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// `[██████░░░░░░░░░░░░░░]`, red under 24 h, yellow under 72 h, green above.
pub fn runway_bar(hours: Option<f64>, color: bool) -> String {
    let Some(hours) = hours else {
        return format!("[{}]", "█".repeat(BAR_WIDTH));
    };
    let filled = ((hours / BAR_FULL_HOURS).clamp(0.0, 1.0) * BAR_WIDTH as f64).ceil() as usize;
    let filled = filled.clamp(usize::from(hours > 0.0), BAR_WIDTH);
    let bar = format!("{}{}", "█".repeat(filled), "░".repeat(BAR_WIDTH - filled));
    let code = if hours < 24.0 {
        "31"
    } else if hours < 72.0 {
        "33"
    } else {
        "32"
    };
    format!("[{}]", paint(color, code, &bar))
}

/// `3d 4h`, `2h 5m`, `40s`: the two largest units.
pub fn age(seconds: i64) -> String {
    let text = humantime::format_duration(Duration::from_secs(seconds.max(0) as u64)).to_string();
    text.split(' ').take(2).collect::<Vec<_>>().join(" ")
}

fn label(vm: &serde_json::Value) -> String {
    let name = text(vm, "name");
    if name.is_empty() {
        text(vm, "id")
    } else {
        format!("{} ({name})", text(vm, "id"))
    }
}

/// Aligned rows, two spaces between columns.
fn columns(rows: &[Vec<String>]) -> Vec<String> {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..width)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            row.iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect()
}

pub fn render(status: &Status, color: bool) -> String {
    let cur = &status.currency;
    let mut out = String::new();
    let runway = status.runway_hours();
    let _ = writeln!(out, "Fleet status at {} (server time)", status.time);
    let _ = writeln!(out);
    let runway_text = match runway {
        Some(h) => figures::hours(h),
        None => "unlimited (nothing is billing)".into(),
    };
    let _ = writeln!(
        out,
        "Balance    {}   runway {}  {}",
        figures::amount(status.balance, cur),
        runway_text,
        runway_bar(runway, color)
    );
    let _ = writeln!(
        out,
        "Burn       {}   instances {} · volumes {} · snapshots {}",
        figures::rate(status.burn(), cur, false),
        figures::rate(status.burn_instances, cur, false),
        figures::rate(status.burn_volumes, cur, false),
        figures::rate(status.burn_snapshots, cur, false),
    );
    let by_status = status.by_status();
    let _ = writeln!(
        out,
        "Instances  {}   GPUs in use {}   hibernated {}   in ERROR {}",
        status.instances.len(),
        status.gpus_in_use(),
        status.hibernated,
        status.errors().len()
    );
    if !status.instances.is_empty() {
        let _ = writeln!(out);
        let states: Vec<&String> = by_status.keys().collect();
        let mut rows = vec![std::iter::once("REGION".to_string())
            .chain(states.iter().map(|s| s.to_string()))
            .chain(["TOTAL".to_string()])
            .collect::<Vec<_>>()];
        for (region, counts) in status.by_region() {
            let total: i64 = counts.values().sum();
            rows.push(
                std::iter::once(region)
                    .chain(
                        states
                            .iter()
                            .map(|s| counts.get(*s).map_or("-".to_string(), |n| n.to_string())),
                    )
                    .chain([total.to_string()])
                    .collect(),
            );
        }
        for line in columns(&rows) {
            let _ = writeln!(out, "  {line}");
        }
    }
    let errors = status.errors();
    if !errors.is_empty() {
        let _ = writeln!(out);
        for vm in errors {
            let _ = writeln!(
                out,
                "{} {}  {} {}",
                paint(color, "1;31", "ERROR"),
                label(vm),
                text(vm, "region"),
                text(vm, "gpu_model")
            );
        }
    }
    if !status.newest.is_empty() {
        let _ = writeln!(out);
        let mut rows = vec![vec![
            "INSTANCE".to_string(),
            "STATUS".into(),
            "NEWEST SNAPSHOT".into(),
            "AGE".into(),
        ]];
        for (vm, snap) in &status.newest {
            let (name, when) = match snap {
                None => ("none".to_string(), "-".to_string()),
                Some(s) => (
                    format!("{} {}", text(s, "name"), text(s, "status")),
                    status
                        .age_seconds(&text(s, "created_at"))
                        .map_or("-".into(), age),
                ),
            };
            rows.push(vec![label(vm), text(vm, "status"), name, when]);
        }
        for line in columns(&rows) {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runway_bar_fills_with_days_and_turns_red_under_one() {
        assert_eq!(
            runway_bar(Some(0.0), false),
            format!("[{}]", "░".repeat(20))
        );
        assert_eq!(
            runway_bar(Some(720.0), false),
            format!("[{}]", "█".repeat(20))
        );
        assert!(runway_bar(Some(10.0), true).contains("\x1b[31m"));
        assert!(runway_bar(Some(48.0), true).contains("\x1b[33m"));
        assert!(runway_bar(Some(500.0), true).contains("\x1b[32m"));
        assert!(!runway_bar(Some(10.0), false).contains('\x1b'));
        assert_eq!(age(3 * 86_400 + 4 * 3600 + 5), "3days 4h");
    }
}
