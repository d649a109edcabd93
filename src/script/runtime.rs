//! What every registered function shares for one run: the client, fleet concurrency, the
//! deadline and stop flag, where calls go (sent and audited, or planned), and how to report
//! progress.

use super::calls::{Calls, Sent};
use super::plan::Planner;
use super::stop::{Stop, StopReason};
use crate::api::{ApiError, Args, Client, Op};
use rhai::{EvalAltResult, Position};
use serde_json::Value;
use std::sync::Mutex;
use std::time::Instant;

/// What every registered function of one run shares: the client, fleet concurrency, the deadline and stop flag, the audit log, the planner, the clock. Build one with [`super::Host::builder`].
pub struct Runtime {
    pub(crate) client: Client,
    /// Fleet concurrency (`--parallel`).
    pub(crate) parallel: usize,
    /// `--timeout`: the wall-clock end of the run.
    pub(crate) deadline: Option<Instant>,
    /// The `--timeout` the deadline came from, for the message when it is hit.
    pub(crate) time_limit: Option<std::time::Duration>,
    pub(crate) quiet: bool,
    /// Spinners on a terminal (`barrack` sets it when stderr is one).
    pub(crate) progress: bool,
    /// Without a terminal, one plain line per finished wait or fleet action. Off for embedders
    /// (`Runtime::new`); `barrack` turns it on unless `-q`.
    pub(crate) events: bool,
    /// Where calls go: sent (and audited), or planned (`plan` / `--dry-run`).
    pub(crate) calls: Box<dyn Calls>,
    /// Serialises stderr lines from parallel fleet threads.
    pub(crate) stderr: Mutex<()>,
    /// A simulator's clock (`barrack test`, `repl --sim`): `now()`, sleeps and waits follow it.
    /// Set once, also after the runtime is shared.
    pub(crate) clock: std::sync::OnceLock<std::sync::Arc<dyn super::clock::Clock>>,
    /// Set by `--timeout`, Ctrl-C or the memory bound; read by the engine, waits and fleets.
    pub(crate) stop: Stop,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop.close();
    }
}

impl Runtime {
    /// A runtime with defaults: 16 fleet workers, no deadline, no audit log, the system clock.
    pub fn new(client: Client) -> Runtime {
        Runtime {
            client: client.clone(),
            parallel: 16,
            deadline: None,
            time_limit: None,
            quiet: false,
            progress: false,
            events: false,
            calls: Box::new(Sent {
                client: client.clone(),
                audit: None,
            }),
            stderr: Mutex::new(()),
            stop: Stop::new(),
            clock: std::sync::OnceLock::new(),
        }
    }

    /// The planner of a planning run ([`super::HostBuilder::plan`]): the changes it recorded.
    pub fn planner(&self) -> Option<&Planner> {
        self.calls.planner()
    }

    /// Call an operation: planned if planning and it mutates, audited if it mutates.
    pub fn call(&self, op: &'static Op, args: &Args) -> Result<Value, ApiError> {
        self.execute(op, args).map(|a| a.data)
    }

    /// Call an operation and keep the whole answer (status, request id).
    pub fn execute(&self, op: &'static Op, args: &Args) -> Result<crate::api::Answer, ApiError> {
        if self.calls.planner().is_some() {
            // Planned calls are answered at once: nothing is in flight to track or stop.
            return self.calls.execute(op, args);
        }
        let target = ["id", "instance_id", "name"]
            .iter()
            .find_map(|k| args.get(*k).and_then(Value::as_str))
            .map(|t| format!(" {t}"))
            .unwrap_or_default();
        let doing = self.stop.doing(format!("{}{target}", op.name));
        let outcome = self.calls.execute(op, args);
        drop(doing);
        if op.mutates && self.stop.reason().is_some() {
            let result = match &outcome {
                Ok(answer) => match answer.data.get("id").and_then(Value::as_str) {
                    Some(id) if target.is_empty() => format!("done, {id}"),
                    _ => "done".to_string(),
                },
                Err(e) => format!("failed: {}", e.code),
            };
            self.stop
                .finished_after_stop(format!("{}{target} ({result})", op.name));
        }
        outcome
    }

    /// Why the run is stopping, if it is: the flag, or a deadline passed that no timer has
    /// flagged yet (an embedder that set `deadline` without [`Runtime::arm`]).
    pub fn stopping(&self) -> Option<StopReason> {
        if let Some(reason) = self.stop.reason() {
            return Some(reason);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.stop.request(StopReason::Timeout);
            return self.stop.reason();
        }
        None
    }

    /// `Err(terminated)` once the run is stopping: a native function returns it to end the run.
    pub fn check_stop(&self) -> Result<(), Box<EvalAltResult>> {
        match self.stopping() {
            Some(reason) => Err(terminated(reason)),
            None => Ok(()),
        }
    }

    /// Start the timer of `deadline` (once per runtime; `Host::new` does it).
    pub fn arm(&self) {
        if let Some(deadline) = self.deadline {
            self.stop.arm(deadline);
        }
    }

    /// A line on stderr (unless `-q`), never interleaved with another thread's.
    pub fn say(&self, line: &str) {
        if self.quiet {
            return;
        }
        let _guard = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        eprintln!("{line}");
    }

    /// Whether the run is stopping because its timeout passed.
    pub fn past_deadline(&self) -> bool {
        self.stopping() == Some(StopReason::Timeout)
    }

    /// Scripts see the server's clock: the simulator's when it runs faster than real time.
    pub fn now(&self) -> jiff::Timestamp {
        if let Some(clock) = self.clock.get() {
            return clock.now();
        }
        self.client.server_now()
    }
}

/// The error that ends a run for a stop; scripts cannot catch it.
pub fn terminated(reason: StopReason) -> Box<EvalAltResult> {
    EvalAltResult::ErrorTerminated(reason.token().into(), Position::NONE).into()
}
