//! The Barrack API: the operation catalog, the blocking client and its error type.

pub mod catalog;
pub mod check;
pub mod choices;
pub mod client;
pub mod deployment;
mod envelope;
pub mod error;
pub mod facts;
pub mod lifecycle;
pub mod outcome;
mod paginate;
mod request;
pub mod retry;
pub mod rules;
pub mod shape;
pub mod suggest;
pub mod transport;

pub use catalog::{Catalog, Kind, Method, Op, OpId, OPS};
pub use client::{Answer, Args, Client, ClientSettings, Exchange, Observer, Sleep};
pub use error::{ApiError, Failure};
pub use request::encode_component;
pub use retry::{parse_retry_after, RetryPolicy};
