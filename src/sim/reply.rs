//! What a simulator handler answers: a success (`Reply`) or a documented error (`Refusal`).

use crate::api::Kind;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub struct Reply {
    pub status: u16,
    /// The `data` of the envelope, already written as JSON: a handler serialises its objects
    /// straight to text, never through a `Value` tree (a page of instances is most of a list's
    /// cost). `None`: no body at all (the documented 201 of "Create a startup script").
    pub data: Option<Box<RawValue>>,
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

/// The success envelope, fields in the order the API writes them.
#[derive(Serialize)]
struct Envelope<'a> {
    success: bool,
    data: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<&'a Pagination>,
    request_id: &'a str,
    tier: &'a str,
}

impl Reply {
    pub fn ok(data: impl Serialize, tier: &'static str) -> Reply {
        Reply {
            status: 200,
            data: Some(json_text(&data)),
            pagination: None,
            tier,
        }
    }

    pub fn created(data: impl Serialize, tier: &'static str) -> Reply {
        Reply {
            status: 201,
            ..Reply::ok(data, tier)
        }
    }

    /// A list answer: its items (one page of them when `pagination` says so).
    pub fn list(
        items: &[impl Serialize],
        pagination: Option<Pagination>,
        tier: &'static str,
    ) -> Reply {
        Reply {
            pagination,
            ..Reply::ok(items, tier)
        }
    }

    /// The whole success envelope as sent; empty when the reply has no data.
    pub fn body(&self, request_id: &str) -> Vec<u8> {
        let Some(data) = &self.data else {
            return Vec::new();
        };
        let envelope = Envelope {
            success: true,
            data,
            pagination: self.pagination.as_ref(),
            request_id,
            tier: self.tier,
        };
        // Sized once for the data and the envelope around it: a page of objects is kilobytes,
        // and growing the buffer by doubling would copy it several times.
        let mut body = Vec::with_capacity(data.get().len() + ENVELOPE_BYTES);
        match serde_json::to_writer(&mut body, &envelope) {
            Ok(()) => body,
            Err(_) => Vec::new(),
        }
    }
}

/// Room for the envelope's own fields (success, pagination, request id, tier).
const ENVELOPE_BYTES: usize = 192;

/// `data` written as JSON. Plain data always serialises (no map has non-text keys, nothing
/// refuses); were that ever broken, the answer says `null` rather than take the server down.
fn json_text(data: &impl Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(data).unwrap_or_else(|_| RawValue::NULL.to_owned())
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
