//! The API client: one connection pool for the whole run, Bearer auth, and the layers around
//! each exchange — request building ([`super::request`]), the envelope ([`super::envelope`]),
//! pagination ([`super::paginate`]), retries within a time budget ([`super::retry`]), finding
//! out an unknown outcome ([`super::outcome`]), the run's deadline, and redaction of the key
//! from everything a server sends back. It returns data and never prints; observers (`-v`,
//! `:explain`, the audit log) are told of each exchange through [`Observer`].

use super::catalog::{Catalog, Method, Op};
use super::envelope::Page;
use super::error::{ApiError, Failure};
use super::request::Request;
use super::retry::{Backoff, RetryPolicy};
use super::transport::{Transport, Trouble, MAX_BODY};
use super::trust::{pem_certificates, MachineRoots};
use crate::secret::ApiKey;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Waits the client makes between tries, handed to a clock of the caller's choosing (the
/// simulated clock of `barrack test`). It receives the wait in server time, unscaled.
pub type Sleep = Arc<dyn Fn(Duration) + Send + Sync>;

/// Everything needed to build a client.
#[derive(Clone)]
pub struct ClientSettings {
    /// The API's base URL, e.g. `https://barrack.ai/api` or a simulator's `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The key sent as `Authorization: Bearer`; `None` sends no key (the API answers 401).
    pub api_key: Option<ApiKey>,
    /// The operations this client knows (the built-in table, or an override).
    pub catalog: Catalog,
    /// How failed calls are retried.
    pub retry: RetryPolicy,
    /// Per-request timeout (each try).
    pub timeout: Duration,
    /// The end of the run (`--timeout`): no request and no backoff goes past it.
    pub deadline: Option<Instant>,
    /// The `--timeout` the deadline came from, for the message when it is reached.
    pub time_limit: Option<Duration>,
    /// Extra trusted roots, PEM (several certificates per entry are fine), on top of the
    /// bundled webpki roots.
    pub ca_certs: Vec<Vec<u8>>,
    /// The machine's roots (`SSL_CERT_FILE`, `SSL_CERT_DIR`): read only if a server's issuer is
    /// not among the bundled roots and `ca_certs` (see [`MachineRoots`]).
    pub machine_roots: MachineRoots,
    /// When set, backoff waits call it instead of sleeping the thread.
    pub sleep: Option<Sleep>,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .field("ca_certs", &self.ca_certs.len())
            .field("machine_roots", &self.machine_roots)
            .finish_non_exhaustive()
    }
}

impl ClientSettings {
    /// Settings for `base_url` and `api_key`, with the built-in catalog and default retries.
    pub fn new(base_url: impl Into<String>, api_key: Option<ApiKey>) -> Self {
        ClientSettings {
            base_url: base_url.into(),
            api_key,
            catalog: Catalog::builtin(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
            deadline: None,
            time_limit: None,
            ca_certs: Vec::new(),
            machine_roots: MachineRoots::default(),
            sleep: None,
        }
    }
}

/// One finished exchange, as observers see it. Holds no secret: the key is never in it.
#[derive(Debug)]
pub struct Exchange<'a> {
    /// The operation called.
    pub op: &'static Op,
    /// Its HTTP method.
    pub method: Method,
    /// Full URL with query, as sent.
    pub url: &'a str,
    /// The JSON body sent, if any.
    pub body: Option<&'a Value>,
    /// 0 when there was no answer.
    pub status: u16,
    /// Which try this was (1 for the first).
    pub attempt: u32,
    /// How long the exchange took.
    pub elapsed: Duration,
    /// The server's request id, when it sent one.
    pub request_id: Option<&'a str>,
}

/// Told of every HTTP exchange (each retry included).
pub type Observer = Arc<dyn Fn(&Exchange<'_>) + Send + Sync>;

/// A call's arguments: path placeholders by name, everything else goes to the body (or, for
/// GET, the query string).
pub type Args = Map<String, Value>;

/// A successful call: the data, and the status and request id of the last answer.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The `data` of the answer's envelope.
    pub data: Value,
    /// The HTTP status.
    pub status: u16,
    /// The server's request id, for support.
    pub request_id: Option<String>,
}

/// An HTTP client for the Barrack API: one connection pool per client, retries, pagination and the envelope handled; cheap to clone (clones share the pool).
#[derive(Clone)]
pub struct Client {
    transport: Arc<Transport>,
    base_url: String,
    api_key: Option<ApiKey>,
    catalog: Catalog,
    retry: RetryPolicy,
    timeout: Duration,
    deadline: Option<Instant>,
    time_limit: Option<Duration>,
    sleep: Option<Sleep>,
    /// `X-Sim-Speed` / `X-Sim-Time` are believed only from a loopback server (the simulator a
    /// run started, or one on this machine): an arbitrary server must not speed up waiters.
    sim_clock_trusted: bool,
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

impl Client {
    /// A client for `settings`; nothing is connected until the first call.
    pub fn new(settings: ClientSettings) -> Result<Client, ApiError> {
        let invalid = |why: String| ApiError::new(Failure::Invalid, "client", String::new(), why);
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(key) = &settings.api_key {
            let mut value =
                reqwest::header::HeaderValue::from_str(&format!("Bearer {}", key.expose()))
                    .map_err(|_| {
                        invalid(
                            "the API key contains characters that cannot be sent in a header"
                                .into(),
                        )
                    })?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let mut roots = Vec::new();
        for (i, pem) in settings.ca_certs.iter().enumerate() {
            roots.extend(
                pem_certificates(pem)
                    .map_err(|why| invalid(format!("trusted root #{}: {why}", i + 1)))?,
            );
        }
        let base_url = settings.base_url.trim_end_matches('/').to_string();
        let connect_timeout = Duration::from_secs(10).min(settings.timeout);
        Ok(Client {
            transport: Arc::new(Transport::new(
                headers,
                connect_timeout,
                roots,
                settings.machine_roots,
            )),
            sim_clock_trusted: is_loopback(&base_url),
            base_url,
            api_key: settings.api_key,
            catalog: settings.catalog,
            retry: settings.retry,
            timeout: settings.timeout,
            deadline: settings.deadline,
            time_limit: settings.time_limit,
            sleep: settings.sleep,
            speed: Arc::new(AtomicU64::new(1f64.to_bits())),
            server_clock: Arc::new(std::sync::Mutex::new(None)),
            observers: Vec::new(),
        })
    }

    /// Also call `observer` after every exchange (e.g. to log or count requests).
    pub fn with_observer(mut self, observer: Observer) -> Client {
        self.observers.push(observer);
        self
    }

    /// The key, as its redacting wrapper (for filtering history and logs).
    pub fn api_key(&self) -> Option<&ApiKey> {
        self.api_key.as_ref()
    }

    /// The base URL calls go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The operations this client knows.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The clock speed the server announced (`X-Sim-Speed`), 1.0 for the real service.
    pub fn speed(&self) -> f64 {
        f64::from_bits(self.speed.load(Ordering::Relaxed))
    }

    /// Set the server's clock before any request has told it: `--sim` knows the in-process
    /// simulator's clock from the start, so `now()` and `sleep()` follow it from the first line.
    pub fn set_server_clock(&self, speed: f64, epoch_seconds: f64) {
        self.saw_clock(Some(speed), Some(epoch_seconds));
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
        let request = Request::build(op, method, template, args)?;
        if op.paginated {
            return super::paginate::all_pages(|page| {
                let query = [
                    ("page".to_string(), page.to_string()),
                    (
                        "per_page".to_string(),
                        super::paginate::PAGE_SIZE.to_string(),
                    ),
                ];
                self.send(&request, &query, false)
            });
        }
        let page = self.send(&request, &[], op.mutates)?;
        Ok(Answer {
            data: page.data,
            status: page.status,
            request_id: page.request_id,
        })
    }

    /// Send with retries; a mutating request whose outcome stays unknown is looked into.
    pub(crate) fn send(
        &self,
        request: &Request,
        extra_query: &[(String, String)],
        mutating: bool,
    ) -> Result<Page, ApiError> {
        let url = request.url(&self.base_url, extra_query);
        let mut backoff = Backoff::new(&self.retry);
        // Some try may have reached the server and been applied, its answer lost.
        let mut maybe_applied = false;
        loop {
            let started = Instant::now();
            let outcome = self.send_once(request, &url);
            backoff.tried(started.elapsed());
            self.tell_observers(request, &url, &outcome, backoff.tries, started);
            let err = match outcome {
                Ok(page) => return Ok(page),
                Err(failed) => failed,
            };
            let (err, may_have_applied) = err;
            if err.failure == Failure::Deadline {
                return Err(err);
            }
            maybe_applied |= may_have_applied;
            let give_up = if !err.is_transient() {
                true
            } else {
                match backoff.next_wait(err.retry_after) {
                    None => true,
                    Some(wait) => {
                        self.wait(request, wait)?;
                        false
                    }
                }
            };
            if give_up {
                let err = if backoff.tries > 1 && err.is_transient() {
                    gave_up(err, backoff.tries, backoff.spent)
                } else {
                    err
                };
                if mutating && (maybe_applied || backoff.tries > 1) {
                    return super::outcome::find_out(self, request, err, maybe_applied);
                }
                return Err(err);
            }
        }
    }

    /// Wait `wait` of server time before the next try, unless that would pass the deadline.
    fn wait(&self, request: &Request, wait: Duration) -> Result<(), ApiError> {
        let wall = self.scaled(wait);
        if let Some(deadline) = self.deadline {
            if Instant::now() + wall >= deadline {
                return Err(self.deadline_error(request));
            }
        }
        match &self.sleep {
            Some(sleep) => sleep(wait),
            None => std::thread::sleep(wall),
        }
        Ok(())
    }

    fn tell_observers(
        &self,
        request: &Request,
        url: &str,
        outcome: &Result<Page, (ApiError, bool)>,
        attempt: u32,
        started: Instant,
    ) {
        if self.observers.is_empty() {
            return;
        }
        let (status, request_id) = match outcome {
            Ok(page) => (page.status, page.request_id.as_deref()),
            Err((err, _)) => (err.status, err.request_id.as_deref()),
        };
        for observer in &self.observers {
            observer(&Exchange {
                op: request.op,
                method: request.method,
                url,
                body: request.body.as_ref(),
                status,
                attempt,
                elapsed: started.elapsed(),
                request_id,
            });
        }
    }

    /// The time one try may take: the request timeout, or what is left of the run.
    fn limit(&self, request: &Request) -> Result<Duration, ApiError> {
        match self.deadline {
            None => Ok(self.timeout),
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Ok(left.min(self.timeout)),
                _ => Err(self.deadline_error(request)),
            },
        }
    }

    /// One try. The error says whether the request may have reached the server and been
    /// applied (its answer lost or unusable).
    fn send_once(&self, request: &Request, url: &str) -> Result<Page, (ApiError, bool)> {
        let limit = self.limit(request).map_err(|e| (e, false))?;
        let started = Instant::now();
        let reply = self
            .transport
            .exchange(
                request.method,
                url,
                request.body.as_ref(),
                request.idempotency_key.as_deref(),
                limit,
                self.sim_clock_trusted,
            )
            .map_err(|trouble| {
                let maybe_sent = !trouble.nothing_sent();
                let deadline_hit = matches!(trouble, Trouble::Timeout)
                    && self.deadline.is_some_and(|d| started + limit >= d);
                let err = if deadline_hit {
                    self.deadline_error(request)
                } else {
                    self.trouble_error(request, trouble)
                };
                (err, maybe_sent)
            })?;
        if reply.sim_speed.is_some() || reply.sim_time.is_some() {
            self.saw_clock(reply.sim_speed, reply.sim_time);
        }
        let status = reply.status;
        // A server's own words come back in errors; the key must not come back with them.
        let parsed = if (200..300).contains(&status) {
            Page::parse(request.op, &request.line, status, &reply.body)
        } else {
            let mut err =
                ApiError::from_response(request.op.name, request.line.clone(), status, &reply.body);
            err.retry_after = reply.retry_after;
            Err(err)
        };
        match parsed {
            Ok(mut page) => {
                if let Some(key) = &self.api_key {
                    if contains(&reply.body, key.expose().as_bytes()) {
                        redact_value(&mut page.data, key);
                    }
                }
                Ok(page)
            }
            Err(mut err) => {
                self.redact(&mut err);
                // Choice the reference does not make: a 500 or 503 is the server's own word that
                // it failed (the simulator injects them before applying anything), so it is not
                // an unknown outcome; a gateway's 502/504 means the server behind it may have
                // acted and not answered, and an unreadable answer hides what happened.
                let maybe_applied = err.failure == Failure::Decode || matches!(status, 502 | 504);
                Err((err, maybe_applied))
            }
        }
    }

    /// `X-Sim-Speed` and `X-Sim-Time` of an answer: the server's clock.
    fn saw_clock(&self, speed: Option<f64>, time: Option<f64>) {
        if let Some(speed) = speed.filter(|s| s.is_finite() && *s > 0.0) {
            self.speed.store(speed.to_bits(), Ordering::Relaxed);
        }
        if let Some(epoch) = time.filter(|s| s.is_finite()) {
            *self.server_clock.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((epoch, Instant::now()));
        }
    }

    /// The error of a request cut short by the run's deadline: one line naming what was in flight.
    pub(crate) fn deadline_error(&self, request: &Request) -> ApiError {
        let limit = self
            .time_limit
            .map(|t| format!("--timeout {}", humantime::format_duration(t)))
            .unwrap_or_else(|| "the run's deadline".to_string());
        let mut err = ApiError::new(
            Failure::Deadline,
            request.op.name,
            request.line.clone(),
            format!(
                "{limit} reached while `{}` ({}) was in flight",
                request.op.name, request.line
            ),
        );
        err.code = "RUN_TIMEOUT".into();
        err
    }

    fn trouble_error(&self, request: &Request, trouble: Trouble) -> ApiError {
        let op = request.op.name;
        let line = request.line.clone();
        let (failure, cause) = match trouble {
            Trouble::Timeout => (
                Failure::Timeout,
                format!(
                    "no answer within {}",
                    humantime::format_duration(self.timeout)
                ),
            ),
            Trouble::Transport { cause, .. } => (Failure::Unreachable, cause),
            Trouble::Untrusted(cause) => {
                let mut err = ApiError::new(
                    Failure::Untrusted,
                    op,
                    line,
                    format!(
                        "{} presented a certificate barrack does not trust ({cause}); if this \
                         server is meant to be trusted (your own simulator, a corporate proxy), \
                         add its CA with --ca-cert FILE (or ca_cert in the profile, or \
                         SSL_CERT_FILE)",
                        self.base_url
                    ),
                );
                err.code = "TLS_UNTRUSTED".into();
                self.redact(&mut err);
                return err;
            }
            Trouble::TooLarge(len) => {
                return ApiError::new(
                    Failure::Decode,
                    op,
                    line,
                    format!("the answer is {len} bytes, more than the {MAX_BODY} barrack reads"),
                )
            }
            Trouble::Setup(why) => {
                return ApiError::new(Failure::Invalid, "client", String::new(), why)
            }
        };
        // The message names the base URL (never the key) and the root cause only.
        let mut err = ApiError::new(failure, op, line, format!("{} ({cause})", self.base_url));
        self.redact(&mut err);
        err
    }

    /// Remove the key from every text of an error (a server may echo the Authorization header).
    fn redact(&self, err: &mut ApiError) {
        let Some(key) = &self.api_key else { return };
        let mut scrub = |text: &mut String| {
            if let Some(clean) = scrub(text, key) {
                *text = clean;
            }
        };
        scrub(&mut err.message);
        scrub(&mut err.code);
        scrub(&mut err.request);
        if let Some(id) = &mut err.request_id {
            scrub(id);
        }
        if let Some(tier) = &mut err.tier {
            scrub(tier);
        }
        let fields = std::mem::take(&mut err.errors);
        for (mut field, mut messages) in fields {
            scrub(&mut field);
            messages.iter_mut().for_each(&mut scrub);
            err.errors.insert(field, messages);
        }
    }
}

/// The error after retries ran out, saying how many tries over how long.
fn gave_up(mut err: ApiError, tries: u32, spent: Duration) -> ApiError {
    let spent = Duration::from_millis(spent.as_millis().min(u64::MAX as u128) as u64);
    let note = format!(
        "gave up after {tries} tries over {}",
        humantime::format_duration(spent)
    );
    err.message = if err.message.is_empty() {
        note
    } else {
        format!("{}; {note}", err.message.trim_end_matches('.'))
    };
    err
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Keys shorter than this are redacted only where they stand alone (between characters that
/// cannot be part of a key): a test key such as `k` would otherwise garble every message.
const SHORT_KEY: usize = 8;

/// `text` with the key replaced by `(redacted)`, or `None` when it holds no key.
fn scrub(text: &str, key: &ApiKey) -> Option<String> {
    let secret = key.expose();
    if !text.contains(secret) {
        return None;
    }
    if secret.len() >= SHORT_KEY {
        return Some(key.redact(text));
    }
    let keyish = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || "-_.".contains(c));
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(at) = rest.find(secret) {
        let before = if at > 0 {
            rest[..at].chars().next_back()
        } else {
            out.chars().next_back()
        };
        let after = rest[at + secret.len()..].chars().next();
        out.push_str(&rest[..at]);
        if keyish(before) || keyish(after) {
            out.push_str(secret);
        } else {
            out.push_str("(redacted)");
            changed = true;
        }
        rest = &rest[at + secret.len()..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// Replace the key in every string of a JSON value.
fn redact_value(value: &mut Value, key: &ApiKey) {
    match value {
        Value::String(s) => {
            if let Some(clean) = scrub(s, key) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_value(v, key)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (k, mut v) in entries {
                redact_value(&mut v, key);
                map.insert(scrub(&k, key).unwrap_or(k), v);
            }
        }
        _ => {}
    }
}

/// A base URL on this machine: `localhost`, `127.0.0.0/8` or `[::1]`.
fn is_loopback(base_url: &str) -> bool {
    let Some(rest) = base_url
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
    else {
        return false;
    };
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_servers_set_the_clock() {
        assert!(is_loopback("http://127.0.0.1:8787"));
        assert!(is_loopback("https://localhost/api"));
        assert!(is_loopback("http://[::1]:80/"));
        assert!(is_loopback("http://127.3.4.5"));
        assert!(!is_loopback("https://barrack.ai/api"));
        assert!(!is_loopback("http://127.0.0.1.example.com/"));
        assert!(!is_loopback("http://10.0.0.1:8787"));
    }

    #[test]
    fn keys_are_scrubbed_from_server_json() {
        let key = ApiKey::new("sk-SECRET").unwrap();
        let mut value =
            serde_json::json!({"echo": "Bearer sk-SECRET", "sk-SECRET": ["x sk-SECRET"]});
        redact_value(&mut value, &key);
        assert!(!value.to_string().contains("SECRET"), "{value}");
        // A one-letter key is redacted only where it stands alone.
        let k = ApiKey::new("k").unwrap();
        assert_eq!(
            scrub("ssh_key_ids: key k", &k).as_deref(),
            Some("ssh_key_ids: key (redacted)")
        );
        assert_eq!(scrub("ssh_key_ids", &k), None);
    }
}
