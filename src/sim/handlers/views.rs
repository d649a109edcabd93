//! Each world object as the API shows it: a view borrowing the object's public fields, with
//! the derived ones (tier, cost, state) computed, serialised straight to JSON text. The
//! simulator's bookkeeping (pending transitions, billing records, settlement state) is simply
//! not a field here, so nothing is written only to be removed again.
//!
//! Field order is the order the API has always written them in (the world's field order,
//! then the derived fields); `tests/sim_lists.rs` pins that every list shows an object
//! exactly as its get route does.

use super::account::round4;
use crate::sim::reply::write_json;
use crate::sim::world::{
    tier, Firewall, Image, Instance, Rendered, Snapshot, Volume, World, SNAPSHOT_RATE,
};
use serde::Serialize;
use serde_json::Value;

/// An instance as the API shows it: first what follows from the instance alone, which a list
/// writes once and keeps with it until it changes ([`Rendered`]), then what the clock and the
/// rest of the world decide, written on every answer. One field order, one description:
/// [`write_instance`] writes exactly the bytes this view serialises to.
#[derive(Serialize)]
pub struct InstanceView<'a> {
    #[serde(flatten)]
    own: InstanceOwn<'a>,
    #[serde(flatten)]
    derived: InstanceDerived<'a>,
}

/// An instance's fields that change only when the instance does.
#[derive(Serialize)]
struct InstanceOwn<'a> {
    id: &'a str,
    name: &'a str,
    status: &'a str,
    region: &'a str,
    gpu_model: &'a str,
    gpu_count: i64,
    vcpus: i64,
    ram_gb: i64,
    os_volume_size_gb: i64,
    boot_source: &'a Value,
    ssh_key_ids: &'a [String],
    public_ip_enabled: bool,
    public_ip: Option<&'a str>,
    private_ip: &'a str,
    volume_ids: &'a [String],
    security_rules: &'a [Value],
    startup_script_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cloud_init: Option<&'a str>,
    source_snapshot_id: Option<&'a str>,
    created_at: &'a str,
    updated_at: &'a str,
}

/// An instance's fields read at the clock, or from other objects (its volumes' cost).
#[derive(Serialize)]
struct InstanceDerived<'a> {
    billed_minutes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    tier: &'static str,
    hourly_cost: f64,
}

impl<'a> InstanceView<'a> {
    pub fn of(world: &World, instance: &'a Instance) -> InstanceView<'a> {
        InstanceView {
            own: InstanceOwn::of(instance),
            derived: InstanceDerived::of(world, instance),
        }
    }
}

impl<'a> InstanceOwn<'a> {
    fn of(instance: &'a Instance) -> InstanceOwn<'a> {
        InstanceOwn {
            id: &instance.id,
            name: &instance.name,
            status: &instance.status,
            region: &instance.region,
            gpu_model: &instance.gpu_model,
            gpu_count: instance.gpu_count,
            vcpus: instance.vcpus,
            ram_gb: instance.ram_gb,
            os_volume_size_gb: instance.os_volume_size_gb,
            boot_source: &instance.boot_source,
            ssh_key_ids: &instance.ssh_key_ids,
            public_ip_enabled: instance.public_ip_enabled,
            public_ip: instance.public_ip.as_deref(),
            private_ip: &instance.private_ip,
            volume_ids: &instance.volume_ids,
            security_rules: &instance.security_rules,
            startup_script_id: instance.startup_script_id.as_deref(),
            cloud_init: instance.cloud_init.as_deref(),
            source_snapshot_id: instance.source_snapshot_id.as_deref(),
            created_at: &instance.created_at,
            updated_at: &instance.updated_at,
        }
    }
}

impl<'a> InstanceDerived<'a> {
    fn of(world: &World, instance: &'a Instance) -> InstanceDerived<'a> {
        InstanceDerived {
            // Billing's own reading: minutes not yet settled count (reads never settle).
            billed_minutes: instance.billed_minutes_at(world.clock),
            error: instance.error.as_deref(),
            tier: tier(&instance.region),
            hourly_cost: round4(instance.full_hourly_cost(world)),
        }
    }
}

/// Append `instance` as [`InstanceView`] shows it: its own fields from the text kept with it
/// (written the first time since it last changed), then the derived ones, written now.
pub fn write_instance(world: &World, instance: &Rendered<Instance>, out: &mut Vec<u8>) {
    let own = instance.text(|instance| {
        let mut text = Vec::with_capacity(512);
        write_json(&mut text, &InstanceOwn::of(instance));
        // Left open: the derived fields continue the object.
        text.pop();
        text
    });
    out.extend_from_slice(own);
    let opening = out.len();
    write_json(out, &InstanceDerived::of(world, instance));
    // Its own opening brace becomes the comma after the instance's last own field.
    out[opening] = b',';
}

#[derive(Serialize)]
pub struct VolumeView<'a> {
    id: &'a str,
    name: &'a str,
    region: &'a str,
    size_gb: i64,
    #[serde(rename = "type")]
    volume_type: &'a str,
    bootable: bool,
    os_image_id: Option<&'a str>,
    status: &'a str,
    instance_id: Option<&'a str>,
    created_at: &'a str,
    tier: &'static str,
    hourly_cost: f64,
}

impl<'a> VolumeView<'a> {
    pub fn of(volume: &'a Volume) -> VolumeView<'a> {
        VolumeView {
            id: &volume.id,
            name: &volume.name,
            region: &volume.region,
            size_gb: volume.size_gb,
            volume_type: &volume.volume_type,
            bootable: volume.bootable,
            os_image_id: volume.os_image_id.as_deref(),
            status: &volume.status,
            instance_id: volume.instance_id.as_deref(),
            created_at: &volume.created_at,
            tier: tier(&volume.region),
            hourly_cost: round4(volume.hourly_cost()),
        }
    }
}

#[derive(Serialize)]
pub struct SnapshotView<'a> {
    id: &'a str,
    name: &'a str,
    instance_id: &'a str,
    instance_name: &'a str,
    region: &'a str,
    gpu_model: &'a str,
    gpu_count: i64,
    vcpus: i64,
    ram_gb: i64,
    size_gb: i64,
    ssh_key_ids: &'a [String],
    status: &'a str,
    created_at: &'a str,
    tier: &'static str,
    hourly_cost: f64,
}

impl<'a> SnapshotView<'a> {
    pub fn of(snapshot: &'a Snapshot) -> SnapshotView<'a> {
        SnapshotView {
            id: &snapshot.id,
            name: &snapshot.name,
            instance_id: &snapshot.instance_id,
            instance_name: &snapshot.instance_name,
            region: &snapshot.region,
            gpu_model: &snapshot.gpu_model,
            gpu_count: snapshot.gpu_count,
            vcpus: snapshot.vcpus,
            ram_gb: snapshot.ram_gb,
            size_gb: snapshot.size_gb,
            ssh_key_ids: &snapshot.ssh_key_ids,
            status: &snapshot.status,
            created_at: &snapshot.created_at,
            tier: tier(&snapshot.region),
            hourly_cost: round4(snapshot.size_gb as f64 * SNAPSHOT_RATE),
        }
    }
}

/// A firewall: its state derived from its rules, the rules' due instants left out.
#[derive(Serialize)]
pub struct FirewallView<'a> {
    id: &'a str,
    name: &'a str,
    region: &'a str,
    description: &'a str,
    rules: &'a [Value],
    instance_ids: &'a [String],
    created_at: &'a str,
    status: &'static str,
}

impl<'a> FirewallView<'a> {
    pub fn of(fw: &'a Firewall) -> FirewallView<'a> {
        FirewallView {
            id: &fw.id,
            name: &fw.name,
            region: &fw.region,
            description: &fw.description,
            rules: &fw.rules,
            instance_ids: &fw.instance_ids,
            created_at: &fw.created_at,
            status: fw.status(),
        }
    }
}

#[derive(Serialize)]
pub struct ImageView<'a> {
    id: &'a str,
    name: &'a str,
    snapshot_id: &'a str,
    region: &'a str,
    size_gb: i64,
    status: &'a str,
    created_at: &'a str,
}

impl<'a> ImageView<'a> {
    pub fn of(image: &'a Image) -> ImageView<'a> {
        ImageView {
            id: &image.id,
            name: &image.name,
            snapshot_id: &image.snapshot_id,
            region: &image.region,
            size_gb: image.size_gb,
            status: &image.status,
            created_at: &image.created_at,
        }
    }
}

// SSH keys and startup scripts keep no bookkeeping: the world's own structs are their views.

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::world::Volume;

    fn view_bytes(world: &World, id: &str) -> Vec<u8> {
        serde_json::to_vec(&InstanceView::of(world, &world.instances[id])).unwrap()
    }

    fn kept_bytes(world: &World, id: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_instance(world, &world.instances[id], &mut out);
        out
    }

    /// The kept text is the view's bytes however the instance, the clock or its volumes change,
    /// and whichever optional fields it shows.
    #[test]
    fn an_instance_written_from_its_kept_text_reads_exactly_as_its_view() {
        let mut world = World::seeded(7, 1_000_000.0);
        let name = "needs \"escaping\" \\ é \u{1}";
        let mut instance = world.test_instance(name, "ACTIVE", "FINLAND-1", 1_000_000.0);
        let id = instance.id.clone();
        instance.pending = None;
        world.add_instance(instance);
        let same = |world: &World| {
            let kept = kept_bytes(world, &id);
            assert_eq!(
                String::from_utf8_lossy(&kept),
                String::from_utf8_lossy(&view_bytes(world, &id))
            );
            serde_json::from_slice::<Value>(&kept).unwrap()
        };
        let first = same(&world);
        assert_eq!(first["billed_minutes"], 0);
        assert!(first.get("error").is_none() && first.get("cloud_init").is_none());

        // The clock moves: the kept text stays, the billed minutes follow the clock.
        world.tick(1_000_000.0 + 600.0);
        assert_eq!(same(&world)["billed_minutes"], 10);

        // The instance changes: its text is written again.
        world.change_instance(&id, |i| {
            i.status = "ERROR".into();
            i.error = Some("GPU fell off the bus".into());
            i.cloud_init = Some("#cloud-config".into());
            i.public_ip = Some("203.0.113.9".into());
        });
        let changed = same(&world);
        assert_eq!(changed["status"], "ERROR");
        assert_eq!(changed["error"], "GPU fell off the bus");
        assert_eq!(changed["cloud_init"], "#cloud-config");
        world.instances.get_mut(&id).unwrap().name = "renamed".into();
        assert_eq!(same(&world)["name"], "renamed");

        // One of its volumes changes size: the instance's cost follows, its own text unchanged.
        let volume: Volume = serde_json::from_value(serde_json::json!({
            "id": "vol-1", "name": "data", "region": "FINLAND-1", "size_gb": 100,
            "type": "NVMe", "bootable": false, "os_image_id": null, "status": "in-use",
            "instance_id": id, "created_at": "2026-01-01T00:00:00Z", "total_cost": 0.0
        }))
        .unwrap();
        world.add_volume(volume);
        world.instances.get_mut(&id).unwrap().volume_ids = vec!["vol-1".into()];
        let before = same(&world)["hourly_cost"].as_f64().unwrap();
        world.change_volume("vol-1", |v| v.size_gb = 1000);
        let after = same(&world)["hourly_cost"].as_f64().unwrap();
        assert!(after > before, "{after} > {before}");
    }
}
