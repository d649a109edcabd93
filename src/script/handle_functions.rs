//! What a script can do with a handle of any type: getters (`id name status region created_at`
//! and the type's own), `.raw`, `x["any_field"]`, printing, `to_json`, `==`, and `.refresh()`.

use super::convert::{self, map_to_json, to_dynamic, RhaiResult};
use super::handles::Handle;
use super::runtime::Runtime;
use crate::api::catalog::Kind;
use rhai::{Dynamic, FuncRegistration, Map, Module};
use std::sync::Arc;

/// Register the handle type `T` (a `kind`, with `getters` besides the common ones) and its
/// functions into the module.
pub fn register<T: Clone + Send + Sync + 'static>(
    module: &mut Module,
    runtime: &Arc<Runtime>,
    kind: Kind,
    getters: &'static [&'static str],
    get: fn(&mut T) -> &mut Handle,
) {
    let type_name = kind.type_name();
    module.set_custom_type::<T>(type_name);
    let comment = format!("/// Field of the {type_name} as the server sent it (`()` when absent).");
    for &field in ["id", "name", "status", "region", "created_at"]
        .iter()
        .chain(getters)
    {
        FuncRegistration::new_getter(field)
            .with_comments([comment.as_str()])
            .set_into_module(module, move |h: &mut T| get(h).field(field));
    }
    FuncRegistration::new_getter("raw")
        .with_comments(["/// The whole server JSON of the object, unknown fields included."])
        .set_into_module(module, move |h: &mut T| get(h).raw.clone());
    FuncRegistration::new_getter("kind")
        .set_into_module(module, move |h: &mut T| get(h).kind.type_name().to_string());
    FuncRegistration::new_index_getter()
        .set_into_module(module, move |h: &mut T, field: &str| get(h).field(field));
    FuncRegistration::new("to_string")
        .in_global_namespace()
        .set_into_module(module, move |h: &mut T| get(h).line());
    FuncRegistration::new("to_debug")
        .in_global_namespace()
        .set_into_module(module, move |h: &mut T| get(h).line());
    FuncRegistration::new("to_json")
        .in_global_namespace()
        .set_into_module(module, move |h: &mut T| {
            serde_json::to_string_pretty(&serde_json::Value::Object(
                map_to_json(&get(h).raw).unwrap_or_default(),
            ))
            .unwrap_or_default()
        });
    FuncRegistration::new("==")
        .in_global_namespace()
        .set_into_module(module, move |a: &mut T, mut b: T| {
            get(a).id() == get(&mut b).id()
        });
    FuncRegistration::new("!=")
        .in_global_namespace()
        .set_into_module(module, move |a: &mut T, mut b: T| {
            get(a).id() != get(&mut b).id()
        });
    let rt = runtime.clone();
    FuncRegistration::new("refresh")
        .in_global_namespace()
        .with_volatility(true)
        .with_purity(false)
        .with_comments(["/// Fetch the object again and update this handle in place; returns it."])
        .set_into_module(module, move |h: &mut T| -> RhaiResult {
            let fresh = refresh(&rt, get(h))?;
            get(h).raw = fresh;
            Ok(Dynamic::from(h.clone()))
        });
}

fn refresh(rt: &Runtime, handle: &Handle) -> Result<Map, Box<rhai::EvalAltResult>> {
    let op = Handle::get_op(handle.kind);
    let mut args = crate::api::Args::new();
    args.insert("id".into(), handle.id().into());
    let value = rt.call(op, &args).map_err(|e| convert::api_error(&e))?;
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
