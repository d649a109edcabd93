//! The success envelope, `{"success": true, "data": …, "pagination"?: {…}}` (chosen), unwrapped;
//! a bare JSON body is accepted as the data, and `{"success": false, …}` is an error.

use super::catalog::Op;
use super::error::{ApiError, Failure};
use serde_json::{Map, Value};

/// One answer, unwrapped.
pub(crate) struct Page {
    pub status: u16,
    pub data: Value,
    pub pagination: Option<Map<String, Value>>,
    pub request_id: Option<String>,
}

impl Page {
    pub fn empty(status: u16) -> Page {
        Page {
            status,
            data: Value::Null,
            pagination: None,
            request_id: None,
        }
    }

    pub fn parse(op: &Op, request: &str, status: u16, bytes: &[u8]) -> Result<Page, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Page::empty(status));
        }
        let undecodable = |e: serde_json::Error| {
            let preview = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned();
            ApiError::new(
                Failure::Decode,
                op.name,
                request.to_string(),
                format!("expected JSON ({e}); the answer began {preview:?}"),
            )
        };
        let first = bytes
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        if first == Some(&b'{') {
            // An object, almost always the envelope: read its entries without building a map.
            let Entries(mut entries) = serde_json::from_slice(bytes).map_err(undecodable)?;
            let last = |entries: &[(String, Value)], name: &str| {
                entries.iter().rposition(|(k, _)| k == name)
            };
            return match last(&entries, "success").and_then(|i| entries[i].1.as_bool()) {
                Some(true) => {
                    let request_id = last(&entries, "request_id")
                        .and_then(|i| entries[i].1.as_str())
                        .map(str::to_string);
                    let pagination = match last(&entries, "pagination") {
                        Some(i) => match std::mem::take(&mut entries[i].1) {
                            Value::Object(p) => Some(p),
                            _ => None,
                        },
                        None => None,
                    };
                    let data = last(&entries, "data")
                        .map(|i| std::mem::take(&mut entries[i].1))
                        .unwrap_or(Value::Null);
                    Ok(Page {
                        status,
                        data,
                        pagination,
                        request_id,
                    })
                }
                Some(false) => {
                    Err(
                        ApiError::from_response(op.name, request.to_string(), status, bytes)
                            .with_status(status),
                    )
                }
                None => Ok(Page {
                    status,
                    data: Value::Object(entries.into_iter().collect()),
                    pagination: None,
                    request_id: None,
                }),
            };
        }
        let value: Value = serde_json::from_slice(bytes).map_err(undecodable)?;
        match value {
            Value::Object(mut map) if map.get("success").and_then(Value::as_bool) == Some(true) => {
                let data = map.remove("data").unwrap_or(Value::Null);
                let pagination = match map.remove("pagination") {
                    Some(Value::Object(p)) => Some(p),
                    _ => None,
                };
                let request_id = map
                    .get("request_id")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                Ok(Page {
                    status,
                    data,
                    pagination,
                    request_id,
                })
            }
            Value::Object(map) if map.get("success").and_then(Value::as_bool) == Some(false) => {
                Err(
                    ApiError::from_response(op.name, request.to_string(), status, bytes)
                        .with_status(status),
                )
            }
            bare => Ok(Page {
                status,
                data: bare,
                pagination: None,
                request_id: None,
            }),
        }
    }
}

/// A JSON object's entries in order, duplicates kept (the last one counts, as in a map).
struct Entries(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Entries, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Entries;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).max(4));
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

impl ApiError {
    fn with_status(mut self, status: u16) -> ApiError {
        self.status = status;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::catalog::find;

    #[test]
    fn bodies_unwrap_envelopes_and_accept_bare_json() {
        let op = find("balance").unwrap();
        let page = Page::parse(op, "", 200, br#"{"success":true,"data":{"balance":5}}"#)
            .ok()
            .unwrap();
        assert_eq!(page.data["balance"], 5);
        let page = Page::parse(op, "", 200, br#"{"balance":7}"#).ok().unwrap();
        assert_eq!(page.data["balance"], 7);
        let page = Page::parse(op, "", 201, b"").ok().unwrap();
        assert!(page.data.is_null());
        let err = Page::parse(op, "", 200, b"{trunc").err().unwrap();
        assert_eq!(err.failure, Failure::Decode);
    }

    #[test]
    fn envelopes_read_without_a_map_keep_map_semantics() {
        let op = find("instances").unwrap();
        // Duplicate keys: the last one counts, as in a JSON map.
        let page = Page::parse(
            op,
            "",
            200,
            br#" {"data":1,"success":true,"data":[{"id":"a"}],"pagination":{"has_next":false},"request_id":"r1"}"#,
        )
        .ok()
        .unwrap();
        assert_eq!(page.data, serde_json::json!([{"id": "a"}]));
        assert_eq!(page.request_id.as_deref(), Some("r1"));
        assert_eq!(page.pagination.unwrap()["has_next"], false);
        // A bare object keeps its keys in order, duplicates resolved as a map does.
        let page = Page::parse(op, "", 200, br#"{"b":1,"a":2,"b":3}"#)
            .ok()
            .unwrap();
        assert_eq!(page.data.to_string(), r#"{"b":3,"a":2}"#);
        let err = Page::parse(
            op,
            "",
            400,
            br#"{"success":false,"code":"X","message":"m"}"#,
        )
        .err()
        .unwrap();
        assert_eq!((err.status, err.code.as_str()), (400, "X"));
        let err = Page::parse(op, "", 200, br#"{"success":true} trailing"#)
            .err()
            .unwrap();
        assert_eq!(err.failure, Failure::Decode);
        let page = Page::parse(op, "", 200, b"[1,2]").ok().unwrap();
        assert_eq!(page.data, serde_json::json!([1, 2]));
    }
}
