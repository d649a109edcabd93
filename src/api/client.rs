//! The blocking API client: one connection pool for the whole run, Bearer auth, the success
//! envelope, pagination, retries with full-jitter backoff, idempotency keys, and redaction.
//! It returns data and never prints; observers (`-v`, `:explain`, the audit log) are told of
//! each exchange through [`Observer`].

use super::catalog::{Catalog, Method, Op};
use super::error::{ApiError, Failure};
use crate::secret::ApiKey;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
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
    /// Plain `http://` without a proxy: HTTP/1.1 straight on std sockets, in the calling thread.
    plain: Option<Arc<plain::Origin>>,
    /// reqwest for everything else (TLS, proxies, redirects); built on first use when `plain`
    /// serves the base URL, since it starts a runtime thread a simulator run never needs.
    http: Arc<LazyHttp>,
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
        let invalid_key = || {
            ApiError::new(
                Failure::Invalid,
                "client",
                String::new(),
                "the API key contains characters that cannot be sent in a header",
            )
        };
        let mut authorization = None;
        if let Some(key) = &settings.api_key {
            let bearer = format!("Bearer {}", key.expose());
            let mut value =
                reqwest::header::HeaderValue::from_str(&bearer).map_err(|_| invalid_key())?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
            authorization = Some(bearer);
        }
        let base_url = settings.base_url.trim_end_matches('/').to_string();
        let connect_timeout = Duration::from_secs(10).min(settings.timeout);
        let plain = plain::Origin::for_base_url(
            &base_url,
            authorization.as_deref(),
            settings.timeout,
            connect_timeout,
        )
        .map(Arc::new);
        let http = Arc::new(LazyHttp {
            headers,
            timeout: settings.timeout,
            connect_timeout,
            client: OnceLock::new(),
        });
        if plain.is_none() {
            // reqwest carries every request: build it now, so a bad set-up fails here as before.
            http.get().map_err(|why| {
                ApiError::new(Failure::Invalid, "client", String::new(), why.to_string())
            })?;
        }
        Ok(Client {
            plain,
            http,
            base_url,
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
        let mut request = String::with_capacity(method.as_str().len() + 1 + path.len());
        request.push_str(method.as_str());
        request.push(' ');
        request.push_str(&path);
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
            let total = page
                .pagination
                .as_ref()
                .and_then(|p| p.get("total"))
                .and_then(Value::as_u64);
            let more = match (total_pages, has_next) {
                (_, Some(next)) => next,
                (Some(total), None) => page_no < total,
                (None, None) => false,
            };
            // A server that keeps saying "more" is believed only as far as its own totals, and
            // not past a page that repeats the one before it.
            let within_totals = total_pages.is_none_or(|t| page_no < t)
                && total.is_none_or(|t| (items.len() as u64) < t);
            let repeated = count > 0
                && items.len() >= 2 * count
                && items[items.len() - count..]
                    == items[items.len() - 2 * count..items.len() - count];
            if repeated {
                items.truncate(items.len() - count);
            }
            if !more || !within_totals || repeated || count == 0 || page_no >= MAX_PAGES {
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
        let mut url = String::with_capacity(self.base_url.len() + path.len() + 1);
        url.push_str(&self.base_url);
        url.push_str(path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&encode_query(query));
        }
        let mut attempt = 1;
        loop {
            // Only observers read the elapsed time.
            let started = (!self.observers.is_empty()).then(Instant::now);
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
                    elapsed: started.map(|s| s.elapsed()).unwrap_or_default(),
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
                    // …or one refused because the object is already being deleted: confirmed
                    // by a fresh read (DELETING or gone), it counts as done. A first-try 409
                    // stays an error.
                    if attempt > 1 && method == Method::Delete && err.status == 409 {
                        if let Some(page) = self.confirm_deleted(op, url.as_str(), request) {
                            return Ok(page);
                        }
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

    /// After a retried DELETE was refused: read the same path; DELETING or 404 means an earlier
    /// try was applied and its answer lost.
    fn confirm_deleted(&self, op: &'static Op, url: &str, request: &str) -> Option<Page> {
        let mut read = self.send_once(op, Method::Get, url, request, None, None);
        for attempt in 1..self.retry.attempts {
            match &read {
                Err(err) if err.is_transient() => {
                    std::thread::sleep(self.backoff(attempt, err.retry_after));
                    read = self.send_once(op, Method::Get, url, request, None, None);
                }
                _ => break,
            }
        }
        match read {
            Ok(page) if page.data.get("status").and_then(Value::as_str) == Some("DELETING") => {
                let mut data = serde_json::Map::new();
                for key in ["id", "name"] {
                    if let Some(v) = page.data.get(key) {
                        data.insert(key.into(), v.clone());
                    }
                }
                data.insert("status".into(), "DELETING".into());
                data.insert("deleted".into(), true.into());
                Some(Page {
                    data: Value::Object(data),
                    ..page
                })
            }
            Err(gone) if gone.status == 404 => Some(Page::empty(404)),
            _ => None,
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
        let fail = |trouble: Trouble| self.trouble_error(op, request, trouble);
        let target = self
            .plain
            .as_ref()
            .and_then(|p| p.target(url).map(|t| (p, t)));
        let reply = match target {
            Some((plain, target)) => {
                let json = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
                let sent = plain.exchange(
                    method,
                    target,
                    json.as_deref(),
                    idempotency_key,
                    |speed, time| self.saw_clock(speed, time),
                );
                match sent.map_err(fail)? {
                    Some(reply) => reply,
                    // A redirect: reqwest follows it as it always did.
                    None => self
                        .via_reqwest(method, url, body, idempotency_key)
                        .map_err(fail)?,
                }
            }
            None => self
                .via_reqwest(method, url, body, idempotency_key)
                .map_err(fail)?,
        };
        let Reply {
            status,
            retry_after,
            body: bytes,
        } = reply;
        if !(200..300).contains(&status) {
            let mut err = ApiError::from_response(op.name, request.to_string(), status, &bytes);
            err.retry_after = retry_after;
            return Err(err);
        }
        Page::parse(op, request, status, &bytes)
    }

    /// One exchange through reqwest (TLS, proxies, redirects).
    fn via_reqwest(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Reply, Trouble> {
        let http = self
            .http
            .get()
            .map_err(|why| Trouble::Setup(why.to_string()))?;
        let mut builder = match method {
            Method::Get => http.get(url),
            Method::Post => http.post(url),
            Method::Put => http.put(url),
            Method::Delete => http.delete(url),
        };
        if let Some(body) = body {
            builder = builder.json(body);
        }
        if let Some(key) = idempotency_key {
            builder = builder.header("Idempotency-Key", key);
        }
        let response = builder.send().map_err(|e| Trouble::from_reqwest(&e))?;
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
        self.saw_clock(header("x-sim-speed"), header("x-sim-time"));
        let retry_after = header("retry-after").and_then(parse_retry_after);
        let bytes = response
            .bytes()
            .map_err(|e| Trouble::from_reqwest(&e))?
            .to_vec();
        if bytes.len() > MAX_BODY {
            return Err(Trouble::TooLarge(bytes.len()));
        }
        Ok(Reply {
            status,
            retry_after,
            body: bytes,
        })
    }

    /// `X-Sim-Speed` and `X-Sim-Time` of an answer: the server's clock.
    fn saw_clock(&self, speed: Option<&str>, time: Option<&str>) {
        if let Some(speed) = speed
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
        {
            self.speed.store(speed.to_bits(), Ordering::Relaxed);
        }
        if let Some(epoch) = time
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite())
        {
            *self.server_clock.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((epoch, Instant::now()));
        }
    }

    fn trouble_error(&self, op: &Op, request: &str, trouble: Trouble) -> ApiError {
        let (failure, cause) = match trouble {
            Trouble::Timeout => (Failure::Timeout, "operation timed out".to_string()),
            Trouble::Transport { timeout, cause } => (
                if timeout {
                    Failure::Timeout
                } else {
                    Failure::Unreachable
                },
                cause,
            ),
            Trouble::TooLarge(len) => {
                return ApiError::new(
                    Failure::Decode,
                    op.name,
                    request.to_string(),
                    format!("the answer is {len} bytes, more than the {MAX_BODY} barrack reads"),
                )
            }
            Trouble::Setup(why) => {
                return ApiError::new(Failure::Invalid, "client", String::new(), why)
            }
        };
        // The message names the base URL (never the key) and the root cause only.
        let mut message = format!("{} ({})", self.base_url, cause);
        if let Some(key) = &self.api_key {
            message = key.redact(&message);
        }
        ApiError::new(failure, op.name, request.to_string(), message)
    }
}

/// The reqwest client and what it is built from.
struct LazyHttp {
    headers: reqwest::header::HeaderMap,
    timeout: Duration,
    connect_timeout: Duration,
    client: OnceLock<Result<reqwest::blocking::Client, String>>,
}

impl LazyHttp {
    fn get(&self) -> Result<&reqwest::blocking::Client, &str> {
        self.client
            .get_or_init(|| {
                reqwest::blocking::Client::builder()
                    .default_headers(self.headers.clone())
                    .timeout(self.timeout)
                    .connect_timeout(self.connect_timeout)
                    .user_agent(USER_AGENT)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

const USER_AGENT: &str = concat!("barrack/", env!("CARGO_PKG_VERSION"));

/// An answer as either transport hands it over.
struct Reply {
    status: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

/// Why an exchange produced no answer.
#[derive(Debug)]
enum Trouble {
    /// The request's time ran out.
    Timeout,
    /// No answer: `cause` is the root cause, as reqwest's error chain ends.
    Transport { timeout: bool, cause: String },
    /// The answer is larger than [`MAX_BODY`].
    TooLarge(usize),
    /// The HTTP client could not be built.
    Setup(String),
}

impl Trouble {
    fn from_reqwest(err: &reqwest::Error) -> Trouble {
        let mut cause: &dyn std::error::Error = err;
        while let Some(next) = cause.source() {
            cause = next;
        }
        Trouble::Transport {
            timeout: err.is_timeout(),
            cause: cause.to_string(),
        }
    }
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
        // Absurdly large values are clamped by the backoff cap; they must not panic here.
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX));
    }
    let when = jiff::fmt::rfc2822::parse(text).ok()?;
    let now = jiff::Timestamp::now();
    let delta = when.timestamp().duration_since(now);
    Some(Duration::try_from(delta).unwrap_or(Duration::ZERO))
}

fn new_idempotency_key() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// HTTP/1.1 over std sockets for a plain `http://` base URL (the simulator, a local proxy), in
/// the calling thread, with a keep-alive pool shared by the client's clones (fleet threads).
///
/// It sends what reqwest sends (Host, User-Agent, Accept, Authorization, a JSON body with
/// Content-Type and Content-Length, Idempotency-Key) and keeps reqwest's semantics: one deadline
/// for the whole exchange, a connect timeout, an idle connection closed by the server is never
/// reused, a request written on a connection that then closes is an error (never silently sent
/// again: `--drop-rate` relies on that), and the same root causes in messages. Anything it does
/// not handle goes to reqwest instead: proxies (the environment names one), URLs that reqwest
/// would normalise, and redirects.
mod plain {
    use super::{Method, Reply, Trouble, MAX_BODY, USER_AGENT};
    use std::io::{self, Read, Write};
    use std::net::{Ipv4Addr, Ipv6Addr, TcpStream, ToSocketAddrs};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// An answer head larger than this is refused (hyper's default limit is close).
    const MAX_HEAD: usize = 64 << 10;
    /// Idle connections are closed after this long, as reqwest's pool does.
    const IDLE: Duration = Duration::from_secs(90);
    /// A connection idle for less than this is reused without checking that it is still open.
    pub(super) const RECENT: Duration = Duration::from_millis(100);
    /// The read buffer a pooled connection keeps between exchanges.
    const BUFFER: usize = 16 << 10;

    pub(super) struct Origin {
        host: String,
        port: u16,
        /// Length of `http://authority` in the base URL: the request target is what follows.
        origin_len: usize,
        /// Host, User-Agent, Accept and Authorization lines, sent with every request.
        fixed: Vec<u8>,
        timeout: Duration,
        connect_timeout: Duration,
        idle: Mutex<Vec<Conn>>,
    }

    struct Conn {
        stream: TcpStream,
        buf: Vec<u8>,
        /// Bytes of `buf` read from the socket and not yet consumed.
        end: usize,
        out: Vec<u8>,
        last_used: Instant,
        /// The socket's read timeout is not the full request timeout.
        timeout_changed: bool,
        /// Time may have gone before the answer's first read (a connect, a large body): check
        /// the deadline then too.
        spent: bool,
    }

    impl Origin {
        /// The origin for a base URL, or `None` when reqwest must carry its requests.
        pub(super) fn for_base_url(
            base: &str,
            authorization: Option<&str>,
            timeout: Duration,
            connect_timeout: Duration,
        ) -> Option<Origin> {
            if proxy_configured() || timeout.is_zero() || connect_timeout.is_zero() {
                return None;
            }
            let scheme = base.get(..7)?;
            if !scheme.eq_ignore_ascii_case("http://") {
                return None;
            }
            let rest = &base[7..];
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            if !plain_target(path) {
                return None;
            }
            let (host, port, host_header) = parse_authority(authority)?;
            let mut fixed =
                format!("Host: {host_header}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\n");
            if let Some(value) = authorization {
                fixed.push_str("Authorization: ");
                fixed.push_str(value);
                fixed.push_str("\r\n");
            }
            Some(Origin {
                host,
                port,
                origin_len: 7 + authority.len(),
                fixed: fixed.into_bytes(),
                timeout,
                connect_timeout,
                idle: Mutex::new(Vec::new()),
            })
        }

        /// The request target of a full URL, if this transport can send it exactly as reqwest
        /// would (nothing that URL normalisation would rewrite).
        pub(super) fn target<'u>(&self, url: &'u str) -> Option<&'u str> {
            let target = url.get(self.origin_len..)?;
            (target.starts_with('/') && plain_target(target)).then_some(target)
        }

        /// Send one request and read its answer; `Ok(None)` for a redirect (reqwest follows it).
        /// `head` is told the `X-Sim-Speed` and `X-Sim-Time` headers before the body is read.
        pub(super) fn exchange(
            &self,
            method: Method,
            target: &str,
            body: Option<&[u8]>,
            idempotency_key: Option<&str>,
            head: impl FnOnce(Option<&str>, Option<&str>),
        ) -> Result<Option<Reply>, Trouble> {
            let now = Instant::now();
            let deadline = now + self.timeout;
            let (mut conn, mut reused) = match self.pooled(now) {
                Some(conn) => (conn, true),
                None => (self.connect(deadline)?, false),
            };
            let out = &mut conn.out;
            out.clear();
            out.extend_from_slice(method.as_str().as_bytes());
            out.push(b' ');
            out.extend_from_slice(target.as_bytes());
            out.extend_from_slice(b" HTTP/1.1\r\n");
            out.extend_from_slice(&self.fixed);
            if let Some(key) = idempotency_key {
                out.extend_from_slice(b"Idempotency-Key: ");
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            if let Some(body) = body {
                out.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
                out.extend_from_slice(body.len().to_string().as_bytes());
                out.extend_from_slice(b"\r\n\r\n");
                out.extend_from_slice(body);
            } else {
                out.extend_from_slice(b"\r\n");
            }
            while let Err(e) = conn.stream.write_all(&conn.out) {
                // The server closed a pooled connection as it was taken: nothing was received,
                // so the request goes on a new connection (as hyper retries a canceled request).
                if !reused
                    || e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::TimedOut
                {
                    return Err(io_trouble(&e));
                }
                let mut fresh = self.connect(deadline)?;
                std::mem::swap(&mut fresh.out, &mut conn.out);
                conn = fresh;
                reused = false;
            }
            conn.spent = !reused || conn.out.len() > 16 << 10;
            let answer = conn.read_answer(deadline, self.timeout, head)?;
            match answer {
                Answer::Reply { reply, reusable } => {
                    if reusable {
                        self.put_back(conn);
                    }
                    Ok(Some(reply))
                }
                Answer::Redirect => Ok(None),
            }
        }

        /// A pooled connection the server has not closed. One idle for a while is checked
        /// without blocking (reqwest's pool notices a closed idle connection too, and never
        /// reuses it); one that answered moments ago is taken as it is, since servers close idle
        /// connections after seconds, and the check costs three system calls.
        fn pooled(&self, now: Instant) -> Option<Conn> {
            loop {
                let conn = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()?;
                let idle = now.saturating_duration_since(conn.last_used);
                if idle < RECENT || (idle < IDLE && conn.is_open()) {
                    return Some(conn);
                }
            }
        }

        fn put_back(&self, mut conn: Conn) {
            conn.last_used = Instant::now();
            if conn.buf.len() > BUFFER {
                conn.buf.truncate(BUFFER);
                conn.buf.shrink_to_fit();
            }
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(conn);
        }

        fn connect(&self, deadline: Instant) -> Result<Conn, Trouble> {
            let addrs = (self.host.as_str(), self.port)
                .to_socket_addrs()
                .map_err(|e| io_trouble(&e))?;
            let mut last = None;
            for addr in addrs {
                let left = deadline.saturating_duration_since(Instant::now());
                let limit = self.connect_timeout.min(left);
                if limit.is_zero() {
                    return Err(Trouble::Timeout);
                }
                match TcpStream::connect_timeout(&addr, limit) {
                    Ok(stream) => {
                        let ready = stream
                            .set_nodelay(true)
                            .and_then(|()| stream.set_read_timeout(Some(self.timeout)))
                            .and_then(|()| stream.set_write_timeout(Some(self.timeout)));
                        if let Err(e) = ready {
                            return Err(io_trouble(&e));
                        }
                        return Ok(Conn {
                            stream,
                            buf: vec![0; BUFFER],
                            end: 0,
                            out: Vec::with_capacity(512),
                            last_used: Instant::now(),
                            timeout_changed: false,
                            spent: false,
                        });
                    }
                    Err(e) => last = Some(e),
                }
            }
            Err(match last {
                Some(e) => io_trouble(&e),
                None => Trouble::Transport {
                    timeout: false,
                    cause: format!("no address found for {}", self.host),
                },
            })
        }
    }

    enum Answer {
        Reply { reply: Reply, reusable: bool },
        Redirect,
    }

    /// What the head of an answer says about its body and the connection.
    struct Head {
        status: u16,
        len: usize,
        content_length: Option<usize>,
        chunked: bool,
        close: bool,
        redirect: bool,
        retry_after: Option<Duration>,
    }

    impl Conn {
        fn is_open(&self) -> bool {
            if self.stream.set_nonblocking(true).is_err() {
                return false;
            }
            let mut byte = [0u8; 1];
            // Nothing to read is the only healthy state: EOF is a close, bytes are garbage.
            let open = matches!(self.stream.peek(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
            open && self.stream.set_nonblocking(false).is_ok()
        }

        /// Read more bytes into `buf` (growing it up to `limit`); EOF is an error.
        fn fill(&mut self, deadline: Instant, full: Duration, limit: usize) -> Result<(), Trouble> {
            if self.fill_or_eof(deadline, full, limit)? {
                Ok(())
            } else {
                Err(Trouble::Transport {
                    timeout: false,
                    cause: "connection closed before message completed".into(),
                })
            }
        }

        /// Read more bytes into `buf`: `false` at the end of the connection.
        fn fill_or_eof(
            &mut self,
            deadline: Instant,
            full: Duration,
            limit: usize,
        ) -> Result<bool, Trouble> {
            if self.end == self.buf.len() {
                if self.buf.len() >= limit {
                    return Err(Trouble::Transport {
                        timeout: false,
                        cause: "the answer's head is too large".into(),
                    });
                }
                let grown = (self.buf.len() * 2).min(limit);
                self.buf.resize(grown, 0);
            }
            // The socket's timeout is the full request timeout, right for the first read of an
            // answer; later reads get what is left of the request's time.
            if self.end > 0 || self.timeout_changed || self.spent {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Trouble::Timeout);
                }
                if left + Duration::from_millis(5) < full || self.timeout_changed {
                    self.stream
                        .set_read_timeout(Some(left))
                        .map_err(|e| io_trouble(&e))?;
                    self.timeout_changed = true;
                }
            }
            loop {
                match self.stream.read(&mut self.buf[self.end..]) {
                    Ok(0) => return Ok(false),
                    Ok(n) => {
                        self.end += n;
                        return Ok(true);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io_trouble(&e)),
                }
            }
        }

        fn read_answer(
            &mut self,
            deadline: Instant,
            full: Duration,
            on_head: impl FnOnce(Option<&str>, Option<&str>),
        ) -> Result<Answer, Trouble> {
            if self.timeout_changed {
                self.stream
                    .set_read_timeout(Some(full))
                    .map_err(|e| io_trouble(&e))?;
                self.timeout_changed = false;
            }
            self.end = 0;
            let mut on_head = Some(on_head);
            let head = loop {
                let head = self.parse_head(&mut on_head)?;
                match head {
                    Some(head) if (100..200).contains(&head.status) && head.status != 101 => {
                        // An interim answer (100 Continue): the real one follows.
                        self.buf.copy_within(head.len..self.end, 0);
                        self.end -= head.len;
                    }
                    Some(head) => break head,
                    None => self.fill(deadline, full, MAX_HEAD)?,
                }
            };
            if head.redirect {
                return Ok(Answer::Redirect);
            }
            let mut reusable = !head.close;
            let no_body = matches!(head.status, 101 | 204 | 304);
            let body = if no_body {
                reusable &= self.end == head.len;
                Vec::new()
            } else if head.chunked {
                let body = self.read_chunked(head.len, deadline, full)?;
                reusable &= self.end == 0;
                body
            } else if let Some(len) = head.content_length {
                if len > MAX_BODY {
                    return Err(Trouble::TooLarge(len));
                }
                let total = head.len + len;
                while self.end < total {
                    self.fill(deadline, full, total)?;
                }
                reusable &= self.end == total;
                self.buf[head.len..total].to_vec()
            } else {
                // No length: the body runs to the end of the connection.
                reusable = false;
                loop {
                    if self.end - head.len > MAX_BODY {
                        return Err(Trouble::TooLarge(self.end - head.len));
                    }
                    if !self.fill_or_eof(deadline, full, head.len + MAX_BODY + 1)? {
                        break;
                    }
                }
                self.buf[head.len..self.end].to_vec()
            };
            self.end = 0;
            Ok(Answer::Reply {
                reply: Reply {
                    status: head.status,
                    retry_after: head.retry_after,
                    body,
                },
                reusable,
            })
        }

        /// The head, if `buf` holds all of it.
        fn parse_head(
            &mut self,
            on_head: &mut Option<impl FnOnce(Option<&str>, Option<&str>)>,
        ) -> Result<Option<Head>, Trouble> {
            let bytes = &self.buf[..self.end];
            let Some(len) = head_length(bytes) else {
                return Ok(None);
            };
            let invalid = |why: &str| Trouble::Transport {
                timeout: false,
                cause: format!("invalid HTTP response: {why}"),
            };
            let mut lines = bytes[..len]
                .split(|&b| b == b'\n')
                .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
            let (minor, status) = status_line(lines.next().unwrap_or_default())
                .ok_or_else(|| invalid("bad status line"))?;
            let mut head = Head {
                status,
                len,
                content_length: None,
                chunked: false,
                close: minor != 1,
                redirect: false,
                retry_after: None,
            };
            let (mut speed, mut time, mut location) = (None, None, false);
            let mut transfer_encoding = false;
            let mut count = 0;
            for line in lines.filter(|line| !line.is_empty()) {
                count += 1;
                if count > MAX_HEADERS {
                    return Err(invalid("too many headers"));
                }
                let header = header_line(line).ok_or_else(|| invalid("bad header line"))?;
                let name = header.name;
                // Only the headers read below are decoded.
                let text = || std::str::from_utf8(header.value).ok();
                if name.eq_ignore_ascii_case(b"content-length") {
                    let parsed = text().and_then(|v| v.trim().parse::<usize>().ok());
                    match (parsed, head.content_length) {
                        (Some(n), None) => head.content_length = Some(n),
                        (Some(n), Some(m)) if n == m => {}
                        _ => {
                            return Err(Trouble::Transport {
                                timeout: false,
                                cause: "invalid HTTP response: bad Content-Length".into(),
                            })
                        }
                    }
                } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                    transfer_encoding = true;
                    head.chunked = text().is_some_and(|v| {
                        v.rsplit(',')
                            .next()
                            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
                    });
                } else if name.eq_ignore_ascii_case(b"connection") {
                    let value = text();
                    let has = |word: &str| {
                        value.is_some_and(|v| {
                            v.split(',').any(|t| t.trim().eq_ignore_ascii_case(word))
                        })
                    };
                    if has("close") {
                        head.close = true;
                    } else if has("keep-alive") && minor == 0 {
                        head.close = false;
                    }
                } else if name.eq_ignore_ascii_case(b"x-sim-speed") {
                    speed = text();
                } else if name.eq_ignore_ascii_case(b"x-sim-time") {
                    time = text();
                } else if name.eq_ignore_ascii_case(b"retry-after") {
                    head.retry_after = text().and_then(super::parse_retry_after);
                } else if name.eq_ignore_ascii_case(b"location") {
                    location = true;
                }
            }
            head.redirect = location && matches!(status, 301 | 302 | 303 | 307 | 308);
            if transfer_encoding {
                // The transfer coding frames the body (chunked), or the connection's end does.
                head.content_length = None;
                head.close |= !head.chunked;
            }
            if !(100..200).contains(&status) && !head.redirect {
                if let Some(f) = on_head.take() {
                    f(speed, time);
                }
            }
            Ok(Some(head))
        }

        /// A chunked body that starts at `buf[start..]`; leaves `end` at the unread rest.
        fn read_chunked(
            &mut self,
            start: usize,
            deadline: Instant,
            full: Duration,
        ) -> Result<Vec<u8>, Trouble> {
            let bad = || Trouble::Transport {
                timeout: false,
                cause: "invalid HTTP response: bad chunked body".into(),
            };
            let mut body = Vec::new();
            // Keep the buffer small: move what is unread to its front.
            self.buf.copy_within(start..self.end, 0);
            self.end -= start;
            let limit = MAX_HEAD.max(BUFFER);
            loop {
                let line_end = loop {
                    if let Some(i) = self.buf[..self.end].windows(2).position(|w| w == b"\r\n") {
                        break i;
                    }
                    self.fill(deadline, full, limit)?;
                };
                let line = std::str::from_utf8(&self.buf[..line_end]).map_err(|_| bad())?;
                let size = line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size, 16).map_err(|_| bad())?;
                let consumed = line_end + 2;
                self.buf.copy_within(consumed..self.end, 0);
                self.end -= consumed;
                if size == 0 {
                    // Trailers, up to the blank line.
                    loop {
                        let line_end = loop {
                            if let Some(i) =
                                self.buf[..self.end].windows(2).position(|w| w == b"\r\n")
                            {
                                break i;
                            }
                            self.fill(deadline, full, limit)?;
                        };
                        self.buf.copy_within(line_end + 2..self.end, 0);
                        self.end -= line_end + 2;
                        if line_end == 0 {
                            return Ok(body);
                        }
                    }
                }
                if body.len() + size > MAX_BODY {
                    return Err(Trouble::TooLarge(body.len() + size));
                }
                let mut left = size + 2;
                while left > 0 {
                    if self.end == 0 {
                        self.fill(deadline, full, limit)?;
                    }
                    let take = left.min(self.end);
                    let data = take.min(left.saturating_sub(2));
                    body.extend_from_slice(&self.buf[..data]);
                    self.buf.copy_within(take..self.end, 0);
                    self.end -= take;
                    left -= take;
                }
            }
        }
    }

    /// hyper's default limit on response headers.
    const MAX_HEADERS: usize = 100;

    /// The length of a complete head (through its blank line) at the start of `bytes`.
    /// Lines may end in CRLF or a bare LF, as hyper (httparse) accepts.
    fn head_length(bytes: &[u8]) -> Option<usize> {
        let mut start = 0;
        while let Some(i) = bytes[start..].iter().position(|&b| b == b'\n') {
            let line = &bytes[start..start + i];
            if (line.is_empty() || line == b"\r") && start > 0 {
                return Some(start + i + 1);
            }
            start += i + 1;
        }
        None
    }

    /// `HTTP/1.x NNN reason` → (x, NNN).
    fn status_line(line: &[u8]) -> Option<(u8, u16)> {
        let rest = line.strip_prefix(b"HTTP/1.")?;
        let (&minor, rest) = rest.split_first()?;
        if !minor.is_ascii_digit() {
            return None;
        }
        let rest = rest.strip_prefix(b" ")?;
        let code = rest.get(..3)?;
        if !code.iter().all(u8::is_ascii_digit) || rest.get(3).is_some_and(|&b| b != b' ') {
            return None;
        }
        let status = std::str::from_utf8(code).ok()?.parse::<u16>().ok()?;
        (100..=999)
            .contains(&status)
            .then_some((minor - b'0', status))
    }

    struct Header<'a> {
        /// A token: ASCII.
        name: &'a [u8],
        value: &'a [u8],
    }

    /// `name: value`, the name a token, the value without surrounding whitespace.
    fn header_line(line: &[u8]) -> Option<Header<'_>> {
        let colon = line.iter().position(|&b| b == b':')?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let token = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
        if name.is_empty() || !name.iter().all(token) {
            return None;
        }
        let blank = |b: &u8| *b == b' ' || *b == b'\t';
        let first = value.iter().position(|b| !blank(b)).unwrap_or(value.len());
        let last = value
            .iter()
            .rposition(|b| !blank(b))
            .map_or(first, |i| i + 1);
        let value = &value[first..last.max(first)];
        if value.iter().any(|&b| b == b'\r' || b == 0) {
            return None;
        }
        Some(Header { name, value })
    }

    fn io_trouble(e: &io::Error) -> Trouble {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Trouble::Timeout,
            _ => Trouble::Transport {
                timeout: false,
                cause: e.to_string(),
            },
        }
    }

    /// reqwest reads proxies from the environment; with one set, reqwest carries the requests.
    fn proxy_configured() -> bool {
        ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
    }

    /// A path (and query) that URL parsing leaves exactly as it is: only characters it does not
    /// encode, at most one `?`, and no `.`/`..` segment (it would remove those).
    fn plain_target(target: &str) -> bool {
        let bytes = target.as_bytes();
        let clean = bytes.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.'
                        | b'_'
                        | b'~'
                        | b'%'
                        | b'/'
                        | b'?'
                        | b'&'
                        | b'='
                        | b':'
                        | b'@'
                        | b'!'
                        | b'$'
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                )
        });
        if !clean {
            return false;
        }
        let mut parts = target.splitn(2, '?');
        let path = parts.next().unwrap_or("");
        let single_query = parts.next().is_none_or(|q| !q.contains('?'));
        single_query && !path.split('/').any(is_dot_segment)
    }

    /// `.` or `..`, with any dot written as `%2e`.
    fn is_dot_segment(segment: &str) -> bool {
        if segment.is_empty() || segment.len() > 6 {
            return false;
        }
        let mut rest = segment.as_bytes();
        let mut dots = 0;
        while !rest.is_empty() {
            if rest[0] == b'.' {
                rest = &rest[1..];
            } else if rest.len() >= 3
                && rest[0] == b'%'
                && rest[1] == b'2'
                && rest[2] | 0x20 == b'e'
            {
                rest = &rest[3..];
            } else {
                return false;
            }
            dots += 1;
        }
        dots <= 2
    }

    /// `host[:port]` → (host to connect to, port, Host header), for hosts URL parsing keeps as
    /// written: lowercase names, dotted-quad IPv4, bracketed IPv6.
    fn parse_authority(authority: &str) -> Option<(String, u16, String)> {
        if authority.contains('@') {
            return None;
        }
        let (host, port_text) = if let Some(rest) = authority.strip_prefix('[') {
            let (v6, after) = rest.split_once(']')?;
            let ip: Ipv6Addr = v6.parse().ok()?;
            if ip.to_string() != v6 {
                return None;
            }
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':')?),
            };
            (v6.to_string(), port)
        } else {
            let (host, port) = match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            let valid = !host.is_empty()
                && host.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                });
            if !valid {
                return None;
            }
            // A name whose last label is numeric is an IPv4 address to URL parsing: only the
            // canonical dotted quad is kept as written.
            let last = host.trim_end_matches('.').rsplit('.').next().unwrap_or("");
            if last.bytes().all(|b| b.is_ascii_digit()) {
                let ip: Ipv4Addr = host.parse().ok()?;
                if ip.to_string() != host {
                    return None;
                }
            }
            (host.to_string(), port)
        };
        let port = match port_text {
            None => 80,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
        };
        let shown = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let header = if port == 80 {
            shown
        } else {
            format!("{shown}:{port}")
        };
        Some((host, port, header))
    }

    #[cfg(test)]
    mod head_tests {
        use super::*;

        #[test]
        fn heads_parse_as_hyper_reads_them() {
            let head = b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\nbody";
            assert_eq!(head_length(head), Some(head.len() - 4));
            assert_eq!(head_length(b"HTTP/1.1 200 OK\nA: 1\n\nbody"), Some(22));
            assert_eq!(head_length(b"HTTP/1.1 200 OK\r\nA: 1\r\n"), None);
            assert_eq!(status_line(b"HTTP/1.1 404 Not Found"), Some((1, 404)));
            assert_eq!(status_line(b"HTTP/1.0 200"), Some((0, 200)));
            for bad in [
                &b"HTTP/2 200 OK"[..],
                b"HTTP/1.1 20 OK",
                b"HTTP/1.1 2000",
                b"http/1.1 200",
                b"",
            ] {
                assert_eq!(status_line(bad), None, "{bad:?}");
            }
            let h = header_line(b"X-Sim-Speed: \t 1000 ").unwrap();
            assert_eq!((h.name, h.value), (&b"X-Sim-Speed"[..], &b"1000"[..]));
            assert_eq!(header_line(b"Empty:").unwrap().value, b"");
            assert!(header_line(b" folded: x").is_none());
            assert!(header_line(b"no colon").is_none());
            assert!(header_line(b"bad name: x").is_none());
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn base_urls_that_reqwest_would_rewrite_go_to_reqwest() {
            let origin = |url: &str| {
                Origin::for_base_url(url, None, Duration::from_secs(1), Duration::from_secs(1))
            };
            let o = origin("http://127.0.0.1:8787").unwrap();
            assert_eq!((o.host.as_str(), o.port), ("127.0.0.1", 8787));
            assert!(String::from_utf8_lossy(&o.fixed).contains("Host: 127.0.0.1:8787\r\n"));
            let o = origin("http://localhost/api").unwrap();
            assert_eq!(o.port, 80);
            assert!(String::from_utf8_lossy(&o.fixed).contains("Host: localhost\r\n"));
            assert_eq!(
                o.target("http://localhost/api/balance/?a=1"),
                Some("/api/balance/?a=1")
            );
            assert_eq!(o.target("http://localhost/api/instances/../"), None);
            assert_eq!(o.target("http://localhost/api/x/%2E%2e/"), None);
            assert_eq!(o.target("http://localhost/api/a b/"), None);
            let o = origin("http://[::1]:9000").unwrap();
            assert_eq!(o.host, "::1");
            assert!(String::from_utf8_lossy(&o.fixed).contains("Host: [::1]:9000\r\n"));
            for url in [
                "https://barrack.ai/api",
                "http://user:pw@host",
                "http://Example.com",
                "http://127.1:80",
                "http://host:",
                "http://host:99999",
                "http://host/a b",
                "http://host/./x",
                "http://[::0001]:80",
            ] {
                assert!(origin(url).is_none(), "{url}");
            }
        }
    }
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

    /// A scripted HTTP server: answers each request head it reads with the next canned answer
    /// (closing the connection after it when asked), and counts connections.
    struct Scripted {
        url: String,
        connections: Arc<AtomicU64>,
    }

    fn scripted(answers: Vec<(&'static str, bool)>) -> Scripted {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicU64::new(0));
        let counter = connections.clone();
        let answers = Arc::new(std::sync::Mutex::new(answers.into_iter()));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                counter.fetch_add(1, Ordering::SeqCst);
                let answers = answers.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut writer = stream;
                    loop {
                        let mut line = String::new();
                        loop {
                            line.clear();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                        }
                        let next = answers.lock().unwrap().next();
                        let Some((answer, close)) = next else { return };
                        if !answer.is_empty() {
                            let _ = writer.write_all(answer.as_bytes());
                        }
                        if close {
                            return;
                        }
                    }
                });
            }
        });
        Scripted { url, connections }
    }

    fn test_client(url: &str, timeout: Duration) -> Client {
        let mut settings = ClientSettings::new(url, ApiKey::new("k"));
        settings.retry.attempts = 1;
        settings.timeout = timeout;
        let client = Client::new(settings).unwrap();
        assert!(
            client.plain.is_some(),
            "plain http goes through std sockets"
        );
        client
    }

    const OK: &str =
        "HTTP/1.1 200 OK\r\nContent-Length: 34\r\n\r\n{\"success\":true,\"data\":{\"n\":1}} \r\n";

    #[test]
    fn plain_http_reads_every_framing_and_reuses_connections() {
        let balance = find("balance").unwrap();
        let args = Args::new();
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Sim-Speed: 250\r\n\r\n\
                       10\r\n{\"success\":true,\r\n11;ext=1\r\n\"data\":{\"n\":2}}  \r\n0\r\nTrailer: x\r\n\r\n";
        let server = scripted(vec![
            (OK, false),
            (chunked, false),
            ("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{\"n\":3}", true),
            ("HTTP/1.0 200 OK\r\n\r\n{\"n\":4}", true),
            (OK, false),
        ]);
        let client = test_client(&server.url, Duration::from_secs(5));
        assert_eq!(client.call(balance, &args).unwrap()["n"], 1);
        assert_eq!(client.call(balance, &args).unwrap()["n"], 2);
        assert_eq!(client.speed(), 250.0);
        assert_eq!(server.connections.load(Ordering::SeqCst), 1, "kept alive");
        assert_eq!(client.call(balance, &args).unwrap()["n"], 3);
        assert_eq!(client.call(balance, &args).unwrap()["n"], 4);
        assert_eq!(client.call(balance, &args).unwrap()["n"], 1);
        assert_eq!(
            server.connections.load(Ordering::SeqCst),
            3,
            "closed ones not reused"
        );
    }

    #[test]
    fn plain_http_reads_large_bodies_and_reports_truncation() {
        let balance = find("balance").unwrap();
        let args = Args::new();
        let items = vec!["x".repeat(1000); 200];
        let body = serde_json::json!({"success": true, "data": items}).to_string();
        let large: &'static str = Box::leak(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let server = scripted(vec![
            (large, false),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"succ",
                true,
            ),
        ]);
        let client = test_client(&server.url, Duration::from_secs(5));
        let data = client.call(balance, &args).unwrap();
        assert_eq!(data.as_array().unwrap().len(), 200);
        let err = client.call(balance, &args).unwrap_err();
        assert_eq!(err.failure, Failure::Unreachable);
        assert!(
            err.message
                .contains("connection closed before message completed"),
            "{err:?}"
        );
    }

    #[test]
    fn plain_http_times_out_and_never_reuses_a_closed_connection() {
        let balance = find("balance").unwrap();
        let args = Args::new();
        // The first connection answers once and closes without saying so; the second stalls.
        let server = scripted(vec![(OK, true), (OK, false), ("", false)]);
        let client = test_client(&server.url, Duration::from_millis(300));
        client.call(balance, &args).unwrap();
        std::thread::sleep(plain::RECENT + Duration::from_millis(50));
        client.call(balance, &args).unwrap();
        assert_eq!(server.connections.load(Ordering::SeqCst), 2);
        let started = Instant::now();
        let err = client.call(balance, &args).unwrap_err();
        assert_eq!(err.failure, Failure::Timeout, "{err:?}");
        assert!(err.message.contains("operation timed out"), "{err:?}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(3),
            "{took:?}"
        );
    }

    #[test]
    fn plain_http_hands_redirects_to_reqwest() {
        let balance = find("balance").unwrap();
        let args = Args::new();
        let server = scripted(vec![
            (
                "HTTP/1.1 302 Found\r\nLocation: /moved/\r\nContent-Length: 0\r\n\r\n",
                false,
            ),
            (
                "HTTP/1.1 302 Found\r\nLocation: /moved/\r\nContent-Length: 0\r\n\r\n",
                false,
            ),
            (OK, false),
        ]);
        let client = test_client(&server.url, Duration::from_secs(5));
        assert_eq!(client.call(balance, &args).unwrap()["n"], 1);
    }

    #[test]
    fn refused_connections_read_as_before() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let client = test_client(&url, Duration::from_secs(5));
        let err = client
            .call(find("balance").unwrap(), &Args::new())
            .unwrap_err();
        assert_eq!(err.failure, Failure::Unreachable);
        assert!(err.message.starts_with(&format!("{url} (")), "{err:?}");
        assert!(err.message.contains("refused"), "{err:?}");
    }
}
