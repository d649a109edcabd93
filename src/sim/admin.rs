//! Admin routes under `/_sim/`: never part of the API surface and never faulted. With
//! `--require-key` they take the same `Authorization: Bearer <key>` as the API; otherwise anyone
//! who reaches the port may use them.
//!
//! - `GET  /_sim/state`  the whole world as JSON
//! - `GET  /_sim/stats`  requests, injected faults, dropped responses, idempotent replays, and
//!   the state file's saves (count, size, and what the last one cost) when there is one
//! - `POST /_sim/advance {"seconds": N}`  move the clock forward
//! - `POST /_sim/faults {"fault_rate", "fault_status", "drop_rate", "latency_ms", "point"}`
//! - `POST /_sim/balance {"balance": X}`, `POST /_sim/profile {"complete": B}`
//! - `POST /_sim/stock {"region", "gpu_model", "available"}`
//! - `POST /_sim/error {"id": "BRK-…"}`  put an instance in ERROR

use super::app::Shared;
use super::faults::Faults;
use super::http::{Action, HttpRequest};
use super::world::stock_key;
use serde_json::{json, Value};

/// The furthest one `/_sim/advance` may move the clock: a century, far past any lifecycle or
/// billing period, and small enough that the clock's arithmetic stays exact.
const MAX_ADVANCE_SECONDS: f64 = 100.0 * 365.0 * 86_400.0;

/// The routes and bodies, for a 404 that tells what exists.
const ROUTES: &str = "GET state, GET stats, POST advance {seconds}, POST faults {fault_rate, \
    fault_status, drop_rate, latency_ms, point}, POST balance {balance}, POST profile {complete}, \
    POST stock {region, gpu_model, available}, POST error {id}";

pub(super) fn handle(shared: &Shared, route: &str, req: &HttpRequest) -> Action {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let mut state = shared.lock();
    let now = state.clock.now();
    state.world.tick(now);
    let answer = |status: u16, value: Value| shared.json(status, &value);
    let bad = |why: &str| answer(400, json!({"success": false, "message": why}));
    let name = route.trim_end_matches('/');
    let action = match (req.method.as_str(), name) {
        ("GET", "state") => answer(
            200,
            serde_json::to_value(&state.world).unwrap_or(Value::Null),
        ),
        ("GET", "stats") => answer(200, shared.stats_json()),
        ("POST", "advance") => match body.get("seconds").and_then(Value::as_f64) {
            Some(s) if (0.0..=MAX_ADVANCE_SECONDS).contains(&s) => {
                state.clock.advanced += s;
                let now = state.clock.now();
                state.world.tick(now);
                answer(200, json!({"clock": super::world::format_time(now)}))
            }
            _ => bad(&format!(
                "expected {{\"seconds\": N}} with 0 ≤ N ≤ {MAX_ADVANCE_SECONDS} (a century)"
            )),
        },
        ("POST", "faults") => match serde_json::from_value::<Faults>(body) {
            Ok(faults) => match faults.check() {
                Ok(()) => {
                    state.faults = faults;
                    answer(
                        200,
                        serde_json::to_value(&state.faults).unwrap_or(Value::Null),
                    )
                }
                Err(why) => bad(&format!("bad fault settings: {why}")),
            },
            Err(e) => bad(&format!("bad fault settings: {e}")),
        },
        ("POST", "balance") => match body.get("balance").and_then(Value::as_f64) {
            Some(b) if b.is_finite() => {
                state.world.balance = b;
                answer(200, json!({"balance": b}))
            }
            _ => bad("expected {\"balance\": X} with a finite number X"),
        },
        ("POST", "profile") => match body.get("complete").and_then(Value::as_bool) {
            Some(c) => {
                state.world.profile_complete = c;
                answer(200, json!({"complete": c}))
            }
            None => bad("expected {\"complete\": true|false}"),
        },
        ("POST", "stock") => {
            let region = body.get("region").and_then(Value::as_str);
            let model = body.get("gpu_model").and_then(Value::as_str);
            let available = body.get("available").and_then(Value::as_i64);
            match (region, model, available) {
                (Some(r), Some(m), Some(a)) if a >= 0 => {
                    state.world.stock.insert(stock_key(r, m), a);
                    answer(200, json!({"region": r, "gpu_model": m, "available": a}))
                }
                _ => bad("expected {\"region\", \"gpu_model\", \"available\": N ≥ 0}"),
            }
        }
        ("POST", "error") => {
            let id = body.get("id").and_then(Value::as_str).unwrap_or("");
            // A new status: through the world, which bills the old one up to now.
            let failed = state.world.change_instance(id, |instance| {
                instance.status = "ERROR".into();
                instance.pending = None;
            });
            match failed {
                Some(()) => answer(200, json!({"id": id, "status": "ERROR"})),
                None => answer(
                    404,
                    json!({"success": false, "message": format!("no instance {id}")}),
                ),
            }
        }
        _ => answer(
            404,
            json!({"success": false, "message": format!(
                "no admin route {} /_sim/{route}; the admin routes are: {ROUTES}",
                req.method
            )}),
        ),
    };
    // Every accepted POST but `faults` changes the world (and the clock it is saved with).
    let accepted = matches!(&action, Action::Respond(r) if r.status == 200);
    if accepted && req.method == "POST" && name != "faults" {
        shared.changed();
    }
    action
}
