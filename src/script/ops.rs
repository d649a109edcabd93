//! Every catalog operation as Rhai functions, registered from the table.
//!
//! For each Rhai name (an operation's own name or an alias such as `stop` or `delete`) and each
//! arity, one function is registered. It picks the operation from the type of its first argument
//! (`delete(vm)` vs `delete(volume)`, `firewalls()` vs `firewalls(vm)`), turns the arguments into
//! a request, and wraps the answer in handles. An array as the first argument of an action runs
//! the action on every element concurrently (the fleet).

use super::account_facts::AccountFacts;
use super::convert::{self, to_dynamic, RhaiResult};
use super::deploy;
use super::fleet;
use super::handles;
use super::runtime::Runtime;
use crate::api::catalog::{self, ArgType, Kind, Method, Op, OpId, Returns, OPS};
use crate::api::check::{self, Mode, Vocabulary};
use crate::api::signature;
use crate::api::Args;
use rhai::{Array, Dynamic, EvalAltResult, FuncRegistration, Map, Module, NativeCallContext};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

type Ops = Arc<Vec<&'static Op>>;

/// Register every operation under every Rhai name, plus `check_params` and `api(op, map)`.
pub fn register(module: &mut Module, runtime: &Arc<Runtime>) {
    register_operations(module, runtime, |_| true, true);
    register_extras(module, runtime);
}

/// Only the operations called by these Rhai names, without their documentation (parameter
/// names, doc comments): enough for a script that calls nothing else, and a small fraction of
/// the package to build.
pub fn register_named(module: &mut Module, runtime: &Arc<Runtime>, names: &BTreeSet<&'static str>) {
    register_operations(module, runtime, |name| names.contains(name), false);
}

/// `name` as an operation's Rhai name (its own or an alias), when it is one.
pub fn operation_name(name: &str) -> Option<&'static str> {
    OPS.iter()
        .flat_map(|op| op.rhai_names())
        .find(|known| *known == name)
}

/// One function per (Rhai name, arity) that `wanted` accepts, documented or not.
fn register_operations(
    module: &mut Module,
    runtime: &Arc<Runtime>,
    wanted: impl Fn(&str) -> bool,
    documented: bool,
) {
    let mut groups: BTreeMap<(&'static str, usize), Vec<&'static Op>> = BTreeMap::new();
    for op in OPS {
        for name in op.rhai_names().filter(|name| wanted(name)) {
            for arity in op.required..=op.args.len() {
                groups.entry((name, arity)).or_default().push(op);
            }
        }
    }
    for ((name, arity), ops) in groups {
        let ops: Ops = Arc::new(ops);
        let mut registration = FuncRegistration::new(name)
            .in_global_namespace()
            .with_volatility(true);
        if documented {
            registration = registration
                .with_params_info(params_info(&ops, arity))
                .with_comments(comments(&ops));
        }
        let rt = runtime.clone();
        match arity {
            0 => {
                registration.set_into_module(module, move |ctx: NativeCallContext| {
                    dispatch(&rt, &ops, name, Vec::new()).map_err(|e| convert::at(e, &ctx))
                });
            }
            1 => {
                registration.set_into_module(module, move |ctx: NativeCallContext, a: Dynamic| {
                    dispatch(&rt, &ops, name, vec![a]).map_err(|e| convert::at(e, &ctx))
                });
            }
            2 => {
                registration.set_into_module(
                    module,
                    move |ctx: NativeCallContext, a: Dynamic, b: Dynamic| {
                        dispatch(&rt, &ops, name, vec![a, b]).map_err(|e| convert::at(e, &ctx))
                    },
                );
            }
            _ => {
                registration.set_into_module(
                    module,
                    move |ctx: NativeCallContext, a: Dynamic, b: Dynamic, c: Dynamic| {
                        dispatch(&rt, &ops, name, vec![a, b, c]).map_err(|e| convert::at(e, &ctx))
                    },
                );
            }
        }
    }
}

/// `check_params` for recipes, and the by-name escape hatch `api(op, map)`.
fn register_extras(module: &mut Module, runtime: &Arc<Runtime>) {
    // Recipes declare the parameters they take; any other key is refused, like a spec's.
    FuncRegistration::new("check_params")
        .in_global_namespace()
        .with_params_info(["params: Map", "function: String", "accepted: Array", "()"])
        .with_comments([
            "/// Refuse any key of `params` not in `accepted`, naming the closest one (recipes call it).",
            "/// ```rhai",
            "/// check_params(opts, \"rotation::rotate\", [\"keep_last\", \"max_age\"]);",
            "/// ```",
        ])
        .set_into_module(
            module,
            |ctx: NativeCallContext, params: Map, function: &str, accepted: Array| {
                let accepted: Vec<String> = accepted.iter().map(|k| k.to_string()).collect();
                let accepted: Vec<&str> = accepted.iter().map(String::as_str).collect();
                check::known_keys(function, &accepted, params.keys().map(|k| k.as_str()))
                    .map_err(|message| convert::at(message.into(), &ctx))
            },
        );
    // Rhai reserves `call(...)` for function pointers (`call(fn_ptr, args…)`), so the design's
    // `call("op", map)` is spelled `api("op", map)` (alias `call_op`).
    for fname in ["api", "call_op"] {
        let rt = runtime.clone();
        FuncRegistration::new(fname)
            .in_global_namespace()
            .with_volatility(true)
            .with_params_info(["op: String", "args: Map", "Dynamic"])
            .with_comments([
                "/// Call any catalog operation by its name with a map of arguments; returns the raw JSON.",
                "/// `id` (and `rule_id`) fill the path; the rest is the body, or the query for GET.",
                "/// ```rhai",
                "/// let bal = api(\"balance\", #{});",
                "/// ```",
            ])
            .set_into_module(module, move |ctx: NativeCallContext, name: &str, args: Map| {
                call_by_name(&rt, name, &args).map_err(|e| convert::at(e, &ctx))
            });
        let rt = runtime.clone();
        FuncRegistration::new(fname)
            .in_global_namespace()
            .with_volatility(true)
            .with_params_info(["op: String", "Dynamic"])
            .set_into_module(module, move |ctx: NativeCallContext, name: &str| {
                call_by_name(&rt, name, &Map::new()).map_err(|e| convert::at(e, &ctx))
            });
    }
}

pub(super) fn params_info(ops: &[&'static Op], arity: usize) -> Vec<String> {
    let op = ops[0];
    let mut info: Vec<String> = (0..arity)
        .map(|i| {
            if ops.len() == 1 {
                format!(
                    "{}: {}",
                    signature::param_name(op, i),
                    signature::arg_type(op.args[i].ty)
                )
            } else if i == 0 {
                let types: Vec<String> = ops
                    .iter()
                    .map(|o| match o.args[0].ty {
                        ArgType::Target(k) => k.type_name().to_string(),
                        other => signature::arg_type(other),
                    })
                    .collect();
                format!("target: {} | String", types.join(" | "))
            } else {
                format!(
                    "{}: {}",
                    signature::param_name(op, i),
                    signature::arg_type(op.args[i].ty)
                )
            }
        })
        .collect();
    info.push(if ops.len() == 1 {
        signature::return_type(op.returns)
    } else {
        "Dynamic".into()
    });
    info
}

pub(super) fn comments(ops: &[&'static Op]) -> Vec<String> {
    let mut lines = Vec::new();
    for op in ops {
        lines.push(format!(
            "/// {} (`{} {}`, operation `{}`)",
            op.summary, op.method, op.path, op.name
        ));
    }
    // The keys of a map argument, so editors show them (`barrack defs`).
    for line in signature::keys(ops[0]) {
        lines.push(format!("/// {line}"));
    }
    lines.push("/// ```rhai".into());
    lines.push(format!("/// {}", signature::example(ops[0])));
    lines.push("/// ```".into());
    lines
}

fn dispatch(rt: &Runtime, ops: &[&'static Op], name: &str, args: Vec<Dynamic>) -> RhaiResult {
    if let Some(first) = args.first() {
        // An action on an array, or a creation from an array of specs (`deploy([a, b])`), is a
        // fleet call; an operation whose first argument is itself a list is not.
        let acts_on_one = ops.iter().any(|op| match op.args[0].ty {
            ArgType::Target(_) => true,
            ArgType::Map => op.mutates,
            _ => false,
        });
        let takes_many = ops
            .iter()
            .any(|op| matches!(op.args[0].ty, ArgType::Targets(_)));
        if first.is_array() && acts_on_one && !takes_many {
            return run_fleet(rt, ops, name, args);
        }
    }
    let op = choose(ops, name, &args)?;
    invoke(rt, op, args)
}

/// A fleet call: the operation on every element of the array first argument, each with the
/// remaining arguments (see `fleet`).
pub fn run_fleet(rt: &Runtime, ops: &[&'static Op], name: &str, args: Vec<Dynamic>) -> RhaiResult {
    let mut args = args.into_iter();
    let items: Array = args
        .next()
        .and_then(|a| a.try_cast::<Array>())
        .unwrap_or_default();
    let rest: Vec<Dynamic> = args.collect();
    // Read once for the whole fleet: N deployments cost N requests plus a constant.
    let account = AccountFacts::default();
    fleet::run(rt, name, &items, |item| {
        let mut call = vec![item.clone()];
        call.extend(rest.iter().cloned());
        choose(ops, name, &call).and_then(|op| invoke_with(rt, op, call, &account))
    })
}

/// Pick the operation a call means, from its first argument.
fn choose(
    ops: &[&'static Op],
    name: &str,
    args: &[Dynamic],
) -> Result<&'static Op, Box<EvalAltResult>> {
    if ops.len() == 1 {
        return Ok(ops[0]);
    }
    let first = args.first();
    let by_kind = |kind: Kind| {
        ops.iter()
            .copied()
            .find(|op| matches!(op.args.first().map(|a| a.ty), Some(ArgType::Target(k) | ArgType::Targets(k)) if k == kind))
    };
    let by_map = || {
        ops.iter()
            .copied()
            .find(|op| op.args.first().map(|a| a.ty) == Some(ArgType::Map))
    };
    let found = match first {
        None => ops.iter().copied().find(|op| op.required == 0),
        Some(value) => {
            if let Some(handle) = handles::as_handle(value) {
                by_kind(handle.kind)
            } else if value.is_map() {
                let id = value
                    .read_lock::<Map>()
                    .and_then(|m| m.get("id").map(|v| v.to_string()));
                match id.and_then(|id| Kind::from_id(&id)) {
                    Some(kind) => by_kind(kind).or_else(by_map),
                    None => by_map(),
                }
            } else if value.is_string() {
                Kind::from_id(&value.to_string()).and_then(by_kind)
            } else {
                None
            }
        }
    };
    found.ok_or_else(|| {
        let names: Vec<&str> = ops.iter().map(|o| o.name).collect();
        let what = first
            .map(convert::describe_value)
            .unwrap_or_else(|| "no arguments".into());
        format!(
            "{name}() cannot tell which operation is meant for {what}; call one of {} directly",
            names.join(", ")
        )
        .into()
    })
}

/// One call of one operation with Rhai arguments.
pub fn invoke(rt: &Runtime, op: &'static Op, args: Vec<Dynamic>) -> RhaiResult {
    invoke_with(rt, op, args, &AccountFacts::default())
}

/// One call of one operation, with the account facts a deploy reads shared with the other
/// calls of its fleet.
fn invoke_with(
    rt: &Runtime,
    op: &'static Op,
    args: Vec<Dynamic>,
    account: &AccountFacts,
) -> RhaiResult {
    // Nothing new is sent once the run is stopping (`--timeout`, Ctrl-C).
    rt.check_stop()?;
    let (mut request, filter) = build_args(op, args)?;
    if op.id == OpId::Deploy {
        request = deploy::prepare(rt, account, &request).map_err(|e| convert::api_error(&e))?;
        rt.check_stop()?;
    }
    let value = rt.call(op, &request).map_err(|e| convert::api_error(&e))?;
    // "Create a startup script" answers 201 with no body: find what it made by its name.
    let value = if op.mutates && super::by_name::answered_without_object(op, &request, &value) {
        super::by_name::created(rt, op, &request).map_err(|e| convert::api_error(&e))?
    } else {
        value
    };
    let value = match (&filter, value) {
        (Some(filter), Value::Array(items)) => {
            Value::Array(items.into_iter().filter(|i| matches(i, filter)).collect())
        }
        (_, value) => value,
    };
    Ok(wrap(op.returns, value))
}

/// Wrap an answer in the handles the operation returns.
pub fn wrap(returns: Returns, value: Value) -> Dynamic {
    match (returns, value) {
        (Returns::One(kind), Value::Object(map)) => handles::wrap(kind, convert::to_map(map)),
        (Returns::List(kind), Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(map) => handles::wrap(kind, convert::to_map(map)),
                other => to_dynamic(other),
            })
            .collect::<Array>()
            .into(),
        (_, value) => to_dynamic(value),
    }
}

/// The id an argument names: a handle of the right kind, an id string, or a map with `id`.
pub fn target_id(
    op: &Op,
    field: &str,
    kind: Kind,
    value: &Dynamic,
) -> Result<String, Box<EvalAltResult>> {
    let wrong = || {
        convert::invalid(
            op.name,
            field,
            format!(
                "expected a {} or its id, got {}",
                kind.type_name(),
                convert::describe_value(value)
            ),
        )
    };
    if let Some(handle) = handles::as_handle(value) {
        return if handle.kind == kind {
            Ok(handle.id())
        } else {
            Err(wrong())
        };
    }
    let id = if value.is_string() {
        Some(value.to_string())
    } else if let Some(map) = value.read_lock::<Map>() {
        map.get("id")
            .filter(|v| v.is_string())
            .map(|v| v.to_string())
    } else {
        None
    };
    match id {
        Some(id) if !id.trim().is_empty() => Ok(id),
        _ => Err(wrong()),
    }
}

/// Client-side filters of a list call: every key must match (globs for strings with `*`/`?`).
type Filter = Vec<(String, Value)>;

fn build_args(
    op: &'static Op,
    args: Vec<Dynamic>,
) -> Result<(Args, Option<Filter>), Box<EvalAltResult>> {
    let mut request = Args::new();
    let mut filter = None;
    for (arg, value) in op.args.iter().zip(args) {
        match arg.ty {
            ArgType::Target(kind) => {
                let id = target_id(op, arg.field, kind, &value)?;
                request.insert(arg.field.into(), id.into());
            }
            ArgType::Targets(kind) => {
                let items: Vec<Dynamic> = match value.clone().try_cast::<Array>() {
                    Some(items) => items,
                    None => vec![value],
                };
                let ids = items
                    .iter()
                    .map(|v| target_id(op, arg.field, kind, v).map(Value::String))
                    .collect::<Result<Vec<_>, _>>()?;
                request.insert(arg.field.into(), Value::Array(ids));
            }
            ArgType::Str => {
                if !value.is_string() {
                    return Err(convert::invalid(
                        op.name,
                        arg.field,
                        format!("must be a string, got {}", convert::describe_value(&value)),
                    ));
                }
                request.insert(arg.field.into(), value.to_string().into());
            }
            ArgType::Int => {
                let n = value
                    .as_int()
                    .ok()
                    .or_else(|| {
                        value
                            .as_float()
                            .ok()
                            .filter(|f| f.fract() == 0.0)
                            .map(|f| f as i64)
                    })
                    .ok_or_else(|| {
                        convert::invalid(
                            op.name,
                            arg.field,
                            format!(
                                "must be a whole number, got {}",
                                convert::describe_value(&value)
                            ),
                        )
                    })?;
                request.insert(arg.field.into(), n.into());
            }
            ArgType::Map => {
                let Some(map) = value.clone().try_cast::<Map>() else {
                    return Err(convert::invalid(
                        op.name,
                        arg.field,
                        format!(
                            "must be a map such as #{{…}}, got {}",
                            convert::describe_value(&value)
                        ),
                    ));
                };
                let json =
                    map_with_ids(&map).map_err(|why| convert::invalid(op.name, arg.field, why))?;
                if op.id == OpId::Deploy {
                    // `deploy::prepare` checks the spec whole, defaults included.
                    request.extend(json);
                    continue;
                }
                let mode = if op.method == Method::Get {
                    Mode::Filter
                } else {
                    Mode::Partial
                };
                let json = check::check_map(op.name, op.fields, &json, Vocabulary::Script, mode)
                    .map_err(|problems| convert::api_error(&check::refusal(op.name, problems)))?
                    .fields;
                if mode == Mode::Filter {
                    let mut f = Filter::new();
                    for (k, v) in json {
                        let glob = v.as_str().is_some_and(|s| s.contains(['*', '?']));
                        if !glob && !v.is_object() && !v.is_array() {
                            request.insert(k.clone(), v.clone());
                        }
                        f.push((k, v));
                    }
                    filter = Some(f);
                } else {
                    request.extend(json);
                }
            }
        }
    }
    Ok((request, filter))
}

/// A map as JSON, with handles replaced by their ids (so `#{volume: vol}` sends the id).
pub fn map_with_ids(map: &Map) -> Result<serde_json::Map<String, Value>, String> {
    map.iter()
        .map(|(k, v)| {
            let json = match handles::as_handle(v) {
                Some(h) => Value::String(h.id()),
                None => match v.read_lock::<Array>() {
                    Some(items) => Value::Array(
                        items
                            .iter()
                            .map(|i| match handles::as_handle(i) {
                                Some(h) => Ok(Value::String(h.id())),
                                None => convert::to_json(i),
                            })
                            .collect::<Result<_, _>>()?,
                    ),
                    None => convert::to_json(v)?,
                },
            };
            Ok((k.to_string(), json))
        })
        .collect()
}

fn matches(item: &Value, filter: &Filter) -> bool {
    filter.iter().all(|(key, want)| {
        let have = item.get(key);
        match (have, want) {
            (Some(Value::String(h)), Value::String(w)) => glob(w, h),
            (Some(h), w) => h == w || (h.as_f64().is_some() && h.as_f64() == w.as_f64()),
            (None, _) => false,
        }
    })
}

pub use crate::api::suggest::glob;

fn call_by_name(rt: &Runtime, name: &str, args: &Map) -> RhaiResult {
    let op = catalog::find(name).ok_or_else(|| -> Box<EvalAltResult> {
        format!(
            "api(): no operation named {name:?}{}",
            signature::did_you_mean(name)
        )
        .into()
    })?;
    let request = map_with_ids(args).map_err(|why| convert::invalid(op.name, "args", why))?;
    let request = check::request(op, &request)
        .map_err(|problems| convert::api_error(&check::refusal(op.name, problems)))?;
    let value = rt.call(op, &request).map_err(|e| convert::api_error(&e))?;
    Ok(to_dynamic(value))
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("train-*", "train-1"));
        assert!(glob("db-?", "db-a"));
        assert!(!glob("db-?", "db-ab"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("train-*", "xtrain-1"));
    }
}
