//! Objects found by their name: what a creation answered with no body made, and the startup
//! script a deployment names.

use super::runtime::Runtime;
use crate::api::catalog::{list_op, Kind, Op, Returns};
use crate::api::{ApiError, Args};
use serde_json::Value;

/// Every object of a kind, as the server lists them.
fn all_of(rt: &Runtime, kind: Kind) -> Result<Vec<Value>, ApiError> {
    let Some(op) = list_op(kind) else {
        return Ok(Vec::new());
    };
    Ok(match rt.call(op, &Args::new())? {
        Value::Array(items) => items,
        _ => Vec::new(),
    })
}

fn text<'a>(item: &'a Value, field: &str) -> &'a str {
    item.get(field).and_then(Value::as_str).unwrap_or("")
}

/// Whether a creation by name was answered with no body, as "Create a startup script" is
/// (201, no body). Any other answer is left as the server gave it.
pub fn answered_without_object(op: &Op, request: &Args, answer: &Value) -> bool {
    matches!(op.returns, Returns::One(_))
        && request.get("name").is_some_and(Value::is_string)
        && match answer {
            Value::Null => true,
            Value::Object(map) => map.is_empty(),
            Value::String(s) => s.trim().is_empty(),
            _ => false,
        }
}

/// The object a creation made, found by the name it was given (names of these kinds are unique
/// per account, so one match is the one made).
pub fn created(rt: &Runtime, op: &'static Op, request: &Args) -> Result<Value, ApiError> {
    let Returns::One(kind) = op.returns else {
        return Ok(Value::Null);
    };
    let name = request.get("name").and_then(Value::as_str).unwrap_or("");
    let found = all_of(rt, kind)?
        .into_iter()
        .find(|item| text(item, "name") == name);
    found.ok_or_else(|| {
        let mut err = ApiError::invalid(
            op.name,
            "name",
            format!(
                "the server accepted the {} but lists none named {name:?}; look for it with {}()",
                kind.noun(),
                list_op(kind).map_or("the list", |l| l.name)
            ),
        );
        err.status = 0;
        err.code = "NOT_FOUND_AFTER_CREATE".into();
        err
    })
}

/// `startup_script_id` given as a Script's id or its name: the id. An id that no script has and
/// a name that none bears is an error listing the scripts there are. `scripts` lists the
/// account's scripts, asked only when a script is named.
pub fn startup_script(
    args: &mut Args,
    key: &str,
    scripts: impl FnOnce() -> Result<Vec<Value>, ApiError>,
) -> Result<(), ApiError> {
    let Some(Value::String(given)) = args.get("startup_script_id").cloned() else {
        return Ok(());
    };
    let scripts = scripts()?;
    if scripts.iter().any(|s| text(s, "id") == given) {
        return Ok(());
    }
    match scripts.iter().find(|s| text(s, "name") == given) {
        Some(script) => {
            args.insert("startup_script_id".into(), text(script, "id").into());
            Ok(())
        }
        None => {
            let known: Vec<String> = scripts
                .iter()
                .map(|s| format!("{:?} ({})", text(s, "name"), text(s, "id")))
                .collect();
            Err(ApiError::invalid(
                "deploy",
                key,
                format!(
                    "no startup script has the id or the name {given:?}; the account has {}",
                    if known.is_empty() {
                        "none: create_script(name, body) first".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ))
        }
    }
}
