//! One handler per catalog operation, looked up by the operation's name, so the simulator's
//! routes can never drift from the client's.

mod account;
mod field_probe;
mod instances;
mod network;
mod security_rule;
mod storage;
mod views;

use super::reply::{FieldErrors, Pagination, Refusal, Reply};
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
pub fn handle(world: &mut World, req: &Req) -> Outcome {
    let involved = involved_tier(world, req);
    let outcome = check_shape(req).and_then(|()| route(req.op.id)(world, req));
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

type Handler = fn(&mut World, &Req) -> Outcome;

/// The handler of every operation: a `match` on the typed id with no fallback, so an operation
/// added to the catalog without a handler does not compile.
fn route(id: OpId) -> Handler {
    match id {
        OpId::Balance => account::balance,
        OpId::GpuStocks => account::gpu_stocks,
        OpId::GpuSpecs => account::gpu_specs,
        OpId::Regions => account::regions,
        OpId::Pricing => account::pricing,
        OpId::Quote => account::quote,
        OpId::OsImages => account::os_images,
        OpId::AiModels => account::ai_models,
        OpId::Chat => account::chat,
        OpId::AiUsage => account::ai_usage,
        OpId::AiUsageHistory => account::ai_usage_history,
        OpId::SshKeys => account::ssh_keys,
        OpId::CreateSshKey => account::create_ssh_key,
        OpId::SshKey => account::ssh_key,
        OpId::DeleteSshKey => account::delete_ssh_key,
        OpId::Scripts => account::scripts,
        OpId::CreateScript => account::create_script,
        OpId::Script => account::script,
        OpId::UpdateScript => account::update_script,
        OpId::DeleteScript => account::delete_script,
        OpId::DeleteScripts => account::delete_scripts,
        OpId::Deploy => instances::deploy,
        OpId::Instances => instances::list,
        OpId::Instance => instances::get,
        OpId::InstanceBilling => instances::billing,
        OpId::StartInstance => instances::start,
        OpId::StopInstance => instances::stop,
        OpId::RebootInstance => instances::reboot,
        OpId::HibernateInstance => instances::hibernate,
        OpId::RestoreInstance => instances::restore,
        OpId::TogglePublicIp => instances::toggle_public_ip,
        OpId::HibernatedCount => instances::hibernated_count,
        OpId::AddSecurityRule => instances::add_security_rule,
        OpId::RemoveSecurityRule => instances::remove_security_rule,
        OpId::DeleteInstance => instances::delete,
        OpId::InstanceFirewalls => network::instance_firewalls,
        OpId::SnapshotEligible => instances::snapshot_eligible,
        OpId::Volumes => storage::volumes,
        OpId::CreateVolume => storage::create_volume,
        OpId::Volume => storage::volume,
        OpId::DeleteVolume => storage::delete_volume,
        OpId::ResizeVolume => storage::resize_volume,
        OpId::CloneVolume => storage::clone_volume,
        OpId::AttachVolumes => storage::attach_volumes,
        OpId::DetachVolumes => storage::detach_volumes,
        OpId::VolumeTypes => storage::volume_types,
        OpId::VolumeBilling => storage::volume_billing,
        OpId::Firewalls => network::firewalls,
        OpId::CreateFirewall => network::create_firewall,
        OpId::Firewall => network::firewall,
        OpId::DeleteFirewall => network::delete_firewall,
        OpId::Protocols => network::protocols,
        OpId::AvailableInstances => network::available_instances,
        OpId::AddFirewallRule => network::add_rule,
        OpId::RemoveFirewallRule => network::remove_rule,
        OpId::AttachFirewall => network::attach,
        OpId::DetachFirewall => network::detach,
        OpId::Snapshots => storage::snapshots,
        OpId::Snapshot => storage::create_snapshot,
        OpId::GetSnapshot => storage::snapshot,
        OpId::DeleteSnapshot => storage::delete_snapshot,
        OpId::SnapshotBilling => storage::snapshot_billing,
        OpId::RestoreSnapshot => instances::restore_snapshot,
        OpId::Images => storage::images,
        OpId::Image => storage::image,
        OpId::DeleteImage => storage::delete_image,
        OpId::CreateImage => storage::create_image,
        OpId::SnapshotImage => storage::snapshot_image,
        OpId::SnapshotImages => storage::snapshot_images,
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
    let filters: Vec<&(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| k != "page" && k != "per_page")
        .collect();
    let page = |total: usize, objects: &mut dyn Iterator<Item = T>| -> Outcome {
        let (start, len, pagination) = window(total, req)?;
        let shown: Vec<V> = objects.skip(start).take(len).map(&view).collect();
        Ok(Reply::list(&shown, pagination, tier))
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
