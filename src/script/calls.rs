//! Where one run's API calls go: sent to the API (each mutation audited when there is a log),
//! or planned (`barrack plan`, `--dry-run`).

use super::audit::AuditLog;
use super::plan::Planner;
use crate::api::{Answer, ApiError, Args, Client, Op};

/// Where one run's API calls go. The runtime holds one, so the functions scripts call never
/// choose between sending, auditing and planning themselves.
pub(crate) trait Calls: Send + Sync {
    /// Answer `op` called with `args`.
    fn execute(&self, op: &'static Op, args: &Args) -> Result<Answer, ApiError>;

    /// The plan being recorded, when calls are planned.
    fn planner(&self) -> Option<&Planner> {
        None
    }
}

/// Calls sent to the API; each mutation appended to the audit log when there is one.
pub(crate) struct Sent {
    pub(crate) client: Client,
    pub(crate) audit: Option<AuditLog>,
}

impl Calls for Sent {
    fn execute(&self, op: &'static Op, args: &Args) -> Result<Answer, ApiError> {
        let outcome = self.client.execute(op, args);
        if let (true, Some(audit)) = (op.mutates, &self.audit) {
            audit.record(op, args, &outcome);
        }
        outcome
    }
}

/// Calls planned: mutations recorded, reads answered as if they had happened.
pub(crate) struct Planned {
    pub(crate) client: Client,
    pub(crate) planner: Planner,
}

impl Calls for Planned {
    fn execute(&self, op: &'static Op, args: &Args) -> Result<Answer, ApiError> {
        if op.mutates {
            self.planner.mutate(&self.client, op, args)
        } else {
            self.planner.read(&self.client, op, args)
        }
    }

    fn planner(&self) -> Option<&Planner> {
        Some(&self.planner)
    }
}
