//! Fleet actions: an array as the first argument runs the action on every element, at most
//! `--parallel` at once. Every element is attempted; results keep input order; failures are
//! reported together after all finished (as ripgrep reports errors: collect, then decide).

use super::convert::{self, RhaiResult};
use super::handles::{self, Handle};
use super::limits::STACK_SIZE;
use super::runtime::Runtime;
use rhai::{Array, Dynamic, EvalAltResult, Map, Position};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Run `one` on every item (what to do for one element is the caller's: an API action, a
/// wait), with a progress bar or a closing line, and collect the results as [`collect`] does.
pub fn run<F>(rt: &Runtime, name: &str, items: &[Dynamic], one: F) -> RhaiResult
where
    F: Fn(&Dynamic) -> RhaiResult + Sync,
{
    let bar = progress_bar(rt, name, items.len());
    let results = map_parallel(rt, items, |item| {
        let outcome = one(item);
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        outcome
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    } else if rt.events && !rt.quiet {
        let failed = results.iter().filter(|r| r.is_err()).count();
        rt.say(&format!(
            "barrack: {name} on {}: {} done, {failed} failed",
            crate::render::figures::count(items.len(), "object"),
            items.len() - failed
        ));
    }
    collect(name, items, results)
}

/// A bar on a terminal (`hibernate [=====>    ] 12/16`); `None` otherwise.
fn progress_bar(rt: &Runtime, name: &str, len: usize) -> Option<indicatif::ProgressBar> {
    if !rt.progress || rt.quiet {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(name.to_string());
    Some(bar)
}

/// Run `f` on every item with at most `rt.parallel` threads; results in input order.
pub fn map_parallel<F>(rt: &Runtime, items: &[Dynamic], f: F) -> Vec<RhaiResult>
where
    F: Fn(&Dynamic) -> RhaiResult + Sync,
{
    let workers = rt.parallel.clamp(1, items.len().max(1));
    if workers == 1 {
        return items.iter().map(&f).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<RhaiResult>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let work = || loop {
        let i = next.fetch_add(1, Ordering::SeqCst);
        if i >= items.len() {
            break;
        }
        // A stop (`--timeout`, Ctrl-C) lets calls in flight finish and starts no new one.
        let outcome = rt.check_stop().and_then(|()| f(&items[i]));
        *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
    };
    std::thread::scope(|scope| {
        for _ in 0..workers {
            // Values handed to a worker may be deeply nested; their clones, drops and JSON
            // conversion recurse, so workers get the stack a script thread has (virtual memory,
            // touched only as deep as a value goes).
            let spawned = std::thread::Builder::new()
                .name("barrack-fleet".into())
                .stack_size(STACK_SIZE)
                .spawn_scoped(scope, work);
            if spawned.is_err() {
                // No thread to be had: this (calling) thread does the remaining work itself.
                work();
            }
        }
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or_else(|| Err("fleet worker stopped before this item".into()))
        })
        .collect()
}

/// The array of results, or one error naming every failed item after all were tried.
pub fn collect(name: &str, items: &[Dynamic], results: Vec<RhaiResult>) -> RhaiResult {
    let mut values = Array::with_capacity(results.len());
    let mut failures = Array::new();
    let mut lines = Vec::new();
    // (status, code) of each failure: one shared cause gives the fleet error its exit code.
    let mut causes: Vec<(i64, String)> = Vec::new();
    for (index, (item, result)) in items.iter().zip(results).enumerate() {
        match result {
            Ok(value) => values.push(value),
            Err(err) => {
                if !err.is_catchable() {
                    // A timeout or a limit stops the whole run, not one item.
                    return Err(err);
                }
                let id = describe_target(item);
                let (why, detail) = describe_error(&err);
                causes.push(cause_of(&detail));
                lines.push(format!("{id}: {why}"));
                let mut failure = Map::new();
                failure.insert("index".into(), (index as i64).into());
                failure.insert("id".into(), id.into());
                failure.insert("message".into(), why.into());
                failure.insert("error".into(), detail);
                failures.push(failure.into());
                values.push(Dynamic::UNIT);
            }
        }
    }
    if failures.is_empty() {
        return Ok(values.into());
    }
    let mut error = Map::new();
    error.insert("code".into(), "FLEET_FAILED".into());
    error.insert("status".into(), 0_i64.into());
    error.insert("op".into(), name.into());
    let mut distinct = causes.clone();
    distinct.sort();
    distinct.dedup();
    let mixed = if distinct.len() > 1 {
        let list: Vec<String> = distinct
            .iter()
            .map(|cause| {
                let n = causes.iter().filter(|c| *c == cause).count();
                format!("{} ×{n}", cause.1)
            })
            .collect();
        format!(" (mixed causes: {})", list.join(", "))
    } else {
        String::new()
    };
    if let [(status, code)] = distinct.as_slice() {
        let mut cause = Map::new();
        cause.insert("status".into(), (*status).into());
        cause.insert("code".into(), code.as_str().into());
        error.insert("cause".into(), cause.into());
    }
    let summary = format!(
        "{name}: {} of {} failed after all were tried{mixed}: {}",
        failures.len(),
        items.len(),
        lines.join("; ")
    );
    error.insert("message".into(), summary.clone().into());
    error.insert("summary".into(), summary.into());
    error.insert("failures".into(), failures.into());
    error.insert("results".into(), values.into());
    Err(EvalAltResult::ErrorRuntime(error.into(), Position::NONE).into())
}

/// The (status, code) of a failure's error map; `(0, "ERROR")` for a plain thrown value.
fn cause_of(detail: &Dynamic) -> (i64, String) {
    detail
        .read_lock::<Map>()
        .map(|map| {
            let map = map
                .get("cause")
                .and_then(|c| c.read_lock::<Map>().map(|c| c.clone()))
                .unwrap_or_else(|| map.clone());
            (
                map.get("status").and_then(|s| s.as_int().ok()).unwrap_or(0),
                map.get("code")
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "ERROR".into()),
            )
        })
        .unwrap_or((0, "ERROR".into()))
}

fn describe_error(err: &EvalAltResult) -> (String, Dynamic) {
    match err {
        EvalAltResult::ErrorRuntime(value, _) => match value.read_lock::<Map>() {
            Some(map) => {
                let text = map
                    .get("summary")
                    .or_else(|| map.get("message"))
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                (text, value.clone())
            }
            None => (value.to_string(), value.clone()),
        },
        other => (other.to_string(), other.to_string().into()),
    }
}

/// The id of any target value, for the lines naming failed items.
fn describe_target(value: &Dynamic) -> String {
    match handles::as_handle(value) {
        Some(Handle { raw, .. }) => raw.get("id").map(|v| v.to_string()).unwrap_or_default(),
        None if value.is_string() => value.to_string(),
        None => convert::describe_value(value),
    }
}
