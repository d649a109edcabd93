//! Bounds that Rhai's standard library leaves to its container-size limits, which barrack
//! turns off (they re-measure a container on every change): native functions that allocate a
//! size the script names in one go (`pad`, `blob`) are checked against `--max-memory` before
//! they allocate, and `==` / `!=` on arrays and maps compare iteratively deep, with a depth
//! limit, instead of recursing through the engine until the stack overflows.

use super::runtime::Runtime;
use crate::memory;
use rhai::{
    Array, Blob, Dynamic, EvalAltResult, FuncRegistration, ImmutableString, Map, Module,
    NativeCallContext,
};
use std::sync::Arc;

type Res<T> = Result<T, Box<EvalAltResult>>;

/// How deep `==` follows nested arrays and maps. No data a script reads or builds on purpose
/// comes near it; a value nested deeper was built by a runaway loop.
pub const MAX_COMPARE_DEPTH: usize = 5_000;

pub fn register(module: &mut Module, _runtime: &Arc<Runtime>) {
    register_equality(module);
    register_allocators(module);
}

fn register_equality(module: &mut Module) {
    FuncRegistration::new("==")
        .in_global_namespace()
        .set_into_module(
            module,
            |ctx: NativeCallContext, a: &mut Array, b: Array| -> Res<bool> {
                arrays_equal(&ctx, a, &b, 0)
            },
        );
    FuncRegistration::new("!=")
        .in_global_namespace()
        .set_into_module(
            module,
            |ctx: NativeCallContext, a: &mut Array, b: Array| -> Res<bool> {
                arrays_equal(&ctx, a, &b, 0).map(|eq| !eq)
            },
        );
    FuncRegistration::new("==")
        .in_global_namespace()
        .set_into_module(
            module,
            |ctx: NativeCallContext, a: &mut Map, b: Map| -> Res<bool> {
                maps_equal(&ctx, a, &b, 0)
            },
        );
    FuncRegistration::new("!=")
        .in_global_namespace()
        .set_into_module(
            module,
            |ctx: NativeCallContext, a: &mut Map, b: Map| -> Res<bool> {
                maps_equal(&ctx, a, &b, 0).map(|eq| !eq)
            },
        );
}

fn too_deep() -> Box<EvalAltResult> {
    format!(
        "cannot compare values nested deeper than {MAX_COMPARE_DEPTH} levels (arrays in arrays or \
         maps in maps); such a value was built by a runaway loop"
    )
    .into()
}

fn arrays_equal(ctx: &NativeCallContext, a: &Array, b: &Array, depth: usize) -> Res<bool> {
    if a.len() != b.len() {
        return Ok(false);
    }
    for (x, y) in a.iter().zip(b) {
        if !values_equal(ctx, x, y, depth + 1)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn maps_equal(ctx: &NativeCallContext, a: &Map, b: &Map, depth: usize) -> Res<bool> {
    if a.len() != b.len() {
        return Ok(false);
    }
    for (key, x) in a {
        match b.get(key) {
            Some(y) if values_equal(ctx, x, y, depth + 1)? => {}
            _ => return Ok(false),
        }
    }
    Ok(true)
}

/// As Rhai compares: containers element by element; anything else with the engine's `==`
/// (false between different types that have no `==`, an error between like types that have none).
fn values_equal(ctx: &NativeCallContext, x: &Dynamic, y: &Dynamic, depth: usize) -> Res<bool> {
    if depth > MAX_COMPARE_DEPTH {
        return Err(too_deep());
    }
    if let (Some(a), Some(b)) = (x.read_lock::<Array>(), y.read_lock::<Array>()) {
        return arrays_equal(ctx, &a, &b, depth);
    }
    if let (Some(a), Some(b)) = (x.read_lock::<Map>(), y.read_lock::<Map>()) {
        return maps_equal(ctx, &a, &b, depth);
    }
    let (mut x, mut y) = (x.clone(), y.clone());
    let same_type = x.type_id() == y.type_id();
    match ctx.call_native_fn_raw("==", true, &mut [&mut x, &mut y]) {
        Ok(result) => Ok(result.as_bool().unwrap_or(false)),
        Err(err) => match *err {
            EvalAltResult::ErrorFunctionNotFound(ref sig, ..)
                if sig.starts_with("==") && !same_type =>
            {
                Ok(false)
            }
            _ => Err(err),
        },
    }
}

/// Refuse an allocation of `bytes` that would take the process past `--max-memory`.
fn room(what: &str, bytes: usize) -> Res<()> {
    let limit = memory::limit();
    if memory::fits(bytes, limit) {
        return Ok(());
    }
    Err(format!(
        "{what} would need {} and take the script past {} of memory (--max-memory); \
         ask for less, or raise the limit with --max-memory SIZE",
        memory::format_size(bytes),
        memory::format_size(limit)
    )
    .into())
}

fn register_allocators(module: &mut Module) {
    FuncRegistration::new("pad")
        .in_global_namespace()
        .with_purity(false)
        .set_into_module(
            module,
            |array: &mut Array, len: i64, item: Dynamic| -> Res<()> {
                let Ok(len) = usize::try_from(len) else {
                    return Ok(());
                };
                if len <= array.len() {
                    return Ok(());
                }
                let more = (len - array.len()).saturating_mul(std::mem::size_of::<Dynamic>());
                room("pad", more)?;
                array.resize(len, item);
                Ok(())
            },
        );
    FuncRegistration::new("pad")
        .in_global_namespace()
        .with_purity(false)
        .set_into_module(
            module,
            |text: &mut ImmutableString, len: i64, c: char| -> Res<()> {
                pad_string(text, len, &c.to_string())
            },
        );
    FuncRegistration::new("pad")
        .in_global_namespace()
        .with_purity(false)
        .set_into_module(
            module,
            |text: &mut ImmutableString, len: i64, padding: &str| -> Res<()> {
                pad_string(text, len, padding)
            },
        );
    FuncRegistration::new("blob")
        .in_global_namespace()
        .set_into_module(module, |len: i64| -> Res<Blob> { blob(len, 0) });
    FuncRegistration::new("blob")
        .in_global_namespace()
        .set_into_module(module, |len: i64, value: i64| -> Res<Blob> {
            blob(len, value)
        });
    FuncRegistration::new("pad")
        .in_global_namespace()
        .with_purity(false)
        .set_into_module(module, |b: &mut Blob, len: i64, value: i64| -> Res<()> {
            let Ok(len) = usize::try_from(len) else {
                return Ok(());
            };
            if len <= b.len() {
                return Ok(());
            }
            room("pad", len - b.len())?;
            b.resize(len, (value & 0xff) as u8);
            Ok(())
        });
}

fn blob(len: i64, value: i64) -> Res<Blob> {
    let Ok(len) = usize::try_from(len) else {
        return Ok(Blob::new());
    };
    room("blob", len)?;
    Ok(vec![(value & 0xff) as u8; len])
}

/// Rhai's `pad` for strings (to `len` characters, repeating `padding`), checked first.
fn pad_string(text: &mut ImmutableString, len: i64, padding: &str) -> Res<()> {
    let Ok(len) = usize::try_from(len) else {
        return Ok(());
    };
    let chars = text.chars().count();
    if len <= chars || padding.is_empty() {
        return Ok(());
    }
    let widest = padding.chars().map(char::len_utf8).max().unwrap_or(1);
    room("pad", (len - chars).saturating_mul(widest))?;
    let out = text.make_mut();
    out.extend(padding.chars().cycle().take(len - chars));
    Ok(())
}
