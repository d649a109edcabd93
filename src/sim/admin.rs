//! Admin routes under `/_sim/`: never part of the API surface, no key needed, never faulted.
//!
//! - `GET  /_sim/state`  the whole world as JSON
//! - `GET  /_sim/stats`  requests, injected faults, dropped responses, idempotent replays
//! - `POST /_sim/advance {"seconds": N}`  move the clock forward
//! - `POST /_sim/faults {"fault_rate", "fault_status", "drop_rate", "latency_ms"}`
//! - `POST /_sim/balance {"balance": X}`, `POST /_sim/profile {"complete": B}`
//! - `POST /_sim/stock {"region", "gpu_model", "available"}`
//! - `POST /_sim/error {"id": "BRK-…"}`  put an instance in ERROR

use super::server::{Action, HttpRequest};
use super::world::stock_key;
use super::{json_response, stats_json, Faults, Shared};
use serde_json::{json, Value};

pub(super) fn handle(shared: &Shared, route: &str, req: &HttpRequest) -> Action {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let mut state = shared.lock();
    let speed = state.clock.speed;
    let now = state.clock.now();
    state.world.tick(now);
    let answer = |status: u16, value: Value| json_response(status, &value, Vec::new(), speed);
    let bad = |why: &str| answer(400, json!({"success": false, "message": why}));
    match (req.method.as_str(), route.trim_end_matches('/')) {
        ("GET", "state") => answer(
            200,
            serde_json::to_value(&state.world).unwrap_or(Value::Null),
        ),
        ("GET", "stats") => answer(200, stats_json(shared)),
        ("POST", "advance") => match body.get("seconds").and_then(Value::as_f64) {
            Some(s) if s >= 0.0 => {
                state.clock.advanced += s;
                let now = state.clock.now();
                state.world.tick(now);
                answer(200, json!({"clock": super::world::format_time(now)}))
            }
            _ => bad("expected {\"seconds\": N} with N ≥ 0"),
        },
        ("POST", "faults") => match serde_json::from_value::<Faults>(body) {
            Ok(faults) => {
                state.faults = faults;
                answer(
                    200,
                    serde_json::to_value(&state.faults).unwrap_or(Value::Null),
                )
            }
            Err(e) => bad(&format!("bad fault settings: {e}")),
        },
        ("POST", "balance") => match body.get("balance").and_then(Value::as_f64) {
            Some(b) => {
                state.world.balance = b;
                answer(200, json!({"balance": b}))
            }
            None => bad("expected {\"balance\": X}"),
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
            match state.world.instances.get_mut(id) {
                Some(instance) => {
                    instance.status = "ERROR".into();
                    instance.pending = None;
                    answer(200, json!({"id": id, "status": "ERROR"}))
                }
                None => answer(
                    404,
                    json!({"success": false, "message": format!("no instance {id}")}),
                ),
            }
        }
        _ => answer(
            404,
            json!({"success": false, "message": format!("no admin route {} /_sim/{route}", req.method)}),
        ),
    }
}
