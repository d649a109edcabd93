//! The audit log: one JSON line per mutating call, appended by every run that is given one.

use crate::api::{Answer, ApiError, Args, Op};
use serde_json::{json, Value};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// One JSON line per mutating call: time, op, target, outcome, request_id.
pub struct AuditLog {
    file: Mutex<File>,
}

impl AuditLog {
    /// Open (or create, mode 0600) the log at `path` for appending.
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

    /// Append the line for one call of `op` with `args` and its outcome.
    pub fn record(&self, op: &Op, args: &Args, outcome: &Result<Answer, ApiError>) {
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
        // One `write(2)` per line on an O_APPEND file: lines of concurrent processes never
        // interleave (a `writeln!` on a `File` issues one write per formatted piece).
        let mut text = line.to_string();
        text.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = file.write_all(text.as_bytes());
    }
}
