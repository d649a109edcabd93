//! The Barrack API: the operation catalog, the blocking client and its error type.

pub mod catalog;
pub mod choices;
pub mod client;
pub mod error;
pub mod facts;
pub mod lifecycle;
pub mod rules;

pub use catalog::{Catalog, Kind, Method, Op, OPS};
pub use client::{Answer, Args, Client, ClientSettings, Exchange, Observer, RetryPolicy};
pub use error::{ApiError, Failure};
