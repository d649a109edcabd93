//! One handler per catalog operation, looked up by the operation's name, so the simulator's
//! routes can never drift from the client's.

mod account;
mod field_probe;
mod instances;
mod network;
mod security_rule;
mod storage;
mod views;

use super::reply::{write_json, FieldErrors, Pagination, Refusal, Reply};
use super::world::World;
use crate::api::{Kind, Op, OpId};
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

/// Handle one operation against the world, its clock and balance already brought to now
/// ([`World::run_due`]); a handler bills only the objects whose rate it changes.
///
/// Every answer carries the tier of the region involved (barrack-api.md, Transport): refusals
/// take it from the request's region or the object it names, so a refused legacy deploy or an
/// invalid rule for a legacy instance says `legacy`; lists filtered by region say that region's.
pub fn handle(world: Access<'_>, req: &Req) -> Outcome {
    let involved = involved_tier(world.get(), req);
    let outcome = check_shape(req).and_then(|()| match (route(req.op.id), world) {
        (Read(handler), world) => handler(world.get(), req),
        (Write(handler), Access::Exclusive(world)) => handler(world, req),
        (Write(_), Access::Shared(_)) => Err(Refusal::new(
            500,
            "INTERNAL_ERROR",
            format!(
                "{} changes the world and was not given it to change",
                req.op.name
            ),
        )),
    });
    match (outcome, involved) {
        (Err(refusal), Some(tier)) => Err(refusal.in_tier(tier)),
        (Ok(mut reply), Some(tier)) if req.query("region").is_some() => {
            reply.tier = tier;
            Ok(reply)
        }
        (outcome, _) => outcome,
    }
}

/// The catalog's shape of the request: an unknown body field or query parameter, a value of
/// the wrong type or outside its rule, is a 400 naming it — never silently dropped.
fn check_shape(req: &Req) -> Result<(), Refusal> {
    let mut fields = req.body.clone();
    if req.op.method == crate::api::Method::Get {
        for (key, value) in req.query {
            fields.insert(key.clone(), Value::String(value.clone()));
        }
    }
    crate::api::check::request(req.op, &fields)
        .map(|_| ())
        .map_err(instances::refusal)
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

/// How an operation's handler reaches the world: a reader borrows it (and runs beside other
/// readers), a writer has it to itself.
enum Handler {
    Read(fn(&World, &Req) -> Outcome),
    Write(fn(&mut World, &Req) -> Outcome),
}
use Handler::{Read, Write};

/// The world as a request holds it: shared with other readers, or exclusively.
pub enum Access<'a> {
    Shared(&'a World),
    Exclusive(&'a mut World),
}

impl Access<'_> {
    /// The same access for a shorter while.
    pub fn reborrow(&mut self) -> Access<'_> {
        match self {
            Access::Shared(world) => Access::Shared(world),
            Access::Exclusive(world) => Access::Exclusive(world),
        }
    }

    fn get(&self) -> &World {
        match self {
            Access::Shared(world) => world,
            Access::Exclusive(world) => world,
        }
    }
}

/// Whether the operation's handler only reads the world, so it can answer under a shared lock.
pub fn only_reads(id: OpId) -> bool {
    matches!(route(id), Read(_))
}

/// The handler of every operation: a `match` on the typed id with no fallback, so an operation
/// added to the catalog without a handler does not compile.
fn route(id: OpId) -> Handler {
    match id {
        OpId::Balance => Read(account::balance),
        OpId::GpuStocks => Read(account::gpu_stocks),
        OpId::GpuSpecs => Read(account::gpu_specs),
        OpId::Regions => Read(account::regions),
        OpId::Pricing => Read(account::pricing),
        OpId::Quote => Read(account::quote),
        OpId::OsImages => Read(account::os_images),
        OpId::AiModels => Read(account::ai_models),
        OpId::Chat => Write(account::chat),
        OpId::AiUsage => Read(account::ai_usage),
        OpId::AiUsageHistory => Read(account::ai_usage_history),
        OpId::SshKeys => Read(account::ssh_keys),
        OpId::CreateSshKey => Write(account::create_ssh_key),
        OpId::SshKey => Read(account::ssh_key),
        OpId::DeleteSshKey => Write(account::delete_ssh_key),
        OpId::Scripts => Read(account::scripts),
        OpId::CreateScript => Write(account::create_script),
        OpId::Script => Read(account::script),
        OpId::UpdateScript => Write(account::update_script),
        OpId::DeleteScript => Write(account::delete_script),
        OpId::DeleteScripts => Write(account::delete_scripts),
        OpId::Deploy => Write(instances::deploy),
        OpId::Instances => Read(instances::list),
        OpId::Instance => Read(instances::get),
        OpId::InstanceBilling => Read(instances::billing),
        OpId::StartInstance => Write(instances::start),
        OpId::StopInstance => Write(instances::stop),
        OpId::RebootInstance => Write(instances::reboot),
        OpId::HibernateInstance => Write(instances::hibernate),
        OpId::RestoreInstance => Write(instances::restore),
        OpId::TogglePublicIp => Write(instances::toggle_public_ip),
        OpId::HibernatedCount => Read(instances::hibernated_count),
        OpId::AddSecurityRule => Write(instances::add_security_rule),
        OpId::RemoveSecurityRule => Write(instances::remove_security_rule),
        OpId::DeleteInstance => Write(instances::delete),
        OpId::InstanceFirewalls => Read(network::instance_firewalls),
        OpId::SnapshotEligible => Read(instances::snapshot_eligible),
        OpId::Volumes => Read(storage::volumes),
        OpId::CreateVolume => Write(storage::create_volume),
        OpId::Volume => Read(storage::volume),
        OpId::DeleteVolume => Write(storage::delete_volume),
        OpId::ResizeVolume => Write(storage::resize_volume),
        OpId::CloneVolume => Write(storage::clone_volume),
        OpId::AttachVolumes => Write(storage::attach_volumes),
        OpId::DetachVolumes => Write(storage::detach_volumes),
        OpId::VolumeTypes => Read(storage::volume_types),
        OpId::VolumeBilling => Read(storage::volume_billing),
        OpId::Firewalls => Read(network::firewalls),
        OpId::CreateFirewall => Write(network::create_firewall),
        OpId::Firewall => Read(network::firewall),
        OpId::DeleteFirewall => Write(network::delete_firewall),
        OpId::Protocols => Read(network::protocols),
        OpId::AvailableInstances => Read(network::available_instances),
        OpId::AddFirewallRule => Write(network::add_rule),
        OpId::RemoveFirewallRule => Write(network::remove_rule),
        OpId::AttachFirewall => Write(network::attach),
        OpId::DetachFirewall => Write(network::detach),
        OpId::Snapshots => Read(storage::snapshots),
        OpId::Snapshot => Write(storage::create_snapshot),
        OpId::GetSnapshot => Read(storage::snapshot),
        OpId::DeleteSnapshot => Write(storage::delete_snapshot),
        OpId::SnapshotBilling => Read(storage::snapshot_billing),
        OpId::RestoreSnapshot => Write(instances::restore_snapshot),
        OpId::Images => Read(storage::images),
        OpId::Image => Read(storage::image),
        OpId::DeleteImage => Write(storage::delete_image),
        OpId::CreateImage => Write(storage::create_image),
        OpId::SnapshotImage => Read(storage::snapshot_image),
        OpId::SnapshotImages => Read(storage::snapshot_images),
    }
}

/// A list answer over JSON values (the account's fixed lists): filtered, then paged.
pub fn list(items: Vec<Value>, req: &Req, tier: &'static str) -> Outcome {
    list_of(items.iter(), |v| v, req, tier)
}

/// A list answer over world objects, each shown as `view` makes it: filtered by equality on
/// the top-level fields named in the query (tested on the typed view, see [`field_probe`]),
/// then paged. Only the page is written as JSON, so a page costs its own size; an unfiltered
/// list over a map does not even visit the objects before its page.
pub fn list_of<T: Copy, V: serde::Serialize>(
    items: impl Iterator<Item = T>,
    view: impl Fn(T) -> V,
    req: &Req,
    tier: &'static str,
) -> Outcome {
    list_written(
        items,
        &view,
        |item, out| write_json(out, &view(item)),
        req,
        tier,
    )
}

/// [`list_of`], the page's objects written by `write` as `view` shows them (from text kept
/// with each object, for instances: see [`views::write_instance`]).
pub fn list_written<T: Copy, V: serde::Serialize>(
    items: impl Iterator<Item = T>,
    view: impl Fn(T) -> V,
    write: impl Fn(T, &mut Vec<u8>),
    req: &Req,
    tier: &'static str,
) -> Outcome {
    let filters: Vec<&(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| k != "page" && k != "per_page")
        .collect();
    let page = |total: usize, objects: &mut dyn Iterator<Item = T>| -> Outcome {
        let (start, len, pagination) = window(total, req)?;
        let mut envelope = Reply::envelope_for(0);
        envelope.push(b'[');
        for (n, object) in objects.skip(start).take(len).enumerate() {
            if n == 0 {
                // The first object tells what the page will take: one allocation, no regrowth.
                let before = envelope.len();
                write(object, &mut envelope);
                envelope.reserve((envelope.len() - before + 1) * (len - 1) + 1);
            } else {
                envelope.push(b',');
                write(object, &mut envelope);
            }
        }
        envelope.push(b']');
        Ok(Reply::written(envelope, pagination, tier))
    };
    if !filters.is_empty() {
        let wanted = |item: &T| {
            let shown = view(*item);
            filters
                .iter()
                .all(|(key, want)| field_probe::field_matches(&shown, key, want))
        };
        let matching: Vec<T> = items.filter(wanted).collect();
        return page(matching.len(), &mut matching.into_iter());
    }
    // A map's values know their count: the page is cut without visiting the rest.
    let mut items = items;
    match items.size_hint() {
        (low, Some(high)) if low == high => page(low, &mut items),
        _ => {
            let objects: Vec<T> = items.collect();
            page(objects.len(), &mut objects.into_iter())
        }
    }
}

/// Where the page the query asks for starts, how many items it holds, and its `pagination`
/// (all of the `total` items, no pagination, for an unpaginated operation).
fn window(total: usize, req: &Req) -> Result<(usize, usize, Option<Pagination>), Refusal> {
    if !req.op.paginated {
        return Ok((0, total, None));
    }
    let mut errors = FieldErrors::default();
    let page = parse_positive(req.query("page"), 1, "page", &mut errors);
    let per_page = parse_positive(req.query("per_page"), 20, "per_page", &mut errors).min(100);
    errors.finish()?;
    let total = total as u64;
    let total_pages = total.div_ceil(per_page).max(1);
    // `page` comes from the query: `?page=18446744073709551615` must not overflow.
    let start = (page - 1).saturating_mul(per_page).min(total);
    let end = (start + per_page).min(total);
    let pagination = Pagination {
        page,
        per_page,
        total,
        total_pages,
        has_next: page < total_pages,
    };
    Ok((start as usize, (end - start) as usize, Some(pagination)))
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

/// 409 in the lifecycle's words when the instance is not in a state `op` accepts.
pub fn require_state(instance: &super::world::Instance, op: OpId) -> Result<(), Refusal> {
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

/// The object of `kind` with this id, or the 404 that names it: every handler's lookup.
pub fn found<'w, T>(
    objects: &'w std::collections::BTreeMap<String, T>,
    kind: Kind,
    id: &str,
) -> Result<&'w T, Refusal> {
    objects.get(id).ok_or_else(|| missing(kind, id))
}

/// [`found`], to change it.
pub fn found_mut<'w, T>(
    objects: &'w mut std::collections::BTreeMap<String, T>,
    kind: Kind,
    id: &str,
) -> Result<&'w mut T, Refusal> {
    objects.get_mut(id).ok_or_else(|| missing(kind, id))
}

/// [`found`], taken out of the world (a delete).
pub fn removed<T>(
    objects: &mut std::collections::BTreeMap<String, T>,
    kind: Kind,
    id: &str,
) -> Result<T, Refusal> {
    objects.remove(id).ok_or_else(|| missing(kind, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::OPS;

    #[test]
    fn exactly_the_operations_that_change_nothing_answer_beside_each_other() {
        for op in OPS {
            assert_eq!(
                only_reads(op.id),
                !op.mutates,
                "{}: its handler's access must match the catalog's `mutates`",
                op.name
            );
        }
    }
}
