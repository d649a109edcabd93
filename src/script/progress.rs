//! Live progress of waits on a terminal: one display per wait call, with one spinner line per
//! object under a header line for a fleet, every line counting the server's time (the
//! simulator's clock runs faster than the wall clock), and all of it cleared when the call
//! ends, so no stale spinner line is left behind. Off a terminal, or with `-q`, nothing is
//! drawn; the waiters print their one plain line per finished object instead.

use super::runtime::Runtime;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(120);

/// The display of one wait call (one object or a fleet).
pub struct Display {
    multi: Option<MultiProgress>,
    /// The server clock's speed, read again at every poll; bars multiply their wall time by it.
    speed: Arc<AtomicU64>,
    header: Option<ProgressBar>,
}

/// `12s`, `4m 3s`: whole seconds of server time.
fn server_time(state: &ProgressState, speed: &AtomicU64, w: &mut dyn std::fmt::Write) {
    let factor = f64::from_bits(speed.load(Ordering::Relaxed)).max(1.0);
    let secs = Duration::try_from_secs_f64(state.elapsed().as_secs_f64() * factor)
        .map(|d| d.as_secs())
        .unwrap_or(u64::MAX);
    let _ = write!(
        w,
        "{}",
        humantime::format_duration(Duration::from_secs(secs))
    );
}

impl Display {
    /// A display for `count` objects waited for at once; `title` heads a fleet's lines.
    pub fn new(rt: &Runtime, title: &str, count: usize) -> Display {
        let speed = Arc::new(AtomicU64::new(rt.client.speed().max(1.0).to_bits()));
        if !rt.progress || rt.quiet {
            return Display {
                multi: None,
                speed,
                header: None,
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let header = (count > 1).then(|| {
            let bar = multi.add(ProgressBar::new(count as u64));
            if let Ok(style) = ProgressStyle::with_template("{msg}: {pos}/{len} finished") {
                bar.set_style(style);
            }
            bar.set_message(title.to_string());
            bar.tick();
            bar
        });
        Display {
            multi: Some(multi),
            speed,
            header,
        }
    }

    /// One spinner line: `⠋ instance BRK-… → ACTIVE [CREATING, 1m 15s]` (server time).
    pub fn line(&self, label: String) -> Line {
        let Some(multi) = &self.multi else {
            return Line {
                bar: None,
                head: label,
            };
        };
        let bar = multi.add(ProgressBar::new_spinner());
        let speed = self.speed.clone();
        let style = ProgressStyle::with_template("{spinner} {msg} {server_time}").map(|s| {
            s.with_key(
                "server_time",
                move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    server_time(state, &speed, w)
                },
            )
        });
        if let Ok(style) = style {
            bar.set_style(style);
        }
        bar.set_message(label.clone());
        bar.enable_steady_tick(TICK);
        Line {
            bar: Some(bar),
            head: label,
        }
    }

    /// The server clock's speed as the client last heard it.
    pub fn observe_speed(&self, speed: f64) {
        self.speed
            .store(speed.max(1.0).to_bits(), Ordering::Relaxed);
    }

    /// One object finished (either way): the fleet header counts it.
    pub fn finished_one(&self) {
        if let Some(header) = &self.header {
            header.inc(1);
        }
    }

    /// A line printed above the live lines (or plainly, when nothing is drawn).
    pub fn say(&self, rt: &Runtime, text: &str) {
        match &self.multi {
            Some(multi) if !rt.quiet => {
                let _ = multi.println(text);
            }
            _ => rt.say(text),
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(header) = &self.header {
            header.finish_and_clear();
        }
        if let Some(multi) = &self.multi {
            let _ = multi.clear();
        }
    }
}

/// One object's spinner; cleared when dropped.
pub struct Line {
    bar: Option<ProgressBar>,
    /// `instance BRK-… → ACTIVE`
    head: String,
}

impl Line {
    /// Show the object's last status: `instance BRK-… → ACTIVE [CREATING]`.
    pub fn status(&self, status: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} [{status}]", self.head));
        }
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
