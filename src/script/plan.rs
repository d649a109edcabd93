//! `barrack plan`: run a script with live reads while every mutating call is recorded instead of
//! sent, answered with what the world would look like after it (a deploy gives a `planned-1` Vm
//! already ACTIVE; a hibernation shows HIBERNATED; a deleted object is gone from lists and
//! answers 404), so the script goes on and its waits return at once.
//!
//! What can be known without sending is still checked: names (by `deploy`'s own checks), the
//! lifecycle state an action needs, name uniqueness, stock and the minimum balance.

use crate::api::catalog::{Kind, Op, OpId, Returns};
use crate::api::{lifecycle, Answer, ApiError, Args, Client};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// One recorded mutation.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Change {
    /// The operation that would be called.
    pub op: &'static str,
    /// The object acted on: `BRK-… (name)`, or what is created.
    pub target: String,
    /// The arguments that matter to a reviewer.
    pub args: Map<String, Value>,
    /// Change of the hourly cost, in the account's currency (negative: a saving).
    pub hourly_delta: f64,
}

#[derive(Default)]
struct Overlay {
    /// Objects created or changed by planned calls, by id.
    objects: HashMap<String, (Kind, Map<String, Value>)>,
    /// Where an object in a transitional state settles once time passes (a wait or a sleep);
    /// `None` for a delete in progress.
    pending: HashMap<String, Option<String>>,
    deleted: HashSet<String>,
    next_id: usize,
    /// GPUs the plan has taken, per "REGION/MODEL".
    gpus_taken: HashMap<String, i64>,
}

/// Records the mutations of a planning run instead of sending them, and answers later reads as if they had happened.
#[derive(Default)]
pub struct Planner {
    changes: Mutex<Vec<Change>>,
    overlay: Mutex<Overlay>,
    /// The price list (GET /pricing/), read once: it does not change during a plan.
    prices: std::sync::OnceLock<Value>,
}

fn conflict(op: &Op, code: &str, status: u16, message: String) -> ApiError {
    let mut err = ApiError::new(
        crate::api::Failure::Invalid,
        op.name,
        String::new(),
        message,
    );
    err.status = status;
    err.code = code.into();
    err
}

/// A list of id strings (or one id) as the request or the object holds it.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn answer(data: Value) -> Answer {
    Answer {
        data,
        status: 200,
        request_id: None,
    }
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or("")
}

impl Planner {
    /// An empty plan.
    pub fn new() -> Planner {
        Planner::default()
    }

    /// The recorded mutations, in the order the script made them.
    pub fn changes(&self) -> Vec<Change> {
        self.changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A read goes to the server; the answer is then shown as the plan would leave it.
    pub fn read(&self, client: &Client, op: &'static Op, args: &Args) -> Result<Answer, ApiError> {
        let id = args
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        {
            let overlay = self.overlay.lock().unwrap_or_else(|e| e.into_inner());
            if !id.is_empty() {
                if overlay.deleted.contains(&id) {
                    return Err(not_found(op, &id));
                }
                if let Some((kind, object)) = overlay.objects.get(&id) {
                    return match op.returns {
                        Returns::One(k) if k == *kind => Ok(answer(Value::Object(object.clone()))),
                        _ if id.starts_with("planned-") => {
                            Ok(answer(json!({"id": id, "planned": true})))
                        }
                        _ => client.execute(op, args),
                    };
                }
                if id.starts_with("planned-") {
                    return Err(not_found(op, &id));
                }
            }
        }
        let mut result = client.execute(op, args)?;
        // The plain list of a kind (not `firewalls(vm)` and the like) shows the plan's changes.
        if let (Returns::List(kind), None) = (op.returns, op.target_kind()) {
            if let Value::Array(items) = &mut result.data {
                let overlay = self.overlay.lock().unwrap_or_else(|e| e.into_inner());
                items.retain(|item| {
                    !overlay
                        .deleted
                        .contains(item.get("id").and_then(Value::as_str).unwrap_or(""))
                });
                for item in items.iter_mut() {
                    let item_id = item
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    if let Some((_, changed)) = overlay.objects.get(&item_id) {
                        *item = Value::Object(changed.clone());
                    }
                }
                let mut created: Vec<&(Kind, Map<String, Value>)> = overlay
                    .objects
                    .iter()
                    .filter(|(id, (k, _))| *k == kind && id.starts_with("planned-"))
                    .map(|(_, v)| v)
                    .collect();
                created.sort_by_key(|(_, o)| {
                    text(o, "id")
                        .trim_start_matches("planned-")
                        .parse::<usize>()
                        .unwrap_or(0)
                });
                items.extend(created.into_iter().map(|(_, o)| Value::Object(o.clone())));
                if op.id == OpId::SnapshotEligible {
                    items.retain(|i| i.get("status").and_then(Value::as_str) == Some("ACTIVE"));
                }
            }
        }
        Ok(result)
    }

    /// A mutation: checked as far as possible, recorded, answered with the planned outcome.
    pub fn mutate(
        &self,
        client: &Client,
        op: &'static Op,
        args: &Args,
    ) -> Result<Answer, ApiError> {
        let target_kind = op.target_kind();
        let target = match (target_kind, args.get("id").and_then(Value::as_str)) {
            (Some(kind), Some(id)) => Some(self.current(client, kind, id, op)?),
            _ => None,
        };
        validate(op, args)?;
        let mut change = Change {
            op: op.name,
            target: String::new(),
            args: Map::new(),
            hourly_delta: 0.0,
        };
        if let Some(t) = &target {
            change.target = describe(t);
        }
        let data = match op.id {
            OpId::Deploy => self.plan_deploy(client, op, args, &mut change)?,
            OpId::RestoreSnapshot => {
                self.plan_restore_snapshot(client, op, args, target.as_ref(), &mut change)?
            }
            OpId::Snapshot => self.plan_snapshot(client, op, args, &mut change)?,
            OpId::AttachFirewall | OpId::DetachFirewall => {
                self.plan_firewall_attachment(op, target.unwrap_or_default(), args, &mut change)?
            }
            id if lifecycle::transition(id).is_some() && target_kind == Some(Kind::Vm) => {
                let t = target.unwrap_or_default();
                self.plan_transition(client, op, t, &mut change)?
            }
            OpId::DeleteSshKey
            | OpId::DeleteVolume
            | OpId::DeleteFirewall
            | OpId::DeleteScript
            | OpId::DeleteSnapshot
            | OpId::DeleteImage
                if target.is_some() =>
            {
                let t = target.unwrap_or_default();
                if op.id == OpId::DeleteFirewall {
                    let attached = strings(t.get("instance_ids"));
                    if !attached.is_empty() {
                        let why = crate::api::rules::firewall_still_attached(
                            text(&t, "id"),
                            text(&t, "name"),
                            &attached,
                        );
                        return Err(conflict(op, "CONFLICT", 409, why));
                    }
                }
                let id = text(&t, "id").to_string();
                change.hourly_delta = -storage_cost(&t);
                let mut overlay = self.lock();
                overlay.objects.remove(&id);
                overlay.pending.remove(&id);
                overlay.deleted.insert(id.clone());
                json!({"id": id, "deleted": true, "planned": true})
            }
            _ => {
                for (k, v) in args {
                    if k != "id" {
                        change.args.insert(k.clone(), v.clone());
                    }
                }
                match (op.returns, target) {
                    (Returns::One(kind), _)
                        if op.target_kind().is_none() || op.id == OpId::CloneVolume =>
                    {
                        let mut object = args.clone();
                        object.remove("id");
                        let id = self.new_id();
                        object.insert("id".into(), id.clone().into());
                        if change.target.is_empty() {
                            change.target = format!("{id} ({})", text(&object, "name"));
                        }
                        let (status, settles) = match kind {
                            Kind::Volume | Kind::Image => ("CREATING", "AVAILABLE"),
                            // A firewall is UPDATING while its rules apply, then SUCCESS.
                            Kind::Firewall => {
                                let rules = object
                                    .get("rules")
                                    .and_then(Value::as_array)
                                    .is_some_and(|r| !r.is_empty());
                                let ready = crate::api::choices::FIREWALL_READY;
                                let updating = crate::api::choices::FIREWALL_UPDATING;
                                (if rules { updating } else { ready }, ready)
                            }
                            _ => ("AVAILABLE", "AVAILABLE"),
                        };
                        self.put(kind, object, status, Some(settles))
                    }
                    (_, Some(mut t)) => {
                        t.insert("planned".into(), true.into());
                        Value::Object(t)
                    }
                    _ => json!({"planned": true}),
                }
            }
        };
        if change.target.is_empty() {
            change.target = text(args, "name").to_string();
        }
        self.changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(change);
        Ok(Answer {
            data,
            status: 200,
            request_id: None,
        })
    }

    /// Time passes for one object (a waiter looks at it): its planned transition completes.
    pub fn settle(&self, id: &str) {
        let mut overlay = self.lock();
        if let Some(outcome) = overlay.pending.remove(id) {
            match outcome {
                Some(status) => {
                    if let Some((_, object)) = overlay.objects.get_mut(id) {
                        object.insert("status".into(), status.into());
                    }
                }
                None => {
                    overlay.objects.remove(id);
                    overlay.deleted.insert(id.to_string());
                }
            }
        }
    }

    /// Time passes for everything (`sleep`).
    pub fn settle_all(&self) {
        let ids: Vec<String> = self.lock().pending.keys().cloned().collect();
        for id in ids {
            self.settle(&id);
        }
    }

    /// Record a planned object in a transitional `status` that settles to `settles`.
    fn put(
        &self,
        kind: Kind,
        mut object: Map<String, Value>,
        status: &str,
        settles: Option<&str>,
    ) -> Value {
        let id = text(&object, "id").to_string();
        object.insert("status".into(), status.into());
        object.insert("planned".into(), true.into());
        let mut overlay = self.lock();
        if status != settles.unwrap_or("") {
            overlay
                .pending
                .insert(id.clone(), settles.map(str::to_string));
        }
        overlay.objects.insert(id, (kind, object.clone()));
        Value::Object(object)
    }

    fn prices(&self, client: &Client) -> &Value {
        self.prices.get_or_init(|| {
            client
                .call(OpId::Pricing.op(), &Args::new())
                .unwrap_or(Value::Null)
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Overlay> {
        self.overlay.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new_id(&self) -> String {
        let mut overlay = self.lock();
        overlay.next_id += 1;
        format!("planned-{}", overlay.next_id)
    }

    /// Attaching adds instances, detaching removes attached ones: the firewall as the plan
    /// leaves it, refused where the server would refuse.
    fn plan_firewall_attachment(
        &self,
        op: &'static Op,
        mut fw: Map<String, Value>,
        args: &Args,
        change: &mut Change,
    ) -> Result<Value, ApiError> {
        let ids = strings(args.get("instance_ids"));
        if ids.is_empty() {
            return Err(ApiError::invalid(
                op.name,
                "instance_ids",
                "At least one instance id is required",
            ));
        }
        let mut attached = strings(fw.get("instance_ids"));
        if op.id == OpId::AttachFirewall {
            for id in &ids {
                if !attached.contains(id) {
                    attached.push(id.clone());
                }
            }
        } else {
            let strangers: Vec<&str> = ids
                .iter()
                .filter(|id| !attached.contains(id))
                .map(String::as_str)
                .collect();
            if !strangers.is_empty() {
                let why = crate::api::rules::firewall_not_attached(
                    text(&fw, "id"),
                    text(&fw, "name"),
                    &strangers,
                    &attached,
                );
                return Err(conflict(op, "CONFLICT", 409, why));
            }
            attached.retain(|id| !ids.contains(id));
        }
        change.args.insert("instance_ids".into(), ids.into());
        fw.insert("instance_ids".into(), attached.into());
        fw.insert("planned".into(), true.into());
        let id = text(&fw, "id").to_string();
        self.lock().objects.insert(id, (Kind::Firewall, fw.clone()));
        Ok(Value::Object(fw))
    }

    /// The object as the plan sees it now.
    fn current(
        &self,
        client: &Client,
        kind: Kind,
        id: &str,
        asked: &Op,
    ) -> Result<Map<String, Value>, ApiError> {
        let get = super::handles::Handle::get_op(kind);
        let mut args = Args::new();
        args.insert("id".into(), id.into());
        match self.read(client, get, &args)?.data {
            Value::Object(map) => Ok(map),
            _ => Err(not_found(asked, id)),
        }
    }

    fn plan_transition(
        &self,
        client: &Client,
        op: &'static Op,
        mut vm: Map<String, Value>,
        change: &mut Change,
    ) -> Result<Value, ApiError> {
        let t = lifecycle::transition(op.id).ok_or_else(|| not_found(op, ""))?;
        if op.id == OpId::TogglePublicIp {
            let label = format!("instance {} ({})", text(&vm, "id"), text(&vm, "name"));
            crate::api::choices::public_ip_toggle(text(&vm, "region"), &label)
                .map_err(|why| conflict(op, "CONFLICT", 409, why))?;
        }
        let status = text(&vm, "status").to_string();
        if !t.from.contains(&status.as_str()) {
            return Err(conflict(
                op,
                "CONFLICT",
                409,
                lifecycle::wrong_state(t, text(&vm, "id"), text(&vm, "name"), &status),
            ));
        }
        let prices = self.prices(client);
        let gpu = gpu_cost(prices, &vm);
        let deleting = t.via == Some("DELETING");
        change.hourly_delta = match (status.as_str(), t.to) {
            ("ACTIVE", Some("SHUTOFF" | "HIBERNATED")) => -gpu,
            ("SHUTOFF" | "HIBERNATED", Some("ACTIVE")) => gpu,
            (s, None) if deleting => {
                -(if s == "ACTIVE" { gpu } else { 0.0 }) - disk_cost(prices, &vm, gpu)
            }
            _ => 0.0,
        };
        if op.id == OpId::TogglePublicIp {
            let on = vm.get("public_ip").is_some_and(|v| !v.is_null());
            vm.insert(
                "public_ip".into(),
                if on { Value::Null } else { "planned".into() },
            );
        }
        let via = t.via.unwrap_or(status.as_str()).to_string();
        let settles = if deleting {
            None
        } else {
            Some(t.to.unwrap_or(status.as_str()).to_string())
        };
        Ok(self.put(Kind::Vm, vm, &via, settles.as_deref()))
    }

    /// A new instance's hourly price, once balance and stock allow it (as the server checks).
    fn admit(
        &self,
        client: &Client,
        op: &Op,
        model: &str,
        count: i64,
        region: &str,
        os_gb: Option<i64>,
    ) -> Result<f64, ApiError> {
        let hourly = quote(client, model, count, region, os_gb);
        self.check_funds(client, op, hourly)?;
        self.check_stock(client, op, region, model, count)?;
        Ok(hourly)
    }

    fn check_stock(
        &self,
        client: &Client,
        op: &Op,
        region: &str,
        model: &str,
        count: i64,
    ) -> Result<(), ApiError> {
        let stocks = client.call(OpId::GpuStocks.op(), &Args::new())?;
        let free = stocks
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| {
                s.get("region").and_then(Value::as_str) == Some(region)
                    && s.get("gpu_model").and_then(Value::as_str) == Some(model)
            })
            .and_then(|s| s.get("available_gpus").and_then(Value::as_i64));
        let key = format!("{region}/{model}");
        let mut overlay = self.lock();
        let taken = overlay.gpus_taken.get(&key).copied().unwrap_or(0);
        if let Some(free) = free {
            if free - taken < count {
                return Err(conflict(op, "OUT_OF_STOCK", 409, format!(
                    "Out of stock: {count}× {model} requested in {region}, {} GPUs available (after the plan's earlier deploys)",
                    free - taken
                )));
            }
        }
        *overlay.gpus_taken.entry(key).or_insert(0) += count;
        Ok(())
    }

    fn check_funds(&self, client: &Client, op: &Op, hourly: f64) -> Result<(), ApiError> {
        let balance = client.call(OpId::Balance.op(), &Args::new())?;
        let have = balance
            .get("balance")
            .and_then(Value::as_f64)
            .unwrap_or(f64::MAX);
        let planned: f64 = self.changes().iter().map(|c| c.hourly_delta.max(0.0)).sum();
        let need = (hourly + planned).max(1.0);
        if have < need {
            return Err(conflict(op, "INSUFFICIENT_CREDITS", 402, format!(
                "Insufficient credits: the plan needs a balance of at least {need:.2} (one hour prepaid); the balance is {have:.2}"
            )));
        }
        Ok(())
    }

    fn plan_deploy(
        &self,
        client: &Client,
        op: &'static Op,
        args: &Args,
        change: &mut Change,
    ) -> Result<Value, ApiError> {
        let model = text(args, "gpu_model").to_string();
        let region = text(args, "region").to_string();
        let count = args.get("gpu_count").and_then(Value::as_i64).unwrap_or(1);
        let name = text(args, "name").to_string();
        if !name.is_empty() {
            let mut filter = Args::new();
            filter.insert("region".into(), region.clone().into());
            let taken = self
                .read(client, OpId::Instances.op(), &filter)?
                .data
                .as_array()
                .is_some_and(|list| {
                    list.iter().any(|i| {
                        i.get("name").and_then(Value::as_str) == Some(name.as_str())
                            && i.get("region").and_then(Value::as_str) == Some(region.as_str())
                    })
                });
            if taken {
                return Err(conflict(
                    op,
                    "CONFLICT",
                    409,
                    format!("An instance named {name:?} already exists in {region}"),
                ));
            }
        }
        let os_gb = args.get("os_volume_size_gb").and_then(Value::as_i64);
        let hourly = self.admit(client, op, &model, count, &region, os_gb)?;
        let id = self.new_id();
        let name = if name.is_empty() {
            format!(
                "barrack-{}-{id}",
                model
                    .split('-')
                    .next()
                    .unwrap_or("gpu")
                    .to_ascii_lowercase()
            )
        } else {
            name
        };
        let mut vm = args.clone();
        vm.insert("id".into(), id.clone().into());
        vm.insert("name".into(), name.clone().into());
        vm.insert("hourly_cost".into(), hourly.into());
        vm.insert("created_at".into(), now_text(client).into());
        change.target = format!("{id} ({name})");
        change.hourly_delta = hourly;
        for key in ["gpu_model", "gpu_count", "region"] {
            if let Some(v) = vm.get(key) {
                change.args.insert(key.into(), v.clone());
            }
        }
        Ok(self.put(Kind::Vm, vm, "CREATING", Some("ACTIVE")))
    }

    fn plan_snapshot(
        &self,
        client: &Client,
        op: &'static Op,
        args: &Args,
        change: &mut Change,
    ) -> Result<Value, ApiError> {
        let instance_id = text(args, "instance_id").to_string();
        let vm = self.current(client, Kind::Vm, &instance_id, op)?;
        let status = text(&vm, "status");
        if let Some(t) = lifecycle::transition(OpId::Snapshot) {
            if !t.from.contains(&status) {
                return Err(conflict(
                    op,
                    "CONFLICT",
                    409,
                    lifecycle::wrong_state(t, &instance_id, text(&vm, "name"), status),
                ));
            }
        }
        let name = match text(args, "name") {
            "" => format!("{}-planned", text(&vm, "name")),
            n => n.to_string(),
        };
        let exists = self
            .read(client, OpId::Snapshots.op(), &Args::new())?
            .data
            .as_array()
            .is_some_and(|list| {
                list.iter()
                    .any(|s| s.get("name").and_then(Value::as_str) == Some(name.as_str()))
            });
        if exists {
            return Err(conflict(
                op,
                "CONFLICT",
                409,
                format!("A snapshot named {name:?} already exists"),
            ));
        }
        let id = self.new_id();
        let size = vm
            .get("os_volume_size_gb")
            .and_then(Value::as_i64)
            .unwrap_or(100);
        let hourly = size as f64 * rate(self.prices(client), "snapshot_hourly_per_gb");
        let snapshot = json!({
            "id": id, "name": name, "instance_id": instance_id, "instance_name": text(&vm, "name"),
            "region": text(&vm, "region"), "gpu_model": text(&vm, "gpu_model"), "gpu_count": vm.get("gpu_count"),
            "size_gb": size, "created_at": now_text(client),
            "hourly_cost": hourly,
        });
        change.target = describe(&vm);
        change.args.insert("name".into(), name.into());
        change.hourly_delta = hourly;
        let Value::Object(map) = snapshot else {
            return Ok(Value::Null);
        };
        Ok(self.put(Kind::Snapshot, map, "CREATING", Some("AVAILABLE")))
    }

    fn plan_restore_snapshot(
        &self,
        client: &Client,
        op: &'static Op,
        args: &Args,
        snapshot: Option<&Map<String, Value>>,
        change: &mut Change,
    ) -> Result<Value, ApiError> {
        let snap = snapshot.cloned().unwrap_or_default();
        let name = text(args, "name").to_string();
        crate::api::rules::restored_instance_name(&name)
            .map_err(|m| ApiError::invalid(op.name, "name", m))?;
        if text(&snap, "status") != "AVAILABLE" {
            return Err(conflict(
                op,
                "CONFLICT",
                409,
                format!(
                    "Invalid snapshot status: snapshot {} ({}) is {}; it must be AVAILABLE",
                    text(&snap, "id"),
                    text(&snap, "name"),
                    text(&snap, "status")
                ),
            ));
        }
        let model = text(&snap, "gpu_model").to_string();
        let region = text(&snap, "region").to_string();
        let count = snap.get("gpu_count").and_then(Value::as_i64).unwrap_or(1);
        let os_gb = snap.get("size_gb").and_then(Value::as_i64);
        let hourly = self.admit(client, op, &model, count, &region, os_gb)?;
        let id = self.new_id();
        let vm = json!({"id": id, "name": name, "region": region, "gpu_model": model, "gpu_count": count,
                        "os_volume_size_gb": snap.get("size_gb"),
                        "source_snapshot_id": text(&snap, "id"), "hourly_cost": hourly, "created_at": now_text(client)});
        change.target = describe(&snap);
        change.args.insert("name".into(), name.into());
        change.hourly_delta = hourly;
        let Value::Object(map) = vm else {
            return Ok(Value::Null);
        };
        Ok(self.put(Kind::Vm, map, "RESTORING", Some("ACTIVE")))
    }
}

fn not_found(op: &Op, id: &str) -> ApiError {
    let mut err = ApiError::new(
        crate::api::Failure::Status,
        op.name,
        String::new(),
        format!("{id} not found (deleted by the plan)"),
    );
    err.status = 404;
    err.code = "NOT_FOUND".into();
    err
}

fn describe(object: &Map<String, Value>) -> String {
    match text(object, "name") {
        "" => text(object, "id").to_string(),
        name => format!("{} ({name})", text(object, "id")),
    }
}

/// Hourly price of a configuration from the pricing operation (POST /pricing/).
fn quote(client: &Client, model: &str, count: i64, region: &str, os_gb: Option<i64>) -> f64 {
    let mut args = Args::new();
    args.insert("gpu_model".into(), model.into());
    args.insert("gpu_count".into(), count.into());
    args.insert("region".into(), region.into());
    if let Some(gb) = os_gb {
        args.insert("os_volume_size_gb".into(), gb.into());
    }
    client
        .call(OpId::Quote.op(), &args)
        .ok()
        .and_then(|q| q.get("hourly_cost").and_then(Value::as_f64))
        .unwrap_or(0.0)
}

/// A rate from the price list.
fn rate(prices: &Value, key: &str) -> f64 {
    prices.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// What an instance's GPUs cost per hour (GPU rate × count, from the price list).
fn gpu_cost(prices: &Value, vm: &Map<String, Value>) -> f64 {
    let model = text(vm, "gpu_model");
    let count = vm.get("gpu_count").and_then(Value::as_i64).unwrap_or(0) as f64;
    prices
        .get("gpus")
        .and_then(Value::as_array)
        .and_then(|gpus| {
            gpus.iter()
                .find(|g| g.get("gpu_model").and_then(Value::as_str) == Some(model))
        })
        .and_then(|g| g.get("hourly_per_gpu").and_then(Value::as_f64))
        .map(|r| r * count)
        .unwrap_or(0.0)
}

/// What a volume, snapshot or image costs per hour to keep, as its own JSON says.
fn storage_cost(object: &Map<String, Value>) -> f64 {
    object
        .get("hourly_cost")
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
}

/// An instance's disk per hour: its OS volume size at the price list's rate, else what its
/// hourly cost leaves once the GPUs are taken out.
fn disk_cost(prices: &Value, vm: &Map<String, Value>, gpu: f64) -> f64 {
    match vm.get("os_volume_size_gb").and_then(Value::as_i64) {
        Some(gb) => gb as f64 * rate(prices, "os_volume_hourly_per_gb"),
        None => (vm.get("hourly_cost").and_then(Value::as_f64).unwrap_or(0.0) - gpu).max(0.0),
    }
}

/// The checks `barrack-api.md` prints for bodies, as the server would apply them: the request's
/// shape from the catalog (positional fields' rules included) and the one deployment validation.
fn validate(op: &Op, args: &Args) -> Result<(), ApiError> {
    use crate::api::{check, deployment, rules};
    let refusal = |problems| check::refusal(op.name, problems);
    check::request(op, args).map_err(refusal)?;
    if op.id == OpId::Deploy {
        let mut body = args.clone();
        body.remove("id");
        deployment::check(&body).map_err(refusal)?;
    }
    // The one rule that ties two fields of a volume together (the rest is in the shape).
    if op.id == OpId::CreateVolume && args.get("bootable").and_then(Value::as_bool) == Some(true) {
        if let Some(size) = args.get("size_gb").and_then(Value::as_i64) {
            rules::volume_size(size, true).map_err(|m| ApiError::invalid(op.name, "size_gb", m))?;
        }
    }
    Ok(())
}

fn now_text(client: &Client) -> String {
    client
        .server_now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
