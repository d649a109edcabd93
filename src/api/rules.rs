//! The validation rules the reference prints. Only the two startup-script messages are printed
//! there; every other message is barrack's wording (see `choices`, "message wording"). The
//! simulator answers with them and the Rhai `deploy` checks them before sending, so both speak
//! the same words.

/// The largest startup script the API accepts, in bytes.
pub const SCRIPT_MAX_BYTES: usize = 16_384;
/// The characters a script name may contain.
pub const SCRIPT_NAME_CHARS: &str =
    "Name must contain only alphanumeric characters, spaces, hyphens, underscores, and dots";
/// The API's message for a script over [`SCRIPT_MAX_BYTES`].
pub const SCRIPT_TOO_LARGE: &str = "Script content must be 16384 bytes or less";
/// The largest volume the API accepts, in GB (1,048,576, as the troubleshooting page prints).
pub const VOLUME_MAX_GB: i64 = super::choices::VOLUME_MAX_GB;
/// The smallest OS volume, in GB.
pub const OS_VOLUME_MIN_GB: i64 = 100;
/// The largest OS volume, in GB.
pub const OS_VOLUME_MAX_GB: i64 = 10_000;

/// Instance name: 3–30 letters, digits, `-`, `_`; not starting or ending with `-` or `_`.
pub fn instance_name(name: &str) -> Result<(), String> {
    name_rule(name, 3)
}

/// Name of an instance restored from a snapshot: 2–30 characters, same character set.
pub fn restored_instance_name(name: &str) -> Result<(), String> {
    name_rule(name, 2)
}

fn name_rule(name: &str, min: usize) -> Result<(), String> {
    let len = name.chars().count();
    if !(min..=30).contains(&len) {
        return Err(format!(
            "Instance name must be {min}-30 characters long (got {len})"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(
            "Instance name may contain only letters, numbers, hyphens and underscores".into(),
        );
    }
    if name.starts_with(['-', '_']) || name.ends_with(['-', '_']) {
        return Err("Instance name cannot start or end with a hyphen or underscore".into());
    }
    Ok(())
}

/// Names of scripts and volumes: letters, digits, spaces, `-`, `_`, `.`.
fn dotted_name(name: &str, what: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err(format!("{what} name is required"));
    }
    if name.chars().count() > 255 {
        return Err(format!("{what} name must be 255 characters or less"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
    {
        return Err(SCRIPT_NAME_CHARS.into());
    }
    Ok(())
}

/// Check a script name as the API does; `Err` says what is wrong.
pub fn script_name(name: &str) -> Result<(), String> {
    dotted_name(name, "Script")
}

/// Check a volume name as the API does; `Err` says what is wrong.
pub fn volume_name(name: &str) -> Result<(), String> {
    dotted_name(name, "Volume")
}

/// Check a script's content as the API does (size); `Err` says what is wrong.
pub fn script_content(body: &str) -> Result<(), String> {
    if body.len() > SCRIPT_MAX_BYTES {
        return Err(SCRIPT_TOO_LARGE.into());
    }
    Ok(())
}

/// Volume size in GB: a positive integer, ≥ 10 (≥ 100 when bootable), ≤ 1,048,576.
pub fn volume_size(size: i64, bootable: bool) -> Result<(), String> {
    if size <= 0 {
        return Err("Size must be a positive integer".into());
    }
    let min = if bootable { 100 } else { 10 };
    if size < min {
        let kind = if bootable { "Bootable" } else { "Standard" };
        return Err(format!("{kind} volumes must be at least {min} GB"));
    }
    if size > VOLUME_MAX_GB {
        return Err(format!("Volume size cannot exceed {VOLUME_MAX_GB} GB"));
    }
    Ok(())
}

/// Check an OS volume size in GB as the API does; `Err` says what is wrong.
pub fn os_volume_size(size: i64) -> Result<(), String> {
    if !(OS_VOLUME_MIN_GB..=OS_VOLUME_MAX_GB).contains(&size) {
        return Err(format!(
            "OS volume size must be between {OS_VOLUME_MIN_GB} and {OS_VOLUME_MAX_GB} GB"
        ));
    }
    Ok(())
}

/// Check a GPU count as the API does; `Err` says what is wrong.
pub fn gpu_count(count: i64) -> Result<(), String> {
    if !super::facts::GPU_COUNTS.contains(&count) {
        return Err(format!("GPU count must be 1, 2, 4 or 8 (got {count})"));
    }
    Ok(())
}

/// An OpenSSH public key line: a known type and base64 data.
pub fn public_key(key: &str) -> Result<(), String> {
    let mut parts = key.split_whitespace();
    let kind = parts.next().unwrap_or("");
    let data = parts.next().unwrap_or("");
    let known = [
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
    ];
    if !known.contains(&kind) {
        return Err(
            "Public key must be an OpenSSH key (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)".into(),
        );
    }
    if data.len() < 16
        || !data
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
    {
        return Err("Public key data is not valid base64".into());
    }
    Ok(())
}

/// Check an SSH key name as the API does; `Err` says what is wrong.
pub fn ssh_key_name(name: &str) -> Result<(), String> {
    let len = name.chars().count();
    if !(1..=64).contains(&len) {
        return Err("SSH key name must be 1-64 characters long".into());
    }
    Ok(())
}

/// Refusal of `detach_firewall` for instances the firewall is not attached to.
pub fn firewall_not_attached(
    fw: &str,
    name: &str,
    strangers: &[&str],
    attached: &[String],
) -> String {
    let attached = if attached.is_empty() {
        "none".to_string()
    } else {
        attached.join(", ")
    };
    format!(
        "Firewall {fw} ({name}) is not attached to {}; it is attached to: {attached}",
        strangers.join(", ")
    )
}

/// Refusal of `delete_firewall` while instances still carry the firewall.
pub fn firewall_still_attached(fw: &str, name: &str, attached: &[String]) -> String {
    let ids = attached.join(", ");
    format!(
        "Firewall {fw} ({name}) is attached to {} instance(s): {ids}; detach it first: detach_firewall(fw, [{ids}])",
        attached.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names() {
        assert!(instance_name("train-1").is_ok());
        assert!(instance_name("a_b").is_ok());
        assert!(instance_name("ab").unwrap_err().contains("3-30"));
        assert!(instance_name(&"a".repeat(31)).unwrap_err().contains("3-30"));
        assert!(instance_name("-abc").unwrap_err().contains("start or end"));
        assert!(instance_name("abc_").unwrap_err().contains("start or end"));
        assert!(instance_name("a b c").unwrap_err().contains("only letters"));
        assert!(restored_instance_name("ab").is_ok());
        assert!(restored_instance_name("a").is_err());
    }

    #[test]
    fn script_rules_use_the_printed_messages() {
        assert_eq!(script_name("bad/name").unwrap_err(), SCRIPT_NAME_CHARS);
        assert!(script_name("setup v1.2_final-x").is_ok());
        assert_eq!(
            script_content(&"x".repeat(16_385)).unwrap_err(),
            SCRIPT_TOO_LARGE
        );
        assert!(script_content(&"x".repeat(16_384)).is_ok());
    }

    #[test]
    fn volume_sizes() {
        assert!(volume_size(10, false).is_ok());
        assert!(volume_size(9, false).unwrap_err().contains("at least 10"));
        assert!(volume_size(99, true).unwrap_err().contains("at least 100"));
        assert_eq!(
            volume_size(0, false).unwrap_err(),
            "Size must be a positive integer"
        );
        assert!(volume_size(1_048_577, false).is_err());
        assert!(volume_size(1_048_576, true).is_ok());
    }
}
