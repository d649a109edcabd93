//! Actions on a handle update that handle: after `vm.stop()` (or `stop(vm)`), `vm.status` is
//! STOPPING. The server's answer is used when it is the object itself; otherwise the object is
//! read again (after `fw.add_rule(…)` the handle lists the new rule). A deleted object that the
//! server no longer knows keeps its last fields with status "DELETED".
//!
//! Registered per handle type from the catalog: every mutating operation whose first argument is
//! an object of that kind, except those that make an object of another kind (`snapshot(vm)`).

use super::convert::{self, RhaiResult};
use super::handles::{self, Handle};
use super::ops;
use super::runtime::Runtime;
use crate::api::catalog::{ArgType, Kind, Op, Returns, OPS};
use crate::api::Args;
use rhai::{Array, Dynamic, FuncRegistration, Map, Module, NativeCallContext};
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

/// After a fleet action, each element that the answer shows again (the same object, by id)
/// becomes that answer; others keep what they had. Failed elements are left as they were.
fn update_elements(items: &mut Array, outcome: &RhaiResult) {
    let results: Option<Array> = match outcome {
        Ok(value) => value.read_lock::<Array>().map(|a| a.clone()),
        Err(err) => match err.as_ref() {
            rhai::EvalAltResult::ErrorRuntime(value, _) => value.read_lock::<Map>().and_then(|m| {
                m.get("results")
                    .and_then(|r| r.read_lock::<Array>().map(|a| a.clone()))
            }),
            _ => None,
        },
    };
    for (item, answer) in items.iter_mut().zip(results.unwrap_or_default()) {
        let (Some(old), Some(new)) = (handles::as_handle(item), handles::as_handle(&answer)) else {
            continue;
        };
        if old.kind == new.kind && old.id() == new.id() {
            *item = answer;
        }
    }
}

/// Fleet actions on an array variable: `hibernate(fleet)` runs on every element (see
/// `fleet`) and leaves each element updated from its answer, as the waiters do.
pub fn register_for_arrays(module: &mut Module, runtime: &Arc<Runtime>) {
    let mut names: Vec<&'static str> = Kind::ALL
        .into_iter()
        .flat_map(actions_of)
        .flat_map(|op| op.rhai_names())
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let ops: Vec<&'static Op> = crate::api::catalog::by_rhai_name(name).collect();
        // A name whose operation takes a list itself (`delete_scripts(ids)`) is not a fleet.
        if ops
            .iter()
            .any(|op| !matches!(op.args.first().map(|a| a.ty), Some(ArgType::Target(_))))
        {
            continue;
        }
        let low = ops.iter().map(|op| op.required.max(1)).min().unwrap_or(1);
        let high = ops.iter().map(|op| op.args.len()).max().unwrap_or(1);
        for arity in low..=high.min(3) {
            let mut info = ops::params_info(&ops, arity);
            if let Some(first) = info.first_mut() {
                *first = "fleet: Array".into();
            }
            let registration = FuncRegistration::new(name)
                .in_global_namespace()
                .with_volatility(true)
                // Pure, as the untyped actions were: `const VM = …; VM.stop()` keeps working
                // (and the constant's cached status follows the server, which is the point).
                .with_params_info(info)
                .with_comments(ops::comments(&ops));
            let (rt, ops) = (runtime.clone(), Arc::new(ops.clone()));
            let run = move |items: &mut Array, rest: Vec<Dynamic>| -> RhaiResult {
                let mut args = vec![Dynamic::from(items.clone())];
                args.extend(rest);
                let outcome = ops::run_fleet(&rt, &ops, name, args);
                update_elements(items, &outcome);
                outcome
            };
            match arity {
                1 => {
                    registration.set_into_module(
                        module,
                        move |ctx: NativeCallContext, items: &mut Array| {
                            run(items, Vec::new()).map_err(|e| convert::at(e, &ctx))
                        },
                    );
                }
                2 => {
                    registration.set_into_module(
                        module,
                        move |ctx: NativeCallContext, items: &mut Array, b: Dynamic| {
                            run(items, vec![b]).map_err(|e| convert::at(e, &ctx))
                        },
                    );
                }
                _ => {
                    registration.set_into_module(
                        module,
                        move |ctx: NativeCallContext, items: &mut Array, b: Dynamic, c: Dynamic| {
                            run(items, vec![b, c]).map_err(|e| convert::at(e, &ctx))
                        },
                    );
                }
            }
        }
    }
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
                    // Pure, as the untyped actions were: `const VM = …; VM.stop()` keeps
                    // working (and the constant's cached status follows the server).
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
