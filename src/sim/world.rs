//! The simulator's world: every object, the clock, stock, balance and billing.
//!
//! Time is simulated: `now()` is the world's clock, which runs `speed` times faster than the wall
//! clock and can be advanced by hand. Transitions (CREATING → ACTIVE, …) are due at a simulated
//! instant and are applied, in time order, by [`World::run_due`] before each request is handled,
//! so nothing runs in the background.
//!
//! Cost does not grow with the world: due transitions wait in a queue ordered by time
//! ([`Due`]), so a request pays only for the transitions that fell due; the balance is kept
//! current by a meter of every billing object (`billing::Meter`, O(log n) per request), and each
//! object's own figures are settled from the instant it was last billed when its rate changes
//! ([`World::change_instance`] and its kin) and computed at `now` when read
//! ([`Instance::total_cost_at`], …), never by walking every object. An instance is kept with
//! the JSON of its own fields ([`Rendered`]), written when an answer first shows it and
//! forgotten whenever it is borrowed to change: a fleet polled page after page is written once.

use super::billing::{micros, seconds, ticks, Billing, Meter, MINUTE};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

mod rendered;
pub use rendered::Rendered;

pub use crate::api::facts::{
    is_advanced, region_offers, tier, ADVANCED_REGIONS, GPU_COUNTS, LEGACY_REGIONS,
};
/// Hourly USD price per GPU (**chosen**; the reference prints no prices).
pub const ADVANCED_GPUS: [(&str, f64); 4] = [
    ("B300-262GB", 5.49),
    ("B200-180GB", 4.49),
    ("H200-141GB", 3.29),
    ("H100-SXM5-80GB", 2.49),
];
/// Hourly USD price per GPU in the legacy regions (**chosen**, like [`ADVANCED_GPUS`]).
pub const LEGACY_GPUS: [(&str, f64); 6] = [
    ("H100-PCIe-NVLink-80GB", 2.19),
    ("H100-PCIe-80GB", 1.99),
    ("A100-PCIe-NVLink-80GB", 1.49),
    ("A100-PCIe-80GB", 1.39),
    ("L40", 0.99),
    ("RTX-A6000", 0.69),
];
/// Storage prices per GB-hour.
pub const OS_VOLUME_RATE: f64 = 0.000_14;
/// Snapshot storage, in USD per GB-hour: half the NVMe rate.
pub const SNAPSHOT_RATE: f64 = 0.000_07;
/// Data-volume types the simulator accepts, with their price in USD per GB-hour; an
/// unknown type is billed at [`OS_VOLUME_RATE`].
pub const VOLUME_TYPES: [(&str, f64); 2] = [("NVMe", 0.000_14), ("HDD", 0.000_05)];

/// Hourly USD price of one GPU of `model` in either family; `None` for a model the simulator
/// does not offer.
pub fn gpu_rate(model: &str) -> Option<f64> {
    ADVANCED_GPUS
        .iter()
        .chain(LEGACY_GPUS.iter())
        .find(|(m, _)| *m == model)
        .map(|(_, r)| *r)
}

/// Simulated instants, kept as seconds since the epoch, written as RFC 3339 (the world's dump at
/// `/_sim/state` and `--state` files show times as every API answer does) and read from either
/// form, so older state files still load. An instant beyond RFC 3339's years stays a number.
pub mod instant {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::collections::BTreeMap;

    /// `seconds` since the epoch as RFC 3339 (UTC, with the fraction kept); `None` when it is not
    /// finite or beyond the years RFC 3339 can write.
    pub fn to_text(seconds: f64) -> Option<String> {
        if !seconds.is_finite() || seconds.abs() > 1e15 {
            return None;
        }
        // Whole seconds and the fraction apart: their product with 1e9 would lose digits.
        let whole = seconds.floor();
        let nanos = ((seconds - whole) * 1e9).round().min(999_999_999.0) as i32;
        jiff::Timestamp::new(whole as i64, nanos)
            .ok()
            .map(|t| t.to_string())
    }

    /// Seconds since the epoch of an RFC 3339 time; `None` if `text` is not one.
    pub fn from_text(text: &str) -> Option<f64> {
        let t: jiff::Timestamp = text.parse().ok()?;
        Some(t.as_second() as f64 + f64::from(t.subsec_nanosecond()) / 1e9)
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Seconds(f64),
        Text(String),
    }

    fn read<E: Error>(value: Either) -> Result<f64, E> {
        match value {
            Either::Seconds(s) => Ok(s),
            Either::Text(t) => {
                from_text(&t).ok_or_else(|| E::custom(format!("{t:?} is not an RFC 3339 time")))
            }
        }
    }

    /// Serde `serialize_with`: the instant as RFC 3339 text, or as a plain number when
    /// [`to_text`] cannot write it.
    pub fn serialize<S: Serializer>(seconds: &f64, s: S) -> Result<S::Ok, S::Error> {
        match to_text(*seconds) {
            Some(text) => s.serialize_str(&text),
            None => s.serialize_f64(*seconds),
        }
    }

    /// Serde `deserialize_with`: an instant given either as RFC 3339 text or as seconds since
    /// the epoch.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        read(Either::deserialize(d)?)
    }

    /// The same for a map of instants.
    pub mod map {
        use super::*;
        use serde::ser::SerializeMap;

        /// Serde `serialize_with` for a map: each instant as [`to_text`] writes
        /// it, or a number.
        pub fn serialize<S: Serializer>(
            map: &BTreeMap<String, f64>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            let mut out = s.serialize_map(Some(map.len()))?;
            for (key, seconds) in map {
                match to_text(*seconds) {
                    Some(text) => out.serialize_entry(key, &text)?,
                    None => out.serialize_entry(key, seconds)?,
                }
            }
            out.end()
        }

        /// Serde `deserialize_with` for a map: each instant as RFC 3339 text or as seconds.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<BTreeMap<String, f64>, D::Error> {
            BTreeMap::<String, Either>::deserialize(d)?
                .into_iter()
                .map(|(k, v)| read(v).map(|s| (k, s)))
                .collect()
        }
    }
}

/// A status change that becomes true at a simulated time.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    /// Simulated seconds since the epoch.
    #[serde(with = "instant")]
    pub due: f64,
    /// The status reached; `None` means the object disappears (a finished delete).
    pub to: Option<String>,
}

/// A virtual machine as the simulator keeps it: the fields the API returns for an instance,
/// plus what the simulator needs to move it through its lifecycle and bill it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Instance {
    /// The instance id, `BRK-` and six digits, ending `VM` (or `D` when restored from a
    /// snapshot); see [`World::new_instance_id`].
    pub id: String,
    /// Its name, given at creation or generated from the GPU model.
    pub name: String,
    /// Lifecycle status as the API reports it: CREATING, ACTIVE, STOPPING, SHUTOFF,
    /// HIBERNATING, HIBERNATED, STARTING, REBOOTING, RESTORING, DELETING, ERROR. It decides the
    /// rate (see [`Instance::hourly_rate`]); change it only through [`World::change_instance`].
    pub status: String,
    /// The region it runs in, e.g. `FINLAND-1`.
    pub region: String,
    /// GPU model name, one of [`ADVANCED_GPUS`] or [`LEGACY_GPUS`].
    pub gpu_model: String,
    /// Number of GPUs of `gpu_model` it was created with.
    pub gpu_count: i64,
    /// Virtual CPUs, derived from the GPU count and the region's tier.
    pub vcpus: i64,
    /// Memory in GB, derived from the GPU count and the region's tier.
    pub ram_gb: i64,
    /// Size of the OS (boot) volume in GB, billed at [`OS_VOLUME_RATE`].
    pub os_volume_size_gb: i64,
    /// What it booted from, as the API shows it: `{"type": "os_image" | "volume" | "image",
    /// "id": …}`, or null.
    pub boot_source: serde_json::Value,
    /// Ids of the SSH keys installed on it.
    pub ssh_key_ids: Vec<String>,
    /// Whether it was given a public address (by default in advanced regions).
    pub public_ip_enabled: bool,
    /// Its public IPv4 address, if it has one (drawn by [`World::new_ip`]).
    pub public_ip: Option<String>,
    /// Its private address in `10.0.0.0/8`.
    pub private_ip: String,
    /// Ids of the data volumes attached to it.
    pub volume_ids: Vec<String>,
    /// Its own firewall rules, as JSON objects in the API's shape.
    pub security_rules: Vec<serde_json::Value>,
    /// The startup script it was created with, if any.
    pub startup_script_id: Option<String>,
    /// Legacy regions' cloud-init user data, kept as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_init: Option<String>,
    /// The snapshot it was restored from, if any.
    pub source_snapshot_id: Option<String>,
    /// Creation time, RFC 3339 (UTC, whole seconds).
    pub created_at: String,
    /// Time of the last status change, RFC 3339 (UTC, whole seconds).
    pub updated_at: String,
    /// Whether the instance holds its GPUs (taken from stock).
    pub holds_gpus: bool,
    /// Cost in USD settled up to `billed_to`; read [`Instance::total_cost_at`] for the
    /// current figure.
    pub total_cost: f64,
    /// Whole minutes billed up to `billed_to`; read [`Instance::billed_minutes_at`] for the
    /// current figure.
    pub billed_minutes: i64,
    /// Billing records shown for the instance, as JSON objects; the simulator keeps it empty.
    pub billing_records: Vec<serde_json::Value>,
    /// The transition it is waiting for, if any (e.g. CREATING → ACTIVE, or removal after a
    /// delete); queue it with [`World::schedule`] when setting it.
    #[serde(default)]
    pub pending: Option<Pending>,
    /// Seconds of the current minute already run (billing is per whole minute).
    #[serde(default)]
    pub partial_seconds: f64,
    /// The snapshot a restore is still reading (until the instance first becomes ACTIVE).
    #[serde(default)]
    pub restoring_from: Option<String>,
    /// Why the instance is in ERROR, when the simulator knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The simulated instant `total_cost`, `billed_minutes` and `partial_seconds` are settled
    /// up to. NaN until the instance is in a world; missing from files saved before it was kept,
    /// which were settled up to their `clock`.
    #[serde(
        default = "unsettled",
        skip_serializing_if = "never_settled",
        with = "instant"
    )]
    pub billed_to: f64,
}

/// The `billed_to` of an object not yet in a world (or loaded from a file that did not keep it).
pub fn unsettled() -> f64 {
    f64::NAN
}

fn never_settled(at: &f64) -> bool {
    at.is_nan()
}

impl Instance {
    /// A new instance holding its GPUs, in `status` until `due`, then ACTIVE; the caller fills
    /// in its size, boot source and network.
    #[allow(clippy::too_many_arguments)]
    pub fn starting(
        id: String,
        name: String,
        status: &str,
        region: &str,
        gpu_model: &str,
        gpu_count: i64,
        private_ip: String,
        now: String,
        due: f64,
    ) -> Instance {
        Instance {
            id,
            name,
            status: status.into(),
            region: region.into(),
            gpu_model: gpu_model.into(),
            gpu_count,
            vcpus: 0,
            ram_gb: 0,
            os_volume_size_gb: 0,
            boot_source: serde_json::Value::Null,
            ssh_key_ids: Vec::new(),
            public_ip_enabled: false,
            public_ip: None,
            private_ip,
            volume_ids: Vec::new(),
            security_rules: Vec::new(),
            startup_script_id: None,
            cloud_init: None,
            source_snapshot_id: None,
            created_at: now.clone(),
            updated_at: now,
            holds_gpus: true,
            total_cost: 0.0,
            billed_minutes: 0,
            billing_records: Vec::new(),
            pending: Some(Pending {
                due,
                to: Some("ACTIVE".into()),
            }),
            partial_seconds: 0.0,
            restoring_from: None,
            error: None,
            billed_to: f64::NAN,
        }
    }

    /// The whole minutes billed by `now`, counting those not yet settled: what a read shows
    /// without settling (settling is a change, and reads of one instance must not walk others).
    pub fn billed_minutes_at(&self, now: f64) -> i64 {
        self.billed_minutes + self.unsettled_minutes(now).0
    }

    /// What it has cost by `now`, counting the minutes not yet settled.
    pub fn total_cost_at(&self, now: f64) -> f64 {
        let minutes = self.unsettled_minutes(now).0;
        if minutes == 0 {
            return self.total_cost;
        }
        self.total_cost + self.hourly_rate() / 60.0 * minutes as f64
    }

    /// The whole minutes run from `billed_to` to `now` at the current rate, and the part of a
    /// minute (ticks) left over. Counted in ticks, as the meter counts them, so the two agree
    /// at every minute's edge.
    fn unsettled_minutes(&self, now: f64) -> (i64, i64) {
        let partial = ticks(self.partial_seconds);
        if self.billed_to.is_nan() || now <= self.billed_to || self.hourly_rate() <= 0.0 {
            return (0, partial);
        }
        let run = partial + ticks(now) - ticks(self.billed_to);
        (run.div_euclid(MINUTE), run.rem_euclid(MINUTE))
    }

    /// Bill the time from `billed_to` to `now` at the current status's rate, per whole minute
    /// (the part of a minute already run is kept for the next settlement). The balance is not
    /// touched: the world's meter charged it as the minutes ran.
    fn settle(&mut self, now: f64) {
        if now <= self.billed_to {
            // Already settled up to (or past) `now`: keep that stamp.
            return;
        }
        let (minutes, partial) = self.unsettled_minutes(now);
        self.total_cost = self.total_cost_at(now);
        self.billed_minutes += minutes;
        self.partial_seconds = seconds(partial);
        // Never settled: billing starts now (it was in no world, so it ran up nothing).
        self.billed_to = now;
    }

    /// How the meter bills it from `billed_to` on: per whole minute at its status's rate, the
    /// minutes counted from where its current minute began.
    fn billing(&self) -> Option<Billing> {
        if self.billed_to.is_nan() {
            return None;
        }
        Some(Billing::PerMinute {
            rate: micros(self.hourly_rate()),
            start: ticks(self.billed_to) - ticks(self.partial_seconds),
        })
    }

    /// Hourly USD cost of the data volumes attached to it (those still in `world`).
    pub fn data_volume_cost(&self, world: &World) -> f64 {
        self.volume_ids
            .iter()
            .filter_map(|id| world.volumes.get(id))
            .map(Volume::hourly_cost)
            .sum()
    }

    /// Cost per hour in the current status (when billing starts is a choice: see
    /// `api::choices`, "billing start"): full while ACTIVE (and while rebooting or stopping),
    /// storage only while SHUTOFF or HIBERNATED — and from the moment hibernation starts, since
    /// the GPU is released at once — nothing while CREATING or RESTORING.
    pub fn hourly_rate(&self) -> f64 {
        let storage = self.os_volume_size_gb as f64 * OS_VOLUME_RATE;
        let gpus = gpu_rate(&self.gpu_model).unwrap_or(0.0) * self.gpu_count as f64;
        match self.status.as_str() {
            "ACTIVE" | "REBOOTING" | "STOPPING" => gpus + storage,
            "SHUTOFF" | "HIBERNATING" | "HIBERNATED" | "STARTING" => storage,
            _ => 0.0,
        }
    }

    /// Hourly USD cost when ACTIVE: its GPUs, OS volume and attached data volumes. What a
    /// deploy must be able to prepay for an hour.
    pub fn full_hourly_cost(&self, world: &World) -> f64 {
        gpu_rate(&self.gpu_model).unwrap_or(0.0) * self.gpu_count as f64
            + self.os_volume_size_gb as f64 * OS_VOLUME_RATE
            + self.data_volume_cost(world)
    }
}

/// A block-storage volume: a data disk, or a bootable one. Its storage is billed
/// continuously from creation to deletion.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Volume {
    /// The volume id.
    pub id: String,
    /// The name given at creation.
    pub name: String,
    /// The region it lives in; it can only attach to instances there.
    pub region: String,
    /// Size in GB; with `volume_type` it sets the rate.
    pub size_gb: i64,
    /// The volume type, `NVMe` or `HDD` (see [`VOLUME_TYPES`]); `type` in JSON.
    #[serde(rename = "type")]
    pub volume_type: String,
    /// Whether an instance can boot from it.
    pub bootable: bool,
    /// The OS image written on it, for a bootable volume.
    pub os_image_id: Option<String>,
    /// Status as the API reports it: CREATING, then AVAILABLE; IN_USE while attached.
    pub status: String,
    /// The instance it is attached to, if any.
    pub instance_id: Option<String>,
    /// Creation time, RFC 3339 (UTC, whole seconds).
    pub created_at: String,
    /// Cost in USD settled up to `billed_to`; read [`Volume::total_cost_at`] for the current
    /// figure.
    pub total_cost: f64,
    /// The status change it is waiting for, if any (CREATING → AVAILABLE).
    #[serde(default)]
    pub pending: Option<Pending>,
    /// The instant `total_cost` is settled up to (see [`Instance::billed_to`]).
    #[serde(
        default = "unsettled",
        skip_serializing_if = "never_settled",
        with = "instant"
    )]
    pub billed_to: f64,
}

impl Volume {
    /// Hourly USD cost of its storage: size times its type's rate per GB-hour.
    pub fn hourly_cost(&self) -> f64 {
        let rate = VOLUME_TYPES
            .iter()
            .find(|(t, _)| *t == self.volume_type)
            .map(|(_, r)| *r)
            .unwrap_or(OS_VOLUME_RATE);
        self.size_gb as f64 * rate
    }

    /// What it has cost by `now`. A data volume's storage is billed to the volume, attached or
    /// not and whatever its instance is doing: stopping or hibernating releases GPUs, not disks.
    pub fn total_cost_at(&self, now: f64) -> f64 {
        self.total_cost + stored_cost(self.hourly_cost(), self.billed_to, now)
    }
}

/// Storage cost of `hourly` from `since` to `now`, billed continuously.
fn stored_cost(hourly: f64, since: f64, now: f64) -> f64 {
    if since.is_nan() || now <= since {
        return 0.0;
    }
    hourly * seconds(ticks(now) - ticks(since)) / 3600.0
}

/// Objects billed for their storage, continuously from creation to deletion.
trait Stored {
    fn hourly(&self) -> f64;
    fn billed_to(&self) -> f64;
    /// Its total and the instant the total is settled up to.
    fn settled(&mut self) -> (&mut f64, &mut f64);

    /// Bill the time from its stamp to `now` into its total.
    fn settle_storage(&mut self, now: f64) {
        let hourly = self.hourly();
        let (total, billed_to) = self.settled();
        if now <= *billed_to {
            return;
        }
        *total += stored_cost(hourly, *billed_to, now);
        *billed_to = now;
    }

    /// How the meter bills it from its stamp on.
    fn storage_billing(&self) -> Option<Billing> {
        (!self.billed_to().is_nan()).then(|| Billing::PerSecond {
            rate: micros(self.hourly()),
        })
    }
}

impl Stored for Volume {
    fn hourly(&self) -> f64 {
        self.hourly_cost()
    }
    fn billed_to(&self) -> f64 {
        self.billed_to
    }
    fn settled(&mut self) -> (&mut f64, &mut f64) {
        (&mut self.total_cost, &mut self.billed_to)
    }
}

impl Stored for Snapshot {
    fn hourly(&self) -> f64 {
        self.hourly_cost()
    }
    fn billed_to(&self) -> f64 {
        self.billed_to
    }
    fn settled(&mut self) -> (&mut f64, &mut f64) {
        (&mut self.total_cost, &mut self.billed_to)
    }
}

/// What the world needs of an object the meter bills (instances, volumes, snapshots): where it
/// lives, how it is settled alone, and how the meter bills it from its stamp on.
trait Billed: Sized {
    /// How the world's map holds one: as itself, or with its rendered text.
    type Held: Held<Self>;
    fn target(id: &str) -> Target;
    /// The world's map of these objects, beside the meter (two disjoint borrows).
    fn split(world: &mut World) -> (&mut BTreeMap<String, Self::Held>, &mut Meter<Target>);
    fn id(&self) -> &str;
    fn pending_due(&self) -> Option<f64>;
    fn billed_to_mut(&mut self) -> &mut f64;
    fn settle(&mut self, now: f64);
    fn billing(&self) -> Option<Billing>;
}

/// A billed object as a world's map holds it.
trait Held<T>: From<T> {
    /// The object, to change.
    fn object(&mut self) -> &mut T;
    fn into_object(self) -> T;
}

impl<T> Held<T> for Rendered<T> {
    fn object(&mut self) -> &mut T {
        self
    }
    fn into_object(self) -> T {
        self.into_inner()
    }
}

/// Volumes and snapshots are held as themselves.
impl<T> Held<T> for T {
    fn object(&mut self) -> &mut T {
        self
    }
    fn into_object(self) -> T {
        self
    }
}

/// Instances, volumes and snapshots are billed the same way; they differ in how the world's map
/// holds them and in how each settles and reads its own billing (an instance by the minute at
/// its status's rate, storage by the second).
macro_rules! billed {
    ($ty:ident in $objects:ident, held as $held:ty, settled by $settle:ident, $billing:ident) => {
        impl Billed for $ty {
            type Held = $held;
            fn target(id: &str) -> Target {
                Target::$ty(id.to_string())
            }
            fn split(world: &mut World) -> (&mut BTreeMap<String, Self::Held>, &mut Meter<Target>) {
                (&mut world.$objects, &mut world.meter)
            }
            fn id(&self) -> &str {
                &self.id
            }
            fn pending_due(&self) -> Option<f64> {
                self.pending.as_ref().map(|p| p.due)
            }
            fn billed_to_mut(&mut self) -> &mut f64 {
                &mut self.billed_to
            }
            fn settle(&mut self, now: f64) {
                $ty::$settle(self, now);
            }
            fn billing(&self) -> Option<Billing> {
                $ty::$billing(self)
            }
        }
    };
}

billed!(Instance in instances, held as Rendered<Instance>, settled by settle, billing);
billed!(Volume in volumes, held as Volume, settled by settle_storage, storage_billing);
billed!(Snapshot in snapshots, held as Snapshot, settled by settle_storage, storage_billing);

/// A snapshot of an instance's disk, from which instances can be restored and images made.
/// Its storage is billed continuously at [`SNAPSHOT_RATE`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    /// The snapshot id.
    pub id: String,
    /// Its name, given at creation or generated from the instance's name and the time.
    pub name: String,
    /// The instance it was taken from (which may since have been deleted).
    pub instance_id: String,
    /// That instance's name when the snapshot was taken.
    pub instance_name: String,
    /// The region it lives in, the instance's.
    pub region: String,
    /// The instance's GPU model: what a restore deploys.
    pub gpu_model: String,
    /// The instance's GPU count: what a restore deploys.
    pub gpu_count: i64,
    /// The instance's virtual CPUs.
    pub vcpus: i64,
    /// The instance's memory in GB.
    pub ram_gb: i64,
    /// Size in GB, the instance's OS volume; it sets the rate.
    pub size_gb: i64,
    /// The instance's SSH keys, carried over to a restore.
    pub ssh_key_ids: Vec<String>,
    /// Status as the API reports it: CREATING, then AVAILABLE.
    pub status: String,
    /// Creation time, RFC 3339 (UTC, whole seconds).
    pub created_at: String,
    /// Cost in USD settled up to `billed_to`; read [`Snapshot::total_cost_at`] for the
    /// current figure.
    pub total_cost: f64,
    /// The status change it is waiting for, if any (CREATING → AVAILABLE).
    #[serde(default)]
    pub pending: Option<Pending>,
    /// The instant `total_cost` is settled up to (see [`Instance::billed_to`]).
    #[serde(
        default = "unsettled",
        skip_serializing_if = "never_settled",
        with = "instant"
    )]
    pub billed_to: f64,
}

impl Snapshot {
    /// Hourly USD cost of its storage: size times [`SNAPSHOT_RATE`].
    pub fn hourly_cost(&self) -> f64 {
        self.size_gb as f64 * SNAPSHOT_RATE
    }

    /// What it has cost by `now`.
    pub fn total_cost_at(&self, now: f64) -> f64 {
        self.total_cost + stored_cost(self.hourly_cost(), self.billed_to, now)
    }
}

/// A firewall: a set of rules applied to the instances it names. Not billed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Firewall {
    /// The firewall id.
    pub id: String,
    /// The name given at creation.
    pub name: String,
    /// The region it belongs to.
    pub region: String,
    /// Free text given at creation.
    pub description: String,
    /// Its rules as JSON objects in the API's shape; each has an `id` and a `status`, APPLYING
    /// until its instant in `rule_due`, then ACTIVE.
    pub rules: Vec<serde_json::Value>,
    /// Ids of the instances it applies to; a deleted instance is dropped from it.
    pub instance_ids: Vec<String>,
    /// Creation time, RFC 3339 (UTC, whole seconds).
    pub created_at: String,
    /// When each APPLYING rule (by id) takes effect, in simulated seconds; its public
    /// `applies_at` is the same instant as RFC 3339.
    #[serde(default, with = "instant::map")]
    pub rule_due: BTreeMap<String, f64>,
}

impl Firewall {
    /// SUCCESS when every rule is in force, UPDATING while one still applies.
    pub fn status(&self) -> &'static str {
        use crate::api::choices::{FIREWALL_READY, FIREWALL_UPDATING};
        if self.rule_due.is_empty() {
            FIREWALL_READY
        } else {
            FIREWALL_UPDATING
        }
    }
}

/// A public SSH key of the account, installable on new instances.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SshKey {
    /// The key id.
    pub id: String,
    /// The name given when it was added.
    pub name: String,
    /// The public key in OpenSSH form.
    pub public_key: String,
    /// Its fingerprint, as `SHA256:…`.
    pub fingerprint: String,
    /// When it was added, RFC 3339 (UTC, whole seconds).
    pub created_at: String,
}

/// A startup script of the account, run on instances created with it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Script {
    /// The script id.
    pub id: String,
    /// The name given at creation.
    pub name: String,
    /// The script's text.
    pub script: String,
    /// Length of `script` in bytes.
    pub size_bytes: i64,
    /// Creation time, RFC 3339 (UTC, whole seconds).
    pub created_at: String,
    /// Time of the last edit, RFC 3339 (UTC, whole seconds).
    pub updated_at: String,
}

/// A custom image made from a snapshot, from which instances can be deployed. Not billed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Image {
    /// The image id.
    pub id: String,
    /// Its name, given at creation or generated from the snapshot's (`NAME-image`).
    pub name: String,
    /// The snapshot it was made from.
    pub snapshot_id: String,
    /// The region it lives in, the snapshot's.
    pub region: String,
    /// Size in GB, the snapshot's.
    pub size_gb: i64,
    /// Status as the API reports it: CREATING, then AVAILABLE (deploys need AVAILABLE).
    pub status: String,
    /// Creation time, RFC 3339 (UTC, whole seconds).
    pub created_at: String,
    /// The status change it is waiting for, if any (CREATING → AVAILABLE).
    #[serde(default)]
    pub pending: Option<Pending>,
}

/// A stored answer for an `Idempotency-Key`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Remembered {
    /// The HTTP status of the first answer.
    pub status: u16,
    /// The body of the first answer, as text.
    pub body: String,
}

/// Everything the simulator knows: the account, every object, the clock and the pending
/// transitions. Serialized as the `/_sim/state` dump and the `--state` file; the queue and the
/// billing meter are not saved but rebuilt from the objects.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct World {
    /// Simulated seconds since the Unix epoch at the last tick.
    #[serde(with = "instant")]
    pub clock: f64,
    /// The account's currency code (`USD`); every cost and the balance are in it.
    pub currency: String,
    /// Account balance in `currency`. Kept current at the clock by the meter: billing and AI
    /// usage take from it; it can go negative.
    pub balance: f64,
    /// Whether the account profile is complete; deploying an instance is refused with 403
    /// `PROFILE_INCOMPLETE` while it is not.
    pub profile_complete: bool,
    /// Free GPUs per "REGION/MODEL".
    pub stock: BTreeMap<String, i64>,
    /// Instances by id, each with its JSON as lists show it (written when first shown).
    pub instances: BTreeMap<String, Rendered<Instance>>,
    /// Volumes by id.
    pub volumes: BTreeMap<String, Volume>,
    /// Snapshots by id.
    pub snapshots: BTreeMap<String, Snapshot>,
    /// Firewalls by id.
    pub firewalls: BTreeMap<String, Firewall>,
    /// SSH keys by id.
    pub ssh_keys: BTreeMap<String, SshKey>,
    /// Startup scripts by id.
    pub scripts: BTreeMap<String, Script>,
    /// Custom images by id.
    pub images: BTreeMap<String, Image>,
    /// One JSON record per AI chat completion (id, model, token counts, cost, `created_at`), in
    /// order; the AI usage endpoints summarize and list it.
    pub ai_usage: Vec<serde_json::Value>,
    /// Answers to POSTs that carried an `Idempotency-Key`, by `OPERATION:KEY`: a repeat gets
    /// the same answer and changes nothing.
    pub idempotency: HashMap<String, Remembered>,
    /// The next serial number for an id (see [`World::new_id`]); only grows.
    pub next_serial: u64,
    /// State of the world's random generator (see [`World::random`]), saved so a loaded world
    /// draws on as the original would have.
    pub rng_state: u64,
    /// Pending transitions by due time. An entry whose object no longer waits for that instant
    /// (deleted, or given another transition) is skipped when it comes up.
    #[serde(skip)]
    due: BTreeSet<(Due, Target)>,
    /// Whether `due` holds every pending transition; false after loading or after a direct
    /// change (tests), and then rebuilt once on the next tick.
    #[serde(skip)]
    indexed: bool,
    /// What every billing object runs up, so the balance is kept current without walking
    /// them; rebuilt with the queue. Every change of an object's rate goes through the world's
    /// methods that keep it ([`World::change_instance`] and its kin).
    #[serde(skip)]
    meter: Meter<Target>,
    /// What deploy, restore and snapshot delete look up without walking every instance.
    #[serde(skip)]
    lookups: Lookups,
}

/// Lookups derived from the instances, kept by [`World::add_instance`] and
/// [`World::remove_instance`] and rebuilt with the queue. A copy of the world (a save, a
/// test's view of it) starts without them and reads its objects instead: copying them would
/// cost every save an allocation per instance.
#[derive(Debug, Default)]
struct Lookups {
    /// Whether they were built from this world's objects.
    built: bool,
    /// How many instances bear each (name, region), for deploy and restore (no operation
    /// renames an instance or moves it).
    names: BTreeMap<(String, String), usize>,
    /// (snapshot, instance) for every restore that may still be reading its snapshot: added
    /// when the instance is (the only place a restore begins), dropped when the restore ends;
    /// each entry is checked against its instance when read.
    restores: BTreeSet<(String, String)>,
}

impl Clone for Lookups {
    fn clone(&self) -> Lookups {
        Lookups::default()
    }
}

/// A due instant, ordered (simulated seconds are finite).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Due(pub f64);

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// What a due transition applies to. At one instant, instances go first, then volumes,
/// snapshots, images and firewall rules, each by id: the order the simulator always used.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// An instance, by id.
    Instance(String),
    /// A volume, by id.
    Volume(String),
    /// A snapshot, by id.
    Snapshot(String),
    /// An image, by id.
    Image(String),
    /// A firewall's rule: (firewall id, rule id).
    Rule(String, String),
}

/// The key of [`World::stock`] for a model in a region: `REGION/MODEL`.
pub fn stock_key(region: &str, model: &str) -> String {
    format!("{region}/{model}")
}

impl World {
    /// A funded account with one SSH key, stock everywhere and nothing running.
    pub fn seeded(seed: u64, clock: f64) -> World {
        let mut stock = BTreeMap::new();
        for region in ADVANCED_REGIONS {
            for (model, _) in ADVANCED_GPUS {
                stock.insert(stock_key(region, model), 64);
            }
        }
        for region in LEGACY_REGIONS {
            for (model, _) in LEGACY_GPUS {
                stock.insert(stock_key(region, model), 32);
            }
        }
        let mut world = World {
            clock,
            currency: "USD".into(),
            balance: 10_000.0,
            profile_complete: true,
            stock,
            instances: BTreeMap::new(),
            volumes: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            firewalls: BTreeMap::new(),
            ssh_keys: BTreeMap::new(),
            scripts: BTreeMap::new(),
            images: BTreeMap::new(),
            ai_usage: Vec::new(),
            idempotency: HashMap::new(),
            next_serial: 1,
            rng_state: seed ^ 0x9E37_79B9_7F4A_7C15,
            due: BTreeSet::new(),
            indexed: false,
            lookups: Lookups::default(),
            meter: Meter::default(),
        };
        let id = world.new_id("key-");
        let created_at = world.timestamp();
        world.ssh_keys.insert(
            id.clone(),
            SshKey {
                id,
                name: "default".into(),
                public_key:
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBarrackSimulatorDefaultKey barrack@sim"
                        .into(),
                fingerprint: "SHA256:barrackSimulatorDefaultKey".into(),
                created_at,
            },
        );
        world
    }

    /// splitmix64: reproducible for a given seed and sequence of requests.
    pub fn random(&mut self) -> u64 {
        self.rng_state = self.rng_state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A random number from `low` to `high`, both included (`low` must not exceed `high`).
    pub fn random_range(&mut self, low: u64, high: u64) -> u64 {
        low + self.random() % (high - low + 1)
    }

    /// `len` random characters from lowercase letters and digits.
    pub fn random_alnum(&mut self, len: usize) -> String {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| CHARS[(self.random() % CHARS.len() as u64) as usize] as char)
            .collect()
    }

    /// A fresh id: `prefix`, the next serial padded to four digits, and four random lowercase
    /// letters or digits.
    pub fn new_id(&mut self, prefix: &str) -> String {
        let serial = self.next_serial;
        self.next_serial += 1;
        let tail = self.random_alnum(4);
        format!("{prefix}{serial:04}{tail}")
    }

    /// A fresh instance id not held by a live instance: `BRK-`, six digits, and `VM`, or `D`
    /// for an instance restored from a snapshot (`restored`).
    pub fn new_instance_id(&mut self, restored: bool) -> String {
        // Six digits wrap: after some 7 700 instances an id could come round again, and a
        // second instance under a live id would silently replace the first. Draw again.
        loop {
            let serial = self.next_serial;
            self.next_serial += 1;
            let digits = (serial * 7919 + self.random() % 97) % 1_000_000;
            let id = format!("BRK-{digits:06}{}", if restored { "D" } else { "VM" });
            if !self.instances.contains_key(&id) {
                return id;
            }
        }
    }

    /// A random public IPv4 address, `185.x.y.z`.
    pub fn new_ip(&mut self) -> String {
        format!(
            "185.{}.{}.{}",
            self.random_range(10, 250),
            self.random_range(0, 255),
            self.random_range(2, 254)
        )
    }

    /// The clock as the API writes times: RFC 3339, UTC, whole seconds.
    pub fn timestamp(&self) -> String {
        format_time(self.clock)
    }

    /// Free GPUs of a model in a region.
    pub fn free_gpus(&self, region: &str, model: &str) -> i64 {
        self.stock
            .get(&stock_key(region, model))
            .copied()
            .unwrap_or(0)
    }

    /// Take `count` GPUs of a model in a region out of stock; the caller checks there are
    /// enough (see [`World::free_gpus`]).
    pub fn take_gpus(&mut self, region: &str, model: &str, count: i64) {
        *self.stock.entry(stock_key(region, model)).or_insert(0) -= count;
    }

    /// Put `count` GPUs of a model in a region back in stock.
    pub fn return_gpus(&mut self, region: &str, model: &str, count: i64) {
        *self.stock.entry(stock_key(region, model)).or_insert(0) += count;
    }

    /// Queue a transition due at `due`; the object's own `pending` (or `rule_due`) says what
    /// happens then. Every handler that sets one calls this.
    pub fn schedule(&mut self, target: Target, due: f64) {
        self.due.insert((Due(due), target));
    }

    /// Add a new instance, queueing its transition and billing it from now.
    pub fn add_instance(&mut self, instance: Instance) {
        let key = (instance.name.clone(), instance.region.clone());
        *self.lookups.names.entry(key).or_default() += 1;
        if let Some(snapshot) = &instance.restoring_from {
            self.lookups
                .restores
                .insert((snapshot.clone(), instance.id.clone()));
        }
        self.add_billed(instance);
    }

    /// The instances still restoring from `snapshot`, which is going: their ids, and the
    /// snapshot leaves the index of restores. O(log n + its restores).
    pub fn take_restores_of(&mut self, snapshot: &str) -> Vec<String> {
        let reads = |i: &Instance| i.restoring_from.as_deref() == Some(snapshot);
        if !self.lookups_built() {
            // A world changed directly and not yet reindexed, or a copy: only the objects know.
            return self
                .instances
                .values()
                .filter(|i| reads(i))
                .map(|i| i.id.clone())
                .collect();
        }
        let from = (snapshot.to_string(), String::new());
        let entries: Vec<(String, String)> = self
            .lookups
            .restores
            .range(from..)
            .take_while(|(of, _)| of == snapshot)
            .cloned()
            .collect();
        let mut readers = Vec::new();
        for entry in entries {
            if self.instances.get(&entry.1).is_some_and(|i| reads(i)) {
                readers.push(entry.1.clone());
            }
            self.lookups.restores.remove(&entry);
        }
        readers
    }

    /// Whether the lookups hold what the objects say.
    fn lookups_built(&self) -> bool {
        self.indexed && self.lookups.built
    }

    /// Whether an instance is named `name`, in `region` or, for `None`, anywhere. O(log n).
    pub fn instance_named(&self, name: &str, region: Option<&str>) -> bool {
        if !self.lookups_built() {
            // A world changed directly and not yet reindexed, or a copy: only the objects know.
            return self
                .instances
                .values()
                .any(|i| i.name == name && region.is_none_or(|r| i.region == r));
        }
        let from = (name.to_string(), region.unwrap_or_default().to_string());
        match region {
            Some(_) => self.lookups.names.contains_key(&from),
            None => self
                .lookups
                .names
                .range(from..)
                .next()
                .is_some_and(|((named, _), _)| named == name),
        }
    }

    /// Add a new volume, billed from now.
    pub fn add_volume(&mut self, volume: Volume) {
        self.add_billed(volume);
    }

    /// Add a new snapshot, billed from now.
    pub fn add_snapshot(&mut self, snapshot: Snapshot) {
        self.add_billed(snapshot);
    }

    /// Change an instance in a way that may change what it costs (its status, GPUs or disk):
    /// it is billed alone up to now at its old rate, and metered at its new one from now.
    /// Every change of those fields goes through here (or [`World::remove_instance`]); the
    /// meter would otherwise keep charging the old rate. `None` if there is no such instance.
    pub fn change_instance<R>(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut Instance) -> R,
    ) -> Option<R> {
        self.change_billed(id, change)
    }

    /// Take an instance out of the world, billed up to now.
    pub fn remove_instance(&mut self, id: &str) -> Option<Instance> {
        let instance: Instance = self.remove_billed(id)?;
        if let Some(snapshot) = &instance.restoring_from {
            self.lookups
                .restores
                .remove(&(snapshot.clone(), instance.id.clone()));
        }
        let key = (instance.name.clone(), instance.region.clone());
        if let Some(count) = self.lookups.names.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                self.lookups.names.remove(&key);
            }
        }
        Some(instance)
    }

    /// Change a volume in a way that may change what it costs (its size or type): see
    /// [`World::change_instance`].
    pub fn change_volume<R>(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut Volume) -> R,
    ) -> Option<R> {
        self.change_billed(id, change)
    }

    /// Take a volume out of the world, billed up to now.
    pub fn remove_volume(&mut self, id: &str) -> Option<Volume> {
        self.remove_billed(id)
    }

    /// Take a snapshot out of the world, billed up to now.
    pub fn remove_snapshot(&mut self, id: &str) -> Option<Snapshot> {
        self.remove_billed(id)
    }

    /// The one way a billed object enters the world: its transition queued, its stamp set to
    /// now, its rate metered from now.
    fn add_billed<T: Billed>(&mut self, mut object: T) {
        let target = T::target(object.id());
        if let Some(due) = object.pending_due() {
            self.schedule(target.clone(), due);
        }
        self.charge_to_clock();
        *object.billed_to_mut() = self.clock;
        let (objects, meter) = T::split(self);
        meter.set(target, object.billing());
        objects.insert(object.id().to_string(), object.into());
    }

    /// The one way a billed object's rate changes: billed alone up to now at the old rate,
    /// changed, metered at the new rate from now.
    fn change_billed<T: Billed, R>(
        &mut self,
        id: &str,
        change: impl FnOnce(&mut T) -> R,
    ) -> Option<R> {
        self.charge_to_clock();
        let now = self.clock;
        let (objects, meter) = T::split(self);
        let object = objects.get_mut(id)?.object();
        object.settle(now);
        let result = change(object);
        meter.set(T::target(id), object.billing());
        Some(result)
    }

    /// Meter every object of a kind from its stamp (a loaded world's objects without one were
    /// settled up to its clock when it was saved).
    fn meter_all<T: Billed>(&mut self) {
        let clock = self.clock;
        let (objects, meter) = T::split(self);
        for (id, held) in objects.iter_mut() {
            let object = held.object();
            let stamp = object.billed_to_mut();
            if stamp.is_nan() {
                *stamp = clock;
            }
            meter.set(T::target(id), object.billing());
        }
    }

    /// Settle every object of a kind up to the clock.
    fn settle_each<T: Billed>(&mut self) {
        let now = self.clock;
        for held in T::split(self).0.values_mut() {
            held.object().settle(now);
        }
    }

    /// The one way a billed object leaves the world: billed up to now, then no longer metered.
    fn remove_billed<T: Billed>(&mut self, id: &str) -> Option<T> {
        self.charge_to_clock();
        let now = self.clock;
        let (objects, meter) = T::split(self);
        let mut object = objects.remove(id)?.into_object();
        object.settle(now);
        meter.set(T::target(id), None);
        Some(object)
    }

    /// Take what every billing object has run up since the meter's stamp off the balance.
    /// O(log n); the stamp never moves backwards.
    fn charge_to_clock(&mut self) {
        self.balance -= self.meter.charge_to(ticks(self.clock));
    }

    /// Add a new image, queueing its transition. Images are not billed.
    pub fn add_image(&mut self, image: Image) {
        if let Some(p) = &image.pending {
            self.schedule(Target::Image(image.id.clone()), p.due);
        }
        self.images.insert(image.id.clone(), image);
    }

    /// Add a new firewall, queueing its rules that still apply.
    pub fn add_firewall(&mut self, firewall: Firewall) {
        for (rule, at) in &firewall.rule_due {
            self.schedule(Target::Rule(firewall.id.clone(), rule.clone()), *at);
        }
        self.firewalls.insert(firewall.id.clone(), firewall);
    }

    /// Forget the queue: it is rebuilt from the objects on the next tick. For code that changes
    /// the world directly (tests, loading a file).
    pub fn reindex_later(&mut self) {
        self.indexed = false;
    }

    /// Advance the clock to `to` and settle every object's own figures: what a reader of the
    /// whole world's fields needs (a dump, a saved file, a test). O(world): never per request.
    pub fn tick(&mut self, to: f64) {
        self.run_due(to);
        self.settle_all();
    }

    /// Advance the clock to `to`, applying due transitions in time order, and charge the
    /// balance up to `to`; an instance is billed up to the instant its status (and so its
    /// rate) changes. Costs O((due + 1) · log n).
    pub fn run_due(&mut self, to: f64) {
        if !self.indexed {
            self.rebuild_index();
        }
        if to <= self.clock {
            return;
        }
        while let Some(first) = self.due.first() {
            if first.0 .0 > to {
                break;
            }
            let Some((Due(at), target)) = self.due.pop_first() else {
                break;
            };
            self.clock = self.clock.max(at);
            self.apply(target, at);
        }
        self.clock = to;
        self.charge_to_clock();
    }

    /// Settle every object's own figures up to the clock. The balance is already current (the
    /// meter charged it); this changes no figure a reader sees, only where each is kept. O(world).
    pub fn settle_all(&mut self) {
        if !self.indexed {
            self.rebuild_index();
        }
        self.charge_to_clock();
        self.settle_each::<Instance>();
        self.settle_each::<Volume>();
        self.settle_each::<Snapshot>();
        debug_assert_eq!(self.check_meter(), Ok(()));
    }

    /// Whether the meter bills exactly what the objects say, object by object: what a change
    /// that bypassed [`World::change_instance`] and its kin would break. O(world).
    pub fn check_meter(&self) -> Result<(), String> {
        if !self.indexed {
            // Rebuilt from the objects before it is next used.
            return Ok(());
        }
        let mut expected: Vec<(Target, Option<Billing>)> = Vec::new();
        for (id, i) in &self.instances {
            expected.push((Target::Instance(id.clone()), i.billing()));
        }
        for (id, v) in &self.volumes {
            expected.push((Target::Volume(id.clone()), v.billing()));
        }
        for (id, s) in &self.snapshots {
            expected.push((Target::Snapshot(id.clone()), s.billing()));
        }
        let mut billing = 0;
        for (target, want) in expected {
            let want = want.filter(|b| b.rate() > 0);
            billing += usize::from(want.is_some());
            let have = self.meter.billing(&target);
            // A per-minute start only matters modulo the minute.
            let same = match (want, have) {
                (
                    Some(Billing::PerMinute { rate: a, start: s }),
                    Some(Billing::PerMinute { rate: b, start: t }),
                ) => a == b && (s - t).rem_euclid(MINUTE) == 0,
                (want, have) => want == have,
            };
            if !same {
                return Err(format!(
                    "{target:?}: the meter has {have:?}, the object says {want:?}"
                ));
            }
        }
        if billing != self.meter.len() {
            return Err(format!(
                "the meter bills {} objects, the world has {billing} that cost something",
                self.meter.len()
            ));
        }
        Ok(())
    }

    /// The queue from the objects' own pending transitions, and the meter from their billing;
    /// the balance is current at the clock (a loaded world's was when it was saved, and an
    /// object's own stamp says how far its figures are settled).
    fn rebuild_index(&mut self) {
        let mut due = BTreeSet::new();
        let mut lookups = Lookups {
            built: true,
            ..Lookups::default()
        };
        for i in self.instances.values() {
            let name = (i.name.clone(), i.region.clone());
            *lookups.names.entry(name).or_default() += 1;
            if let Some(snapshot) = &i.restoring_from {
                lookups.restores.insert((snapshot.clone(), i.id.clone()));
            }
        }
        self.lookups = lookups;
        for (id, i) in &self.instances {
            if let Some(p) = &i.pending {
                due.insert((Due(p.due), Target::Instance(id.clone())));
            }
        }
        for (id, v) in &self.volumes {
            if let Some(p) = &v.pending {
                due.insert((Due(p.due), Target::Volume(id.clone())));
            }
        }
        for (id, s) in &self.snapshots {
            if let Some(p) = &s.pending {
                due.insert((Due(p.due), Target::Snapshot(id.clone())));
            }
        }
        for (id, i) in &self.images {
            if let Some(p) = &i.pending {
                due.insert((Due(p.due), Target::Image(id.clone())));
            }
        }
        for (id, f) in &self.firewalls {
            for (rule, at) in &f.rule_due {
                due.insert((Due(*at), Target::Rule(id.clone(), rule.clone())));
            }
        }
        self.due = due;
        self.meter = Meter::starting_at(ticks(self.clock));
        self.meter_all::<Instance>();
        self.meter_all::<Volume>();
        self.meter_all::<Snapshot>();
        self.indexed = true;
    }

    /// Apply one queued transition, if its object still waits for it.
    fn apply(&mut self, target: Target, at: f64) {
        fn take_due(pending: &mut Option<Pending>, at: f64) -> Option<Pending> {
            if pending.as_ref().is_some_and(|p| p.due == at) {
                pending.take()
            } else {
                None
            }
        }
        match target {
            Target::Instance(id) => {
                let stamp = format_time(at);
                let Some(instance) = self.instances.get_mut(&id) else {
                    return;
                };
                let Some(pending) = take_due(&mut instance.pending, at) else {
                    return;
                };
                // The old status's rate ran until now.
                match pending.to {
                    Some(status) => {
                        let restored = self.change_instance(&id, |instance| {
                            instance.status = status;
                            instance.updated_at = stamp;
                            instance.restoring_from.take()
                        });
                        if let Some(Some(snapshot)) = restored {
                            self.lookups.restores.remove(&(snapshot, id.clone()));
                        }
                    }
                    None => {
                        if let Some(gone) = self.remove_instance(&id) {
                            self.release(&gone);
                        }
                    }
                }
            }
            Target::Volume(id) => {
                if let Some(v) = self.volumes.get_mut(&id) {
                    if let Some(Pending { to: Some(s), .. }) = take_due(&mut v.pending, at) {
                        v.status = s;
                    }
                }
            }
            Target::Snapshot(id) => {
                if let Some(snap) = self.snapshots.get_mut(&id) {
                    if let Some(Pending { to: Some(s), .. }) = take_due(&mut snap.pending, at) {
                        snap.status = s;
                    }
                }
            }
            Target::Image(id) => {
                if let Some(image) = self.images.get_mut(&id) {
                    if let Some(Pending { to: Some(s), .. }) = take_due(&mut image.pending, at) {
                        image.status = s;
                    }
                }
            }
            Target::Rule(firewall, rule_id) => {
                let Some(fw) = self.firewalls.get_mut(&firewall) else {
                    return;
                };
                if fw.rule_due.get(&rule_id) != Some(&at) {
                    return;
                }
                fw.rule_due.remove(&rule_id);
                let rule = fw
                    .rules
                    .iter_mut()
                    .filter_map(serde_json::Value::as_object_mut)
                    .find(|r| r.get("id").and_then(serde_json::Value::as_str) == Some(&rule_id));
                if let Some(rule) = rule {
                    rule.insert("status".into(), "ACTIVE".into());
                }
            }
        }
    }

    /// What a deleted instance gives back: its GPUs and its attachments.
    fn release(&mut self, gone: &Instance) {
        if gone.holds_gpus {
            self.return_gpus(&gone.region, &gone.gpu_model, gone.gpu_count);
        }
        for volume in self.volumes.values_mut() {
            if volume.instance_id.as_deref() == Some(gone.id.as_str()) {
                volume.instance_id = None;
                volume.status = "AVAILABLE".into();
            }
        }
        for firewall in self.firewalls.values_mut() {
            firewall.instance_ids.retain(|id| id != &gone.id);
        }
    }
}

/// RFC 3339, UTC, whole seconds.
pub fn format_time(epoch_seconds: f64) -> String {
    let secs = epoch_seconds.floor() as i64;
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

#[cfg(test)]
impl World {
    /// A new instance of one H100, named `name`, `status` until `due` (not yet added): tests.
    pub(crate) fn test_instance(
        &mut self,
        name: &str,
        status: &str,
        region: &str,
        due: f64,
    ) -> Instance {
        let id = self.new_instance_id(false);
        let now = self.timestamp();
        Instance::starting(
            id,
            name.into(),
            status,
            region,
            "H100-SXM5-80GB",
            1,
            "10.0.0.2".into(),
            now,
            due,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticking_applies_transitions_in_order_and_bills_active_minutes() {
        let mut world = World::seeded(1, 1_000_000.0);
        let mut instance = world.test_instance("t", "CREATING", "FINLAND-1", 1_000_120.0);
        let id = instance.id.clone();
        instance.os_volume_size_gb = 100;
        world.instances.insert(id.clone(), instance.into());
        let before = world.balance;
        world.tick(1_000_119.0);
        assert_eq!(world.instances[&id].status, "CREATING");
        assert_eq!(world.balance, before);
        world.tick(1_000_120.0 + 600.0);
        assert_eq!(world.instances[&id].status, "ACTIVE");
        assert_eq!(world.instances[&id].billed_minutes, 10);
        let expected = (2.49 + 100.0 * OS_VOLUME_RATE) / 6.0;
        assert!((before - world.balance - expected).abs() < 1e-9);
    }

    #[test]
    fn a_name_in_use_is_found_without_walking_the_instances_and_freed_with_its_instance() {
        let mut world = World::seeded(3, 1_000.0);
        world.run_due(1_000.0);
        let deploy = |world: &mut World, name: &str, region: &str| {
            let vm = world.test_instance(name, "CREATING", region, 2_000.0);
            let id = vm.id.clone();
            world.add_instance(vm);
            id
        };
        let first = deploy(&mut world, "trainer", "FINLAND-1");
        let second = deploy(&mut world, "trainer", "FINLAND-1");
        assert!(world.instance_named("trainer", Some("FINLAND-1")));
        assert!(world.instance_named("trainer", None));
        assert!(!world.instance_named("trainer", Some("FINLAND-2")));
        assert!(
            !world.instance_named("train", None),
            "a prefix is not the name"
        );
        assert!(!world.instance_named("trainers", None));
        let copy = world.clone();
        assert!(
            copy.instance_named("trainer", Some("FINLAND-1")),
            "a copy reads its objects"
        );
        assert!(!copy.instance_named("trainer", Some("FINLAND-2")));
        world.remove_instance(&first);
        assert!(
            world.instance_named("trainer", None),
            "one instance still bears it"
        );
        world.remove_instance(&second);
        assert!(!world.instance_named("trainer", None));

        // A direct change (a test, a loaded file) is read from the objects until reindexed.
        let third = deploy(&mut world, "other", "ICELAND-1");
        world.reindex_later();
        world.instances.get_mut(&third).unwrap().name = "renamed".into();
        assert!(world.instance_named("renamed", Some("ICELAND-1")));
        world.run_due(1_001.0);
        assert!(world.instance_named("renamed", None));
        assert!(!world.instance_named("other", None));
    }

    #[test]
    fn a_deleted_snapshot_finds_the_restores_still_reading_it_and_only_those() {
        let mut world = World::seeded(5, 1_000.0);
        world.run_due(1_000.0);
        let restore = |world: &mut World, snapshot: &str, due: f64| {
            let mut vm = world.test_instance("copy", "RESTORING", "FINLAND-1", due);
            vm.restoring_from = Some(snapshot.into());
            let id = vm.id.clone();
            world.add_instance(vm);
            id
        };
        let finishing = restore(&mut world, "snap-a", 1_100.0);
        let reading = restore(&mut world, "snap-a", 5_000.0);
        let removed = restore(&mut world, "snap-a", 5_000.0);
        let other = restore(&mut world, "snap-b", 5_000.0);
        world.run_due(1_200.0);
        assert_eq!(world.instances[&finishing].status, "ACTIVE");
        world.remove_instance(&removed);
        assert_eq!(world.take_restores_of("snap-a"), vec![reading.clone()]);
        assert_eq!(
            world.take_restores_of("snap-a"),
            Vec::<String>::new(),
            "taken once"
        );
        assert_eq!(
            world.take_restores_of("snap"),
            Vec::<String>::new(),
            "a prefix is not the id"
        );
        // A world changed directly is read from its objects, then reindexed from them.
        world.reindex_later();
        assert_eq!(world.take_restores_of("snap-b"), vec![other.clone()]);
        world.run_due(1_201.0);
        assert_eq!(world.take_restores_of("snap-b"), vec![other]);
    }

    #[test]
    fn a_replaced_or_deleted_transition_does_not_fire_at_its_old_time() {
        let mut world = World::seeded(2, 1_000.0);
        let mut ids = Vec::new();
        for _ in 0..2 {
            let vm = world.test_instance("t", "CREATING", "FINLAND-1", 1_100.0);
            let id = vm.id.clone();
            world.add_instance(vm);
            ids.push(id);
        }
        world.run_due(1_050.0);
        // The first is given another transition, later; the second is deleted.
        if let Some(vm) = world.instances.get_mut(&ids[0]) {
            vm.pending = Some(Pending {
                due: 1_200.0,
                to: Some("SHUTOFF".into()),
            });
        }
        world.schedule(Target::Instance(ids[0].clone()), 1_200.0);
        world.instances.remove(&ids[1]);
        world.run_due(1_150.0);
        assert_eq!(world.instances[&ids[0]].status, "CREATING");
        assert!(!world.instances.contains_key(&ids[1]));
        world.run_due(1_200.0);
        assert_eq!(world.instances[&ids[0]].status, "SHUTOFF");
        assert_eq!(world.clock, 1_200.0);
    }

    #[test]
    fn the_world_writes_its_instants_as_rfc3339_and_reads_both_forms() {
        let mut world = World::seeded(3, 1_780_000_000.25);
        world.firewalls.insert(
            "fw-1".into(),
            Firewall {
                id: "fw-1".into(),
                name: "f".into(),
                region: "FINLAND-1".into(),
                description: String::new(),
                rules: Vec::new(),
                instance_ids: Vec::new(),
                created_at: world.timestamp(),
                rule_due: BTreeMap::from([("rule-1".to_string(), 1_780_000_120.5)]),
            },
        );
        let json = serde_json::to_value(&world).unwrap();
        assert_eq!(json["clock"], "2026-05-28T20:26:40.25Z");
        assert_eq!(
            json["firewalls"]["fw-1"]["rule_due"]["rule-1"],
            "2026-05-28T20:28:40.5Z"
        );
        let back: World = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back.clock, world.clock);
        assert_eq!(back.firewalls["fw-1"].rule_due["rule-1"], 1_780_000_120.5);
        // A state file of an older barrack, with seconds.
        let mut old = json;
        old["clock"] = serde_json::json!(1_780_000_000.25);
        let back: World = serde_json::from_value(old).unwrap();
        assert_eq!(back.clock, world.clock);
    }

    #[test]
    fn a_rate_changed_behind_the_worlds_back_is_caught_and_one_changed_through_it_is_billed() {
        let mut world = World::seeded(4, 1_780_000_000.0);
        let mut vm = world.test_instance("t", "ACTIVE", "FINLAND-1", f64::INFINITY);
        let id = vm.id.clone();
        vm.pending = None;
        world.add_instance(vm);
        world.run_due(world.clock + 90.0);
        assert_eq!(world.check_meter(), Ok(()));
        let before = world.balance;
        world.change_instance(&id, |vm| vm.status = "SHUTOFF".into());
        assert_eq!(world.check_meter(), Ok(()));
        world.run_due(world.clock + 3600.0);
        let disk_and_a_minute = 2.49 / 60.0;
        assert!(
            (before - world.balance) < disk_and_a_minute,
            "GPU billing stopped"
        );
        // Behind its back: the meter still bills the old rate, and says so.
        if let Some(vm) = world.instances.get_mut(&id) {
            vm.status = "ACTIVE".into();
        }
        assert!(world.check_meter().is_err());
    }

    #[test]
    fn ids_have_the_documented_shapes() {
        let mut world = World::seeded(7, 0.0);
        let vm = world.new_instance_id(false);
        let restored = world.new_instance_id(true);
        assert!(
            vm.starts_with("BRK-") && vm.ends_with("VM") && vm.len() == 12,
            "{vm}"
        );
        assert!(
            restored.ends_with('D') && restored.len() == 11,
            "{restored}"
        );
    }
}
