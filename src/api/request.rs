//! From an operation and its arguments to what goes on the wire: the path with its `{…}`
//! placeholders filled, the query string of a GET, the JSON body of the rest, and the
//! Idempotency-Key of a mutating POST.

use super::catalog::{Method, Op};
use super::client::Args;
use super::error::ApiError;
use serde_json::Value;

/// One request, ready to send (and to send again: a retry reuses it whole, key included).
#[derive(Debug)]
pub(crate) struct Request {
    pub op: &'static Op,
    pub method: Method,
    /// The path below the base URL, placeholders filled and percent-encoded.
    pub path: String,
    /// `METHOD /path/`, as errors and messages name the request (no base URL, no query).
    pub line: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    /// Sent on a mutating POST so that a retry of an applied request changes nothing.
    pub idempotency_key: Option<String>,
    /// The arguments that did not fill the path: for looking an object up by name when the
    /// outcome is unknown.
    pub rest: Args,
    /// The `{id}` the path was filled with, for reading the object back.
    pub id: Option<String>,
}

impl Request {
    pub fn build(
        op: &'static Op,
        method: Method,
        template: &str,
        args: &Args,
    ) -> Result<Request, ApiError> {
        let mut rest = args.clone();
        let id = args.get("id").and_then(Value::as_str).map(str::to_string);
        let path = fill_path(op, template, &mut rest)?;
        let line = format!("{} {path}", method.as_str());
        let (query, body) = match method {
            Method::Get => (to_query(op, &line, &rest)?, None),
            Method::Delete if rest.is_empty() => (Vec::new(), None),
            _ => (Vec::new(), Some(Value::Object(rest.clone()))),
        };
        let idempotency_key = (op.mutates && method == Method::Post).then(new_idempotency_key);
        Ok(Request {
            op,
            method,
            path,
            line,
            query,
            body,
            idempotency_key,
            rest,
            id,
        })
    }

    /// The full URL, with `extra` query pairs (a page number) after the request's own.
    pub fn url(&self, base_url: &str, extra: &[(String, String)]) -> String {
        let mut url = String::with_capacity(base_url.len() + self.path.len() + 1);
        url.push_str(base_url);
        url.push_str(&self.path);
        let pairs: Vec<&(String, String)> = self.query.iter().chain(extra).collect();
        if !pairs.is_empty() {
            url.push('?');
            let encoded: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
                .collect();
            url.push_str(&encoded.join("&"));
        }
        url
    }
}

/// Put the `{…}` arguments into the template, percent-encoded, removing them from `args`.
pub(crate) fn fill_path(op: &Op, template: &str, args: &mut Args) -> Result<String, ApiError> {
    let mut out = String::with_capacity(template.len() + 16);
    for (i, seg) in template.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let value = match args.remove(name) {
                    Some(Value::String(s)) if !s.trim().is_empty() => s,
                    Some(Value::Number(n)) => n.to_string(),
                    Some(other) => {
                        return Err(ApiError::invalid(
                            op.name,
                            name,
                            format!("must be an id string, not {other}"),
                        ))
                    }
                    None => return Err(ApiError::invalid(op.name, name, "This field is required")),
                };
                out.push_str(&encode_component(&value));
            }
            None => out.push_str(seg),
        }
    }
    Ok(out)
}

fn to_query(op: &Op, line: &str, args: &Args) -> Result<Vec<(String, String)>, ApiError> {
    let mut query = Vec::new();
    for (key, value) in args {
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect::<Vec<_>>()
                .join(","),
            Value::Object(_) => {
                let mut err = ApiError::invalid(op.name, key, "A query parameter cannot be a map");
                err.request = line.to_string();
                return Err(err);
            }
        };
        query.push((key.clone(), text));
    }
    Ok(query)
}

/// Percent-encode everything but RFC 3986 unreserved characters.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn new_idempotency_key() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::catalog::find;

    #[test]
    fn paths_are_filled_and_encoded() {
        let op = find("remove_firewall_rule").unwrap();
        let mut args = Args::new();
        args.insert("id".into(), "fw-1".into());
        args.insert("rule_id".into(), "a b/c".into());
        args.insert("extra".into(), 1.into());
        let path = fill_path(op, op.path, &mut args).unwrap();
        assert_eq!(path, "/firewalls/fw-1/rules/a%20b%2Fc/");
        assert_eq!(args.len(), 1);
        let mut none = Args::new();
        let err = fill_path(op, op.path, &mut none).unwrap_err();
        assert!(err.errors.contains_key("id"));
    }

    #[test]
    fn gets_carry_a_query_and_mutating_posts_a_key() {
        let list = find("instances").unwrap();
        let mut args = Args::new();
        args.insert("status".into(), "ACTIVE".into());
        let request = Request::build(list, list.method, list.path, &args).unwrap();
        assert_eq!(
            request.url("http://h", &[("page".into(), "2".into())]),
            "http://h/instances/?status=ACTIVE&page=2"
        );
        assert!(request.body.is_none() && request.idempotency_key.is_none());
        let deploy = find("deploy").unwrap();
        let request = Request::build(deploy, deploy.method, deploy.path, &args).unwrap();
        assert_eq!(request.line, "POST /instances/");
        assert_eq!(request.body.unwrap()["status"], "ACTIVE");
        assert_eq!(request.idempotency_key.map(|k| k.len()), Some(32));
    }
}
