//! `assert(cond, msg)`, `assert_eq(actual, expected)` and `assert_throws(fn)`. A failed
//! assertion throws a map with `code: "ASSERTION_FAILED"` and a message that says what differs.

use crate::script::convert::{self, to_json};
use rhai::{
    Dynamic, EvalAltResult, FnPtr, FuncRegistration, Map, Module, NativeCallContext, Position,
};
use serde_json::Value;

type Res<T> = Result<T, Box<EvalAltResult>>;

/// The code of the error a failed assertion throws.
pub const CODE: &str = "ASSERTION_FAILED";

pub fn register(module: &mut Module) {
    FuncRegistration::new("assert")
        .in_global_namespace()
        .with_comments(["/// Fail the test with `message` unless `condition` is true."])
        .set_into_module(module, |cond: Dynamic, message: Dynamic| -> Res<()> {
            check(&cond, Some(&message))
        });
    FuncRegistration::new("assert")
        .in_global_namespace()
        .set_into_module(module, |cond: Dynamic| -> Res<()> { check(&cond, None) });
    FuncRegistration::new("assert_eq")
        .in_global_namespace()
        .with_comments([
            "/// Fail the test unless `actual` equals `expected`; shows both and what differs.",
        ])
        .set_into_module(module, |actual: Dynamic, expected: Dynamic| -> Res<()> {
            equal(&actual, &expected, None)
        });
    FuncRegistration::new("assert_eq")
        .in_global_namespace()
        .set_into_module(
            module,
            |actual: Dynamic, expected: Dynamic, message: Dynamic| -> Res<()> {
                equal(&actual, &expected, Some(&message))
            },
        );
    FuncRegistration::new("assert_throws")
        .in_global_namespace()
        .with_comments(["/// Call `f`; fail the test unless it throws. Returns the error (a map)."])
        .set_into_module(module, |ctx: NativeCallContext, f: FnPtr| -> Res<Map> {
            throws(&ctx, &f)
        });
}

/// The error a failed assertion throws: a catchable map, like every other error a script sees.
pub fn failure(message: String) -> Box<EvalAltResult> {
    let mut map = Map::new();
    map.insert("code".into(), CODE.into());
    map.insert("status".into(), 0_i64.into());
    map.insert("message".into(), message.into());
    EvalAltResult::ErrorRuntime(map.into(), Position::NONE).into()
}

fn text(message: Option<&Dynamic>) -> String {
    match message {
        Some(m) if m.is_string() => m.to_string(),
        Some(m) => crate::script::display(m),
        None => String::new(),
    }
}

fn check(cond: &Dynamic, message: Option<&Dynamic>) -> Res<()> {
    match cond.as_bool() {
        Ok(true) => Ok(()),
        Ok(false) => Err(failure(match message {
            Some(_) => format!("assertion failed: {}", text(message)),
            None => "assertion failed".into(),
        })),
        Err(_) => Err(failure(format!(
            "assert: the condition is {}, not true or false",
            convert::describe_value(cond)
        ))),
    }
}

fn equal(actual: &Dynamic, expected: &Dynamic, message: Option<&Dynamic>) -> Res<()> {
    let json = |v: &Dynamic| to_json(v).unwrap_or_else(|_| Value::String(v.to_string()));
    let (a, e) = (json(actual), json(expected));
    let mut differences = Vec::new();
    diff("", &a, &e, &mut differences);
    if differences.is_empty() {
        return Ok(());
    }
    let head = match message {
        Some(_) => format!("assert_eq failed: {}", text(message)),
        None => "assert_eq failed".to_string(),
    };
    let mut out = format!(
        "{head}\n  actual:   {}\n  expected: {}",
        short(&a),
        short(&e)
    );
    if a.is_object() || a.is_array() || e.is_object() || e.is_array() {
        out.push_str("\n  diff:");
        const SHOWN: usize = 20;
        for line in differences.iter().take(SHOWN) {
            out.push_str("\n    ");
            out.push_str(line);
        }
        if differences.len() > SHOWN {
            out.push_str(&format!("\n    … and {} more", differences.len() - SHOWN));
        }
    }
    Err(failure(out))
}

/// A value on one line, cut when long.
fn short(v: &Value) -> String {
    let text = v.to_string();
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Numbers compare by value: 2 equals 2.0.
fn same(a: &Value, e: &Value) -> bool {
    match (a, e) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, e)| same(a, e))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|e| same(a, e)))
        }
        _ => a == e,
    }
}

/// Where two values differ, one line per place: `.created[1].name: "b" ≠ expected "c"`.
pub fn diff(path: &str, a: &Value, e: &Value, out: &mut Vec<String>) {
    if same(a, e) {
        return;
    }
    let here = if path.is_empty() { "(top)" } else { path };
    match (a, e) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, av) in x {
                let p = format!("{path}.{k}");
                match y.get(k) {
                    Some(ev) => diff(&p, av, ev, out),
                    None => out.push(format!("{p}: unexpected {}", short(av))),
                }
            }
            for (k, ev) in y {
                if !x.contains_key(k) {
                    out.push(format!("{path}.{k}: missing, expected {}", short(ev)));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                out.push(format!("{here}: {} items, expected {}", x.len(), y.len()));
            }
            for (i, (av, ev)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), av, ev, out);
            }
            for (i, av) in x.iter().enumerate().skip(y.len()) {
                out.push(format!("{path}[{i}]: unexpected {}", short(av)));
            }
            for (i, ev) in y.iter().enumerate().skip(x.len()) {
                out.push(format!("{path}[{i}]: missing, expected {}", short(ev)));
            }
        }
        _ => out.push(format!("{here}: {} ≠ expected {}", short(a), short(e))),
    }
}

fn throws(ctx: &NativeCallContext, f: &FnPtr) -> Res<Map> {
    match f.call_within_context::<Dynamic>(ctx, ()) {
        Ok(value) => Err(failure(format!(
            "assert_throws: nothing was thrown; the function returned {}",
            short(&to_json(&value).unwrap_or(Value::Null))
        ))),
        Err(err) => error_map(*err),
    }
}

/// What was thrown, as the map a `catch` would see; a stop (`--timeout`, Ctrl-C) is not an error
/// the test may swallow.
fn error_map(err: EvalAltResult) -> Res<Map> {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => error_map(*inner),
        EvalAltResult::ErrorTerminated(..) => Err(err.into()),
        EvalAltResult::ErrorRuntime(value, _) => Ok(match value.read_lock::<Map>() {
            Some(map) => map.clone(),
            None => message_map(value.to_string()),
        }),
        other => {
            let text = other.to_string();
            Ok(message_map(
                text.split(" (line ").next().unwrap_or(&text).to_string(),
            ))
        }
    }
}

fn message_map(message: String) -> Map {
    let mut map = Map::new();
    map.insert("message".into(), message.into());
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_diff_names_each_place_that_differs() {
        let mut out = Vec::new();
        diff(
            "",
            &json!({"a": 1, "b": [1, 2], "c": "x"}),
            &json!({"a": 1.0, "b": [1, 3, 4], "d": true}),
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                ".b: 2 items, expected 3",
                ".b[1]: 2 ≠ expected 3",
                ".b[2]: missing, expected 4",
                ".c: unexpected \"x\"",
                ".d: missing, expected true",
            ]
        );
    }
}
