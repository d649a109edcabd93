//! Handle types: `Vm`, `Volume`, `Snapshot`, `Firewall`, `SshKey`, `Script`, `Image`.
//! Each wraps the server's JSON (unknown fields kept) and prints as one line. What a script can
//! do with one is registered elsewhere, once per type through [`for_each_type`]: getters and
//! `.refresh()` (`handle_functions`), waiters (`wait`), actions (`actions`).

use crate::api::catalog::{self, Kind};
use rhai::{Dynamic, Map};

/// The data of every handle: its kind and the server's JSON object.
#[derive(Clone, Debug)]
pub struct Handle {
    pub kind: Kind,
    pub raw: Map,
}

impl Handle {
    pub fn field(&self, name: &str) -> Dynamic {
        self.raw.get(name).cloned().unwrap_or(Dynamic::UNIT)
    }

    pub fn text(&self, name: &str) -> String {
        match self.raw.get(name) {
            Some(v) if !v.is_unit() => v.to_string(),
            _ => String::new(),
        }
    }

    pub fn id(&self) -> String {
        self.text("id")
    }

    /// `Vm BRK-123456VM "train-1" ACTIVE FINLAND-1 8×H100-SXM5-80GB`
    pub fn line(&self) -> String {
        let mut parts = vec![self.kind.type_name().to_string(), self.id()];
        let name = self.text("name");
        if !name.is_empty() {
            parts.push(format!("{name:?}"));
        }
        for field in ["status", "region"] {
            let v = self.text(field);
            if !v.is_empty() {
                parts.push(v);
            }
        }
        match self.kind {
            Kind::Vm => parts.push(format!(
                "{}×{}",
                self.text("gpu_count"),
                self.text("gpu_model")
            )),
            Kind::Volume | Kind::Snapshot | Kind::Image if !self.text("size_gb").is_empty() => {
                parts.push(format!("{} GB", self.text("size_gb")))
            }
            _ => {}
        }
        if self.kind == Kind::Snapshot && !self.text("instance_id").is_empty() {
            parts.push(format!("of {}", self.text("instance_id")));
        }
        parts.join(" ")
    }

    /// The getter operation that fetches this kind by id.
    pub fn get_op(kind: Kind) -> &'static catalog::Op {
        // The catalog's unit test `every_kind_is_listed_and_read_by_one_operation` pins one
        // getter per kind, so this cannot fail at run time.
        catalog::get_op(kind).expect("the catalog reads every kind by id")
    }
}

/// Something registered once per handle type: `visit` is called with each type, its kind, the
/// getters it has besides the common ones, and the way to its [`Handle`].
pub trait PerType {
    /// Register for the handle type `T`.
    fn visit<T: Clone + Send + Sync + 'static>(
        &mut self,
        kind: Kind,
        getters: &'static [&'static str],
        get: fn(&mut T) -> &mut Handle,
    );
}

macro_rules! handle_types {
    ($($ty:ident => $kind:ident [$($getter:literal),*]),* $(,)?) => {
        $(
            #[doc = concat!("A `", stringify!($ty), "` handle in Rhai.")]
            #[derive(Clone, Debug)]
            pub struct $ty(pub Handle);
        )*

        /// Wrap server JSON as the handle of its kind.
        pub fn wrap(kind: Kind, raw: Map) -> Dynamic {
            match kind {
                $(Kind::$kind => Dynamic::from($ty(Handle { kind, raw })),)*
            }
        }

        /// The handle inside a Dynamic, whatever its kind.
        pub fn as_handle(value: &Dynamic) -> Option<Handle> {
            $(
                if let Some(h) = value.read_lock::<$ty>() {
                    return Some(h.0.clone());
                }
            )*
            None
        }

        /// Visit every handle type, in the order of the table below.
        pub fn for_each_type(per_type: &mut impl PerType) {
            $(
                per_type.visit::<$ty>(Kind::$kind, &[$($getter),*], |h| &mut h.0);
            )*
        }
    };
}

handle_types! {
    Vm => Vm ["gpu_model", "gpu_count", "public_ip", "private_ip", "tier", "hourly_cost", "os_volume_size_gb", "ssh_key_ids", "volume_ids"],
    Volume => Volume ["size_gb", "type", "bootable", "instance_id", "tier", "hourly_cost"],
    Snapshot => Snapshot ["instance_id", "instance_name", "size_gb", "gpu_model", "gpu_count", "hourly_cost"],
    Firewall => Firewall ["rules", "instance_ids", "description"],
    SshKey => SshKey ["public_key", "fingerprint"],
    Script => Script ["script", "size_bytes", "updated_at"],
    Image => Image ["snapshot_id", "size_gb"],
}
