//! The rule shape firewalls and instances' security rules share (VMSecurityRuleRequest /
//! AddFirewallRuleRequest): its own module, so the instance and firewall handlers need not import
//! each other for it.

use crate::sim::reply::{FieldErrors, Refusal};
use serde_json::{Map, Value};

/// Supported protocols: name and whether it takes ports.
pub const PROTOCOLS: [(&str, bool); 7] = [
    ("TCP", true),
    ("UDP", true),
    ("ICMP", false),
    ("SCTP", true),
    ("GRE", false),
    ("ESP", false),
    ("AH", false),
];

fn prefixed(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else {
        format!("{prefix}.{field}")
    }
}

/// Check a rule (VMSecurityRuleRequest / AddFirewallRuleRequest) and return it normalised.
/// Problems go to `errors` under `prefix.field`.
pub fn check_rule(
    rule: &Value,
    errors: &mut FieldErrors,
    prefix: &str,
) -> Result<Map<String, Value>, Refusal> {
    let Some(map) = rule.as_object() else {
        return Err(Refusal::field(
            if prefix.is_empty() { "rule" } else { prefix },
            "A rule must be an object",
        ));
    };
    let text = |field: &str| map.get(field).and_then(Value::as_str).map(str::to_string);
    let protocol = text("protocol").map(|p| p.to_ascii_uppercase());
    let direction = text("direction")
        .unwrap_or_else(|| "ingress".into())
        .to_ascii_lowercase();
    let ethertype = text("ethertype").unwrap_or_else(|| "IPv4".into());
    let cidr = text("remote_ip_prefix").unwrap_or_else(|| {
        if ethertype == "IPv6" {
            "::/0".into()
        } else {
            "0.0.0.0/0".into()
        }
    });
    let takes_ports = match &protocol {
        None => {
            errors.add(&prefixed(prefix, "protocol"), "This field is required");
            false
        }
        Some(p) => match PROTOCOLS.iter().find(|(name, _)| name == p) {
            Some((_, ports)) => *ports,
            None => {
                let names: Vec<&str> = PROTOCOLS.iter().map(|(n, _)| *n).collect();
                errors.add(
                    &prefixed(prefix, "protocol"),
                    format!(
                        "Unsupported protocol {p:?}; supported: {}",
                        names.join(", ")
                    ),
                );
                false
            }
        },
    };
    if direction != "ingress" && direction != "egress" {
        errors.add(
            &prefixed(prefix, "direction"),
            "Direction must be ingress or egress",
        );
    }
    if ethertype != "IPv4" && ethertype != "IPv6" {
        errors.add(
            &prefixed(prefix, "ethertype"),
            "Ethertype must be IPv4 or IPv6",
        );
    }
    if let Err(why) = check_cidr(&cidr, &ethertype) {
        errors.add(&prefixed(prefix, "remote_ip_prefix"), why);
    }
    let port = |field: &str| map.get(field).and_then(Value::as_i64);
    let (mut low, mut high) = (port("port_range_min"), port("port_range_max"));
    if let Some(range) = text("port_range") {
        let mut parts = range.splitn(2, '-');
        low = parts.next().and_then(|p| p.trim().parse().ok());
        high = parts.next().map_or(low, |p| p.trim().parse().ok());
        if low.is_none() || high.is_none() {
            errors.add(
                &prefixed(prefix, "port_range"),
                "Port range must look like 22 or 8000-9000",
            );
        }
    }
    if takes_ports {
        match (low, high.or(low)) {
            (Some(l), Some(h))
                if (1..=65535).contains(&l) && (1..=65535).contains(&h) && l <= h =>
            {
                high = Some(h);
            }
            (None, None) => {}
            _ => errors.add(
                &prefixed(prefix, "port_range_min"),
                "Ports must be 1-65535, with min ≤ max",
            ),
        }
    }
    let mut out = Map::new();
    out.insert("protocol".into(), protocol.unwrap_or_default().into());
    out.insert("direction".into(), direction.into());
    out.insert("ethertype".into(), ethertype.into());
    out.insert("remote_ip_prefix".into(), cidr.into());
    out.insert(
        "port_range_min".into(),
        if takes_ports { low.into() } else { Value::Null },
    );
    out.insert(
        "port_range_max".into(),
        if takes_ports {
            high.into()
        } else {
            Value::Null
        },
    );
    Ok(out)
}

fn check_cidr(cidr: &str, ethertype: &str) -> Result<(), String> {
    let (addr, bits) = cidr
        .split_once('/')
        .unwrap_or((cidr, if ethertype == "IPv6" { "128" } else { "32" }));
    let bad = || format!("{cidr:?} is not a valid {ethertype} CIDR");
    let bits: u8 = bits.parse().map_err(|_| bad())?;
    match ethertype {
        "IPv6" => {
            addr.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
            if bits > 128 {
                return Err(bad());
            }
        }
        _ => {
            addr.parse::<std::net::Ipv4Addr>().map_err(|_| bad())?;
            if bits > 32 {
                return Err(bad());
            }
        }
    }
    Ok(())
}
