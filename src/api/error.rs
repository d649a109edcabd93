//! `ApiError`: what a failed call says, in a form a script can catch and a person can read.

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Why a call failed before or instead of an HTTP answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with an error status.
    Status,
    /// No connection could be made, or it broke before an answer.
    Unreachable,
    /// The request timed out.
    Timeout,
    /// The server answered, but not with JSON barrack understands.
    Decode,
    /// The call was refused before sending (bad argument).
    Invalid,
    /// The run's deadline (`--timeout`) was reached while the request was in flight or waiting
    /// to be retried.
    Deadline,
    /// The server's TLS certificate is not trusted (a configuration matter, never retried).
    Untrusted,
}

/// A failed API call. `Display` is one paragraph: what was asked, what the server said,
/// the per-field errors, and the request id to quote to support.
#[derive(Clone, Debug)]
pub struct ApiError {
    /// What kind of failure this is (it decides the exit code and whether a retry may help).
    pub failure: Failure,
    /// HTTP status, 0 when there was no answer.
    pub status: u16,
    /// The API's error code, e.g. `not_found`, or barrack's own for failures without an answer.
    pub code: String,
    /// The message, for a person.
    pub message: String,
    /// Per-field messages, as the server's `errors` object carries them.
    pub errors: BTreeMap<String, Vec<String>>,
    /// The server's request id, when it sent one.
    pub request_id: Option<String>,
    /// The region tier the failure concerns, when the API names one.
    pub tier: Option<String>,
    /// The catalog operation that was called.
    pub op: String,
    /// `METHOD /path/` as sent (ids filled in, no base URL, no query).
    pub request: String,
    /// From `Retry-After`, when the server sent one.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// An error of `failure` for the call `op` (with `request`, its method and path), saying `message`.
    pub fn new(failure: Failure, op: &str, request: String, message: impl Into<String>) -> Self {
        ApiError {
            failure,
            status: 0,
            code: match failure {
                Failure::Status => "HTTP_ERROR",
                Failure::Unreachable => "UNREACHABLE",
                Failure::Timeout => "TIMEOUT",
                Failure::Decode => "BAD_RESPONSE",
                Failure::Invalid => "INVALID_ARGUMENT",
                Failure::Deadline => "RUN_TIMEOUT",
                Failure::Untrusted => "TLS_UNTRUSTED",
            }
            .to_string(),
            message: message.into(),
            errors: BTreeMap::new(),
            request_id: None,
            tier: None,
            op: op.to_string(),
            request,
            retry_after: None,
        }
    }

    /// A refusal made before sending, worded like the server's validation errors.
    pub fn invalid(op: &str, field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut err = ApiError::new(Failure::Invalid, op, String::new(), "Invalid request data");
        err.status = 400;
        err.code = "VALIDATION_ERROR".into();
        err.errors.insert(field.to_string(), vec![message]);
        err
    }

    /// Build from an error answer. Accepts the documented envelope and, failing that, any body.
    pub fn from_response(op: &str, request: String, status: u16, body: &[u8]) -> Self {
        let mut err = ApiError::new(Failure::Status, op, request, "");
        err.status = status;
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => {
                if let Some(code) = map.get("code").and_then(Value::as_str) {
                    err.code = code.to_string();
                }
                err.message = map
                    .get("message")
                    .or_else(|| map.get("detail"))
                    .or_else(|| map.get("error"))
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .unwrap_or_default();
                err.request_id = map
                    .get("request_id")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                err.tier = map.get("tier").and_then(Value::as_str).map(str::to_string);
                if let Some(Value::Object(fields)) = map.get("errors") {
                    for (field, msgs) in fields {
                        let list = match msgs {
                            Value::Array(items) => items
                                .iter()
                                .map(|m| {
                                    m.as_str()
                                        .map(str::to_string)
                                        .unwrap_or_else(|| m.to_string())
                                })
                                .collect(),
                            Value::String(s) => vec![s.clone()],
                            other => vec![other.to_string()],
                        };
                        err.errors.insert(field.clone(), list);
                    }
                }
            }
            _ => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                err.message = if text.is_empty() {
                    String::new()
                } else {
                    format!("non-JSON answer: {}", truncate(text, 200))
                };
            }
        }
        if err.code == "HTTP_ERROR" {
            err.code = default_code(status).to_string();
        }
        err
    }

    /// True for the answers a retry may cure.
    pub fn is_transient(&self) -> bool {
        matches!(self.failure, Failure::Unreachable | Failure::Timeout)
            || matches!(self.status, 429 | 500 | 502 | 503 | 504)
    }

    /// The whole error as JSON, for scripts (`catch (e)`) and `-o json`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "errors": self.errors,
            "request_id": self.request_id,
            "tier": self.tier,
            "op": self.op,
        })
    }
}

fn default_code(status: u16) -> &'static str {
    match status {
        400 => "VALIDATION_ERROR",
        401 => "UNAUTHORIZED",
        402 => "INSUFFICIENT_CREDITS",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        409 => "CONFLICT",
        429 => "RATE_LIMITED",
        500..=599 => "INTERNAL_ERROR",
        _ => "HTTP_ERROR",
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.failure == Failure::Deadline {
            // One line that says what was in flight: the message is the whole story.
            return write!(f, "{}", self.message);
        }
        write!(f, "{}", self.op)?;
        if !self.request.is_empty() {
            write!(f, " ({})", self.request)?;
        }
        match self.failure {
            Failure::Status => write!(
                f,
                " failed: the server answered {} {}",
                self.status, self.code
            )?,
            Failure::Invalid => write!(f, " was not sent: {}", self.code)?,
            Failure::Unreachable => write!(f, " failed: the API could not be reached")?,
            Failure::Timeout => write!(f, " failed: the request timed out")?,
            Failure::Decode => write!(f, " failed: the answer could not be read")?,
            Failure::Untrusted => write!(f, " was refused: the server is not trusted")?,
            Failure::Deadline => {}
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message.trim_end_matches('.'))?;
        }
        write!(f, ".")?;
        for (field, messages) in &self.errors {
            write!(
                f,
                " {field}: {}.",
                messages.join("; ").trim_end_matches('.')
            )?;
        }
        match (&self.request_id, &self.tier) {
            (Some(id), Some(tier)) => write!(f, " (request_id {id}, tier {tier})")?,
            (Some(id), None) => write!(f, " (request_id {id})")?,
            _ => {}
        }
        if let Some(hint) = self.hint() {
            write!(f, " {hint}")?;
        }
        Ok(())
    }
}

impl ApiError {
    fn hint(&self) -> Option<&'static str> {
        match (self.failure, self.status) {
            (Failure::Unreachable, _) => Some("Check --api-url / BARRACK_API_URL and the network."),
            (_, 401) => Some("Check the API key (BARRACK_API_KEY or the profile's api_key)."),
            (_, 402) => Some("Add credits to the account, or deploy something smaller."),
            _ => None,
        }
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    const PRINTED: &str = r#"{"success": false, "message": "Invalid request data", "code": "VALIDATION_ERROR",
        "errors": {"name": ["Name must contain only alphanumeric characters, spaces, hyphens, underscores, and dots"],
                   "script": ["Script content must be 16384 bytes or less"]},
        "request_id": "i9j0k1l2", "tier": "advanced"}"#;

    #[test]
    fn the_printed_envelope_reads_as_one_paragraph() {
        let err = ApiError::from_response(
            "create_script",
            "POST /scripts/".into(),
            400,
            PRINTED.as_bytes(),
        );
        assert_eq!(err.code, "VALIDATION_ERROR");
        assert_eq!(err.request_id.as_deref(), Some("i9j0k1l2"));
        assert_eq!(err.errors.len(), 2);
        let text = err.to_string();
        assert_eq!(
            text,
            "create_script (POST /scripts/) failed: the server answered 400 VALIDATION_ERROR: \
             Invalid request data. name: Name must contain only alphanumeric characters, spaces, \
             hyphens, underscores, and dots. script: Script content must be 16384 bytes or less. \
             (request_id i9j0k1l2, tier advanced)"
        );
        assert!(!text.contains('\n'));
    }

    #[test]
    fn non_json_and_empty_bodies_still_explain() {
        let err = ApiError::from_response(
            "balance",
            "GET /balance/".into(),
            502,
            b"<html>Bad gateway</html>",
        );
        assert_eq!(err.code, "INTERNAL_ERROR");
        assert!(err
            .to_string()
            .contains("non-JSON answer: <html>Bad gateway</html>"));
        let err = ApiError::from_response("balance", "GET /balance/".into(), 404, b"");
        assert_eq!(err.code, "NOT_FOUND");
    }
}
