//! What a simulator handler answers: a success (`Reply`) or a documented error (`Refusal`).

use crate::api::Kind;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub struct Reply {
    pub status: u16,
    /// `None`: no body at all (the documented 201 of "Create a startup script").
    pub data: Option<Value>,
    pub pagination: Option<Value>,
    pub tier: &'static str,
}

impl Reply {
    pub fn ok(data: Value, tier: &'static str) -> Reply {
        Reply {
            status: 200,
            data: Some(data),
            pagination: None,
            tier,
        }
    }

    pub fn created(data: Value, tier: &'static str) -> Reply {
        Reply {
            status: 201,
            data: Some(data),
            pagination: None,
            tier,
        }
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
