//! The simulator others lean on: `barrack sim` and `Simulator::start`.
//!
//! - `server`: HTTP limits, idle connections, lost answers, where faults meet the idempotency
//!   replay, TLS, the admin routes and their documentation, the clock on every answer.
//! - `scale`: thousands of objects, paging, a state file that survives a crash.
//! - `lists`: a page holds exactly its objects, each shown as its get route shows it.
//! - `state`: `--state FILE` keeps every acknowledged change through Ctrl-C, SIGTERM and the
//!   end of a run, stays whole through SIGKILL, and refuses a file it cannot write.
//! - `billing`: every balance and cost figure against a model that walks every object, and
//!   billing that goes on exactly across a saved world.

mod billing;
mod lists;
mod scale;
mod server;
mod state;
