//! The Barrack API: the operation catalog, the blocking client and its error type.

pub mod catalog;
pub mod check;
pub mod client;
pub mod deployment;
pub mod error;
pub mod facts;
pub mod lifecycle;
pub mod rules;
pub mod shape;
pub mod suggest;

pub use catalog::{Catalog, Kind, Method, Op, OpId, OPS};
pub use client::{Answer, Args, Client, ClientSettings, Exchange, Observer, RetryPolicy};
pub use error::{ApiError, Failure};
