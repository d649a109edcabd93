//! An unknown outcome is never silent. When a mutating request ends in failure after a try that
//! may have reached the server (a lost answer, a timeout after sending, a 5xx raised after the
//! change), the client finds out before reporting: a creation is looked up by name in its
//! kind's list, a deletion by reading the object. Which operation makes which kind, and which
//! field names it, is the catalog's [`CREATED_BY_NAME`](super::catalog::CREATED_BY_NAME) table.

use super::catalog::{created_by_name, get_op, list_op, Method};
use super::client::{Args, Client};
use super::envelope::Page;
use super::error::ApiError;
use super::request::Request;
use serde_json::Value;

/// The code of an error whose request may have been applied.
pub const OUTCOME_UNKNOWN: &str = "OUTCOME_UNKNOWN";

/// After `err` ended a mutating request: the object it made (or the deletion it did), or an
/// error that says what is known.
pub(crate) fn find_out(
    client: &Client,
    request: &Request,
    err: ApiError,
    maybe_applied: bool,
) -> Result<Page, ApiError> {
    if request.method == Method::Delete {
        return after_delete(client, request, err, maybe_applied);
    }
    if !maybe_applied {
        return Err(err);
    }
    match created_by_name(request.op) {
        Some((kind, field)) => {
            let Some(name) = request
                .rest
                .get(field)
                .and_then(Value::as_str)
                .filter(|n| !n.trim().is_empty())
            else {
                return Err(unknown(
                    err,
                    format!(
                        "it gave no {field}, so the {} it may have made cannot be looked up; \
                         check the list before trying again",
                        kind.noun()
                    ),
                ));
            };
            let Some(list) = list_op(kind) else {
                return Err(unknown(err, format!("nothing lists {}s", kind.noun())));
            };
            match client.call(list, &Args::new()) {
                Ok(Value::Array(items)) => {
                    let region = request.rest.get("region").and_then(Value::as_str);
                    let found: Vec<&Value> = items
                        .iter()
                        .filter(|item| item.get(field).and_then(Value::as_str) == Some(name))
                        .filter(|item| {
                            region.is_none_or(|r| {
                                item.get("region")
                                    .and_then(Value::as_str)
                                    .is_none_or(|x| x == r)
                            })
                        })
                        .collect();
                    match found.as_slice() {
                        [one] => Ok(Page {
                            status: 200,
                            data: (*one).clone(),
                            pagination: None,
                            request_id: err.request_id.clone(),
                        }),
                        [] => Err(note(
                            err,
                            format!(
                                "checked: no {} named {name:?} exists, so it was not applied",
                                kind.noun()
                            ),
                        )),
                        many => Err(unknown(
                            err,
                            format!(
                                "{} {}s named {name:?} exist ({})",
                                many.len(),
                                kind.noun(),
                                ids(many)
                            ),
                        )),
                    }
                }
                Ok(other) => Err(unknown(
                    err,
                    format!("listing {}s gave {other}, not a list", kind.noun()),
                )),
                Err(check) => Err(unknown(
                    err,
                    format!("looking it up failed too: {}", check.message),
                )),
            }
        }
        None => Err(unknown(
            err,
            "read the object before trying again".to_string(),
        )),
    }
}

/// A retried DELETE: gone (404) or DELETING means a try was applied; still there means not.
fn after_delete(
    client: &Client,
    request: &Request,
    err: ApiError,
    maybe_applied: bool,
) -> Result<Page, ApiError> {
    // A 404 on a retry: an earlier try was applied and its answer lost.
    if err.status == 404 {
        return Ok(Page::empty(404));
    }
    // Only a kind's own object path can be read back (not a rule's path).
    let same_route = |get: &&'static super::catalog::Op| {
        client.catalog().route(get).1 == client.catalog().route(request.op).1
    };
    let readable = request.op.target_kind().and_then(get_op).filter(same_route);
    let (Some(get), Some(id)) = (readable, request.id.as_deref()) else {
        return Err(if maybe_applied {
            unknown(err, "read the object before trying again".into())
        } else {
            err
        });
    };
    if !(maybe_applied || err.status == 409) {
        return Err(err);
    }
    let mut args = Args::new();
    args.insert("id".into(), id.into());
    match client.call(get, &args) {
        Ok(object) if object.get("status").and_then(Value::as_str) == Some("DELETING") => {
            let mut data = serde_json::Map::new();
            for key in ["id", "name"] {
                if let Some(v) = object.get(key) {
                    data.insert(key.into(), v.clone());
                }
            }
            data.insert("status".into(), "DELETING".into());
            data.insert("deleted".into(), true.into());
            Ok(Page {
                status: 200,
                data: Value::Object(data),
                pagination: None,
                request_id: err.request_id.clone(),
            })
        }
        Err(gone) if gone.status == 404 => Ok(Page::empty(404)),
        Ok(object) => {
            let status = object
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("present");
            Err(note(
                err,
                format!("checked: it still exists ({status}), so it was not applied"),
            ))
        }
        Err(check) => Err(unknown(
            err,
            format!("reading it back failed too: {}", check.message),
        )),
    }
}

fn ids(items: &[&Value]) -> String {
    items
        .iter()
        .filter_map(|i| i.get("id").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The request may have been applied: say so, and what was found.
fn unknown(mut err: ApiError, found: String) -> ApiError {
    err.message = format!(
        "{}; the request may have been applied (an earlier try got no answer): {found}",
        err.message.trim_end_matches('.')
    );
    err.code = OUTCOME_UNKNOWN.to_string();
    err
}

/// The outcome is known after all: the original error, with what the check found.
fn note(mut err: ApiError, found: String) -> ApiError {
    err.message = format!("{} ({found})", err.message.trim_end_matches('.'));
    err
}
