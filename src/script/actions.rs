//! Actions on a handle update that handle: after `vm.stop()` (or `stop(vm)`), `vm.status` is
//! STOPPING. The server's answer is used when it is the object itself; otherwise the object is
//! read again (after `fw.add_rule(…)` the handle lists the new rule). A deleted object that the
//! server no longer knows keeps its last fields with status "DELETED".
//!
//! Registered per handle type from the catalog: every mutating operation whose first argument is
//! an object of that kind, except those that make an object of another kind (`snapshot(vm)`).

use super::convert;
use super::handles::{self, Handle};
use super::ops;
use super::runtime::Runtime;
use super::RhaiResult;
use crate::api::catalog::{Kind, Op, Returns, OPS};
use crate::api::Args;
use rhai::{Dynamic, FuncRegistration, Map, Module, NativeCallContext};
use std::sync::Arc;

/// The actions that update a handle of `kind`.
fn actions_of(kind: Kind) -> impl Iterator<Item = &'static Op> {
    OPS.iter().filter(move |op| {
        op.mutates
            && op.target_kind() == Some(kind)
            && match op.returns {
                Returns::One(made) => made == kind,
                _ => true,
            }
    })
}

/// Run `op` on the handle, then bring the handle up to date.
fn act(rt: &Runtime, op: &'static Op, handle: &mut Handle, rest: Vec<Dynamic>) -> RhaiResult {
    let mut args = vec![handles::wrap(handle.kind, handle.raw.clone())];
    args.extend(rest);
    let result = ops::invoke(rt, op, args)?;
    if let Some(answer) = handles::as_handle(&result) {
        if answer.kind == handle.kind && answer.id() == handle.id() {
            handle.raw = answer.raw;
            return Ok(result);
        }
    }
    let mut request = Args::new();
    request.insert("id".into(), handle.id().into());
    match rt.call(Handle::get_op(handle.kind), &request) {
        Ok(fresh) => {
            if let Some(map) = convert::to_dynamic(fresh).try_cast::<Map>() {
                handle.raw = map;
            }
        }
        Err(err) if err.status == 404 => {
            handle.raw.insert("status".into(), "DELETED".into());
        }
        // The action itself succeeded; a failed re-read leaves the handle as it was.
        Err(_) => {}
    }
    Ok(result)
}

/// Register the actions of one handle type with a `&mut` first argument, so both `vm.stop()`
/// and `stop(vm)` update `vm`. Arrays and id strings keep going through the untyped functions.
pub fn register_for<T: Clone + Send + Sync + 'static>(
    module: &mut Module,
    runtime: &Arc<Runtime>,
    kind: Kind,
    get: fn(&mut T) -> &mut Handle,
) {
    for op in actions_of(kind) {
        for name in op.rhai_names() {
            for arity in op.required.max(1)..=op.args.len() {
                let ops_of = [op];
                let mut info = ops::params_info(&ops_of, arity);
                if let Some(first) = info.first_mut() {
                    *first = format!(
                        "{}: {}",
                        first.split(':').next().unwrap_or("target"),
                        kind.type_name()
                    );
                }
                let registration = FuncRegistration::new(name)
                    .in_global_namespace()
                    .with_volatility(true)
                    .with_purity(false)
                    .with_params_info(info)
                    .with_comments(ops::comments(&ops_of));
                let rt = runtime.clone();
                match arity {
                    1 => {
                        registration.set_into_module(
                            module,
                            move |ctx: NativeCallContext, h: &mut T| {
                                act(&rt, op, get(h), Vec::new()).map_err(|e| convert::at(e, &ctx))
                            },
                        );
                    }
                    2 => {
                        registration.set_into_module(
                            module,
                            move |ctx: NativeCallContext, h: &mut T, b: Dynamic| {
                                act(&rt, op, get(h), vec![b]).map_err(|e| convert::at(e, &ctx))
                            },
                        );
                    }
                    _ => {
                        registration.set_into_module(
                            module,
                            move |ctx: NativeCallContext, h: &mut T, b: Dynamic, c: Dynamic| {
                                act(&rt, op, get(h), vec![b, c]).map_err(|e| convert::at(e, &ctx))
                            },
                        );
                    }
                }
            }
        }
    }
}
