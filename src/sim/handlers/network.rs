//! Firewalls and their rules.

use super::security_rule::{check_rule, PROTOCOLS};
use super::views::FirewallView;
use super::{found, found_mut, list_of, missing, Outcome, Req};
use crate::api::Kind;
use crate::sim::reply::{FieldErrors, Refusal, Reply};
use crate::sim::world::*;
use serde_json::{json, Map, Value};

use crate::api::choices::{FIREWALL_READY, FIREWALL_RULE_APPLY_SECONDS};

pub fn firewalls(world: &World, req: &Req) -> Outcome {
    list_of(world.firewalls.values(), FirewallView::of, req, "advanced")
}

pub fn firewall(world: &World, req: &Req) -> Outcome {
    let fw = found(&world.firewalls, Kind::Firewall, req.id())?;
    Ok(Reply::ok(FirewallView::of(fw), tier(&fw.region)))
}

pub fn protocols(_world: &World, _req: &Req) -> Outcome {
    let items: Vec<Value> = PROTOCOLS
        .iter()
        .map(|(name, ports)| json!({"name": name, "supports_ports": ports}))
        .collect();
    Ok(Reply::ok(Value::Array(items), "advanced"))
}

/// A checked rule made new: an id, APPLYING until `applies_at` (RFC 3339). Returns the rule and
/// the simulated instant it applies at, for the firewall's `rule_due`.
fn new_rule(world: &mut World, mut rule: Map<String, Value>) -> (Value, String, f64) {
    let id = world.new_id("rule-");
    let due = world.clock + FIREWALL_RULE_APPLY_SECONDS;
    rule.insert("id".into(), id.clone().into());
    rule.insert("status".into(), "APPLYING".into());
    rule.insert("applies_at".into(), format_time(due).into());
    (Value::Object(rule), id, due)
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
    let mut made = Vec::new();
    let mut rule_due = std::collections::BTreeMap::new();
    for rule in rules {
        let (rule, rule_id, due) = new_rule(world, rule);
        made.push(rule);
        rule_due.insert(rule_id, due);
    }
    let id = world.new_id(Kind::Firewall.id_prefix());
    let firewall = Firewall {
        id: id.clone(),
        name,
        region,
        description,
        rules: made,
        instance_ids: Vec::new(),
        created_at: world.timestamp(),
        rule_due,
    };
    let reply = Reply::created(FirewallView::of(&firewall), "advanced");
    world.add_firewall(firewall);
    Ok(reply)
}

pub fn delete_firewall(world: &mut World, req: &Req) -> Outcome {
    let fw = found(&world.firewalls, Kind::Firewall, req.id())?;
    if !fw.instance_ids.is_empty() {
        return Err(Refusal::conflict(
            crate::api::rules::firewall_still_attached(&fw.id, &fw.name, &fw.instance_ids),
        ));
    }
    if fw.status() != FIREWALL_READY {
        return Err(Refusal::conflict(format!(
            "Firewall {} ({}) is {}: {} rule(s) still applying; wait_status(fw, \"{FIREWALL_READY}\") and delete it then",
            fw.id,
            fw.name,
            fw.status(),
            fw.rule_due.len()
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
    let (rule, rule_id, due) = new_rule(world, rule);
    let fw = found_mut(&mut world.firewalls, Kind::Firewall, req.id())?;
    fw.rules.push(rule.clone());
    fw.rule_due.insert(rule_id.clone(), due);
    let firewall_id = fw.id.clone();
    let data = json!({"firewall_id": firewall_id, "rule": rule});
    world.schedule(Target::Rule(firewall_id, rule_id), due);
    Ok(Reply::created(data, "advanced"))
}

pub fn remove_rule(world: &mut World, req: &Req) -> Outcome {
    let rule_id = req.param("rule_id").to_string();
    let fw = found_mut(&mut world.firewalls, Kind::Firewall, req.id())?;
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
    fw.rule_due.remove(&rule_id);
    Ok(Reply::ok(
        json!({"firewall_id": fw.id, "rule_id": rule_id, "deleted": true}),
        "advanced",
    ))
}

fn attachable(fw: &Firewall, instance: &Instance) -> bool {
    instance.region == fw.region && !matches!(instance.status.as_str(), "DELETING" | "ERROR")
}

pub fn available_instances(world: &World, req: &Req) -> Outcome {
    let fw = found(&world.firewalls, Kind::Firewall, req.id())?;
    let items = world
        .instances
        .values()
        .filter(|i| attachable(fw, i) && !fw.instance_ids.contains(&i.id));
    super::instances::list_instances(world, items, req)
}

/// The instances named by `instance_ids` (at least one), for attach and detach.
fn named_instances(req: &Req) -> Result<Vec<String>, Refusal> {
    let mut errors = FieldErrors::default();
    let ids = req.ids("instance_ids", &mut errors);
    if errors.is_empty() && ids.as_ref().is_none_or(Vec::is_empty) {
        errors.add("instance_ids", "At least one instance id is required");
    }
    errors.finish()?;
    let mut ids = ids.unwrap_or_default();
    ids.dedup();
    Ok(ids)
}

/// Adds the instances to the firewall; those already attached stay attached (a firewall is
/// never silently taken off an instance). See `api::choices`, "detaching a firewall".
pub fn attach(world: &mut World, req: &Req) -> Outcome {
    let fw = found(&world.firewalls, Kind::Firewall, req.id())?.clone();
    let ids = named_instances(req)?;
    for id in &ids {
        let instance = found(&world.instances, Kind::Vm, id)?;
        if !attachable(&fw, instance) {
            return Err(Refusal::conflict(format!(
                "Instance {id} ({}) cannot take firewall {}: it is {} in {}, the firewall is in {}",
                instance.name, fw.id, instance.status, instance.region, fw.region
            )));
        }
    }
    let fw = found_mut(&mut world.firewalls, Kind::Firewall, req.id())?;
    for id in ids {
        if !fw.instance_ids.contains(&id) {
            fw.instance_ids.push(id);
        }
    }
    Ok(Reply::ok(FirewallView::of(fw), "advanced"))
}

/// Takes the firewall off the named instances, each of which must carry it.
pub fn detach(world: &mut World, req: &Req) -> Outcome {
    let ids = named_instances(req)?;
    let fw = found_mut(&mut world.firewalls, Kind::Firewall, req.id())?;
    let strangers: Vec<&str> = ids
        .iter()
        .filter(|id| !fw.instance_ids.contains(id))
        .map(String::as_str)
        .collect();
    if !strangers.is_empty() {
        return Err(Refusal::conflict(crate::api::rules::firewall_not_attached(
            &fw.id,
            &fw.name,
            &strangers,
            &fw.instance_ids,
        )));
    }
    fw.instance_ids.retain(|id| !ids.contains(id));
    Ok(Reply::ok(FirewallView::of(fw), "advanced"))
}

pub fn instance_firewalls(world: &World, req: &Req) -> Outcome {
    if !world.instances.contains_key(req.id()) {
        return Err(missing(Kind::Vm, req.id()));
    }
    let items = world
        .firewalls
        .values()
        .filter(|f| f.instance_ids.iter().any(|i| i == req.id()));
    list_of(items, FirewallView::of, req, "advanced")
}
