//! The instance lifecycle of the contract: which state each action needs, the transitional
//! state it passes through, and where it settles. The simulator enforces it; the planner
//! predicts with it; both word a refusal the same way.

use super::catalog::OpId;

/// Every state an instance can be in (VMStatus): resting, transitional and ERROR.
pub const VM_STATES: [&str; 11] = [
    "CREATING",
    "ACTIVE",
    "STOPPING",
    "SHUTOFF",
    "STARTING",
    "REBOOTING",
    "HIBERNATING",
    "HIBERNATED",
    "RESTORING",
    "DELETING",
    "ERROR",
];

pub struct Transition {
    pub op: OpId,
    /// How the refusal names the action: "Cannot hibernate instance …".
    pub verb: &'static str,
    /// States the action is accepted in.
    pub from: &'static [&'static str],
    /// The transitional state right after the call (`None`: changes no state).
    pub via: Option<&'static str>,
    /// Where it settles; `None` for a delete (the instance is gone).
    pub to: Option<&'static str>,
}

pub const TRANSITIONS: &[Transition] = &[
    Transition {
        op: OpId::StartInstance,
        verb: "start",
        from: &["SHUTOFF", "HIBERNATED"],
        via: Some("STARTING"),
        to: Some("ACTIVE"),
    },
    Transition {
        op: OpId::StopInstance,
        verb: "stop",
        from: &["ACTIVE"],
        via: Some("STOPPING"),
        to: Some("SHUTOFF"),
    },
    Transition {
        op: OpId::RebootInstance,
        verb: "reboot",
        from: &["ACTIVE"],
        via: Some("REBOOTING"),
        to: Some("ACTIVE"),
    },
    Transition {
        op: OpId::HibernateInstance,
        verb: "hibernate",
        from: &["ACTIVE"],
        via: Some("HIBERNATING"),
        to: Some("HIBERNATED"),
    },
    Transition {
        op: OpId::RestoreInstance,
        verb: "restore",
        from: &["HIBERNATED"],
        via: Some("RESTORING"),
        to: Some("ACTIVE"),
    },
    Transition {
        op: OpId::DeleteInstance,
        verb: "delete",
        from: &["ACTIVE", "SHUTOFF", "HIBERNATED", "ERROR"],
        via: Some("DELETING"),
        to: None,
    },
    Transition {
        op: OpId::TogglePublicIp,
        verb: "toggle the public IP of",
        from: &["ACTIVE", "SHUTOFF", "HIBERNATED"],
        via: None,
        to: None,
    },
    Transition {
        op: OpId::Snapshot,
        verb: "snapshot",
        from: &["ACTIVE"],
        via: None,
        to: None,
    },
    Transition {
        op: OpId::AttachVolumes,
        verb: "attach volumes to",
        from: &["ACTIVE"],
        via: None,
        to: None,
    },
];

pub fn transition(op: OpId) -> Option<&'static Transition> {
    TRANSITIONS.iter().find(|t| t.op == op)
}

/// The 409 message for an action asked of an instance in the wrong state.
pub fn wrong_state(t: &Transition, id: &str, name: &str, status: &str) -> String {
    format!(
        "Cannot {} instance {id} ({name}): it is {status}; {} needs {}",
        t.verb,
        t.verb.split(' ').next().unwrap_or(t.verb),
        t.from.join(" or ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_state_and_what_the_action_needs() {
        let msg = wrong_state(
            transition(OpId::HibernateInstance).unwrap(),
            "BRK-1VM",
            "a",
            "SHUTOFF",
        );
        assert_eq!(
            msg,
            "Cannot hibernate instance BRK-1VM (a): it is SHUTOFF; hibernate needs ACTIVE"
        );
    }
}
