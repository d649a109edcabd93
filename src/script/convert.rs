//! Values across the boundary: JSON ⇄ Rhai `Dynamic`, and API errors as catchable maps.

use super::handles::{self, Handle};
use super::time::Time;
use crate::api::ApiError;
use rhai::{Array, Dynamic, EvalAltResult, ImmutableString, Map, Position};
use serde_json::Value;

/// What a native function returns to a script.
pub type RhaiResult = Result<Dynamic, Box<EvalAltResult>>;

/// A JSON value as a Rhai value: objects become maps, arrays arrays, null `()`.
pub fn to_dynamic(value: Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => b.into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or(f64::NAN).into(),
        },
        Value::String(s) => s.into(),
        Value::Array(items) => items.into_iter().map(to_dynamic).collect::<Array>().into(),
        Value::Object(map) => to_map(map).into(),
    }
}

/// A JSON object as a Rhai map.
pub fn to_map(map: serde_json::Map<String, Value>) -> Map {
    map.into_iter()
        .map(|(k, v)| (k.into(), to_dynamic(v)))
        .collect()
}

/// How deep [`to_json`] follows arrays in arrays and maps in maps. Far beyond any API body or
/// printed value; what is deeper was built by a runaway loop, and converting it would recurse
/// until the stack overflows.
pub const MAX_JSON_DEPTH: usize = 512;

/// A script value as JSON. Handles become their server JSON; times their RFC 3339 text.
pub fn to_json(value: &Dynamic) -> Result<Value, String> {
    to_json_at(value, 0)
}

fn to_json_at(value: &Dynamic, depth: usize) -> Result<Value, String> {
    if depth > MAX_JSON_DEPTH {
        return Err(format!(
            "a value nested deeper than {MAX_JSON_DEPTH} levels cannot be turned into JSON"
        ));
    }
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if let Some(b) = value.clone().try_cast::<bool>() {
        return Ok(b.into());
    }
    if let Ok(i) = value.as_int() {
        return Ok(i.into());
    }
    if let Ok(f) = value.as_float() {
        return Ok(serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null));
    }
    if let Some(s) = value.read_lock::<ImmutableString>() {
        return Ok(Value::String(s.to_string()));
    }
    if let Ok(c) = value.as_char() {
        return Ok(Value::String(c.to_string()));
    }
    if let Some(array) = value.read_lock::<Array>() {
        return array
            .iter()
            .map(|item| to_json_at(item, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if let Some(map) = value.read_lock::<Map>() {
        return map_to_json_at(&map, depth + 1).map(Value::Object);
    }
    if let Some(handle) = handles::as_handle(value) {
        return map_to_json_at(&handle.raw, depth + 1).map(Value::Object);
    }
    if let Some(time) = value.read_lock::<Time>() {
        return Ok(Value::String(time.to_string()));
    }
    Err(format!(
        "{} cannot be turned into JSON",
        super::words::type_words(value.type_name())
    ))
}

/// A Rhai map as a JSON object; `Err` names a value JSON cannot hold.
pub fn map_to_json(map: &Map) -> Result<serde_json::Map<String, Value>, String> {
    map_to_json_at(map, 0)
}

fn map_to_json_at(map: &Map, depth: usize) -> Result<serde_json::Map<String, Value>, String> {
    map.iter()
        .map(|(k, v)| to_json_at(v, depth).map(|j| (k.to_string(), j)))
        .collect()
}

/// An API error as the map a script catches: `status code message errors request_id op`,
/// plus `summary`, the one-paragraph text printed when nothing catches it.
pub fn api_error_map(err: &ApiError) -> Map {
    let mut map = Map::new();
    map.insert("status".into(), (err.status as i64).into());
    map.insert("code".into(), err.code.clone().into());
    map.insert("message".into(), err.message.clone().into());
    let errors: Map = err
        .errors
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().into(),
                v.iter()
                    .map(|m| Dynamic::from(m.clone()))
                    .collect::<Array>()
                    .into(),
            )
        })
        .collect();
    map.insert("errors".into(), errors.into());
    map.insert(
        "request_id".into(),
        err.request_id
            .clone()
            .map(Dynamic::from)
            .unwrap_or(Dynamic::UNIT),
    );
    map.insert("op".into(), err.op.clone().into());
    map.insert("summary".into(), err.to_string().into());
    map
}

/// An API error as the Rhai error a script can catch (a map with `status`, `code`, `message`, …).
pub fn api_error(err: &ApiError) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(api_error_map(err).into(), Position::NONE).into()
}

/// A refusal made in barrack before sending (bad argument), shaped like an API error.
pub fn invalid(op: &str, field: &str, message: impl Into<String>) -> Box<EvalAltResult> {
    api_error(&ApiError::invalid(op, field, message))
}

/// Attach the script position of the call to an error raised in a native function.
pub fn at(mut err: Box<EvalAltResult>, ctx: &rhai::NativeCallContext) -> Box<EvalAltResult> {
    if err.position().is_none() {
        err.set_position(ctx.call_position());
    }
    err
}

/// Check that a Dynamic holds a handle (used in error messages).
pub fn describe_value(value: &Dynamic) -> String {
    match handles::as_handle(value) {
        Some(Handle { kind, raw }) => format!(
            "a {} ({})",
            kind.type_name(),
            raw.get("id").map(|d| d.to_string()).unwrap_or_default()
        ),
        None if value.is_string() => format!("the string {:?}", value.to_string()),
        None if value.is_unit() => super::words::type_words("()"),
        None if value.is_int() || value.is_float() || value.is_bool() => {
            format!("{} ({value})", super::words::type_words(value.type_name()))
        }
        None => super::words::type_words(value.type_name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deep_values_are_refused_not_a_stack_overflow() {
        let mut value = Dynamic::from(Array::new());
        for _ in 0..MAX_JSON_DEPTH + 10 {
            value = vec![value].into();
        }
        let err = to_json(&value).expect_err("too deep");
        assert!(err.contains("nested deeper than 512 levels"), "{err}");
    }

    #[test]
    fn json_round_trips() {
        let value = json!({"a": [1, 2.5, "x", null, true], "b": {"c": -3}});
        assert_eq!(to_json(&to_dynamic(value.clone())).unwrap(), value);
    }
}
