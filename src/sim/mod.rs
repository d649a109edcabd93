//! The Barrack simulator: a stateful stand-in for the service, served over real HTTP.
//!
//! ```no_run
//! let sim = barrack::sim::Simulator::start(barrack::sim::SimOptions::fast()).unwrap();
//! println!("{}", sim.base_url()); // http://127.0.0.1:PORT
//! ```

mod admin;
mod control;
mod handlers;
mod openapi;
mod reply;
mod server;
pub mod world;

use crate::api::catalog::{Method, Op, OPS};
pub use crate::api::rules;
use reply::{Refusal, Reply};
use serde_json::{Map, Value};
pub use server::HttpResponse;
use server::{Action, HttpRequest};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
pub use world::World;

/// The simulator's settings (`barrack sim` flags; the same with `--sim`).
#[derive(Clone, Debug)]
pub struct SimOptions {
    pub listen: SocketAddr,
    /// Lifecycle clock multiplier: 1 = the documented real durations.
    pub speed: f64,
    pub seed: u64,
    /// Load the world from this JSON file if it exists, and save it after every change.
    pub state: Option<PathBuf>,
    pub faults: Faults,
    /// If set, only this key is accepted (otherwise any non-empty Bearer key).
    pub api_key: Option<String>,
}

/// Fault injection, as LocalStack and Toxiproxy do it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Fraction of API requests answered with an injected error instead of being applied.
    pub fault_rate: f64,
    /// Statuses the injected errors are drawn from; a 429 carries `Retry-After`.
    pub fault_status: Vec<u16>,
    /// Fraction of mutating requests applied and then answered by closing the connection.
    pub drop_rate: f64,
    /// Added to every API request.
    pub latency_ms: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            fault_rate: 0.0,
            fault_status: vec![500, 502, 503, 429],
            drop_rate: 0.0,
            latency_ms: 0,
        }
    }
}

/// The `--sim` default speed: a 2–5 minute deploy takes 0.12–0.3 s.
pub const FAST_SPEED: f64 = 1000.0;

impl SimOptions {
    /// `barrack sim` defaults: documented durations on 127.0.0.1:8787.
    pub fn new() -> SimOptions {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            speed: 1.0,
            seed: 1,
            state: None,
            faults: Faults::default(),
            api_key: None,
        }
    }

    /// In-process defaults (`--sim`, tests): an ephemeral loopback port and a fast clock.
    pub fn fast() -> SimOptions {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            speed: FAST_SPEED,
            ..SimOptions::new()
        }
    }
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions::new()
    }
}

/// The world's clock: simulated seconds since the epoch.
struct Clock {
    wall_start: Instant,
    sim_start: f64,
    speed: f64,
    advanced: f64,
}

impl Clock {
    fn now(&self) -> f64 {
        self.sim_start + self.wall_start.elapsed().as_secs_f64() * self.speed + self.advanced
    }
}

struct State {
    world: World,
    clock: Clock,
    faults: Faults,
    fault_rng: fastrand::Rng,
}

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    faults: AtomicU64,
    drops: AtomicU64,
    replays: AtomicU64,
}

struct Shared {
    state: Mutex<State>,
    stats: Stats,
    state_file: Option<PathBuf>,
    api_key: Option<String>,
    /// The clock's speed (fixed for the simulator's life) and its `X-Sim-Speed` text.
    speed: f64,
    speed_header: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in one handler must not take the whole simulator down with a poisoned lock.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running simulator. Dropping it stops the listener.
pub struct Simulator {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Simulator {
    /// Bind, load or seed the world, and serve on a background thread.
    pub fn start(options: SimOptions) -> std::io::Result<Simulator> {
        let listener = TcpListener::bind(options.listen)?;
        let addr = listener.local_addr()?;
        let now = jiff::Timestamp::now().as_second() as f64;
        let world = match &options.state {
            Some(path) if path.exists() => {
                let text = std::fs::read_to_string(path)?;
                serde_json::from_str::<World>(&text).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: not a simulator state file: {e}", path.display()),
                    )
                })?
            }
            _ => World::seeded(options.seed, now),
        };
        let speed = options.speed.max(f64::MIN_POSITIVE);
        let clock = Clock {
            wall_start: Instant::now(),
            sim_start: world.clock,
            speed,
            advanced: 0.0,
        };
        let shared = Arc::new(Shared {
            speed,
            speed_header: format_speed(speed),
            state: Mutex::new(State {
                world,
                clock,
                fault_rng: fastrand::Rng::with_seed(options.seed),
                faults: options.faults.clone(),
            }),
            stats: Stats::default(),
            state_file: options.state.clone(),
            api_key: options.api_key.clone(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let handler_shared = shared.clone();
        let handler: server::Handler = Arc::new(move |req| dispatch(&handler_shared, req));
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sim-accept".into())
            .spawn(move || server::serve(listener, handler, thread_stop))?;
        Ok(Simulator {
            addr,
            stop,
            shared,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, the API's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A snapshot of the world, for tests and `--state`.
    pub fn world(&self) -> World {
        let mut state = self.shared.lock();
        let now = state.clock.now();
        state.world.tick(now);
        state.world.clone()
    }

    /// Move the simulated clock forward.
    pub fn advance(&self, by: Duration) {
        let mut state = self.shared.lock();
        state.clock.advanced += by.as_secs_f64();
    }

    /// Change the fault settings of a running simulator.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().faults = faults;
    }

    /// Change the world directly (tests set balances, stock, errors).
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut state = self.shared.lock();
        let now = state.clock.now();
        state.world.tick(now);
        f(&mut state.world)
    }

    /// Answer one request in-process, exactly as over HTTP but without a socket: `None` when
    /// the simulator would close the connection instead (`--drop-rate`). For benchmarks of the
    /// handlers themselves, and tests that need no network.
    pub fn answer(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Option<HttpResponse> {
        let request = HttpRequest::new(method, target, headers, body.to_vec());
        match dispatch(&self.shared, request) {
            Action::Respond(response) => Some(response),
            Action::Drop => None,
        }
    }

    /// Requests served, faults injected, responses dropped, idempotent replays.
    pub fn stats(&self) -> Value {
        stats_json(&self.shared)
    }

    /// Block until the process is interrupted (`barrack sim`).
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn stats_json(shared: &Shared) -> Value {
    let s = &shared.stats;
    serde_json::json!({
        "requests": s.requests.load(Ordering::Relaxed),
        "faults_injected": s.faults.load(Ordering::Relaxed),
        "responses_dropped": s.drops.load(Ordering::Relaxed),
        "idempotent_replays": s.replays.load(Ordering::Relaxed),
    })
}

/// Path placeholders of a routed request, by name.
pub type PathParams = Vec<(&'static str, String)>;

/// One catalog path template, split once.
struct Route {
    op: &'static Op,
    segments: Vec<Segment>,
    literals: usize,
}

enum Segment {
    Literal(&'static str),
    /// A `{name}` placeholder.
    Param(&'static str),
}

/// Every operation's template, split once per process (routing runs on every request).
fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        OPS.iter()
            .map(|op| {
                let segments: Vec<Segment> = op
                    .path
                    .trim_matches('/')
                    .split('/')
                    .map(
                        |t| match t.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
                            Some(name) => Segment::Param(name),
                            None => Segment::Literal(t),
                        },
                    )
                    .collect();
                let literals = segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count();
                Route {
                    op,
                    segments,
                    literals,
                }
            })
            .collect()
    })
}

/// Find the operation for a method and path: the template with the most literal segments wins,
/// so `/instances/hibernated/count/` beats `/instances/{id}/`.
pub fn route(method: Method, path: &str) -> Result<(&'static Op, PathParams), bool> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut best: Option<&Route> = None;
    let mut path_known = false;
    for route in routes() {
        if route.segments.len() != segments.len() {
            continue;
        }
        let matched = route.segments.iter().zip(&segments).all(|(t, s)| match t {
            Segment::Param(_) => !s.is_empty(),
            Segment::Literal(t) => t == s,
        });
        if !matched {
            continue;
        }
        if route.op.method != method {
            path_known = true;
            continue;
        }
        if best.is_none_or(|b| route.literals > b.literals) {
            best = Some(route);
        }
    }
    match best {
        Some(route) => {
            let params = route
                .segments
                .iter()
                .zip(&segments)
                .filter_map(|(t, s)| match t {
                    Segment::Param(name) => Some((*name, s.to_string())),
                    Segment::Literal(_) => None,
                })
                .collect();
            Ok((route.op, params))
        }
        None => Err(path_known),
    }
}

fn json_response(
    status: u16,
    body: &Value,
    extra: Vec<(&'static str, String)>,
    speed: f64,
) -> Action {
    let mut headers = extra;
    headers.push(("X-Sim-Speed", format_speed(speed)));
    Action::Respond(HttpResponse {
        status,
        headers,
        body: serde_json::to_vec(body).unwrap_or_default(),
    })
}

fn format_speed(speed: f64) -> String {
    if speed.fract() == 0.0 {
        format!("{speed:.0}")
    } else {
        speed.to_string()
    }
}

fn refusal_response(shared: &Shared, refusal: &Refusal, request_id: &str) -> Action {
    let mut headers = Vec::with_capacity(4);
    headers.push(("X-Request-Id", request_id.to_string()));
    if let Some(after) = refusal.retry_after {
        headers.push(("Retry-After", after.to_string()));
    }
    headers.push(("X-Sim-Speed", shared.speed_header.clone()));
    Action::Respond(HttpResponse {
        status: refusal.status,
        headers,
        body: serde_json::to_vec(&refusal.envelope(request_id)).unwrap_or_default(),
    })
}

fn dispatch(shared: &Shared, req: HttpRequest) -> Action {
    if let Some(rest) = req.path.strip_prefix("/_sim/") {
        return admin::handle(shared, rest, &req);
    }
    if req.path == "/openapi.json" {
        return json_response(200, &openapi::document(), Vec::new(), shared.speed);
    }
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    let latency = shared.lock().faults.latency_ms;
    if latency > 0 {
        std::thread::sleep(Duration::from_millis(latency));
    }
    // One lock for the rest of the request: the request id, the handler, the clock it answers at.
    let mut state = shared.lock();
    let request_id = state.world.random_alnum(8);
    let action = match api_request(shared, &mut state, &req, &request_id) {
        Ok(action) => action,
        Err(refusal) => refusal_response(shared, &refusal, &request_id),
    };
    match action {
        // Every API answer announces the simulated time, so clients can show the simulator's "now".
        Action::Respond(mut response) => {
            let now = state.clock.now();
            drop(state);
            response.headers.push(("X-Sim-Time", format_millis(now)));
            Action::Respond(response)
        }
        drop => drop,
    }
}

/// `{now:.3}`, with integer formatting (this runs on every answer).
fn format_millis(seconds: f64) -> String {
    if !(0.0..1e15).contains(&seconds) {
        return format!("{seconds:.3}");
    }
    let millis = (seconds * 1000.0).round() as u64;
    format!("{}.{:03}", millis / 1000, millis % 1000)
}

/// The method of a request line, as [`Method::parse`] reads it, without allocating.
fn parse_method(text: &str) -> Option<Method> {
    [Method::Get, Method::Post, Method::Put, Method::Delete]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(text))
}

fn api_request(
    shared: &Shared,
    state: &mut State,
    req: &HttpRequest,
    request_id: &str,
) -> Result<Action, Refusal> {
    let key = req
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty());
    match (key, &shared.api_key) {
        (None, _) => {
            return Err(Refusal::new(
                401,
                "UNAUTHORIZED",
                "Authentication required: send the API key as 'Authorization: Bearer <key>'",
            ))
        }
        (Some(given), Some(wanted)) if given != wanted => {
            return Err(Refusal::new(401, "UNAUTHORIZED", "Invalid API key"))
        }
        _ => {}
    }
    let method = parse_method(&req.method).ok_or_else(|| {
        Refusal::new(
            405,
            "METHOD_NOT_ALLOWED",
            format!("Method {} is not supported", req.method),
        )
    })?;
    let (op, params) = route(method, &req.path).map_err(|path_known| {
        if path_known {
            Refusal::new(
                405,
                "METHOD_NOT_ALLOWED",
                format!("{} is not allowed on {}", req.method, req.path),
            )
        } else {
            Refusal::new(
                404,
                "NOT_FOUND",
                format!("No API route {} {}", req.method, req.path),
            )
        }
    })?;
    // Injected faults come before anything is applied.
    let rate = state.faults.fault_rate;
    if rate > 0.0 && state.fault_rng.f64() < rate && !state.faults.fault_status.is_empty() {
        let statuses = &state.faults.fault_status;
        let status = statuses[state.fault_rng.usize(..statuses.len())];
        shared.stats.faults.fetch_add(1, Ordering::Relaxed);
        let mut refusal = Refusal::new(
            status,
            injected_code(status),
            "Injected fault (simulator --fault-rate)",
        );
        if status == 429 {
            refusal.retry_after = Some(1);
        }
        return Err(refusal);
    }
    let idempotency_key = (method == Method::Post)
        .then(|| req.header("idempotency-key"))
        .flatten()
        .map(|k| format!("{}:{k}", op.name));
    if let Some(key) = &idempotency_key {
        if let Some(remembered) = state.world.idempotency.get(key) {
            shared.stats.replays.fetch_add(1, Ordering::Relaxed);
            let body = remembered.body.clone().into_bytes();
            let status = remembered.status;
            return Ok(Action::Respond(HttpResponse {
                status,
                headers: vec![
                    ("X-Sim-Speed", shared.speed_header.clone()),
                    ("Idempotent-Replayed", "true".into()),
                ],
                body,
            }));
        }
    }
    let body = parse_body(&req.body, method)?;
    let now = state.clock.now();
    state.world.tick(now);
    let request = handlers::Req {
        op,
        params,
        query: &req.query,
        body,
    };
    let outcome = handlers::handle(&mut state.world, &request);
    let applied = outcome.is_ok();
    let mut headers = Vec::with_capacity(4);
    let (status, body_bytes) = match outcome {
        Ok(reply) => (reply.status, success_body(reply, request_id)),
        Err(refusal) => {
            if let Some(after) = refusal.retry_after {
                headers.push(("Retry-After", after.to_string()));
            }
            let envelope = refusal.envelope(request_id);
            (
                refusal.status,
                serde_json::to_vec(&envelope).unwrap_or_default(),
            )
        }
    };
    if op.mutates && applied {
        if let Some(key) = idempotency_key {
            state.world.idempotency.insert(
                key,
                world::Remembered {
                    status,
                    body: String::from_utf8_lossy(&body_bytes).into_owned(),
                },
            );
        }
        if let Some(path) = &shared.state_file {
            save_state(path, &state.world);
        }
        let drop_rate = state.faults.drop_rate;
        if drop_rate > 0.0 && state.fault_rng.f64() < drop_rate {
            shared.stats.drops.fetch_add(1, Ordering::Relaxed);
            return Ok(Action::Drop);
        }
    }
    headers.push(("X-Request-Id", request_id.to_string()));
    headers.push(("X-Sim-Speed", shared.speed_header.clone()));
    Ok(Action::Respond(HttpResponse {
        status,
        headers,
        body: body_bytes,
    }))
}

fn injected_code(status: u16) -> &'static str {
    match status {
        429 => "RATE_LIMITED",
        400..=499 => "VALIDATION_ERROR",
        _ => "INTERNAL_ERROR",
    }
}

/// The success envelope, serialised; no body at all when the reply has no data.
fn success_body(reply: Reply, request_id: &str) -> Vec<u8> {
    let Some(data) = reply.data else {
        return Vec::new();
    };
    let mut map = Map::new();
    map.insert("success".into(), true.into());
    map.insert("data".into(), data);
    if let Some(p) = reply.pagination {
        map.insert("pagination".into(), p);
    }
    map.insert("request_id".into(), request_id.into());
    map.insert("tier".into(), reply.tier.into());
    serde_json::to_vec(&Value::Object(map)).unwrap_or_default()
}

fn parse_body(bytes: &[u8], method: Method) -> Result<Map<String, Value>, Refusal> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Refusal::field(
            "body",
            "The request body must be a JSON object",
        )),
        Err(e) if method != Method::Get => Err(Refusal::field(
            "body",
            format!("The request body is not valid JSON: {e}"),
        )),
        Err(_) => Ok(Map::new()),
    }
}

fn save_state(path: &std::path::Path, world: &World) {
    let Ok(text) = serde_json::to_string(world) else {
        return;
    };
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_prefer_literal_segments() {
        let (op, _) = route(Method::Get, "/instances/hibernated/count/")
            .ok()
            .unwrap();
        assert_eq!(op.name, "hibernated_count");
        let (op, _) = route(Method::Get, "/instances/snapshot-eligible/")
            .ok()
            .unwrap();
        assert_eq!(op.name, "snapshot_eligible");
        let (op, params) = route(Method::Get, "/instances/BRK-1VM/").ok().unwrap();
        assert_eq!(op.name, "instance");
        assert_eq!(params, vec![("id", "BRK-1VM".to_string())]);
        let (op, params) = route(Method::Delete, "/firewalls/fw-1/rules/r-2/")
            .ok()
            .unwrap();
        assert_eq!(op.name, "remove_firewall_rule");
        assert_eq!(params[1], ("rule_id", "r-2".to_string()));
        assert_eq!(route(Method::Put, "/balance/").err(), Some(true));
        assert_eq!(route(Method::Get, "/nope/").err(), Some(false));
    }

    #[test]
    fn every_operation_routes_to_itself() {
        for op in OPS {
            let path = op.path.replace("{id}", "x1").replace("{rule_id}", "r1");
            let (found, _) = route(op.method, &path).ok().unwrap();
            assert_eq!(found.name, op.name);
        }
    }
}
