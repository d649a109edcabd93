//! `barrack test`: scripts tested against their own simulators, with time travel and faults.
//!
//! Each `test_*` function of a `*_test.rhai` file runs against a fresh, seeded, in-process
//! simulator whose clock moves only when the test moves it (`sim::advance`, `sim::set_time`)
//! or when the script waits or sleeps: a test never waits in real time. Inside a test the
//! `sim` module turns the world's knobs, `run_script` runs a user's script or a recipe, and
//! `assert`, `assert_eq`, `assert_throws` check the outcome.

pub mod assertions;
pub mod discover;
pub mod report;
pub mod requests;
pub mod run_script;
pub mod runner;
pub mod sandbox;
pub mod sim_module;

pub use runner::{run_all, Case};
