//! What `deploy` reads from the account to fill a spec's defaults (the first OS image, the SSH
//! keys, the startup scripts, the GPU stock), read once per deploy call and shared by every spec
//! of a fleet: deploying N instances costs N requests plus a constant, not 6 per instance.
//!
//! The facts live only as long as one call (`deploy(spec)` or `deploy([specs])`), so a script
//! that adds an SSH key between two deploys is seen by the second. Stock is only a hint for
//! choosing a region: the server re-checks it on every deployment. So that the hint stays true
//! for the fleet's own deployments, a region chosen for a spec has its GPUs reserved in the hint.

use super::runtime::Runtime;
use crate::api::{ApiError, Args, OpId};
use serde_json::Value;
use std::sync::{Mutex, MutexGuard};

/// Free GPUs per (region, GPU model), as the stock read said, less this call's reservations.
type Stock = Vec<(String, String, i64)>;

/// The account facts of one deploy call. Each is read on first use; fleet workers share them
/// (the first worker to need one reads it while the others wait, so it is read once).
#[derive(Default)]
pub struct AccountFacts {
    os_images: Mutex<Option<Vec<Value>>>,
    ssh_keys: Mutex<Option<Vec<Value>>>,
    scripts: Mutex<Option<Vec<Value>>>,
    stock: Mutex<Option<Stock>>,
}

/// GPUs taken from the stock hint for one spec, given back unless the spec is sent
/// (`keep`): a spec refused before sending leaves the hint as it found it.
pub struct Reservation<'a> {
    facts: &'a AccountFacts,
    region: String,
    model: String,
    count: i64,
    kept: bool,
}

impl Reservation<'_> {
    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.kept {
            if let Some(stock) = lock(&self.facts.stock).as_mut() {
                adjust(stock, &self.region, &self.model, self.count);
            }
        }
    }
}

impl AccountFacts {
    /// The account's OS images, as `os_images()` lists them.
    pub fn os_images(&self, rt: &Runtime) -> Result<Vec<Value>, ApiError> {
        cached(&self.os_images, || list(rt, OpId::OsImages))
    }

    /// The account's SSH keys, as `ssh_keys()` lists them.
    pub fn ssh_keys(&self, rt: &Runtime) -> Result<Vec<Value>, ApiError> {
        cached(&self.ssh_keys, || list(rt, OpId::SshKeys))
    }

    /// The account's startup scripts, as `scripts()` lists them.
    pub fn scripts(&self, rt: &Runtime) -> Result<Vec<Value>, ApiError> {
        cached(&self.scripts, || list(rt, OpId::Scripts))
    }

    /// The first of `regions` whose hinted stock covers `count` GPUs of `model`, with those GPUs
    /// reserved; `None` when none has them. A hint that says "none" after this call's own
    /// reservations is read again once, so a refusal always rests on a fresh read.
    pub fn reserve<'a>(
        &'a self,
        rt: &Runtime,
        regions: &[&str],
        model: &str,
        count: i64,
    ) -> Result<Option<Reservation<'a>>, ApiError> {
        let mut stock = lock(&self.stock);
        let mut fresh = stock.is_none();
        if fresh {
            *stock = Some(read_stock(rt)?);
        }
        loop {
            let free = |region: &str| {
                stock
                    .iter()
                    .flatten()
                    .any(|(r, m, n)| r == region && m == model && *n >= count)
            };
            if let Some(region) = regions.iter().find(|r| free(r)) {
                if let Some(stock) = stock.as_mut() {
                    adjust(stock, region, model, -count);
                }
                return Ok(Some(Reservation {
                    facts: self,
                    region: region.to_string(),
                    model: model.to_string(),
                    count,
                    kept: false,
                }));
            }
            if fresh {
                return Ok(None);
            }
            // Reservations of specs the server then refused are still held here; ask again.
            *stock = Some(read_stock(rt)?);
            fresh = true;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The value in `slot`, read with `read` if it is empty; a failed read is not kept.
fn cached(
    slot: &Mutex<Option<Vec<Value>>>,
    read: impl FnOnce() -> Result<Vec<Value>, ApiError>,
) -> Result<Vec<Value>, ApiError> {
    let mut slot = lock(slot);
    if let Some(value) = slot.as_ref() {
        return Ok(value.clone());
    }
    let value = read()?;
    *slot = Some(value.clone());
    Ok(value)
}

fn list(rt: &Runtime, op: OpId) -> Result<Vec<Value>, ApiError> {
    Ok(match rt.call(op.op(), &Args::new())? {
        Value::Array(items) => items,
        _ => Vec::new(),
    })
}

fn read_stock(rt: &Runtime) -> Result<Stock, ApiError> {
    let text = |item: &Value, key: &str| {
        item.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(list(rt, OpId::GpuStocks)?
        .iter()
        .map(|item| {
            let free = item
                .get("available_gpus")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            (text(item, "region"), text(item, "gpu_model"), free)
        })
        .collect())
}

fn adjust(stock: &mut Stock, region: &str, model: &str, by: i64) {
    for (r, m, n) in stock.iter_mut() {
        if r == region && m == model {
            *n += by;
        }
    }
}
