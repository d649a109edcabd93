//! One request through the simulator's layers, moto-style: admin and the OpenAPI document aside,
//! an API request passes faults (at the edge), auth, the router, the idempotency replay, faults
//! (in the app), the handler, and on the way out the idempotency memory, the state file's change
//! count (the file itself is written behind the requests, see `state_file`) and the lost-answer
//! fault. Transport-free: the HTTP server and `Simulator::answer` both call
//! [`dispatch`].

use super::clock::{format_millis, format_speed, Clock};
use super::faults::{FaultPoint, Faults};
use super::handlers::{self, Access};
use super::http::{Action, HttpRequest, HttpResponse};
use super::reply::Refusal;
use super::state_file::StateFile;
use super::world::World;
use super::{admin, auth, idempotency, openapi, router};
use crate::api::catalog::Method;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

pub struct State {
    pub world: World,
    pub clock: Clock,
    pub faults: Faults,
    pub fault_rng: fastrand::Rng,
}

#[derive(Default)]
pub struct Stats {
    requests: AtomicU64,
    faults: AtomicU64,
    drops: AtomicU64,
    replays: AtomicU64,
}

impl Stats {
    pub fn json(&self) -> Value {
        serde_json::json!({
            "requests": self.requests.load(Ordering::Relaxed),
            "faults_injected": self.faults.load(Ordering::Relaxed),
            "responses_dropped": self.drops.load(Ordering::Relaxed),
            "idempotent_replays": self.replays.load(Ordering::Relaxed),
        })
    }
}

/// Everything a request may touch: the world behind one lock, counters beside it. Requests
/// that only read the world hold the lock shared, so they answer side by side.
pub struct Shared {
    state: RwLock<State>,
    pub stats: Stats,
    state_file: Option<Arc<StateFile>>,
    api_key: Option<String>,
    /// The clock's `X-Sim-Speed` text (the speed is fixed for the simulator's life).
    speed_header: String,
}

impl Shared {
    pub fn new(
        state: State,
        state_file: Option<Arc<StateFile>>,
        api_key: Option<String>,
    ) -> Shared {
        Shared {
            speed_header: format_speed(state.clock.speed),
            state: RwLock::new(state),
            stats: Stats::default(),
            state_file,
            api_key,
        }
    }

    /// The state to change. A panic in one handler must not take the whole simulator down
    /// with a poisoned lock, here or in [`Shared::read`].
    pub fn lock(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The state to read, beside other readers.
    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The state file, if the simulator has one.
    pub fn state_file(&self) -> Option<&StateFile> {
        self.state_file.as_deref()
    }

    /// Note that the world changed, for the state file; call it with the world still locked.
    pub fn changed(&self) {
        if let Some(file) = &self.state_file {
            file.changed();
        }
    }

    /// Save the world to the state file now if it changed since the last save: a copy is taken
    /// under the lock, and written with the lock released.
    pub fn save(&self) -> std::io::Result<()> {
        match &self.state_file {
            Some(file) => file.save(|| self.read().world.clone()),
            None => Ok(()),
        }
    }

    /// `/_sim/stats`: the counters, and the state file's saves when there is one.
    pub fn stats_json(&self) -> Value {
        let mut stats = self.stats.json();
        if let (Some(file), Value::Object(map)) = (&self.state_file, &mut stats) {
            map.insert("state_file".into(), file.stats());
        }
        stats
    }

    /// The latency to add before answering `req`: API requests only, never admin routes.
    pub fn latency_for(&self, req: &HttpRequest) -> Option<Duration> {
        if is_api(req) {
            self.read().faults.latency()
        } else {
            None
        }
    }

    /// A JSON answer with the clock's speed, as every answer carries.
    pub fn json(&self, status: u16, body: &Value) -> Action {
        Action::Respond(HttpResponse {
            status,
            headers: vec![("X-Sim-Speed", self.speed_header.clone())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        })
    }

    /// The error envelope of `refusal` with its headers.
    pub fn refusal(&self, refusal: &Refusal, request_id: &str) -> HttpResponse {
        let mut headers = Vec::with_capacity(4);
        headers.push(("X-Request-Id", request_id.to_string()));
        if let Some(after) = refusal.retry_after {
            headers.push(("Retry-After", after.to_string()));
        }
        if let Some(allow) = &refusal.allow {
            headers.push(("Allow", allow.clone()));
        }
        headers.push(("X-Sim-Speed", self.speed_header.clone()));
        HttpResponse {
            status: refusal.status,
            headers,
            body: serde_json::to_vec(&refusal.envelope(request_id)).unwrap_or_default(),
        }
    }
}

fn is_api(req: &HttpRequest) -> bool {
    !req.path.starts_with("/_sim/") && req.path != "/openapi.json"
}

/// Answer one request (or decide to lose the answer).
pub fn dispatch(shared: &Shared, req: HttpRequest) -> Action {
    if let Some(rest) = req.path.strip_prefix("/_sim/") {
        if let Err(refusal) = auth::check_admin(&req, shared.api_key.as_deref()) {
            return Action::Respond(shared.refusal(&refusal, "-"));
        }
        return admin::handle(shared, rest, &req);
    }
    if req.path == "/openapi.json" {
        return shared.json(200, &openapi::document());
    }
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    // The request id, injected faults and the clock's due events change the world, so a request
    // starts under the exclusive lock; a read then answers under the shared one, beside others.
    let mut state = shared.lock();
    let request_id = state.world.random_alnum(8);
    let (action, now) = match prepare(shared, &mut state, &req) {
        Ok(Next::Handle(routed)) if handlers::only_reads(routed.request.op.id) => {
            drop(state);
            let state = shared.read();
            let answered = respond(shared, Access::Shared(&state.world), routed, &request_id);
            (Action::Respond(answered.response), state.clock.now())
        }
        Ok(Next::Handle(routed)) => {
            let State {
                world,
                faults,
                fault_rng,
                clock,
            } = &mut *state;
            let answered = respond(shared, Access::Exclusive(world), routed, &request_id);
            // A mutation that applied may still lose its answer (--drop-rate).
            let action = if answered.applied_mutation && faults.draw_drop(fault_rng) {
                shared.stats.drops.fetch_add(1, Ordering::Relaxed);
                Action::Drop
            } else {
                Action::Respond(answered.response)
            };
            (action, clock.now())
        }
        Ok(Next::Answer(action)) => (action, state.clock.now()),
        Err(refusal) => (
            Action::Respond(shared.refusal(&refusal, &request_id)),
            state.clock.now(),
        ),
    };
    match action {
        // Every API answer announces the simulated time, so clients can show the simulator's "now".
        Action::Respond(mut response) => {
            response.headers.push(("X-Sim-Time", format_millis(now)));
            Action::Respond(response)
        }
        Action::Drop => Action::Drop,
    }
}

/// An injected error, if this request draws one at `point`.
fn inject(shared: &Shared, state: &mut State, point: FaultPoint) -> Result<(), Refusal> {
    if state.faults.point != point {
        return Ok(());
    }
    let State {
        faults, fault_rng, ..
    } = state;
    match faults.draw_error(fault_rng) {
        Some(refusal) => {
            shared.stats.faults.fetch_add(1, Ordering::Relaxed);
            Err(refusal)
        }
        None => Ok(()),
    }
}

/// The operation a request names, or the 404/405 that says why there is none.
fn route(
    req: &HttpRequest,
) -> Result<(Method, &'static crate::api::Op, router::PathParams), Refusal> {
    let not_allowed = |allowed: Vec<Method>| {
        if allowed.is_empty() {
            return Refusal::new(
                404,
                "NOT_FOUND",
                format!("No API route {} {}", req.method, req.path),
            );
        }
        let allow: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
        let mut refusal = Refusal::new(
            405,
            "METHOD_NOT_ALLOWED",
            format!(
                "{} is not allowed on {}; it takes {}",
                req.method,
                req.path,
                allow.join(", ")
            ),
        );
        refusal.allow = Some(allow.join(", "));
        refusal
    };
    let Some(method) = router::parse_method(&req.method) else {
        return Err(not_allowed(router::allowed_methods(&req.path)));
    };
    match router::route(method, &req.path) {
        Ok((op, params)) => Ok((method, op, params)),
        Err(_) => Err(not_allowed(router::allowed_methods(&req.path))),
    }
}

/// What the exclusive start of a request leads to: an answer already (an idempotent replay),
/// or the request for its handler.
enum Next<'a> {
    Answer(Action),
    Handle(Routed<'a>),
}

/// A request routed to its operation, its body parsed, the world brought to now.
struct Routed<'a> {
    request: handlers::Req<'a>,
    idempotency_key: Option<String>,
}

/// Faults, authentication, routing, an idempotent replay, the body, and the clock's due events:
/// everything before the handler, under the exclusive lock.
fn prepare<'a>(
    shared: &Shared,
    state: &mut State,
    req: &'a HttpRequest,
) -> Result<Next<'a>, Refusal> {
    inject(shared, state, FaultPoint::Edge)?;
    auth::check_api(req, shared.api_key.as_deref())?;
    let (method, op, params) = route(req)?;
    let idempotency_key = idempotency::key(op, method, req);
    if let Some(key) = &idempotency_key {
        if let Some((status, body)) = idempotency::replay(&state.world, key) {
            shared.stats.replays.fetch_add(1, Ordering::Relaxed);
            return Ok(Next::Answer(Action::Respond(HttpResponse {
                status,
                headers: vec![
                    ("X-Sim-Speed", shared.speed_header.clone()),
                    ("Idempotent-Replayed", "true".into()),
                ],
                body,
            })));
        }
    }
    inject(shared, state, FaultPoint::App)?;
    let body = parse_body(&req.body, method)?;
    let now = state.clock.now();
    // Only what fell due; the handler settles bills when it needs them.
    state.world.run_due(now);
    Ok(Next::Handle(Routed {
        request: handlers::Req {
            op,
            params,
            query: &req.query,
            body,
        },
        idempotency_key,
    }))
}

/// A handler's answer, and whether it was a mutation that applied.
struct Answered {
    response: HttpResponse,
    applied_mutation: bool,
}

/// Run the handler and write its answer, refusals included; a mutation that applied is
/// remembered for replays and noted for the state file (it holds the world exclusively).
fn respond(
    shared: &Shared,
    mut world: Access<'_>,
    routed: Routed<'_>,
    request_id: &str,
) -> Answered {
    let Routed {
        request,
        idempotency_key,
    } = routed;
    let outcome = handlers::handle(world.reborrow(), &request);
    let applied = outcome.is_ok();
    let mut headers = Vec::with_capacity(4);
    let (status, body_bytes) = match outcome {
        Ok(reply) => (reply.status, reply.into_body(request_id)),
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
    let applied_mutation = request.op.mutates && applied;
    if let (true, Access::Exclusive(world)) = (applied_mutation, world) {
        if let Some(key) = idempotency_key {
            idempotency::remember(world, key, status, &body_bytes);
        }
        shared.changed();
    }
    headers.push(("X-Request-Id", request_id.to_string()));
    headers.push(("X-Sim-Speed", shared.speed_header.clone()));
    Answered {
        response: HttpResponse {
            status,
            headers,
            body: body_bytes,
        },
        applied_mutation,
    }
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
