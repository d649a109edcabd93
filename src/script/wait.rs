//! Waiters: `wait_active`, `wait_status`, `wait_deleted`, with `#{timeout, interval}`.
//!
//! Intervals and timeouts are in the server's time: against the simulator they are divided by
//! its announced speed (never polling faster than every 10 ms), so scripts run unchanged. The
//! default interval is botocore's InstanceRunning waiter's 15 s. A waiter stops early, naming the
//! object, when it reaches ERROR or a state from which the target cannot be reached.

use super::convert::{self, RhaiResult};
use super::fleet;
use super::handles::{self, Handle};
use super::progress::Display;
use super::runtime::Runtime;
use super::server_time::{self, Stopwatch};
use crate::api::check;
use crate::api::shape::WAITER;
use crate::api::{Args, Kind};
use rhai::{Array, Dynamic, EvalAltResult, Map, Position};
use std::time::Duration;

/// How often a wait polls by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
/// How long a wait waits by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20 * 60);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Goal {
    Status(String),
    Deleted,
}

impl Goal {
    fn describe(&self) -> String {
        match self {
            Goal::Status(s) => s.clone(),
            Goal::Deleted => "deleted".into(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct WaitSpec {
    pub goal: Goal,
    pub timeout: Duration,
    pub interval: Duration,
    /// The function's name, for messages (`wait_active`).
    pub name: &'static str,
}

impl WaitSpec {
    pub fn new(
        name: &'static str,
        goal: Goal,
        options: Option<&Map>,
    ) -> Result<WaitSpec, Box<EvalAltResult>> {
        let mut spec = WaitSpec {
            goal,
            timeout: DEFAULT_TIMEOUT,
            interval: DEFAULT_INTERVAL,
            name,
        };
        if let Some(options) = options {
            check::known_keys(
                name,
                &check::script_keys(WAITER),
                options.keys().map(|k| k.as_str()),
            )?;
            for (key, value) in options {
                match key.as_str() {
                    "timeout" => spec.timeout = super::time::duration(value)?,
                    _ => spec.interval = super::time::duration(value)?,
                }
            }
        }
        Ok(spec)
    }
}

/// Where a status leads without anyone acting: `None` for a resting state.
fn leads_to(kind: Kind, status: &str) -> Option<Option<&'static str>> {
    let next = match (kind, status) {
        (Kind::Vm, "CREATING" | "STARTING" | "REBOOTING" | "RESTORING") => Some("ACTIVE"),
        (Kind::Vm, "STOPPING") => Some("SHUTOFF"),
        (Kind::Vm, "HIBERNATING") => Some("HIBERNATED"),
        // A firewall is UPDATING while a rule applies ("up to 10 minutes"), then SUCCESS.
        (Kind::Firewall, "UPDATING") => Some("SUCCESS"),
        (_, "DELETING") => None,
        (_, "CREATING" | "APPLYING") => Some("AVAILABLE"),
        _ => return None,
    };
    Some(next)
}

fn is_resting(kind: Kind, status: &str) -> bool {
    match kind {
        Kind::Vm => matches!(status, "ACTIVE" | "SHUTOFF" | "HIBERNATED" | "ERROR"),
        Kind::Firewall => matches!(status, "SUCCESS" | "ERROR"),
        _ => matches!(status, "AVAILABLE" | "IN_USE" | "ERROR"),
    }
}

/// Why the goal can no longer be reached from `status`, if it cannot.
fn unreachable(kind: Kind, status: &str, goal: &Goal) -> Option<String> {
    if status == "ERROR" && *goal != Goal::Status("ERROR".into()) {
        return Some("it is in ERROR".into());
    }
    match leads_to(kind, status) {
        Some(next) => {
            let reaches = match (goal, next) {
                (Goal::Deleted, None) => true,
                (Goal::Status(want), Some(n)) => want == n,
                _ => false,
            };
            (!reaches).then(|| {
                format!(
                    "it is {status}, which leads to {}",
                    next.unwrap_or("deletion")
                )
            })
        }
        None if is_resting(kind, status) => Some(format!(
            "it is {status} and will stay so until something acts on it{}",
            match (kind, goal) {
                (Kind::Vm, Goal::Deleted) => " (call delete() first)",
                (Kind::Vm, Goal::Status(s)) if s == "ACTIVE" =>
                    " (call start() or restore() first)",
                _ => "",
            }
        )),
        None => None,
    }
}

fn wait_error(spec: &WaitSpec, handle: &Handle, code: &str, why: String) -> Box<EvalAltResult> {
    let name = handle.text("name");
    let label = if name.is_empty() {
        format!("{} {}", handle.kind.noun(), handle.id())
    } else {
        format!("{} {} ({name})", handle.kind.noun(), handle.id())
    };
    // The server's reason for an ERROR (e.g. "Snapshot deleted during restore: …") ends it.
    let reason = handle.text("error");
    let why = if reason.is_empty() {
        why
    } else {
        format!("{why} ({reason})")
    };
    let message = format!(
        "{}: {label} will not become {}: {why}",
        spec.name,
        spec.goal.describe()
    );
    let mut map = Map::new();
    map.insert("status".into(), 0_i64.into());
    map.insert("code".into(), code.into());
    map.insert("message".into(), message.clone().into());
    map.insert("summary".into(), message.into());
    map.insert("op".into(), spec.name.into());
    map.insert("id".into(), handle.id().into());
    map.insert("last_status".into(), handle.field("status"));
    map.insert("errors".into(), Map::new().into());
    map.insert("request_id".into(), Dynamic::UNIT);
    EvalAltResult::ErrorRuntime(map.into(), Position::NONE).into()
}

/// Wait for one object with a display of its own; returns its last JSON (`None` once deleted).
pub fn wait_one(
    rt: &Runtime,
    handle: &mut Handle,
    spec: &WaitSpec,
) -> Result<Option<Map>, Box<EvalAltResult>> {
    let display = Display::new(rt, spec.name, 1);
    wait_shown(rt, handle, spec, &display)
}

/// "BRK-… (name)" or "BRK-…".
fn label(handle: &Handle) -> String {
    let name = handle.text("name");
    if name.is_empty() {
        handle.id()
    } else {
        format!("{} ({name})", handle.id())
    }
}

/// Wait for one object, drawing its line in `display`.
fn wait_shown(
    rt: &Runtime,
    handle: &mut Handle,
    spec: &WaitSpec,
    display: &Display,
) -> Result<Option<Map>, Box<EvalAltResult>> {
    let op = Handle::get_op(handle.kind);
    if let Some(planner) = rt.planner() {
        planner.settle(&handle.id());
    }
    let watch = Stopwatch::start(rt);
    let _doing = rt.stop.doing(format!("{} {}", spec.name, handle.id()));
    let line = display.line(format!(
        "{} {} → {}",
        handle.kind.noun(),
        handle.id(),
        spec.goal.describe()
    ));
    // A handle the server handed out (it has more than its id) was seen to exist; a bare id
    // was not, until a read answers. A 404 then means "deleted", before it "no such id".
    let mut seen = handle.raw.len() > 1;
    let mut resting_seen: Option<String> = None;
    let finish = |handle: &Handle| {
        display.finished_one();
        finished_line(rt, display, handle, spec, &watch);
    };
    loop {
        rt.check_stop()?;
        let mut args = Args::new();
        args.insert("id".into(), handle.id().into());
        match rt.call(op, &args) {
            Ok(value) => {
                seen = true;
                if let Some(map) = convert::to_dynamic(value).try_cast::<Map>() {
                    handle.raw = map;
                }
                let status = handle.text("status");
                display.observe_speed(rt.client.speed());
                line.status(&status);
                if spec.goal == Goal::Status(status.clone()) {
                    finish(handle);
                    return Ok(Some(handle.raw.clone()));
                }
                if let Some(why) = unreachable(handle.kind, &status, &spec.goal) {
                    // A resting state must be seen twice: an action's effect may lag by a poll.
                    let transitional =
                        leads_to(handle.kind, &status).is_some() || status == "ERROR";
                    if transitional || resting_seen.as_deref() == Some(status.as_str()) {
                        display.finished_one();
                        return Err(wait_error(spec, handle, "WAIT_FAILED", why));
                    }
                    resting_seen = Some(status);
                } else {
                    resting_seen = None;
                }
            }
            Err(err) if err.status == 404 => {
                if spec.goal == Goal::Deleted {
                    finish(handle);
                    return Ok(None);
                }
                display.finished_one();
                return Err(if seen {
                    wait_error(spec, handle, "WAIT_FAILED", "it was deleted".into())
                } else {
                    wait_error(
                        spec,
                        handle,
                        "NOT_FOUND",
                        format!(
                            "it does not exist (the API knows no {} with this id; check the id, \
                             or list them with {}())",
                            handle.kind.noun(),
                            crate::api::catalog::list_op(handle.kind)
                                .map_or("the list", |op| op.name)
                        ),
                    )
                });
            }
            Err(err) => return Err(convert::api_error(&err)),
        }
        let waited = watch.elapsed(rt);
        if waited >= spec.timeout {
            let why = format!(
                "still {} after {} (timeout)",
                handle.text("status"),
                humantime::format_duration(Duration::from_secs(spec.timeout.as_secs()))
            );
            display.finished_one();
            return Err(wait_error(spec, handle, "WAIT_TIMEOUT", why));
        }
        server_time::pass(rt, spec.interval)?;
    }
}

/// A handle from a waiter's argument: a handle, or an id (kind from its prefix, else instance).
pub fn handle_of(value: &Dynamic) -> Result<Handle, Box<EvalAltResult>> {
    if let Some(handle) = handles::as_handle(value) {
        return Ok(handle);
    }
    if value.is_string() {
        let id = value.to_string();
        let kind = Kind::from_id(&id).unwrap_or(Kind::Vm);
        let mut raw = Map::new();
        raw.insert("id".into(), id.into());
        return Ok(Handle { kind, raw });
    }
    Err(format!(
        "expected an object (Vm, Volume, Snapshot…), its id, or an array of them; got {}",
        convert::describe_value(value)
    )
    .into())
}

/// Wait for a value: one object (returned refreshed) or an array of them (waited in parallel,
/// under one display).
pub fn wait_value(rt: &Runtime, target: &Dynamic, spec: &WaitSpec) -> RhaiResult {
    let count = target.read_lock::<Array>().map_or(1, |a| a.len());
    let display = Display::new(rt, spec.name, count);
    wait_value_shown(rt, target, spec, &display)
}

fn wait_value_shown(
    rt: &Runtime,
    target: &Dynamic,
    spec: &WaitSpec,
    display: &Display,
) -> RhaiResult {
    if let Some(items) = target.read_lock::<Array>() {
        let items: Array = items.clone();
        let results =
            fleet::map_parallel(rt, &items, |item| wait_value_shown(rt, item, spec, display));
        return fleet::collect(spec.name, &items, results);
    }
    let mut handle = handle_of(target)?;
    match wait_shown(rt, &mut handle, spec, display)? {
        Some(_) => Ok(handles::wrap(handle.kind, handle.raw)),
        None => Ok(Dynamic::UNIT),
    }
}

/// The one line a finished wait leaves (unless `-q`): `barrack: instance BRK-… is ACTIVE after
/// 3m 59s`, in server time, printed above any live lines on a terminal.
fn finished_line(
    rt: &Runtime,
    display: &Display,
    handle: &Handle,
    spec: &WaitSpec,
    watch: &Stopwatch,
) {
    if rt.quiet || !(rt.events || rt.progress) {
        return;
    }
    // Server time: the simulated clock's under `barrack test`, else wall time × the speed.
    let waited = watch.elapsed(rt);
    display.say(
        rt,
        &format!(
            "barrack: {} {} is {} after {}",
            handle.kind.noun(),
            label(handle),
            spec.goal.describe(),
            humantime::format_duration(Duration::from_secs(waited.as_secs()))
        ),
    );
}

use rhai::{FuncRegistration, Module, NativeCallContext};
use std::sync::Arc;

const WAITERS: [(&str, Option<&str>, &str); 3] = [
    ("wait_active", Some("ACTIVE"), "/// Wait until the object is ACTIVE; fails early on ERROR or a state that cannot lead there."),
    ("wait_status", None, "/// Wait until the object reaches `status` (e.g. \"HIBERNATED\", \"AVAILABLE\"; \"SUCCESS\" for a firewall whose rules are all applied)."),
    ("wait_deleted", None, "/// Wait until the object is gone (the API answers 404)."),
];

fn goal_of(name: &str, fixed: Option<&str>, status: Option<&str>) -> Goal {
    match (name, fixed, status) {
        ("wait_deleted", _, _) => Goal::Deleted,
        (_, Some(s), _) => Goal::Status(s.into()),
        (_, None, Some(s)) => Goal::Status(s.to_ascii_uppercase()),
        _ => Goal::Deleted,
    }
}

/// Register one waiter in its four shapes: `(x)`, `(x, options)`, `(x, status)`,
/// `(x, status, options)`, each calling `finish(x, status, options)`.
macro_rules! waiter_arms {
    ($reg:expr, $module:expr, $takes_status:expr, $with_options:expr, $finish:ident, $x:ident: $ty:ty) => {
        match ($takes_status, $with_options) {
            (false, false) => {
                $reg.set_into_module($module, move |ctx: NativeCallContext, $x: $ty| {
                    $finish($x, None, None).map_err(|e| convert::at(e, &ctx))
                });
            }
            (false, true) => {
                $reg.set_into_module($module, move |ctx: NativeCallContext, $x: $ty, o: Map| {
                    $finish($x, None, Some(&o)).map_err(|e| convert::at(e, &ctx))
                });
            }
            (true, false) => {
                $reg.set_into_module($module, move |ctx: NativeCallContext, $x: $ty, s: &str| {
                    $finish($x, Some(s), None).map_err(|e| convert::at(e, &ctx))
                });
            }
            (true, true) => {
                $reg.set_into_module(
                    $module,
                    move |ctx: NativeCallContext, $x: $ty, s: &str, o: Map| {
                        $finish($x, Some(s), Some(&o)).map_err(|e| convert::at(e, &ctx))
                    },
                );
            }
        }
    };
}

/// Parameter names and types for the editor definitions: `wait_status(target: Vm, status: String, options: Map) -> Vm`.
fn params(target: &str, takes_status: bool, with_options: bool) -> Vec<String> {
    let mut info = vec![format!("target: {target}")];
    if takes_status {
        info.push("status: String".into());
    }
    if with_options {
        info.push("options: Map".into());
    }
    info.push(target.split(' ').next().unwrap_or(target).to_string());
    info
}

fn name_static(name: &str) -> &'static str {
    WAITERS
        .iter()
        .map(|(n, _, _)| *n)
        .find(|n| *n == name)
        .unwrap_or("wait")
}

/// The waiters for one handle type, updating the handle in place: after `wait_active(vm)`,
/// `vm.status` is "ACTIVE".
pub fn register_for<T: Clone + Send + Sync + 'static>(
    module: &mut Module,
    runtime: &Arc<Runtime>,
    type_name: &'static str,
    get: fn(&mut T) -> &mut Handle,
) {
    for (name, fixed, doc) in WAITERS {
        let takes_status = name == "wait_status";
        for with_options in [false, true] {
            let rt = runtime.clone();
            let reg = FuncRegistration::new(name)
                .in_global_namespace()
                .with_volatility(true)
                .with_purity(false)
                .with_params_info(params(type_name, takes_status, with_options))
                .with_comments([doc]);
            let finish =
                move |h: &mut T, status: Option<&str>, options: Option<&Map>| -> RhaiResult {
                    let spec =
                        WaitSpec::new(name_static(name), goal_of(name, fixed, status), options)?;
                    match wait_one(&rt, get(h), &spec)? {
                        Some(_) => Ok(Dynamic::from(h.clone())),
                        None => Ok(Dynamic::UNIT),
                    }
                };
            waiter_arms!(reg, module, takes_status, with_options, finish, h: &mut T);
        }
    }
}

/// Fleet waiters on an array variable, replacing each element with its refreshed handle.
fn register_for_array(module: &mut Module, runtime: &Arc<Runtime>) {
    for (name, fixed, doc) in WAITERS {
        let takes_status = name == "wait_status";
        for with_options in [false, true] {
            let rt = runtime.clone();
            let reg = FuncRegistration::new(name)
                .in_global_namespace()
                .with_volatility(true)
                .with_purity(false)
                .with_params_info(params("Array", takes_status, with_options))
                .with_comments([doc]);
            let finish = move |items: &mut Array,
                               status: Option<&str>,
                               options: Option<&Map>|
                  -> RhaiResult {
                let spec = WaitSpec::new(name_static(name), goal_of(name, fixed, status), options)?;
                let done = wait_value(&rt, &Dynamic::from(items.clone()), &spec)?;
                if let Some(fresh) = done.read_lock::<Array>() {
                    for (item, new) in items.iter_mut().zip(fresh.iter()) {
                        if !new.is_unit() {
                            *item = new.clone();
                        }
                    }
                }
                Ok(done)
            };
            waiter_arms!(reg, module, takes_status, with_options, finish, a: &mut Array);
        }
    }
}

/// The waiters for ids and arrays (fleet waits).
pub fn register(module: &mut Module, runtime: &Arc<Runtime>) {
    register_for_array(module, runtime);
    for (name, fixed, doc) in WAITERS {
        let takes_status = name == "wait_status";
        for with_options in [false, true] {
            let rt = runtime.clone();
            let reg = FuncRegistration::new(name)
                .in_global_namespace()
                .with_volatility(true)
                .with_params_info(params("String", takes_status, with_options))
                .with_comments([doc]);
            let finish =
                move |target: Dynamic, status: Option<&str>, options: Option<&Map>| -> RhaiResult {
                    let spec =
                        WaitSpec::new(name_static(name), goal_of(name, fixed, status), options)?;
                    wait_value(&rt, &target, &spec)
                };
            waiter_arms!(reg, module, takes_status, with_options, finish, t: Dynamic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reachability() {
        let active = Goal::Status("ACTIVE".into());
        assert!(unreachable(Kind::Vm, "CREATING", &active).is_none());
        assert!(unreachable(Kind::Vm, "STOPPING", &active)
            .unwrap()
            .contains("SHUTOFF"));
        assert!(unreachable(Kind::Vm, "SHUTOFF", &active)
            .unwrap()
            .contains("start()"));
        assert!(unreachable(Kind::Vm, "ERROR", &active).is_some());
        assert!(unreachable(Kind::Vm, "DELETING", &Goal::Deleted).is_none());
        assert!(unreachable(Kind::Vm, "ACTIVE", &Goal::Deleted)
            .unwrap()
            .contains("delete()"));
        assert!(unreachable(Kind::Vm, "SOMETHING_NEW", &active).is_none());
        assert!(unreachable(
            Kind::Snapshot,
            "CREATING",
            &Goal::Status("AVAILABLE".into())
        )
        .is_none());
    }
}
