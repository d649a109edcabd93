//! What every registered function shares for one run: the client, fleet concurrency, the
//! deadline, the audit log, the planner, and how to report progress.

use super::plan::Planner;
use crate::api::{ApiError, Args, Client, Op};
use serde_json::{json, Value};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// One JSON line per mutating call: time, op, target, outcome, request_id.
pub struct AuditLog {
    file: Mutex<File>,
}

impl AuditLog {
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        Ok(AuditLog {
            file: Mutex::new(options.open(path)?),
        })
    }

    pub fn record(&self, op: &Op, args: &Args, outcome: &Result<crate::api::Answer, ApiError>) {
        let from_args = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| args.get(*k).and_then(Value::as_str))
                .map(str::to_string)
        };
        let created = outcome
            .as_ref()
            .ok()
            .and_then(|a| a.data.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let target = from_args(&["id", "instance_id"])
            .or(created)
            .or_else(|| from_args(&["name"]));
        let mut line = json!({
            "time": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "op": op.name,
            "target": target,
        });
        match outcome {
            Ok(answer) => {
                line["outcome"] = "ok".into();
                line["status"] = answer.status.into();
                line["request_id"] = answer.request_id.clone().into();
            }
            Err(err) => {
                line["outcome"] = "error".into();
                line["status"] = err.status.into();
                line["request_id"] = err.request_id.clone().into();
                line["code"] = err.code.clone().into();
                line["message"] = err.message.clone().into();
            }
        }
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(file, "{line}");
    }
}

pub struct Runtime {
    pub client: Client,
    /// Fleet concurrency (`--parallel`).
    pub parallel: usize,
    /// `--timeout`: the wall-clock end of the run.
    pub deadline: Option<Instant>,
    /// The `--timeout` the deadline came from, for the message when it is hit.
    pub time_limit: Option<std::time::Duration>,
    pub quiet: bool,
    /// Spinners on a terminal (`barrack` sets it when stderr is one).
    pub progress: bool,
    /// Without a terminal, one plain line per finished wait or fleet action. Off for embedders
    /// (`Runtime::new`); `barrack` turns it on unless `-q`.
    pub events: bool,
    pub audit: Option<AuditLog>,
    /// `plan` / `--dry-run`: mutations are recorded, not sent.
    pub planner: Option<Planner>,
    /// Serialises stderr lines from parallel fleet threads.
    pub stderr: Mutex<()>,
    /// A simulator's clock (`barrack test`, `repl --sim`): `now()`, sleeps and waits follow it.
    /// Set once, also after the runtime is shared.
    pub clock: std::sync::OnceLock<std::sync::Arc<dyn super::clock::Clock>>,
}

impl Runtime {
    pub fn new(client: Client) -> Runtime {
        Runtime {
            client,
            parallel: 16,
            deadline: None,
            time_limit: None,
            quiet: false,
            progress: false,
            events: false,
            audit: None,
            planner: None,
            stderr: Mutex::new(()),
            clock: std::sync::OnceLock::new(),
        }
    }

    /// Call an operation: planned if planning and it mutates, audited if it mutates.
    pub fn call(&self, op: &'static Op, args: &Args) -> Result<Value, ApiError> {
        self.execute(op, args).map(|a| a.data)
    }

    pub fn execute(&self, op: &'static Op, args: &Args) -> Result<crate::api::Answer, ApiError> {
        if let Some(planner) = &self.planner {
            return if op.mutates {
                planner.mutate(&self.client, op, args)
            } else {
                planner.read(&self.client, op, args)
            };
        }
        let outcome = self.client.execute(op, args);
        if op.mutates {
            if let Some(audit) = &self.audit {
                audit.record(op, args, &outcome);
            }
        }
        outcome
    }

    /// A line on stderr (unless `-q`), never interleaved with another thread's.
    pub fn say(&self, line: &str) {
        if self.quiet {
            return;
        }
        let _guard = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        eprintln!("{line}");
    }

    pub fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Scripts see the server's clock: the simulator's when it runs faster than real time.
    pub fn now(&self) -> jiff::Timestamp {
        if let Some(clock) = self.clock.get() {
            return clock.now();
        }
        self.client.server_now()
    }
}
