//! The Rhai host: the Barrack package (every catalog operation, handle types, waiters, fleet,
//! helpers), the sandboxed engine, and running, evaluating and checking scripts.
//!
//! Embedding (design.md): give your own engine the whole API.
//! ```no_run
//! use barrack::script::{BarrackPackage, Runtime};
//! use barrack::api::{Client, ClientSettings};
//! use rhai::packages::Package;
//! let sim = barrack::sim::Simulator::start(barrack::sim::SimOptions::fast()).unwrap();
//! let client = Client::new(ClientSettings::new(sim.base_url(), barrack::secret::ApiKey::new("k"))).unwrap();
//! let mut engine = rhai::Engine::new();
//! BarrackPackage::new(Runtime::new(client).into()).register_into_engine(&mut engine);
//! let balance: rhai::Map = engine.eval("balance()").unwrap();
//! ```

mod account_facts;
mod actions;
mod audit;
mod bounds;
mod builder;
mod by_name;
mod calls;
pub mod clock;
mod compile;
pub mod convert;
mod deploy;
mod fleet;
mod handle_functions;
pub(crate) mod handles;
mod helpers;
mod host;
#[cfg(test)]
mod layering;
mod limits;
mod ops;
mod package;
pub mod plan;
mod progress;
mod resolver;
mod run_error;
pub(crate) mod runtime;
mod server_time;
mod source;
pub(crate) mod stdlib;
pub(crate) mod stop;
pub mod time;
mod wait;
mod words;

use rhai::Dynamic;

pub use audit::AuditLog;
pub use builder::HostBuilder;
pub use compile::{check, compile};
pub use convert::RhaiResult;
pub use helpers::display;
pub use host::Host;
pub use limits::Limits;
pub(crate) use limits::STACK_SIZE;
pub use package::BarrackPackage;
pub use run_error::{script_error, stopped_by};
pub use runtime::Runtime;
pub use source::Source;
pub use stop::{Stop, StopReason};
pub use wait::{DEFAULT_INTERVAL as WAIT_INTERVAL, DEFAULT_TIMEOUT as WAIT_TIMEOUT};

/// `--set key=value`: numbers, booleans and JSON lists/maps are typed; the rest are strings.
pub fn param_value(text: &str) -> Dynamic {
    let trimmed = text.trim();
    if let Ok(i) = trimmed.parse::<i64>() {
        return i.into();
    }
    if let Ok(f) = trimmed.parse::<f64>() {
        if f.is_finite() && trimmed.contains('.') {
            return f.into();
        }
    }
    match trimmed {
        "true" => return true.into(),
        "false" => return false.into(),
        _ => {}
    }
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(trimmed) {
            return convert::to_dynamic(json);
        }
    }
    text.to_string().into()
}
