//! The `Idempotency-Key` header on POST: a repeated key gets the first answer again and changes
//! nothing (keys are per operation, and remembered in the world, so `--state` keeps them).

use super::http::HttpRequest;
use super::world::{Remembered, World};
use crate::api::catalog::{Method, Op};

/// The key under which this request's answer is remembered, if it carries one.
pub fn key(op: &Op, method: Method, req: &HttpRequest) -> Option<String> {
    if method != Method::Post {
        return None;
    }
    req.header("idempotency-key")
        .map(|k| format!("{}:{k}", op.name))
}

/// The first answer to this key: its status and body.
pub fn replay(world: &World, key: &str) -> Option<(u16, Vec<u8>)> {
    world
        .idempotency
        .get(key)
        .map(|r| (r.status, r.body.clone().into_bytes()))
}

/// Remember an applied request's answer under its key.
pub fn remember(world: &mut World, key: String, status: u16, body: &[u8]) {
    world.idempotency.insert(
        key,
        Remembered {
            status,
            body: String::from_utf8_lossy(body).into_owned(),
        },
    );
}
