//! The blocking API client: one connection pool for the whole run, Bearer auth, the success
//! envelope, pagination, retries with full-jitter backoff, idempotency keys, and redaction.
//! It returns data and never prints; observers (`-v`, `:explain`, the audit log) are told of
//! each exchange through [`Observer`].

use super::catalog::{Catalog, Method, Op};
use super::error::{ApiError, Failure};
use crate::secret::ApiKey;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the client retries transient failures (botocore's "standard" mode by default).
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Total tries, the first included; 1 disables retries.
    pub attempts: u32,
    /// Backoff before try n+1 is uniform in [0, min(cap, base × 2ⁿ)].
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(20),
        }
    }
}

/// Everything needed to build a client.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    pub catalog: Catalog,
    pub retry: RetryPolicy,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl ClientSettings {
    pub fn new(base_url: impl Into<String>, api_key: Option<ApiKey>) -> Self {
        ClientSettings {
            base_url: base_url.into(),
            api_key,
            catalog: Catalog::builtin(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
        }
    }
}

/// One finished exchange, as observers see it. Holds no secret: the key is never in it.
#[derive(Debug)]
pub struct Exchange<'a> {
    pub op: &'static Op,
    pub method: Method,
    /// Full URL with query, as sent.
    pub url: &'a str,
    pub body: Option<&'a Value>,
    /// 0 when there was no answer.
    pub status: u16,
    pub attempt: u32,
    pub elapsed: Duration,
    pub request_id: Option<&'a str>,
}

/// Told of every HTTP exchange (each retry included).
pub type Observer = Arc<dyn Fn(&Exchange<'_>) + Send + Sync>;

/// A call's arguments: path placeholders by name, everything else goes to the body (or, for
/// GET, the query string).
pub type Args = Map<String, Value>;

#[derive(Clone)]
pub struct Client {
    http: reqwest::blocking::Client,
    base_url: String,
    api_key: Option<ApiKey>,
    catalog: Catalog,
    retry: RetryPolicy,
    /// The simulator's clock speed (`X-Sim-Speed`), as f64 bits; 1.0 against the real service.
    speed: Arc<AtomicU64>,
    /// The server's clock (`X-Sim-Time`, epoch seconds) and when it was read.
    server_clock: Arc<std::sync::Mutex<Option<(f64, Instant)>>>,
    observers: Vec<Observer>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

const PAGE_SIZE: u64 = 100;
const MAX_PAGES: u64 = 10_000;
/// Larger answers are refused rather than read into memory.
const MAX_BODY: usize = 64 << 20;

impl Client {
    pub fn new(settings: ClientSettings) -> Result<Client, ApiError> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(key) = &settings.api_key {
            let mut value =
                reqwest::header::HeaderValue::from_str(&format!("Bearer {}", key.expose()))
                    .map_err(|_| {
                        ApiError::new(
                            Failure::Invalid,
                            "client",
                            String::new(),
                            "the API key contains characters that cannot be sent in a header",
                        )
                    })?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let http = reqwest::blocking::Client::builder()
            .default_headers(headers)
            .timeout(settings.timeout)
            .connect_timeout(Duration::from_secs(10).min(settings.timeout))
            .user_agent(concat!("barrack/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::new(Failure::Invalid, "client", String::new(), e.to_string()))?;
        Ok(Client {
            http,
            base_url: settings.base_url.trim_end_matches('/').to_string(),
            api_key: settings.api_key,
            catalog: settings.catalog,
            retry: settings.retry,
            speed: Arc::new(AtomicU64::new(1f64.to_bits())),
            server_clock: Arc::new(std::sync::Mutex::new(None)),
            observers: Vec::new(),
        })
    }

    pub fn with_observer(mut self, observer: Observer) -> Client {
        self.observers.push(observer);
        self
    }

    /// The key, as its redacting wrapper (for filtering history and logs).
    pub fn api_key(&self) -> Option<&ApiKey> {
        self.api_key.as_ref()
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The clock speed the server announced (`X-Sim-Speed`), 1.0 for the real service.
    pub fn speed(&self) -> f64 {
        f64::from_bits(self.speed.load(Ordering::Relaxed))
    }

    /// The server's current time: the simulator announces its clock (`X-Sim-Time`), which runs
    /// `speed` times faster than the wall clock; against the real service this is the local clock.
    pub fn server_now(&self) -> jiff::Timestamp {
        let seen = *self.server_clock.lock().unwrap_or_else(|e| e.into_inner());
        match seen {
            Some((epoch, at)) => {
                let now = epoch + at.elapsed().as_secs_f64() * self.speed();
                jiff::Timestamp::from_second(now.floor() as i64)
                    .unwrap_or_else(|_| jiff::Timestamp::now())
            }
            None => jiff::Timestamp::now(),
        }
    }

    /// Scale a duration of server time to wall time (never below 10 ms unless zero).
    pub fn scaled(&self, d: Duration) -> Duration {
        let speed = self.speed();
        if speed <= 1.0 || d.is_zero() {
            return d;
        }
        d.div_f64(speed).max(Duration::from_millis(10))
    }

    /// Call an operation. Returns the unwrapped `data` (every page, for lists), `null` for an
    /// empty success.
    pub fn call(&self, op: &'static Op, args: &Args) -> Result<Value, ApiError> {
        self.execute(op, args).map(|answer| answer.data)
    }

    /// Like [`Client::call`], with the status and request id of the (last) answer.
    pub fn execute(&self, op: &'static Op, args: &Args) -> Result<Answer, ApiError> {
        let (method, template) = self.catalog.route(op);
        let mut rest = args.clone();
        let path = fill_path(op, template, &mut rest)?;
        let request = format!("{method} {path}");
        let (query, body) = match method {
            Method::Get => (to_query(op, &request, &rest)?, None),
            Method::Delete if rest.is_empty() => (Vec::new(), None),
            _ => (Vec::new(), Some(Value::Object(rest))),
        };
        let idempotency_key = (op.mutates && method == Method::Post).then(new_idempotency_key);
        if !op.paginated {
            let page = self.send(
                op,
                method,
                &path,
                &request,
                &query,
                body.as_ref(),
                idempotency_key.as_deref(),
            )?;
            return Ok(Answer {
                data: page.data,
                status: page.status,
                request_id: page.request_id,
            });
        }
        let mut items = Vec::new();
        let mut page_no = 1;
        loop {
            let mut q = query.clone();
            q.push(("page".into(), page_no.to_string()));
            q.push(("per_page".into(), PAGE_SIZE.to_string()));
            let page = self.send(op, method, &path, &request, &q, body.as_ref(), None)?;
            let count = match page.data {
                Value::Array(list) => {
                    let n = list.len();
                    items.extend(list);
                    n
                }
                Value::Null => 0,
                other => {
                    return Ok(Answer {
                        data: other,
                        status: page.status,
                        request_id: page.request_id,
                    })
                }
            };
            let total_pages = page
                .pagination
                .as_ref()
                .and_then(|p| p.get("total_pages"))
                .and_then(Value::as_u64);
            let has_next = page
                .pagination
                .as_ref()
                .and_then(|p| p.get("has_next"))
                .and_then(Value::as_bool);
            let more = match (total_pages, has_next) {
                (_, Some(next)) => next,
                (Some(total), None) => page_no < total,
                (None, None) => false,
            };
            if !more || count == 0 || page_no >= MAX_PAGES {
                return Ok(Answer {
                    data: Value::Array(items),
                    status: page.status,
                    request_id: page.request_id,
                });
            }
            page_no += 1;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        op: &'static Op,
        method: Method,
        path: &str,
        request: &str,
        query: &[(String, String)],
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Page, ApiError> {
        let mut url = format!("{}{}", self.base_url, path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&encode_query(query));
        }
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let outcome = self.send_once(op, method, &url, request, body, idempotency_key);
            let (status, request_id) = match &outcome {
                Ok(page) => (page.status, page.request_id.clone()),
                Err(err) => (err.status, err.request_id.clone()),
            };
            for observer in &self.observers {
                observer(&Exchange {
                    op,
                    method,
                    url: &url,
                    body,
                    status,
                    attempt,
                    elapsed: started.elapsed(),
                    request_id: request_id.as_deref(),
                });
            }
            match outcome {
                Ok(page) => return Ok(page),
                Err(err) => {
                    // A retried DELETE that finds nothing: an earlier try was applied.
                    if attempt > 1 && method == Method::Delete && err.status == 404 {
                        return Ok(Page::empty(404));
                    }
                    if !err.is_transient() || attempt >= self.retry.attempts {
                        return Err(err);
                    }
                    std::thread::sleep(self.backoff(attempt, err.retry_after));
                    attempt += 1;
                }
            }
        }
    }

    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let cap = self.retry.cap;
        let wait = match retry_after {
            Some(after) => after.min(cap),
            None => {
                let ceiling = self
                    .retry
                    .base
                    .saturating_mul(1 << attempt.min(16))
                    .min(cap);
                ceiling.mul_f64(fastrand::f64())
            }
        };
        self.scaled(wait)
    }

    fn send_once(
        &self,
        op: &'static Op,
        method: Method,
        url: &str,
        request: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Page, ApiError> {
        let mut builder = match method {
            Method::Get => self.http.get(url),
            Method::Post => self.http.post(url),
            Method::Put => self.http.put(url),
            Method::Delete => self.http.delete(url),
        };
        if let Some(body) = body {
            builder = builder.json(body);
        }
        if let Some(key) = idempotency_key {
            builder = builder.header("Idempotency-Key", key);
        }
        let response = builder
            .send()
            .map_err(|e| self.transport_error(op, request, &e))?;
        let status = response.status().as_u16();
        if let Some(speed) = response
            .headers()
            .get("x-sim-speed")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
        {
            self.speed.store(speed.to_bits(), Ordering::Relaxed);
        }
        if let Some(epoch) = response
            .headers()
            .get("x-sim-time")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite())
        {
            *self.server_clock.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((epoch, Instant::now()));
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = read_body(response).map_err(|e| self.transport_error(op, request, &e))?;
        if bytes.len() > MAX_BODY {
            return Err(ApiError::new(
                Failure::Decode,
                op.name,
                request.to_string(),
                format!(
                    "the answer is {} bytes, more than the {} barrack reads",
                    bytes.len(),
                    MAX_BODY
                ),
            ));
        }
        if !(200..300).contains(&status) {
            let mut err = ApiError::from_response(op.name, request.to_string(), status, &bytes);
            err.retry_after = retry_after;
            return Err(err);
        }
        Page::parse(op, request, status, &bytes)
    }

    fn transport_error(&self, op: &Op, request: &str, err: &reqwest::Error) -> ApiError {
        let failure = if err.is_timeout() {
            Failure::Timeout
        } else {
            Failure::Unreachable
        };
        // reqwest's message names the URL (never the key); keep the root cause only.
        let mut cause: &dyn std::error::Error = err;
        while let Some(next) = cause.source() {
            cause = next;
        }
        let mut message = format!("{} ({})", self.base_url, cause);
        if let Some(key) = &self.api_key {
            message = key.redact(&message);
        }
        ApiError::new(failure, op.name, request.to_string(), message)
    }
}

fn read_body(response: reqwest::blocking::Response) -> Result<Vec<u8>, reqwest::Error> {
    Ok(response.bytes()?.to_vec())
}

/// A successful call: the data, and the status and request id of the last answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub data: Value,
    pub status: u16,
    pub request_id: Option<String>,
}

/// One answer, unwrapped.
struct Page {
    status: u16,
    data: Value,
    pagination: Option<Map<String, Value>>,
    request_id: Option<String>,
}

impl Page {
    fn empty(status: u16) -> Page {
        Page {
            status,
            data: Value::Null,
            pagination: None,
            request_id: None,
        }
    }

    fn parse(op: &Op, request: &str, status: u16, bytes: &[u8]) -> Result<Page, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Page::empty(status));
        }
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            let preview = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned();
            ApiError::new(
                Failure::Decode,
                op.name,
                request.to_string(),
                format!("expected JSON ({e}); the answer began {preview:?}"),
            )
        })?;
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

impl ApiError {
    fn with_status(mut self, status: u16) -> ApiError {
        self.status = status;
        self
    }
}

/// Put the `{…}` arguments into the template, percent-encoded, removing them from `args`.
fn fill_path(op: &Op, template: &str, args: &mut Args) -> Result<String, ApiError> {
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

fn to_query(op: &Op, request: &str, args: &Args) -> Result<Vec<(String, String)>, ApiError> {
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
                err.request = request.to_string();
                return Err(err);
            }
        };
        query.push((key.clone(), text));
    }
    Ok(query)
}

fn encode_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
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

/// `Retry-After` as seconds or an HTTP-date.
pub fn parse_retry_after(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = jiff::fmt::rfc2822::parse(text).ok()?;
    let now = jiff::Timestamp::now();
    let delta = when.timestamp().duration_since(now);
    Some(Duration::try_from(delta).unwrap_or(Duration::ZERO))
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
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

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
}
