//! barrack: the Barrack GPU-cloud API inside a Rhai engine, with a built-in simulator.

pub mod api;
pub mod secret;
pub mod sim;
