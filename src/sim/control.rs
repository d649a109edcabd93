//! Clock control for tests (`barrack test`): a simulator whose world starts at a chosen time,
//! the simulated time as a value, and moving the clock to a time (never backwards: lifecycles
//! and billing cannot be undone).

use super::{Simulator, World};

impl Simulator {
    /// Start a simulator whose freshly seeded world begins at `epoch` (seconds since the Unix
    /// epoch) instead of the wall clock's now, so a seeded test sees the same times on every
    /// run. A state file, if `options` names one, is loaded as usual and keeps its own clock.
    pub fn start_at(options: super::SimOptions, epoch: f64) -> std::io::Result<Simulator> {
        let from_file = options.state.as_ref().is_some_and(|p| p.exists());
        let seed = options.seed;
        let sim = Simulator::start(options)?;
        if !from_file {
            let mut state = sim.shared.lock();
            state.world = World::seeded(seed, epoch);
            let speed = state.clock.speed;
            state.clock = super::clock::Clock::new(epoch, speed);
        }
        Ok(sim)
    }

    /// The simulated time: seconds since the Unix epoch.
    pub fn now(&self) -> f64 {
        self.shared.lock().clock.now()
    }

    /// Move the clock forward to `epoch`; a time already reached is left alone (two sleepers
    /// that wake at the same moment move it once). Returns the time before the move.
    pub fn advance_to(&self, epoch: f64) -> f64 {
        let mut state = self.shared.lock();
        let now = state.clock.now();
        if epoch > now {
            state.clock.advanced += epoch - now;
        }
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimOptions;

    #[test]
    fn a_world_started_at_a_time_moves_only_forward() {
        let sim = Simulator::start_at(
            SimOptions {
                speed: 1e-9,
                ..SimOptions::fast()
            },
            1_767_225_600.0,
        )
        .unwrap();
        assert!((sim.now() - 1_767_225_600.0).abs() < 1.0);
        assert_eq!(
            sim.world().ssh_keys.values().next().unwrap().created_at,
            "2026-01-01T00:00:00Z"
        );
        sim.advance_to(1_767_225_600.0 + 3600.0);
        sim.advance_to(1_767_225_600.0 + 60.0);
        assert!((sim.now() - 1_767_229_200.0).abs() < 1.0);
    }
}
