//! Instances: deploy, the lifecycle, security rules, billing, and restoring snapshots.

use super::account::{minimum_balance, per_gpu, round4, OS_IMAGES};
use super::security_rule::check_rule;
use super::views::{write_instance, InstanceView};
use super::{found, found_mut, Outcome, Req};
use crate::api::{lifecycle, Kind, OpId};
use crate::sim::reply::{FieldErrors, Refusal, Reply};
use crate::sim::rules;
use crate::sim::world::*;
use serde_json::{json, Value};

/// A 400 naming every field the catalog's checks refused.
pub fn refusal(problems: crate::api::check::Problems) -> Refusal {
    let mut errors = FieldErrors::default();
    for (field, messages) in problems {
        for message in messages {
            errors.add(&field, message);
        }
    }
    errors.into_refusal()
}

/// Simulated seconds each transition takes (deploys: 2–5 minutes, as documented).
pub const DEPLOY_SECONDS: (u64, u64) = (120, 300);
const STOP_SECONDS: f64 = 30.0;
const START_SECONDS: f64 = 45.0;
const REBOOT_SECONDS: f64 = 60.0;
const HIBERNATE_SECONDS: f64 = 90.0;
const RESTORE_SECONDS: f64 = 120.0;
const DELETE_SECONDS: f64 = 30.0;
const SNAPSHOT_RESTORE_SECONDS: f64 = 180.0;

fn find<'w>(world: &'w World, id: &str) -> Result<&'w Rendered<Instance>, Refusal> {
    found(&world.instances, Kind::Vm, id)
}

fn label(instance: &Instance) -> String {
    format!("instance {} ({})", instance.id, instance.name)
}

fn reply(world: &World, id: &str) -> Outcome {
    let instance = find(world, id)?;
    // An instance is about half a kilobyte as JSON.
    let mut envelope = Reply::envelope_for(640);
    write_instance(world, instance, &mut envelope);
    Ok(Reply::written(envelope, None, tier(&instance.region)))
}

/// A list of instances, each written from the text kept with it.
pub fn list_instances<'w>(
    world: &'w World,
    instances: impl Iterator<Item = &'w Rendered<Instance>>,
    req: &Req,
) -> Outcome {
    let view = |i: &'w Rendered<Instance>| InstanceView::of(world, i);
    let write = |i, out: &mut Vec<u8>| write_instance(world, i, out);
    super::list_written(instances, view, write, req, "advanced")
}

pub fn list(world: &World, req: &Req) -> Outcome {
    list_instances(world, world.instances.values(), req)
}

pub fn get(world: &World, req: &Req) -> Outcome {
    reply(world, req.id())
}

pub fn snapshot_eligible(world: &World, req: &Req) -> Outcome {
    let active = world.instances.values().filter(|i| i.status == "ACTIVE");
    list_instances(world, active, req)
}

pub fn hibernated_count(world: &World, _req: &Req) -> Outcome {
    let count = world
        .instances
        .values()
        .filter(|i| i.status == "HIBERNATED")
        .count();
    Ok(Reply::ok(json!({"count": count}), "advanced"))
}

/// Balance needed to start paying for `hourly` per hour: the minimum, and one hour prepaid.
fn check_funds(world: &World, hourly: f64, what: &str) -> Result<(), Refusal> {
    let minimum = minimum_balance(&world.currency);
    let needed = hourly.max(minimum);
    if world.balance < needed {
        return Err(Refusal::new(
            402,
            "INSUFFICIENT_CREDITS",
            format!(
                "Insufficient credits: {what} needs a balance of at least {:.2} {} (one hour prepaid, minimum {:.2}); the balance is {:.2}",
                needed, world.currency, minimum, world.balance
            ),
        ));
    }
    Ok(())
}

fn check_stock(world: &World, region: &str, model: &str, count: i64) -> Result<(), Refusal> {
    let free = world.free_gpus(region, model);
    if free < count {
        return Err(Refusal::new(
            409,
            "OUT_OF_STOCK",
            format!("Out of stock: {count}× {model} requested in {region}, {free} GPUs available"),
        )
        .in_tier(tier(region)));
    }
    Ok(())
}

fn check_profile(world: &World) -> Result<(), Refusal> {
    if !world.profile_complete {
        return Err(Refusal::new(
            403,
            "PROFILE_INCOMPLETE",
            "Profile incomplete: add a postal code and country to the account profile before deploying",
        ));
    }
    Ok(())
}

fn auto_name(world: &mut World, model: &str) -> String {
    let short: String = model
        .split('-')
        .next()
        .unwrap_or("gpu")
        .to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let suffix = if model.contains("SXM") { "s" } else { "" };
    let random = world.random_alnum(3);
    format!("barrack-{short}{suffix}-{random}")
}

pub fn deploy(world: &mut World, req: &Req) -> Outcome {
    check_profile(world)?;
    // The one deployment validation (shape, region and model, boot source, SSH keys, tiers);
    // what follows checks the request against the world.
    let body = crate::api::deployment::check(&req.body).map_err(refusal)?;
    let mut errors = FieldErrors::default();
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_string);
    let ids = |key: &str| -> Vec<String> {
        body.get(key)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let model = text("gpu_model");
    let count = body.get("gpu_count").and_then(Value::as_i64);
    let region = text("region");
    let name = text("name").filter(|n| !n.is_empty());
    let os_image = text("os_image_id");
    let boot_volume = text("volume_id");
    let image = text("image_id");
    let ssh_keys = ids("ssh_key_ids");
    let os_gb = body.get("os_volume_size_gb").and_then(Value::as_i64);
    let script_id = text("startup_script_id");
    let data_volumes = ids("volume_ids");
    let public_ip = body.get("public_ip").and_then(Value::as_bool);
    let cloud_init = text("cloud_init");
    let advanced = region.as_deref().is_some_and(is_advanced);
    if let Some(os) = &os_image {
        if !OS_IMAGES.iter().any(|(id, _)| id == os) {
            errors.add("os_image_id", format!("Unknown OS image {os:?}"));
        }
    }
    for key in &ssh_keys {
        if !world.ssh_keys.contains_key(key) {
            errors.add("ssh_key_ids", format!("SSH key {key} not found"));
        }
    }
    if let Some(script) = &script_id {
        if !world.scripts.contains_key(script) {
            errors.add(
                "startup_script_id",
                format!("Startup script {script} not found"),
            );
        }
    }
    errors.finish()?;

    let (model, count, region) = (
        model.unwrap_or_default(),
        count.unwrap_or(1),
        region.unwrap_or_default(),
    );
    let region_tier = tier(&region);
    if let Some(n) = &name {
        if world.instance_named(n, Some(&region)) {
            return Err(Refusal::conflict(format!(
                "An instance named {n:?} already exists in {region}"
            ))
            .in_tier(region_tier));
        }
    }
    if let Some(vol) = &boot_volume {
        let volume = world
            .volumes
            .get(vol)
            .ok_or_else(|| Refusal::field("volume_id", format!("Volume {vol} not found")))?;
        if !volume.bootable || volume.status != "AVAILABLE" || volume.region != region {
            return Err(Refusal::conflict(format!(
                "Volume not available: {vol} must be a bootable, AVAILABLE volume in {region} (it is {}{}, in {})",
                if volume.bootable { "" } else { "not bootable, " },
                volume.status,
                volume.region
            ))
            .in_tier(region_tier));
        }
    }
    for vol in &data_volumes {
        match world.volumes.get(vol) {
            None => {
                return Err(Refusal::field(
                    "volume_ids",
                    format!("Volume {vol} not found"),
                ))
            }
            Some(v) if v.status != "AVAILABLE" || v.region != region => {
                return Err(Refusal::conflict(format!(
                    "Volume not available: {vol} is {} in {}; it must be AVAILABLE in {region}",
                    v.status, v.region
                )))
            }
            _ => {}
        }
    }
    if let Some(img) = &image {
        match world.images.get(img) {
            Some(i) if i.status == "AVAILABLE" => {}
            Some(i) => {
                return Err(Refusal::conflict(format!(
                    "Image {img} is {}; it must be AVAILABLE",
                    i.status
                )))
            }
            None => return Err(Refusal::field("image_id", format!("Image {img} not found"))),
        }
    }
    let os_gb = os_gb.unwrap_or(rules::OS_VOLUME_MIN_GB);
    // Hourly cost = GPU rate × count + OS volume + data volumes; one hour of it must be prepaid.
    let data_volume_cost: f64 = data_volumes
        .iter()
        .filter_map(|v| world.volumes.get(v))
        .map(Volume::hourly_cost)
        .sum();
    let hourly = gpu_rate(&model).unwrap_or(0.0) * count as f64
        + os_gb as f64 * OS_VOLUME_RATE
        + data_volume_cost;
    check_funds(world, hourly, "this deployment")?;
    check_stock(world, &region, &model, count)?;

    let name = match name {
        Some(n) => n,
        None => auto_name(world, &model),
    };
    let id = world.new_instance_id(false);
    let (vcpus, ram) = per_gpu(region_tier);
    let due = world.clock + world.random_range(DEPLOY_SECONDS.0, DEPLOY_SECONDS.1) as f64;
    let now = world.timestamp();
    let boot_source = match (&os_image, &boot_volume, &image) {
        (Some(os), _, _) => json!({"type": "os_image", "id": os}),
        (_, Some(v), _) => json!({"type": "volume", "id": v}),
        (_, _, Some(i)) => json!({"type": "image", "id": i}),
        _ => Value::Null,
    };
    let wants_ip = public_ip.unwrap_or(advanced);
    let ip = wants_ip.then(|| world.new_ip());
    let private_ip = format!(
        "10.{}.{}.{}",
        world.random_range(0, 255),
        world.random_range(0, 255),
        world.random_range(2, 254)
    );
    let security_rules = match body.get("security_rules") {
        Some(Value::Array(rules)) if !advanced => {
            let mut checked = Vec::new();
            for rule in rules {
                let mut rule_errors = FieldErrors::default();
                let mut rule = check_rule(rule, &mut rule_errors, "security_rules")?;
                rule_errors.finish()?;
                rule.insert("id".into(), world.new_id("rule-").into());
                checked.push(Value::Object(rule));
            }
            checked
        }
        _ => Vec::new(),
    };
    world.take_gpus(&region, &model, count);
    for vol in boot_volume.iter().chain(data_volumes.iter()) {
        if let Some(v) = world.volumes.get_mut(vol) {
            v.instance_id = Some(id.clone());
            v.status = "IN_USE".into();
        }
    }
    let instance = Instance {
        vcpus: vcpus * count,
        ram_gb: ram * count,
        os_volume_size_gb: os_gb,
        boot_source,
        ssh_key_ids: ssh_keys,
        public_ip_enabled: wants_ip,
        public_ip: ip,
        volume_ids: data_volumes,
        security_rules,
        startup_script_id: script_id,
        cloud_init,
        ..Instance::starting(
            id.clone(),
            name,
            "CREATING",
            &region,
            &model,
            count,
            private_ip,
            now,
            due,
        )
    };
    let reply = Reply::created(InstanceView::of(world, &instance), region_tier);
    world.add_instance(instance);
    Ok(reply)
}

/// Move an instance into a transitional status, due to settle after `seconds`.
fn transition(world: &mut World, id: &str, via: &str, to: Option<&str>, seconds: f64) -> Outcome {
    let due = world.clock + seconds;
    let now = world.timestamp();
    find(world, id)?;
    // A new status, a new rate: through the world, which bills the old one up to now.
    world.change_instance(id, |instance| {
        instance.status = via.into();
        instance.updated_at = now;
        instance.pending = Some(Pending {
            due,
            to: to.map(str::to_string),
        });
    });
    world.schedule(Target::Instance(id.to_string()), due);
    reply(world, id)
}

/// The instance, if the lifecycle lets `op` act on it now; else 409 naming its state.
fn require(world: &World, id: &str, op: OpId) -> Result<Instance, Refusal> {
    let instance = find(world, id)?;
    super::require_state(instance, op)?;
    Ok(Instance::clone(instance))
}

/// Move an instance along its lifecycle entry for `op`.
fn step(world: &mut World, id: &str, op: OpId, seconds: f64) -> Outcome {
    let t = lifecycle::transition(op).ok_or_else(|| {
        Refusal::new(
            500,
            "INTERNAL_ERROR",
            format!("no lifecycle for {}", op.name()),
        )
    })?;
    transition(world, id, t.via.unwrap_or("ACTIVE"), t.to, seconds)
}

/// Take GPUs back from stock for an instance that released them.
fn reacquire(world: &mut World, instance: &Instance) -> Result<(), Refusal> {
    if instance.holds_gpus {
        return Ok(());
    }
    check_stock(
        world,
        &instance.region,
        &instance.gpu_model,
        instance.gpu_count,
    )?;
    check_funds(
        world,
        instance.full_hourly_cost(world),
        "starting this instance",
    )?;
    world.take_gpus(&instance.region, &instance.gpu_model, instance.gpu_count);
    if let Some(i) = world.instances.get_mut(&instance.id) {
        i.holds_gpus = true;
    }
    Ok(())
}

pub fn start(world: &mut World, req: &Req) -> Outcome {
    let instance = require(world, req.id(), OpId::StartInstance)?;
    reacquire(world, &instance)?;
    step(world, req.id(), OpId::StartInstance, START_SECONDS)
}

pub fn stop(world: &mut World, req: &Req) -> Outcome {
    require(world, req.id(), OpId::StopInstance)?;
    step(world, req.id(), OpId::StopInstance, STOP_SECONDS)
}

pub fn reboot(world: &mut World, req: &Req) -> Outcome {
    require(world, req.id(), OpId::RebootInstance)?;
    step(world, req.id(), OpId::RebootInstance, REBOOT_SECONDS)
}

pub fn hibernate(world: &mut World, req: &Req) -> Outcome {
    let instance = require(world, req.id(), OpId::HibernateInstance)?;
    // The GPU is released at once: stock comes back and GPU billing stops.
    if instance.holds_gpus {
        world.return_gpus(&instance.region, &instance.gpu_model, instance.gpu_count);
        if let Some(i) = world.instances.get_mut(req.id()) {
            i.holds_gpus = false;
        }
    }
    step(world, req.id(), OpId::HibernateInstance, HIBERNATE_SECONDS)
}

pub fn restore(world: &mut World, req: &Req) -> Outcome {
    let instance = require(world, req.id(), OpId::RestoreInstance)?;
    reacquire(world, &instance)?;
    transition(
        world,
        req.id(),
        "RESTORING",
        Some("ACTIVE"),
        RESTORE_SECONDS,
    )
}

pub fn delete(world: &mut World, req: &Req) -> Outcome {
    let instance = require(world, req.id(), OpId::DeleteInstance)?;
    step(world, req.id(), OpId::DeleteInstance, DELETE_SECONDS)?;
    Ok(Reply::ok(
        json!({"id": instance.id, "name": instance.name, "status": "DELETING", "deleted": true}),
        tier(&instance.region),
    ))
}

pub fn toggle_public_ip(world: &mut World, req: &Req) -> Outcome {
    let instance = find(world, req.id())?;
    crate::api::choices::public_ip_toggle(&instance.region, &label(instance))
        .map_err(|why| Refusal::conflict(why).in_tier(tier(&instance.region)))?;
    let instance = require(world, req.id(), OpId::TogglePublicIp)?;
    let ip = (!instance.public_ip_enabled).then(|| world.new_ip());
    if let Some(i) = world.instances.get_mut(req.id()) {
        i.public_ip_enabled = !i.public_ip_enabled;
        i.public_ip = ip;
    }
    reply(world, req.id())
}

pub fn billing(world: &World, req: &Req) -> Outcome {
    let instance = find(world, req.id())?;
    Ok(Reply::ok(
        json!({
            "instance_id": instance.id,
            "status": instance.status,
            "currency": world.currency,
            "hourly_cost": round4(instance.full_hourly_cost(world)),
            "current_hourly_rate": round4(instance.hourly_rate()),
            // Attached data volumes bill on their own (volume_billing), in every state.
            "data_volumes_hourly_cost": round4(instance.data_volume_cost(world)),
            "billed_minutes": instance.billed_minutes_at(world.clock),
            "total_cost": round4(instance.total_cost_at(world.clock)),
            "billing": "per minute",
        }),
        tier(&instance.region),
    ))
}

pub fn add_security_rule(world: &mut World, req: &Req) -> Outcome {
    let instance = find(world, req.id())?.clone();
    if is_advanced(&instance.region) {
        return Err(Refusal::conflict(format!(
            "Security rules apply to legacy-tier instances; {} is in {} (advanced): use a firewall",
            label(&instance),
            instance.region
        )));
    }
    let mut errors = FieldErrors::default();
    let mut rule = check_rule(&Value::Object(req.body.clone()), &mut errors, "")?;
    errors.finish()?;
    let rule_id = world.new_id("rule-");
    rule.insert("id".into(), rule_id.into());
    let rule = Value::Object(rule);
    if let Some(i) = world.instances.get_mut(req.id()) {
        i.security_rules.push(rule.clone());
    }
    Ok(Reply::created(
        json!({"instance_id": instance.id, "rule": rule}),
        "legacy",
    ))
}

pub fn remove_security_rule(world: &mut World, req: &Req) -> Outcome {
    let rule_id = req.param("rule_id").to_string();
    let instance = found_mut(&mut world.instances, Kind::Vm, req.id())?;
    let before = instance.security_rules.len();
    instance
        .security_rules
        .retain(|r| r.get("id").and_then(Value::as_str) != Some(rule_id.as_str()));
    if instance.security_rules.len() == before {
        return Err(Refusal::new(
            404,
            "NOT_FOUND",
            format!(
                "Security rule {rule_id} not found on instance {}",
                instance.id
            ),
        ));
    }
    let tier = tier(&instance.region);
    Ok(Reply::ok(
        json!({"instance_id": instance.id, "rule_id": rule_id, "deleted": true}),
        tier,
    ))
}

pub fn restore_snapshot(world: &mut World, req: &Req) -> Outcome {
    check_profile(world)?;
    let snapshot = world
        .snapshots
        .get(req.id())
        .ok_or_else(|| {
            Refusal::new(
                404,
                "NOT_FOUND",
                format!("Snapshot not available: snapshot {} not found", req.id()),
            )
        })?
        .clone();
    let mut errors = FieldErrors::default();
    let name = req.text("name", &mut errors);
    match &name {
        None => errors.add("name", "This field is required"),
        Some(n) => errors.check("name", rules::restored_instance_name(n)),
    }
    errors.finish()?;
    let name = name.unwrap_or_default();
    let region_tier = tier(&snapshot.region);
    if snapshot.status != "AVAILABLE" {
        return Err(Refusal::conflict(format!(
            "Invalid snapshot status: snapshot {} ({}) is {}; it must be AVAILABLE",
            snapshot.id, snapshot.name, snapshot.status
        ))
        .in_tier(region_tier));
    }
    if world.instance_named(&name, None) {
        return Err(
            Refusal::conflict(format!("An instance named {name:?} already exists"))
                .in_tier(region_tier),
        );
    }
    let hourly = gpu_rate(&snapshot.gpu_model).unwrap_or(0.0) * snapshot.gpu_count as f64
        + snapshot.size_gb as f64 * OS_VOLUME_RATE;
    check_funds(world, hourly, "restoring this snapshot")?;
    check_stock(
        world,
        &snapshot.region,
        &snapshot.gpu_model,
        snapshot.gpu_count,
    )?;
    let id = world.new_instance_id(true);
    let now = world.timestamp();
    let due = world.clock + SNAPSHOT_RESTORE_SECONDS;
    let ip = world.new_ip();
    let private_ip = format!(
        "10.{}.{}.{}",
        world.random_range(0, 255),
        world.random_range(0, 255),
        world.random_range(2, 254)
    );
    world.take_gpus(&snapshot.region, &snapshot.gpu_model, snapshot.gpu_count);
    let instance = Instance {
        vcpus: snapshot.vcpus,
        ram_gb: snapshot.ram_gb,
        os_volume_size_gb: snapshot.size_gb,
        boot_source: json!({"type": "snapshot", "id": snapshot.id}),
        ssh_key_ids: snapshot.ssh_key_ids.clone(),
        public_ip_enabled: true,
        public_ip: Some(ip),
        source_snapshot_id: Some(snapshot.id.clone()),
        restoring_from: Some(snapshot.id.clone()),
        ..Instance::starting(
            id.clone(),
            name,
            "RESTORING",
            &snapshot.region,
            &snapshot.gpu_model,
            snapshot.gpu_count,
            private_ip,
            now,
            due,
        )
    };
    let reply = Reply::created(InstanceView::of(world, &instance), region_tier);
    world.add_instance(instance);
    Ok(reply)
}
