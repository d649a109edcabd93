//! The simulator others lean on: `barrack sim` and `Simulator::start`.
//!
//! - `server`: HTTP limits, idle connections, lost answers, where faults meet the idempotency
//!   replay, TLS, the admin routes and their documentation, the clock on every answer.
//! - `scale`: thousands of objects, paging, a state file that survives a crash.

mod scale;
mod server;
