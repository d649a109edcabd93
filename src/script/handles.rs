//! Handle types: `Vm`, `Volume`, `Snapshot`, `Firewall`, `SshKey`, `Script`, `Image`.
//! Each wraps the server's JSON (unknown fields kept) with getters, `.raw`, `.refresh()`, an
//! indexer for any field, and a one-line printed form.

use super::convert::{map_to_json, to_dynamic};
use super::runtime::Runtime;
use super::RhaiResult;
use crate::api::catalog::{self, Kind};
use rhai::{Dynamic, FuncRegistration, Map, Module};
use std::sync::Arc;

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

        /// Register every handle type, its getters, printing and `refresh` into the module.
        pub fn register(module: &mut Module, runtime: &Arc<Runtime>) {
            $(
                module.set_custom_type::<$ty>(stringify!($ty));
                for field in ["id", "name", "status", "region", "created_at" $(, $getter)*] {
                    FuncRegistration::new_getter(field)
                        .with_comments([concat!("/// Field of the ", stringify!($ty), " as the server sent it (`()` when absent).")])
                        .set_into_module(module, move |h: &mut $ty| h.0.field(field));
                }
                FuncRegistration::new_getter("raw")
                    .with_comments(["/// The whole server JSON of the object, unknown fields included."])
                    .set_into_module(module, |h: &mut $ty| h.0.raw.clone());
                FuncRegistration::new_getter("kind")
                    .set_into_module(module, |h: &mut $ty| h.0.kind.type_name().to_string());
                FuncRegistration::new_index_getter()
                    .set_into_module(module, |h: &mut $ty, field: &str| h.0.field(field));
                FuncRegistration::new("to_string")
                    .in_global_namespace()
                    .set_into_module(module, |h: &mut $ty| h.0.line());
                FuncRegistration::new("to_debug")
                    .in_global_namespace()
                    .set_into_module(module, |h: &mut $ty| h.0.line());
                FuncRegistration::new("to_json")
                    .in_global_namespace()
                    .set_into_module(module, |h: &mut $ty| {
                        serde_json::to_string_pretty(&serde_json::Value::Object(map_to_json(&h.0.raw).unwrap_or_default())).unwrap_or_default()
                    });
                FuncRegistration::new("==")
                    .in_global_namespace()
                    .set_into_module(module, |a: &mut $ty, b: $ty| a.0.id() == b.0.id());
                FuncRegistration::new("!=")
                    .in_global_namespace()
                    .set_into_module(module, |a: &mut $ty, b: $ty| a.0.id() != b.0.id());
                super::wait::register_for::<$ty>(module, runtime, stringify!($ty), |h| &mut h.0);
                super::actions::register_for::<$ty>(module, runtime, Kind::$kind, |h| &mut h.0);
                let rt = runtime.clone();
                FuncRegistration::new("refresh")
                    .in_global_namespace()
                    .with_volatility(true)
                    .with_purity(false)
                    .with_comments(["/// Fetch the object again and update this handle in place; returns it."])
                    .set_into_module(module, move |h: &mut $ty| -> RhaiResult {
                        let fresh = refresh(&rt, &h.0)?;
                        h.0.raw = fresh;
                        Ok(Dynamic::from(h.clone()))
                    });
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

fn refresh(rt: &Runtime, handle: &Handle) -> Result<Map, Box<rhai::EvalAltResult>> {
    let op = Handle::get_op(handle.kind);
    let mut args = crate::api::Args::new();
    args.insert("id".into(), handle.id().into());
    let value = rt
        .call(op, &args)
        .map_err(|e| super::convert::api_error(&e))?;
    match to_dynamic(value).try_cast::<Map>() {
        Some(map) => Ok(map),
        None => Err(format!(
            "{} {}: the server's answer is not an object",
            handle.kind.noun(),
            handle.id()
        )
        .into()),
    }
}
