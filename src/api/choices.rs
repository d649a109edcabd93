//! Where the reference contradicts itself or prints nothing, barrack has to pick. Every such
//! pick lives here, once: the values the code uses, and a table saying what the reference
//! says, what was chosen and which operations it concerns. `barrack ops NAME` prints the rows
//! of NAME, so nobody mistakes a chosen word or number for the service's.
//!
//! When the live service turns out to differ, correct the value here (and the row's text).

use crate::api::OpId;

/// Largest volume in GB. Troubleshooting prints "Maximum size: 1,048,576GB (1TB)": the number
/// is 1 PiB in GB, the parenthesis says 1 TB. The number is kept, since it is the more specific.
pub const VOLUME_MAX_GB: i64 = 1_048_576;

/// How long (simulated) a firewall rule takes to apply. The reference says "up to 10 minutes".
pub const FIREWALL_RULE_APPLY_SECONDS: f64 = 120.0;

/// The firewall state in which its rules are in force ("Confirm firewall is in SUCCESS state").
pub const FIREWALL_READY: &str = "SUCCESS";
/// The firewall state while a rule change propagates. The reference names no such state; it
/// says only "Verify firewall is not in transitional state".
pub const FIREWALL_UPDATING: &str = "UPDATING";

/// Why an advanced-region volume boot refuses SSH keys ("SSH Key Invalid for Volume Boot").
pub const SSH_KEYS_ON_VOLUME_BOOT: &str = "SSH keys cannot be used with a volume boot";

/// The reason a restore ends in ERROR when its snapshot is deleted under it.
pub const SNAPSHOT_DELETED_DURING_RESTORE: &str = "Snapshot deleted during restore";

/// `toggle_public_ip` follows deploy's `public_ip`: a legacy-tier switch. `Err` is the refusal
/// for an instance (`label`, e.g. "instance BRK-… (name)") of another tier.
pub fn public_ip_toggle(region: &str, label: &str) -> Result<(), String> {
    if super::facts::is_advanced(region) {
        return Err(format!(
            "The public IP can be toggled on legacy-tier instances only; {label} is in {region} (advanced tier), whose instances always have one"
        ));
    }
    Ok(())
}

/// One decision the reference leaves open.
#[derive(Debug)]
pub struct Choice {
    pub topic: &'static str,
    /// What the reference prints (or that it prints nothing).
    pub reference: &'static str,
    pub chosen: &'static str,
    /// Catalog operations the choice shapes.
    pub ops: &'static [OpId],
}

pub const CHOICES: &[Choice] = &[
    Choice {
        topic: "billing start",
        reference: "deploy: \"Billing begins immediately upon deployment\"; VM management: \"Billing begins when VM reaches ACTIVE state\"; restore: from \"Restore completion\"",
        chosen: "instances are billed from the moment they are ACTIVE (nothing while CREATING or RESTORING); disks keep billing while SHUTOFF or HIBERNATED",
        ops: &[OpId::Deploy, OpId::RestoreSnapshot, OpId::StartInstance, OpId::RestoreInstance, OpId::InstanceBilling],
    },
    Choice {
        topic: "data volumes of stopped instances",
        reference: "nothing: hibernation \"releases resources\", storage costs are \"based on volume size and type\"",
        chosen: "every data volume bills its own storage, attached or not, whatever the state of its instance (see volume_billing); hibernating or stopping stops only GPU billing",
        ops: &[OpId::HibernateInstance, OpId::StopInstance, OpId::AttachVolumes, OpId::VolumeBilling, OpId::InstanceBilling],
    },
    Choice {
        topic: "volume size maximum",
        reference: "\"Maximum size: 1,048,576GB (1TB)\" — the number and the parenthesis disagree",
        chosen: "1,048,576 GB (the printed number)",
        ops: &[OpId::CreateVolume, OpId::ResizeVolume, OpId::VolumeTypes],
    },
    Choice {
        topic: "SSH keys on a volume boot",
        reference: "\"Not required for volume boot deployments (Advanced regions) - uses existing volume SSH configuration\", and the error title \"SSH Key Invalid for Volume Boot\"",
        chosen: "an advanced-region volume boot refuses SSH keys (400 on ssh_key_ids); a legacy volume boot takes them but does not need them",
        ops: &[OpId::Deploy],
    },
    Choice {
        topic: "regions' GPU sets",
        reference: "deploy: advanced regions offer B300/B200/H200/H100-SXM5, legacy ones the PCIe models, L40 and RTX-A6000; troubleshooting: \"All regions offer the same GPU types\"",
        chosen: "the per-tier sets of the deploy page; a model outside its region's tier is refused naming the tier",
        ops: &[OpId::Deploy, OpId::Quote, OpId::GpuStocks, OpId::RestoreSnapshot],
    },
    Choice {
        topic: "message wording",
        reference: "only the titles of errors (e.g. \"Duplicate Instance Name\") and the two startup-script messages are printed",
        chosen: "every other message is barrack's own wording, built around the printed title where there is one",
        ops: &[OpId::Deploy, OpId::RestoreSnapshot, OpId::CreateVolume, OpId::CreateFirewall, OpId::AddFirewallRule, OpId::CreateSshKey, OpId::Snapshot],
    },
    Choice {
        topic: "detaching a firewall",
        reference: "no detach operation is listed; troubleshooting says \"Detach the firewall from all VMs first\" and \"Wait for detachment to complete\"",
        chosen: "attach_firewall only adds instances; detach_firewall (POST /firewalls/{id}/detach/, a chosen route — correct it with --catalog) removes them; deleting an instance also detaches it",
        ops: &[OpId::AttachFirewall, OpId::DetachFirewall, OpId::DeleteFirewall],
    },
    Choice {
        topic: "firewall and rule states",
        reference: "\"Rules may take up to 10 minutes to fully apply\"; \"Confirm firewall is in SUCCESS state\"; \"Verify firewall is not in transitional state\"",
        chosen: "a rule is APPLYING until its applies_at (2 simulated minutes), then ACTIVE; the firewall is UPDATING while any rule applies, SUCCESS otherwise; wait_status(fw, \"SUCCESS\") waits for the rules; a firewall is deleted only when SUCCESS and detached",
        ops: &[OpId::CreateFirewall, OpId::AddFirewallRule, OpId::RemoveFirewallRule, OpId::Firewall, OpId::Firewalls, OpId::DeleteFirewall],
    },
    Choice {
        topic: "public IP tier",
        reference: "\"Public IP Configuration\" is listed under legacy regions only; advanced instances get an IP",
        chosen: "toggle_public_ip, like deploy's public_ip, is for legacy-tier instances; on an advanced instance it is refused naming the tier",
        ops: &[OpId::TogglePublicIp, OpId::Deploy],
    },
    Choice {
        topic: "snapshot deleted during restore",
        reference: "\"Snapshot Deleted During Restore\" is listed among restore errors, with no text",
        chosen: "deleting the snapshot is accepted; the restore reading it ends in ERROR with error \"Snapshot deleted during restore: …\"",
        ops: &[OpId::RestoreSnapshot, OpId::DeleteSnapshot],
    },
    Choice {
        topic: "creating a startup script",
        reference: "\"Create a startup script\" answers 201 with no body",
        chosen: "create_script then finds the new script by its name (names are unique per user) and returns its Script handle",
        ops: &[OpId::CreateScript],
    },
];

/// The choices that shape one operation.
pub fn for_op(id: OpId) -> impl Iterator<Item = &'static Choice> {
    CHOICES.iter().filter(move |c| c.ops.contains(&id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_choice_names_an_operation() {
        for choice in CHOICES {
            assert!(!choice.ops.is_empty(), "{}", choice.topic);
        }
    }
}
