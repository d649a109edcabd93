//! Firewalls and their rules, and the security-rule shape instances share with them.

use super::instances::instance_json;
use super::{list, missing, public, Outcome, Req};
use crate::api::Kind;
use crate::sim::reply::{FieldErrors, Refusal, Reply};
use crate::sim::world::*;
use serde_json::{json, Map, Value};

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

/// A rule takes this long (simulated) to apply; the reference says "up to 10 minutes".
const RULE_APPLY_SECONDS: f64 = 120.0;

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

pub fn firewalls(world: &mut World, req: &Req) -> Outcome {
    let items = world.firewalls.values().map(|f| public(f, &[])).collect();
    list(items, req, "advanced")
}

pub fn firewall(world: &mut World, req: &Req) -> Outcome {
    let fw = world
        .firewalls
        .get(req.id())
        .ok_or_else(|| missing(Kind::Firewall, req.id()))?;
    Ok(Reply::ok(public(fw, &[]), tier(&fw.region)))
}

pub fn protocols(_world: &mut World, _req: &Req) -> Outcome {
    let items: Vec<Value> = PROTOCOLS
        .iter()
        .map(|(name, ports)| json!({"name": name, "supports_ports": ports}))
        .collect();
    Ok(Reply::ok(Value::Array(items), "advanced"))
}

fn new_rule(world: &mut World, mut rule: Map<String, Value>) -> Value {
    rule.insert("id".into(), world.new_id("rule-").into());
    rule.insert("status".into(), "APPLYING".into());
    rule.insert(
        "applies_at".into(),
        (world.clock + RULE_APPLY_SECONDS).into(),
    );
    Value::Object(rule)
}

pub fn create_firewall(world: &mut World, req: &Req) -> Outcome {
    let mut errors = FieldErrors::default();
    let name = req.text("name", &mut errors);
    let region = req.text("region", &mut errors);
    let description = req.text("description", &mut errors).unwrap_or_default();
    match &name {
        None => errors.add("name", "This field is required"),
        Some(n) if n.trim().is_empty() || n.chars().count() > 64 => {
            errors.add("name", "Firewall name must be 1-64 characters long")
        }
        _ => {}
    }
    match &region {
        None => errors.add("region", "This field is required"),
        Some(r) if !is_advanced(r) => errors.add(
            "region",
            format!("Firewalls are available in advanced regions only ({r:?} is not one)"),
        ),
        _ => {}
    }
    let mut rules = Vec::new();
    match req.body.get("rules") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, rule) in list.iter().enumerate() {
                rules.push(check_rule(rule, &mut errors, &format!("rules[{i}]"))?);
            }
        }
        Some(_) => errors.add("rules", "Must be a list of rules"),
    }
    errors.finish()?;
    let (name, region) = (name.unwrap_or_default(), region.unwrap_or_default());
    if world.firewalls.values().any(|f| f.name == name) {
        return Err(Refusal::conflict(format!(
            "A firewall named {name:?} already exists"
        )));
    }
    let rules = rules.into_iter().map(|r| new_rule(world, r)).collect();
    let id = world.new_id(Kind::Firewall.id_prefix());
    let firewall = Firewall {
        id: id.clone(),
        name,
        region,
        description,
        rules,
        instance_ids: Vec::new(),
        created_at: world.timestamp(),
    };
    let data = public(&firewall, &[]);
    world.firewalls.insert(id, firewall);
    Ok(Reply::created(data, "advanced"))
}

pub fn delete_firewall(world: &mut World, req: &Req) -> Outcome {
    let fw = world
        .firewalls
        .get(req.id())
        .ok_or_else(|| missing(Kind::Firewall, req.id()))?;
    if !fw.instance_ids.is_empty() {
        return Err(Refusal::conflict(format!(
            "Firewall {} ({}) is attached to {} instance(s): {}; detach it first (attach it to an empty list)",
            fw.id,
            fw.name,
            fw.instance_ids.len(),
            fw.instance_ids.join(", ")
        )));
    }
    let id = fw.id.clone();
    world.firewalls.remove(&id);
    Ok(Reply::ok(json!({"id": id, "deleted": true}), "advanced"))
}

pub fn add_rule(world: &mut World, req: &Req) -> Outcome {
    if !world.firewalls.contains_key(req.id()) {
        return Err(missing(Kind::Firewall, req.id()));
    }
    let mut errors = FieldErrors::default();
    let rule = check_rule(&Value::Object(req.body.clone()), &mut errors, "")?;
    errors.finish()?;
    let rule = new_rule(world, rule);
    let fw = world
        .firewalls
        .get_mut(req.id())
        .ok_or_else(|| missing(Kind::Firewall, req.id()))?;
    fw.rules.push(rule.clone());
    Ok(Reply::created(
        json!({"firewall_id": fw.id, "rule": rule}),
        "advanced",
    ))
}

pub fn remove_rule(world: &mut World, req: &Req) -> Outcome {
    let rule_id = req.param("rule_id").to_string();
    let fw = world
        .firewalls
        .get_mut(req.id())
        .ok_or_else(|| missing(Kind::Firewall, req.id()))?;
    let before = fw.rules.len();
    fw.rules
        .retain(|r| r.get("id").and_then(Value::as_str) != Some(rule_id.as_str()));
    if fw.rules.len() == before {
        return Err(Refusal::new(
            404,
            "NOT_FOUND",
            format!("Rule {rule_id} not found in firewall {}", fw.id),
        ));
    }
    Ok(Reply::ok(
        json!({"firewall_id": fw.id, "rule_id": rule_id, "deleted": true}),
        "advanced",
    ))
}

fn attachable(fw: &Firewall, instance: &Instance) -> bool {
    instance.region == fw.region && !matches!(instance.status.as_str(), "DELETING" | "ERROR")
}

pub fn available_instances(world: &mut World, req: &Req) -> Outcome {
    let fw = world
        .firewalls
        .get(req.id())
        .ok_or_else(|| missing(Kind::Firewall, req.id()))?;
    let items = world
        .instances
        .values()
        .filter(|i| attachable(fw, i) && !fw.instance_ids.contains(&i.id))
        .map(|i| instance_json(world, i))
        .collect();
    list(items, req, "advanced")
}

/// `instance_ids` is the whole set the firewall applies to (**chosen**: the API has no detach
/// operation, and a firewall must be detached before deletion, so an empty list detaches).
pub fn attach(world: &mut World, req: &Req) -> Outcome {
    let fw = world
        .firewalls
        .get(req.id())
        .ok_or_else(|| missing(Kind::Firewall, req.id()))?
        .clone();
    let mut errors = FieldErrors::default();
    let ids = req.ids("instance_ids", &mut errors);
    if ids.is_none() && errors.is_empty() {
        errors.add("instance_ids", "This field is required");
    }
    errors.finish()?;
    let ids = ids.unwrap_or_default();
    for id in &ids {
        let instance = world
            .instances
            .get(id)
            .ok_or_else(|| missing(Kind::Vm, id))?;
        if !attachable(&fw, instance) {
            return Err(Refusal::conflict(format!(
                "Instance {id} ({}) cannot take firewall {}: it is {} in {}, the firewall is in {}",
                instance.name, fw.id, instance.status, instance.region, fw.region
            )));
        }
    }
    let fw = world
        .firewalls
        .get_mut(req.id())
        .ok_or_else(|| missing(Kind::Firewall, req.id()))?;
    fw.instance_ids = ids;
    fw.instance_ids.dedup();
    Ok(Reply::ok(public(&*fw, &[]), "advanced"))
}

pub fn instance_firewalls(world: &mut World, req: &Req) -> Outcome {
    if !world.instances.contains_key(req.id()) {
        return Err(missing(Kind::Vm, req.id()));
    }
    let items = world
        .firewalls
        .values()
        .filter(|f| f.instance_ids.iter().any(|i| i == req.id()))
        .map(|f| public(f, &[]))
        .collect();
    list(items, req, "advanced")
}
