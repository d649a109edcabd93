//! Volumes, snapshots and custom images.

use super::account::{round4, OS_IMAGES};
use super::views::{ImageView, SnapshotView, VolumeView};
use super::{found, list_of, missing, removed, Outcome, Req};
use crate::api::Kind;
use crate::sim::reply::{FieldErrors, Refusal, Reply};
use crate::sim::rules;
use crate::sim::world::*;
use serde_json::{json, Value};

const VOLUME_CREATE_SECONDS: f64 = 10.0;
const SNAPSHOT_SECONDS: f64 = 60.0;
const IMAGE_SECONDS: f64 = 120.0;

pub fn volumes(world: &World, req: &Req) -> Outcome {
    list_of(world.volumes.values(), VolumeView::of, req, "advanced")
}

pub fn volume(world: &World, req: &Req) -> Outcome {
    let volume = found(&world.volumes, Kind::Volume, req.id())?;
    Ok(Reply::ok(VolumeView::of(volume), tier(&volume.region)))
}

pub fn volume_types(_world: &World, _req: &Req) -> Outcome {
    let items: Vec<Value> = VOLUME_TYPES
        .iter()
        .map(|(name, rate)| {
            json!({"name": name, "hourly_per_gb": rate, "min_size_gb": 10,
                   "bootable": *name == "NVMe", "max_size_gb": rules::VOLUME_MAX_GB})
        })
        .collect();
    Ok(Reply::ok(Value::Array(items), "advanced"))
}

fn check_unique_volume_name(world: &World, name: &str) -> Result<(), Refusal> {
    if world.volumes.values().any(|v| v.name == name) {
        return Err(Refusal::conflict(format!(
            "A volume named {name:?} already exists (volume names are unique across the account)"
        )));
    }
    Ok(())
}

pub fn create_volume(world: &mut World, req: &Req) -> Outcome {
    let mut errors = FieldErrors::default();
    let name = req.text("name", &mut errors);
    let size = req.int("size_gb", &mut errors);
    let region = req.text("region", &mut errors);
    let kind = req
        .text("type", &mut errors)
        .unwrap_or_else(|| "NVMe".into());
    let bootable = req.flag("bootable", &mut errors).unwrap_or(false);
    let os_image = req.text("os_image_id", &mut errors);
    match &name {
        None => errors.add("name", "This field is required"),
        Some(n) => errors.check("name", rules::volume_name(n)),
    }
    match size {
        None if !req.body.contains_key("size_gb") => {
            errors.add("size_gb", "This field is required")
        }
        None => {}
        Some(s) => errors.check("size_gb", rules::volume_size(s, bootable)),
    }
    match &region {
        None => errors.add("region", "This field is required"),
        Some(r) if !is_advanced(r) => errors.add(
            "region",
            format!("Volumes are available in advanced regions only ({r:?} is not one)"),
        ),
        _ => {}
    }
    match VOLUME_TYPES.iter().find(|(t, _)| *t == kind) {
        None => errors.add(
            "type",
            format!("Unknown volume type {kind:?}; see volume_types()"),
        ),
        Some(_) if bootable && kind != "NVMe" => {
            errors.add("type", "Bootable volumes must be NVMe")
        }
        _ => {}
    }
    if bootable {
        match &os_image {
            None => errors.add("os_image_id", "A bootable volume needs an OS image"),
            Some(os) if !OS_IMAGES.iter().any(|(id, _)| id == os) => {
                errors.add("os_image_id", format!("Unknown OS image {os:?}"))
            }
            _ => {}
        }
    }
    errors.finish()?;
    let (name, size, region) = (
        name.unwrap_or_default(),
        size.unwrap_or(0),
        region.unwrap_or_default(),
    );
    check_unique_volume_name(world, &name)?;
    let id = world.new_id(Kind::Volume.id_prefix());
    let volume = Volume {
        id: id.clone(),
        name,
        region,
        size_gb: size,
        volume_type: kind,
        bootable,
        os_image_id: os_image,
        status: "CREATING".into(),
        instance_id: None,
        created_at: world.timestamp(),
        total_cost: 0.0,
        pending: Some(Pending {
            due: world.clock + VOLUME_CREATE_SECONDS,
            to: Some("AVAILABLE".into()),
        }),
        billed_to: unsettled(),
    };
    let reply = Reply::created(VolumeView::of(&volume), "advanced");
    world.add_volume(volume);
    Ok(reply)
}

pub fn delete_volume(world: &mut World, req: &Req) -> Outcome {
    let volume = found(&world.volumes, Kind::Volume, req.id())?;
    if let Some(instance) = &volume.instance_id {
        return Err(Refusal::conflict(format!(
            "Volume {} ({}) is attached to instance {instance}; detach it first",
            volume.id, volume.name
        )));
    }
    if volume.status == "CREATING" {
        return Err(Refusal::conflict(format!(
            "Volume {} ({}) is still CREATING",
            volume.id, volume.name
        )));
    }
    let id = volume.id.clone();
    world.remove_volume(&id);
    Ok(Reply::ok(json!({"id": id, "deleted": true}), "advanced"))
}

pub fn resize_volume(world: &mut World, req: &Req) -> Outcome {
    let volume = found(&world.volumes, Kind::Volume, req.id())?.clone();
    let mut errors = FieldErrors::default();
    match req.int("size_gb", &mut errors) {
        None if errors.is_empty() => errors.add("size_gb", "This field is required"),
        None => {}
        Some(size) => {
            errors.check("size_gb", rules::volume_size(size, volume.bootable));
            if size <= volume.size_gb && errors.is_empty() {
                errors.add(
                    "size_gb",
                    format!(
                        "Volumes can only grow: {} is {} GB, asked {size} GB",
                        volume.id, volume.size_gb
                    ),
                );
            }
        }
    }
    errors.finish()?;
    if !matches!(volume.status.as_str(), "AVAILABLE" | "IN_USE") {
        return Err(Refusal::conflict(format!(
            "Volume {} ({}) is {}; resize needs AVAILABLE or IN_USE",
            volume.id, volume.name, volume.status
        )));
    }
    let mut ignore = FieldErrors::default();
    let size = req.int("size_gb", &mut ignore).unwrap_or(volume.size_gb);
    // A new size, a new rate: through the world, which bills the old one up to now.
    world.change_volume(req.id(), |v| v.size_gb = size);
    let v = found(&world.volumes, Kind::Volume, req.id())?;
    Ok(Reply::ok(VolumeView::of(v), "advanced"))
}

pub fn clone_volume(world: &mut World, req: &Req) -> Outcome {
    let source = found(&world.volumes, Kind::Volume, req.id())?.clone();
    let mut errors = FieldErrors::default();
    let name = req.text("name", &mut errors);
    match &name {
        None => errors.add("name", "This field is required"),
        Some(n) => errors.check("name", rules::volume_name(n)),
    }
    errors.finish()?;
    let name = name.unwrap_or_default();
    check_unique_volume_name(world, &name)?;
    if source.status == "CREATING" {
        return Err(Refusal::conflict(format!(
            "Volume {} ({}) is still CREATING",
            source.id, source.name
        )));
    }
    let id = world.new_id(Kind::Volume.id_prefix());
    let volume = Volume {
        id: id.clone(),
        name,
        status: "CREATING".into(),
        instance_id: None,
        created_at: world.timestamp(),
        total_cost: 0.0,
        pending: Some(Pending {
            due: world.clock + VOLUME_CREATE_SECONDS,
            to: Some("AVAILABLE".into()),
        }),
        ..source
    };
    let reply = Reply::created(VolumeView::of(&volume), "advanced");
    world.add_volume(volume);
    Ok(reply)
}

fn volume_ids(req: &Req) -> Result<Vec<String>, Refusal> {
    let mut errors = FieldErrors::default();
    let ids = req.ids("volume_ids", &mut errors);
    if ids.as_ref().is_none_or(|i| i.is_empty()) && errors.is_empty() {
        errors.add("volume_ids", "At least one volume id is required");
    }
    errors.finish()?;
    Ok(ids.unwrap_or_default())
}

pub fn attach_volumes(world: &mut World, req: &Req) -> Outcome {
    let ids = volume_ids(req)?;
    let instance = found(&world.instances, Kind::Vm, req.id())?.clone();
    super::require_state(&instance, crate::api::OpId::AttachVolumes)?;
    for id in &ids {
        let volume = found(&world.volumes, Kind::Volume, id)?;
        if volume.status != "AVAILABLE" {
            return Err(Refusal::conflict(format!(
                "Volume not available: {} ({}) is {}",
                volume.id, volume.name, volume.status
            )));
        }
        if volume.region != instance.region {
            return Err(Refusal::conflict(format!(
                "Volume {} is in {}, instance {} is in {}: they must be in the same region",
                volume.id, volume.region, instance.id, instance.region
            )));
        }
    }
    for id in &ids {
        if let Some(v) = world.volumes.get_mut(id) {
            v.instance_id = Some(instance.id.clone());
            v.status = "IN_USE".into();
        }
    }
    if let Some(i) = world.instances.get_mut(req.id()) {
        i.volume_ids.extend(ids.iter().cloned());
    }
    Ok(Reply::ok(
        json!({"instance_id": instance.id, "attached": ids}),
        tier(&instance.region),
    ))
}

pub fn detach_volumes(world: &mut World, req: &Req) -> Outcome {
    let ids = volume_ids(req)?;
    let instance = found(&world.instances, Kind::Vm, req.id())?.clone();
    let boot = instance.boot_source.get("id").and_then(Value::as_str);
    for id in &ids {
        let volume = found(&world.volumes, Kind::Volume, id)?;
        if Some(id.as_str()) == boot {
            return Err(Refusal::conflict(format!(
                "Volume {id} is the boot volume of instance {}; it cannot be detached",
                instance.id
            )));
        }
        if volume.instance_id.as_deref() != Some(instance.id.as_str()) {
            return Err(Refusal::conflict(format!(
                "Volume {id} ({}) is not attached to instance {}",
                volume.name, instance.id
            )));
        }
    }
    for id in &ids {
        if let Some(v) = world.volumes.get_mut(id) {
            v.instance_id = None;
            v.status = "AVAILABLE".into();
        }
    }
    if let Some(i) = world.instances.get_mut(req.id()) {
        i.volume_ids.retain(|v| !ids.contains(v));
    }
    Ok(Reply::ok(
        json!({"instance_id": instance.id, "detached": ids}),
        tier(&instance.region),
    ))
}

pub fn volume_billing(world: &World, req: &Req) -> Outcome {
    let volume = found(&world.volumes, Kind::Volume, req.id())?;
    Ok(Reply::ok(
        json!({"volume_id": volume.id, "currency": world.currency, "hourly_cost": round4(volume.hourly_cost()),
               "total_cost": round4(volume.total_cost_at(world.clock)), "billing": "per minute"}),
        tier(&volume.region),
    ))
}

pub fn snapshots(world: &World, req: &Req) -> Outcome {
    list_of(world.snapshots.values(), SnapshotView::of, req, "advanced")
}

pub fn snapshot(world: &World, req: &Req) -> Outcome {
    let snapshot = found(&world.snapshots, Kind::Snapshot, req.id())?;
    Ok(Reply::ok(
        SnapshotView::of(snapshot),
        tier(&snapshot.region),
    ))
}

pub fn create_snapshot(world: &mut World, req: &Req) -> Outcome {
    let mut errors = FieldErrors::default();
    let instance_id = req.text("instance_id", &mut errors);
    let name = req.text("name", &mut errors).filter(|n| !n.is_empty());
    if instance_id.is_none() && errors.is_empty() {
        errors.add("instance_id", "This field is required");
    }
    if let Some(n) = &name {
        if n.chars().count() > 64
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
        {
            errors.add(
                "name",
                "Snapshot name must be 1-64 letters, numbers, spaces, hyphens, underscores or dots",
            );
        }
    }
    errors.finish()?;
    let instance_id = instance_id.unwrap_or_default();
    let instance = found(&world.instances, Kind::Vm, &instance_id)?.clone();
    let region_tier = tier(&instance.region);
    super::require_state(&instance, crate::api::OpId::Snapshot)?;
    let name =
        name.unwrap_or_else(|| format!("{}-{}", instance.name, world.timestamp().replace(':', "")));
    if world.snapshots.values().any(|s| s.name == name) {
        return Err(
            Refusal::conflict(format!("A snapshot named {name:?} already exists"))
                .in_tier(region_tier),
        );
    }
    let id = world.new_id(Kind::Snapshot.id_prefix());
    let snapshot = Snapshot {
        id: id.clone(),
        name,
        instance_id: instance.id.clone(),
        instance_name: instance.name.clone(),
        region: instance.region.clone(),
        gpu_model: instance.gpu_model.clone(),
        gpu_count: instance.gpu_count,
        vcpus: instance.vcpus,
        ram_gb: instance.ram_gb,
        size_gb: instance.os_volume_size_gb,
        ssh_key_ids: instance.ssh_key_ids.clone(),
        status: "CREATING".into(),
        created_at: world.timestamp(),
        total_cost: 0.0,
        pending: Some(Pending {
            due: world.clock + SNAPSHOT_SECONDS,
            to: Some("AVAILABLE".into()),
        }),
        billed_to: unsettled(),
    };
    let reply = Reply::created(SnapshotView::of(&snapshot), region_tier);
    world.add_snapshot(snapshot);
    Ok(reply)
}

pub fn delete_snapshot(world: &mut World, req: &Req) -> Outcome {
    let snapshot = found(&world.snapshots, Kind::Snapshot, req.id())?;
    if snapshot.status == "CREATING" {
        return Err(Refusal::conflict(format!(
            "Snapshot {} ({}) is still CREATING; delete it once it is AVAILABLE",
            snapshot.id, snapshot.name
        )));
    }
    let id = snapshot.id.clone();
    let name = snapshot.name.clone();
    world.remove_snapshot(&id);
    let failed = fail_restores_of(world, &id, &name);
    Ok(Reply::ok(
        json!({"id": id, "deleted": true, "failed_restores": failed}),
        "advanced",
    ))
}

/// A restore still reading a deleted snapshot cannot finish: it ends in ERROR with the
/// reference's "Snapshot Deleted During Restore" and gives its GPUs back. See `api::choices`.
fn fail_restores_of(world: &mut World, snapshot_id: &str, snapshot_name: &str) -> Vec<String> {
    use crate::api::choices::SNAPSHOT_DELETED_DURING_RESTORE;
    let readers = world.take_restores_of(snapshot_id);
    let now = world.timestamp();
    let mut released = Vec::new();
    for id in &readers {
        // A new status: through the world, which bills the old one up to now.
        let gave_back = world.change_instance(id, |instance| {
            instance.status = "ERROR".into();
            instance.pending = None;
            instance.restoring_from = None;
            instance.updated_at = now.clone();
            instance.error = Some(format!(
                "{SNAPSHOT_DELETED_DURING_RESTORE}: snapshot {snapshot_id} ({snapshot_name}) was deleted while instance {id} ({}) was being restored from it",
                instance.name
            ));
            let held = std::mem::replace(&mut instance.holds_gpus, false);
            held.then(|| {
                (
                    instance.region.clone(),
                    instance.gpu_model.clone(),
                    instance.gpu_count,
                )
            })
        });
        released.extend(gave_back.flatten());
    }
    for (region, model, count) in released {
        world.return_gpus(&region, &model, count);
    }
    readers
}

pub fn snapshot_billing(world: &World, req: &Req) -> Outcome {
    let snapshot = found(&world.snapshots, Kind::Snapshot, req.id())?;
    Ok(Reply::ok(
        json!({"snapshot_id": snapshot.id, "currency": world.currency, "size_gb": snapshot.size_gb,
               "hourly_cost": round4(snapshot.size_gb as f64 * SNAPSHOT_RATE),
               "total_cost": round4(snapshot.total_cost_at(world.clock)), "billing": "per minute"}),
        tier(&snapshot.region),
    ))
}

pub fn images(world: &World, req: &Req) -> Outcome {
    list_of(world.images.values(), ImageView::of, req, "advanced")
}

pub fn image(world: &World, req: &Req) -> Outcome {
    let image = found(&world.images, Kind::Image, req.id())?;
    Ok(Reply::ok(ImageView::of(image), tier(&image.region)))
}

pub fn delete_image(world: &mut World, req: &Req) -> Outcome {
    let image = removed(&mut world.images, Kind::Image, req.id())?;
    Ok(Reply::ok(
        json!({"id": image.id, "deleted": true}),
        "advanced",
    ))
}

pub fn create_image(world: &mut World, req: &Req) -> Outcome {
    let snapshot = found(&world.snapshots, Kind::Snapshot, req.id())?.clone();
    let mut errors = FieldErrors::default();
    let name = req.text("name", &mut errors).filter(|n| !n.is_empty());
    errors.finish()?;
    if snapshot.status != "AVAILABLE" {
        return Err(Refusal::conflict(format!(
            "Snapshot {} ({}) is {}; an image needs an AVAILABLE snapshot",
            snapshot.id, snapshot.name, snapshot.status
        )));
    }
    if world.images.values().any(|i| i.snapshot_id == snapshot.id) {
        return Err(Refusal::conflict(format!(
            "Snapshot {} already has an image",
            snapshot.id
        )));
    }
    let name = name.unwrap_or_else(|| format!("{}-image", snapshot.name));
    if world.images.values().any(|i| i.name == name) {
        return Err(Refusal::conflict(format!(
            "An image named {name:?} already exists"
        )));
    }
    let id = world.new_id(Kind::Image.id_prefix());
    let image = Image {
        id: id.clone(),
        name,
        snapshot_id: snapshot.id.clone(),
        region: snapshot.region.clone(),
        size_gb: snapshot.size_gb,
        status: "CREATING".into(),
        created_at: world.timestamp(),
        pending: Some(Pending {
            due: world.clock + IMAGE_SECONDS,
            to: Some("AVAILABLE".into()),
        }),
    };
    let reply = Reply::created(ImageView::of(&image), tier(&snapshot.region));
    world.add_image(image);
    Ok(reply)
}

/// Whether a snapshot has been made into an image, and which.
#[derive(serde::Serialize)]
struct Relationship<'a> {
    snapshot_id: &'a str,
    has_image: bool,
    image_id: Option<&'a str>,
    image: Option<ImageView<'a>>,
}

fn relationship<'a>(world: &'a World, snapshot_id: &'a str) -> Relationship<'a> {
    let image = world.images.values().find(|i| i.snapshot_id == snapshot_id);
    Relationship {
        snapshot_id,
        has_image: image.is_some(),
        image_id: image.map(|i| i.id.as_str()),
        image: image.map(ImageView::of),
    }
}

pub fn snapshot_image(world: &World, req: &Req) -> Outcome {
    if !world.snapshots.contains_key(req.id()) {
        return Err(missing(Kind::Snapshot, req.id()));
    }
    Ok(Reply::ok(relationship(world, req.id()), "advanced"))
}

pub fn snapshot_images(world: &World, req: &Req) -> Outcome {
    let mut errors = FieldErrors::default();
    let ids = req.ids("snapshot_ids", &mut errors);
    if ids.is_none() && errors.is_empty() {
        errors.add("snapshot_ids", "This field is required");
    }
    errors.finish()?;
    let ids = ids.unwrap_or_default();
    let items: Vec<Relationship> = ids.iter().map(|id| relationship(world, id)).collect();
    Ok(Reply::ok(items, "advanced"))
}
