//! One handler per catalog operation, looked up by the operation's name, so the simulator's
//! routes can never drift from the client's.

mod account;
mod instances;
mod network;
mod storage;

use super::reply::{FieldErrors, Refusal, Reply};
use super::world::World;
use crate::api::{Kind, Op};
use serde_json::{Map, Value};

/// A routed API request.
pub struct Req<'a> {
    pub op: &'static Op,
    /// Path placeholders, by name.
    pub params: Vec<(&'static str, String)>,
    pub query: &'a [(String, String)],
    pub body: Map<String, Value>,
}

impl Req<'_> {
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    pub fn id(&self) -> &str {
        self.param("id")
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A body field that must be a string if present. Wrong types are reported in `errors`.
    pub fn text(&self, field: &str, errors: &mut FieldErrors) -> Option<String> {
        match self.body.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                errors.add(field, "Must be a string");
                None
            }
        }
    }

    /// A body field that must be a whole number if present.
    pub fn int(&self, field: &str, errors: &mut FieldErrors) -> Option<i64> {
        match self.body.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Some(i),
                None => {
                    errors.add(field, "Must be a whole number");
                    None
                }
            },
            Some(Value::String(s)) => match s.trim().parse::<i64>() {
                Ok(i) => Some(i),
                Err(_) => {
                    errors.add(field, "Must be a whole number");
                    None
                }
            },
            Some(_) => {
                errors.add(field, "Must be a whole number");
                None
            }
        }
    }

    pub fn flag(&self, field: &str, errors: &mut FieldErrors) -> Option<bool> {
        match self.body.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                errors.add(field, "Must be true or false");
                None
            }
        }
    }

    /// A body field that must be a list of id strings (a single string counts as a list of one).
    pub fn ids(&self, field: &str, errors: &mut FieldErrors) -> Option<Vec<String>> {
        match self.body.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(vec![s.clone()]),
            Some(Value::Array(items)) => {
                let ids: Option<Vec<String>> = items
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect();
                if ids.is_none() {
                    errors.add(field, "Must be a list of id strings");
                }
                ids
            }
            Some(_) => {
                errors.add(field, "Must be a list of id strings");
                None
            }
        }
    }
}

pub type Outcome = Result<Reply, Refusal>;

/// Handle one operation against the world (already ticked to now).
///
/// Every answer carries the tier of the region involved (barrack-api.md, Transport): refusals
/// take it from the request's region or the object it names, so a refused legacy deploy or an
/// invalid rule for a legacy instance says `legacy`; lists filtered by region say that region's.
pub fn handle(world: &mut World, req: &Req) -> Outcome {
    let involved = involved_tier(world, req);
    let outcome = match route(req.op.name) {
        Some(handler) => handler(world, req),
        None => Err(Refusal::new(
            500,
            "INTERNAL_ERROR",
            format!("the simulator has no handler for {}", req.op.name),
        )),
    };
    match (outcome, involved) {
        (Err(refusal), Some(tier)) => Err(refusal.in_tier(tier)),
        (Ok(mut reply), Some(tier)) if req.query("region").is_some() => {
            reply.tier = tier;
            Ok(reply)
        }
        (outcome, _) => outcome,
    }
}

/// The tier of the region a request is about: a `region` in the body or query, else the region
/// of the object its path (or body `instance_id`) names. `None` when nothing known is named.
fn involved_tier(world: &World, req: &Req) -> Option<&'static str> {
    use super::world::{is_advanced, tier, LEGACY_REGIONS};
    let known = |r: &str| (is_advanced(r) || LEGACY_REGIONS.contains(&r)).then(|| tier(r));
    if let Some(region) = req.body.get("region").and_then(Value::as_str) {
        return known(region);
    }
    if let Some(region) = req.query("region") {
        return known(region);
    }
    let id = req.id();
    let region = match req.op.target_kind() {
        Some(Kind::Vm) if !id.is_empty() => world.instances.get(id).map(|i| &i.region),
        Some(Kind::Volume) => world.volumes.get(id).map(|v| &v.region),
        Some(Kind::Snapshot) => world.snapshots.get(id).map(|s| &s.region),
        Some(Kind::Firewall) => world.firewalls.get(id).map(|f| &f.region),
        Some(Kind::Image) => world.images.get(id).map(|i| &i.region),
        _ => None,
    }
    .or_else(|| {
        let instance = req.body.get("instance_id").and_then(Value::as_str)?;
        world.instances.get(instance).map(|i| &i.region)
    })?;
    known(region)
}

type Handler = fn(&mut World, &Req) -> Outcome;

fn route(name: &str) -> Option<Handler> {
    let handler: Handler = match name {
        "balance" => account::balance,
        "gpu_stocks" => account::gpu_stocks,
        "gpu_specs" => account::gpu_specs,
        "regions" => account::regions,
        "pricing" => account::pricing,
        "quote" => account::quote,
        "os_images" => account::os_images,
        "ai_models" => account::ai_models,
        "chat" => account::chat,
        "ai_usage" => account::ai_usage,
        "ai_usage_history" => account::ai_usage_history,
        "ssh_keys" => account::ssh_keys,
        "create_ssh_key" => account::create_ssh_key,
        "ssh_key" => account::ssh_key,
        "delete_ssh_key" => account::delete_ssh_key,
        "scripts" => account::scripts,
        "create_script" => account::create_script,
        "script" => account::script,
        "update_script" => account::update_script,
        "delete_script" => account::delete_script,
        "delete_scripts" => account::delete_scripts,
        "deploy" => instances::deploy,
        "instances" => instances::list,
        "instance" => instances::get,
        "instance_billing" => instances::billing,
        "start_instance" => instances::start,
        "stop_instance" => instances::stop,
        "reboot_instance" => instances::reboot,
        "hibernate_instance" => instances::hibernate,
        "restore_instance" => instances::restore,
        "toggle_public_ip" => instances::toggle_public_ip,
        "hibernated_count" => instances::hibernated_count,
        "add_security_rule" => instances::add_security_rule,
        "remove_security_rule" => instances::remove_security_rule,
        "delete_instance" => instances::delete,
        "instance_firewalls" => network::instance_firewalls,
        "snapshot_eligible" => instances::snapshot_eligible,
        "volumes" => storage::volumes,
        "create_volume" => storage::create_volume,
        "volume" => storage::volume,
        "delete_volume" => storage::delete_volume,
        "resize_volume" => storage::resize_volume,
        "clone_volume" => storage::clone_volume,
        "attach_volumes" => storage::attach_volumes,
        "detach_volumes" => storage::detach_volumes,
        "volume_types" => storage::volume_types,
        "volume_billing" => storage::volume_billing,
        "firewalls" => network::firewalls,
        "create_firewall" => network::create_firewall,
        "firewall" => network::firewall,
        "delete_firewall" => network::delete_firewall,
        "protocols" => network::protocols,
        "available_instances" => network::available_instances,
        "add_firewall_rule" => network::add_rule,
        "remove_firewall_rule" => network::remove_rule,
        "attach_firewall" => network::attach,
        "detach_firewall" => network::detach,
        "snapshots" => storage::snapshots,
        "snapshot" => storage::create_snapshot,
        "get_snapshot" => storage::snapshot,
        "delete_snapshot" => storage::delete_snapshot,
        "snapshot_billing" => storage::snapshot_billing,
        "restore_snapshot" => instances::restore_snapshot,
        "images" => storage::images,
        "image" => storage::image,
        "delete_image" => storage::delete_image,
        "create_image" => storage::create_image,
        "snapshot_image" => storage::snapshot_image,
        "snapshot_images" => storage::snapshot_images,
        _ => return None,
    };
    Some(handler)
}

/// A list answer: filtered by equality on top-level fields named in the query, then paged.
pub fn list(items: Vec<Value>, req: &Req, tier: &'static str) -> Outcome {
    let filters: Vec<&(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| k != "page" && k != "per_page")
        .collect();
    let items: Vec<Value> = items
        .into_iter()
        .filter(|item| {
            filters.iter().all(|(k, want)| match item.get(k) {
                Some(Value::String(s)) => s == want,
                Some(Value::Number(n)) => n.to_string() == *want,
                Some(Value::Bool(b)) => b.to_string() == *want,
                _ => true,
            })
        })
        .collect();
    if !req.op.paginated {
        return Ok(Reply::ok(Value::Array(items), tier));
    }
    let mut errors = FieldErrors::default();
    let page = parse_positive(req.query("page"), 1, "page", &mut errors);
    let per_page = parse_positive(req.query("per_page"), 20, "per_page", &mut errors).min(100);
    errors.finish()?;
    let total = items.len() as u64;
    let total_pages = total.div_ceil(per_page).max(1);
    // `page` comes from the query: `?page=18446744073709551615` must not overflow.
    let start = (page - 1).saturating_mul(per_page).min(total) as usize;
    let end = (start + per_page as usize).min(items.len());
    let data: Vec<Value> = items[start..end].to_vec();
    Ok(Reply {
        status: 200,
        data: Some(Value::Array(data)),
        pagination: Some(serde_json::json!({
            "page": page,
            "per_page": per_page,
            "total": total,
            "total_pages": total_pages,
            "has_next": page < total_pages,
        })),
        tier,
    })
}

fn parse_positive(text: Option<&str>, default: u64, field: &str, errors: &mut FieldErrors) -> u64 {
    match text {
        None => default,
        Some(t) => match t.parse::<u64>() {
            Ok(n) if n >= 1 => n,
            _ => {
                errors.add(field, "Must be a positive integer");
                default
            }
        },
    }
}

/// Serialize a world object, leaving out the simulator's bookkeeping fields.
pub fn public<T: serde::Serialize>(object: &T, hidden: &[&str]) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.remove("pending");
        for field in hidden {
            map.remove(*field);
        }
    }
    value
}

/// 409 in the lifecycle's words when the instance is not in a state `op` accepts.
pub fn require_state(instance: &super::world::Instance, op: &str) -> Result<(), Refusal> {
    match crate::api::lifecycle::transition(op) {
        Some(t) if !t.from.contains(&instance.status.as_str()) => Err(Refusal::conflict(
            crate::api::lifecycle::wrong_state(t, &instance.id, &instance.name, &instance.status),
        )
        .in_tier(super::world::tier(&instance.region))),
        _ => Ok(()),
    }
}

pub fn missing(kind: Kind, id: &str) -> Refusal {
    Refusal::not_found(kind, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::OPS;

    #[test]
    fn every_catalog_operation_has_a_handler() {
        for op in OPS {
            assert!(
                route(op.name).is_some(),
                "no simulator handler for {}",
                op.name
            );
        }
    }
}
