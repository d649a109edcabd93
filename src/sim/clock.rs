//! The world's clock: simulated seconds since the epoch, running `speed` times the wall clock,
//! plus whatever tests and `/_sim/advance` moved it by.

use std::time::Instant;

pub struct Clock {
    wall_start: Instant,
    sim_start: f64,
    pub speed: f64,
    pub advanced: f64,
}

impl Clock {
    pub fn new(sim_start: f64, speed: f64) -> Clock {
        Clock {
            wall_start: Instant::now(),
            sim_start,
            speed,
            advanced: 0.0,
        }
    }

    pub fn now(&self) -> f64 {
        self.sim_start + self.wall_start.elapsed().as_secs_f64() * self.speed + self.advanced
    }
}

/// The `X-Sim-Speed` text of a speed: no fraction when it is whole.
pub fn format_speed(speed: f64) -> String {
    if speed.fract() == 0.0 {
        format!("{speed:.0}")
    } else {
        speed.to_string()
    }
}

/// `{now:.3}`, with integer formatting (this runs on every answer).
pub fn format_millis(seconds: f64) -> String {
    if !(0.0..1e15).contains(&seconds) {
        return format!("{seconds:.3}");
    }
    let millis = (seconds * 1000.0).round() as u64;
    format!("{}.{:03}", millis / 1000, millis % 1000)
}
