//! What a simulator handler answers: a success (`Reply`) or a documented error (`Refusal`).

use crate::api::Kind;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub struct Reply {
    pub status: u16,
    /// The success envelope up to and including its `data`, already written as JSON
    /// (`{"success":true,"data":…`): a handler writes its objects straight into the buffer that
    /// is sent, never through a `Value` tree, and [`Reply::into_body`] only appends the rest
    /// (a page of instances is most of a list's cost). `None`: no body at all (the documented
    /// 201 of "Create a startup script").
    pub envelope: Option<Vec<u8>>,
    pub pagination: Option<Pagination>,
    pub tier: &'static str,
}

/// Where a page sits in its list: the `pagination` object of a paginated answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pagination {
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
    pub total_pages: u64,
    pub has_next: bool,
}

/// How every success envelope begins; `data` follows.
const ENVELOPE_START: &[u8] = br#"{"success":true,"data":"#;
/// Room for the envelope's fields after `data` (pagination, request id, tier).
const ENVELOPE_END_BYTES: usize = 192;

impl Reply {
    pub fn ok(data: impl Serialize, tier: &'static str) -> Reply {
        let mut envelope = Reply::envelope_for(0);
        write_json(&mut envelope, &data);
        Reply::written(envelope, None, tier)
    }

    pub fn created(data: impl Serialize, tier: &'static str) -> Reply {
        Reply {
            status: 201,
            ..Reply::ok(data, tier)
        }
    }

    /// An envelope to write `data` of about `data_bytes` into (then [`Reply::written`]).
    pub fn envelope_for(data_bytes: usize) -> Vec<u8> {
        let mut envelope =
            Vec::with_capacity(ENVELOPE_START.len() + data_bytes + ENVELOPE_END_BYTES);
        envelope.extend_from_slice(ENVELOPE_START);
        envelope
    }

    /// A 200 whose envelope (from [`Reply::envelope_for`]) holds its data, written; a list
    /// answer says which page it is with `pagination`.
    pub fn written(envelope: Vec<u8>, pagination: Option<Pagination>, tier: &'static str) -> Reply {
        Reply {
            status: 200,
            envelope: Some(envelope),
            pagination,
            tier,
        }
    }

    /// The whole success envelope as sent, fields in the order the API writes them; empty
    /// when the reply has no data.
    pub fn into_body(self, request_id: &str) -> Vec<u8> {
        let Some(mut body) = self.envelope else {
            return Vec::new();
        };
        body.reserve(ENVELOPE_END_BYTES);
        if let Some(pagination) = &self.pagination {
            body.extend_from_slice(br#","pagination":"#);
            write_json(&mut body, pagination);
        }
        body.extend_from_slice(br#","request_id":"#);
        write_json(&mut body, request_id);
        body.extend_from_slice(br#","tier":"#);
        write_json(&mut body, self.tier);
        body.push(b'}');
        body
    }
}

/// Append `value` as JSON. Plain data always serialises (no map has non-text keys, nothing
/// refuses); were that ever broken, `null` is written rather than take the server down.
pub fn write_json(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    let start = out.len();
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
}

#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub errors: BTreeMap<String, Vec<String>>,
    pub tier: &'static str,
    pub retry_after: Option<u64>,
    /// The methods the path takes (a 405's `Allow` header).
    pub allow: Option<String>,
}

impl Refusal {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            message: message.into(),
            errors: BTreeMap::new(),
            tier: "advanced",
            retry_after: None,
            allow: None,
        }
    }

    pub fn in_tier(mut self, tier: &'static str) -> Refusal {
        self.tier = tier;
        self
    }

    pub fn not_found(kind: Kind, id: &str) -> Refusal {
        let noun = kind.noun();
        let mut first = noun.chars();
        let noun = match first.next() {
            Some(c) => c.to_uppercase().chain(first).collect::<String>(),
            None => String::new(),
        };
        Refusal::new(404, "NOT_FOUND", format!("{noun} {id} not found"))
    }

    pub fn conflict(message: impl Into<String>) -> Refusal {
        Refusal::new(409, "CONFLICT", message)
    }

    /// A 400 with one message for one field.
    pub fn field(field: &str, message: impl Into<String>) -> Refusal {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        errors.into_refusal()
    }

    pub fn envelope(&self, request_id: &str) -> Value {
        let mut map = Map::new();
        map.insert("success".into(), false.into());
        map.insert("message".into(), self.message.clone().into());
        map.insert("code".into(), self.code.into());
        if !self.errors.is_empty() {
            map.insert(
                "errors".into(),
                serde_json::to_value(&self.errors).unwrap_or(Value::Null),
            );
        }
        map.insert("request_id".into(), request_id.into());
        map.insert("tier".into(), self.tier.into());
        Value::Object(map)
    }
}

/// Per-field validation messages, gathered so that one answer names every bad field.
#[derive(Default)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_default()
            .push(message.into());
    }

    pub fn check(&mut self, field: &str, outcome: Result<(), String>) {
        if let Err(message) = outcome {
            self.add(field, message);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_refusal(self) -> Refusal {
        let mut refusal = Refusal::new(400, "VALIDATION_ERROR", "Invalid request data");
        refusal.errors = self.0;
        refusal
    }

    /// `Ok` when nothing was wrong, else the 400 naming every field.
    pub fn finish(self) -> Result<(), Refusal> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.into_refusal())
        }
    }
}
