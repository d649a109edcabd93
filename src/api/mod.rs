//! The Barrack API: the operation catalog, the blocking client and its error type.

pub mod catalog;
pub mod check;
pub(crate) mod choices;
pub(crate) mod client;
pub(crate) mod deployment;
mod envelope;
pub(crate) mod error;
pub(crate) mod facts;
pub(crate) mod lifecycle;
pub(crate) mod outcome;
mod paginate;
mod request;
pub(crate) mod retry;
pub mod rules;
pub(crate) mod shape;
pub(crate) mod signature;
pub(crate) mod suggest;
pub(crate) mod transport;
pub mod trust;

pub use catalog::{Catalog, Kind, Method, Op, OpId, OPS};
pub use client::{Answer, Args, Client, ClientSettings, Exchange, Observer, Sleep};
pub use error::{ApiError, Failure};
pub use request::encode_component;
pub use retry::{parse_retry_after, RetryPolicy};
pub use trust::MachineRoots;
