//! The hand-written helpers: time, durations, sleep, log, env, JSON, tables.

use super::convert::{self, RhaiResult};
use super::runtime::Runtime;
use super::time::{duration, seconds_i64, Time};
use rhai::{Array, Dynamic, EvalAltResult, FuncRegistration, ImmutableString, Map, Module};
use std::sync::Arc;
use std::time::Duration;

type Res<T> = Result<T, Box<EvalAltResult>>;

pub fn register(module: &mut Module, runtime: &Arc<Runtime>) {
    register_time(module, runtime);
    let rt = runtime.clone();
    FuncRegistration::new("sleep")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments(["/// Pause for a duration (\"90s\", \"15m\" or seconds), in the server's time: faster on a fast simulator."])
        .set_into_module(module, move |d: Dynamic| -> Res<()> { sleep(&rt, &d) });
    for_number_sleep(module, runtime);
    let rt = runtime.clone();
    FuncRegistration::new("log")
        .in_global_namespace()
        .with_comments(["/// A line on stderr with the time; silenced by -q."])
        .set_into_module(module, move |msg: Dynamic| {
            let text = if msg.is_string() {
                msg.to_string()
            } else {
                display(&msg)
            };
            rt.say(&format!("{}  {text}", Time(rt.now())));
        });
    FuncRegistration::new("env")
        .in_global_namespace()
        .with_comments([
            "/// An environment variable, or () when unset. The API key is never readable.",
        ])
        .set_into_module(module, |name: &str| -> Dynamic {
            if name.to_ascii_uppercase().contains("API_KEY") {
                return Dynamic::UNIT;
            }
            std::env::var(name)
                .map(Dynamic::from)
                .unwrap_or(Dynamic::UNIT)
        });
    FuncRegistration::new("to_json")
        .in_global_namespace()
        .with_comments(["/// A value as pretty JSON text (handles as their server JSON)."])
        .set_into_module(module, |value: Dynamic| -> Res<String> {
            let json = convert::to_json(&value).map_err(|e| -> Box<EvalAltResult> { e.into() })?;
            Ok(serde_json::to_string_pretty(&json).unwrap_or_default())
        });
    FuncRegistration::new("parse_json")
        .in_global_namespace()
        .with_comments(["/// Parse JSON text (any value: map, array, number…)."])
        .set_into_module(module, |text: &str| -> RhaiResult {
            serde_json::from_str::<serde_json::Value>(text)
                .map(convert::to_dynamic)
                .map_err(|e| format!("parse_json: not valid JSON: {e}").into())
        });
    FuncRegistration::new("duration")
        .in_global_namespace()
        .with_comments(["/// Seconds in a duration such as \"90s\", \"15m\", \"2h\", \"7d\"."])
        .set_into_module(module, |d: Dynamic| -> Res<i64> {
            seconds_i64(duration(&d)?)
        });
    FuncRegistration::new("table")
        .in_global_namespace()
        .with_comments([
            "/// An aligned text table of an array of objects, with the given columns.",
        ])
        .set_into_module(module, |rows: Array, columns: Array| -> Res<String> {
            table(&rows, &columns)
        });
    FuncRegistration::new("table")
        .in_global_namespace()
        .set_into_module(module, |rows: Array| -> Res<String> { table(&rows, &[]) });
}

fn for_number_sleep(module: &mut Module, runtime: &Arc<Runtime>) {
    // The standard `sleep(INT)` and `sleep(FLOAT)` block uninterruptibly: replace both.
    let rt = runtime.clone();
    FuncRegistration::new("sleep")
        .in_global_namespace()
        .with_volatility(true)
        .set_into_module(module, move |secs: i64| -> Res<()> {
            sleep(&rt, &Dynamic::from(secs))
        });
    let rt = runtime.clone();
    FuncRegistration::new("sleep")
        .in_global_namespace()
        .with_volatility(true)
        .set_into_module(module, move |secs: f64| -> Res<()> {
            sleep(&rt, &Dynamic::from(secs))
        });
}

fn sleep(rt: &Runtime, d: &Dynamic) -> Res<()> {
    let d = duration(d)?;
    if let Some(planner) = rt.planner() {
        planner.settle_all();
        return Ok(());
    }
    let _doing = rt.stop.doing(format!(
        "sleep({})",
        humantime::format_duration(Duration::from_secs(d.as_secs()))
    ));
    super::server_time::pass(rt, d)
}

/// How a value prints in `log` and the REPL: handles as one line, the rest as JSON.
pub fn display(value: &Dynamic) -> String {
    if let Some(handle) = super::handles::as_handle(value) {
        return handle.line();
    }
    if value.is_string() {
        return value.to_string();
    }
    if let Some(items) = value.read_lock::<Array>() {
        if !items.is_empty() && items.iter().all(|i| super::handles::as_handle(i).is_some()) {
            return items.iter().map(display).collect::<Vec<_>>().join("\n");
        }
    }
    match convert::to_json(value) {
        Ok(json) if json.is_object() || json.is_array() => {
            serde_json::to_string_pretty(&json).unwrap_or_default()
        }
        Ok(json) => crate::render::scalar(&json),
        Err(_) => value.to_string(),
    }
}

fn table(rows: &[Dynamic], columns: &[Dynamic]) -> Res<String> {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(convert::to_json)
        .collect::<Result<_, _>>()
        .map_err(|e| -> Box<EvalAltResult> { format!("table: {e}").into() })?;
    if rows.iter().any(|r| !r.is_object()) {
        return Err("table: every row must be a map or an object handle".into());
    }
    let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    if rows.is_empty() {
        return Ok(String::new());
    }
    Ok(crate::render::table(&rows, &columns))
}

fn register_time(module: &mut Module, runtime: &Arc<Runtime>) {
    module.set_custom_type::<Time>("Time");
    let rt = runtime.clone();
    FuncRegistration::new("now")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments(["/// The current time (the simulator's clock when running against one)."])
        .set_into_module(module, move || Time(rt.now()));
    FuncRegistration::new("parse_time")
        .in_global_namespace()
        .with_comments(["/// Parse an RFC 3339 time such as \"2026-11-26T02:00:00Z\"."])
        .set_into_module(module, |text: &str| -> Res<Time> {
            Time::parse(text).map_err(Into::into)
        });
    let rt = runtime.clone();
    FuncRegistration::new("age")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments(["/// Seconds since an object's created_at (or since a time)."])
        .set_into_module(module, move |value: Dynamic| -> Res<i64> {
            Ok(Time(rt.now()).seconds_since(created_at(&value)?))
        });
    FuncRegistration::new("to_string")
        .in_global_namespace()
        .set_into_module(module, |t: &mut Time| t.to_string());
    FuncRegistration::new("to_debug")
        .in_global_namespace()
        .set_into_module(module, |t: &mut Time| t.to_string());
    FuncRegistration::new_getter("epoch").set_into_module(module, |t: &mut Time| t.epoch());
    FuncRegistration::new("local")
        .in_global_namespace()
        .with_comments(["/// Date and time in an IANA zone: #{year, month, day, hour, minute, weekday: \"mon\"…, offset}."])
        .set_into_module(module, |t: &mut Time, zone: &str| -> Res<Map> { t.local(zone).map_err(Into::into) });
    FuncRegistration::new("-")
        .in_global_namespace()
        .set_into_module(module, |a: Time, b: Time| a.seconds_since(b));
    FuncRegistration::new("+")
        .in_global_namespace()
        .set_into_module(module, |a: Time, secs: i64| -> Res<Time> {
            a.plus_seconds(secs).map_err(Into::into)
        });
    FuncRegistration::new("-")
        .in_global_namespace()
        .set_into_module(module, |a: Time, secs: i64| -> Res<Time> {
            a.minus_seconds(secs).map_err(Into::into)
        });
    FuncRegistration::new("+")
        .in_global_namespace()
        .set_into_module(module, |a: Time, d: ImmutableString| -> Res<Time> {
            a.plus_seconds(seconds_i64(duration(&d.into())?)?)
                .map_err(Into::into)
        });
    FuncRegistration::new("-")
        .in_global_namespace()
        .set_into_module(module, |a: Time, d: ImmutableString| -> Res<Time> {
            a.minus_seconds(seconds_i64(duration(&d.into())?)?)
                .map_err(Into::into)
        });
    FuncRegistration::new("==")
        .in_global_namespace()
        .set_into_module(module, |a: Time, b: Time| a == b);
    FuncRegistration::new("!=")
        .in_global_namespace()
        .set_into_module(module, |a: Time, b: Time| a != b);
    FuncRegistration::new("<")
        .in_global_namespace()
        .set_into_module(module, |a: Time, b: Time| a < b);
    FuncRegistration::new("<=")
        .in_global_namespace()
        .set_into_module(module, |a: Time, b: Time| a <= b);
    FuncRegistration::new(">")
        .in_global_namespace()
        .set_into_module(module, |a: Time, b: Time| a > b);
    FuncRegistration::new(">=")
        .in_global_namespace()
        .set_into_module(module, |a: Time, b: Time| a >= b);
}

/// The creation time of a handle or map (`created_at`), or a time given directly.
fn created_at(value: &Dynamic) -> Res<Time> {
    if let Some(t) = value.read_lock::<Time>() {
        return Ok(*t);
    }
    if value.is_string() {
        return Time::parse(&value.to_string()).map_err(Into::into);
    }
    let text = match super::handles::as_handle(value) {
        Some(h) => h.text("created_at"),
        None => value
            .read_lock::<Map>()
            .and_then(|m| m.get("created_at").map(|v| v.to_string()))
            .unwrap_or_default(),
    };
    if text.is_empty() {
        return Err(format!("age: {} has no created_at", convert::describe_value(value)).into());
    }
    Time::parse(&text).map_err(Into::into)
}
