//! One memory bound for scripts: a counting global allocator whose live-bytes figure the
//! engine's progress callback compares with `--max-memory` (two relaxed atomic loads per
//! operation). It sees every growth path — `push`, `m[k] = v`, string building, values made by
//! native functions — where Rhai's container-size limits re-measure a container after every
//! change (O(n) per push) and miss index assignment altogether.
//!
//! The `barrack` binary installs it; an embedder may too:
//! ```ignore
//! #[global_allocator]
//! static ALLOC: barrack::memory::CountingAlloc = barrack::memory::CountingAlloc;
//! ```
//! Without it nothing is counted and the bound is never hit.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The system allocator, counting the bytes it has handed out and not yet taken back.
pub struct CountingAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);
static COUNTING: AtomicBool = AtomicBool::new(false);

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = System.realloc(ptr, layout, new_size);
        if !new.is_null() {
            if new_size >= layout.size() {
                LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        new
    }
}

/// Bytes allocated and not yet freed (0 when [`CountingAlloc`] is not the global allocator).
#[inline]
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Set the bound (`--max-memory`) that [`over_limit`] and [`fits`] check.
pub fn set_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

/// The bound in force (`usize::MAX` until one is set).
pub fn limit() -> usize {
    LIMIT.load(Ordering::Relaxed)
}

/// Whether the live heap is past the bound: two relaxed loads, cheap enough for every engine
/// operation.
#[inline]
pub fn over_limit() -> bool {
    LIVE.load(Ordering::Relaxed) > LIMIT.load(Ordering::Relaxed)
}

/// Whether [`CountingAlloc`] is the global allocator (it has counted something).
pub fn counting() -> bool {
    if COUNTING.load(Ordering::Relaxed) {
        return true;
    }
    let probe = Box::new(0_u64);
    let before = live();
    drop(probe);
    let counts = live() < before;
    COUNTING.store(counts, Ordering::Relaxed);
    counts
}

/// Whether `more` bytes still fit under `limit` (for native functions that allocate a size the
/// script asks for in one go: `pad`, `blob`).
pub fn fits(more: usize, limit: usize) -> bool {
    live().saturating_add(more) <= limit
}

/// The default `--max-memory`: half the physical memory, at most 4 GiB. Half, so a runaway
/// script in a cron job is stopped before it pushes the machine into swap or the OOM killer;
/// 4 GiB, because no ordinary script comes near it (Rhai values are small; a million-element
/// array of maps is a few hundred MiB) and most machines running barrack have more.
pub fn default_limit() -> usize {
    const CAP: usize = 4 << 30;
    physical().map_or(CAP, |bytes| (bytes / 2).clamp(256 << 20, CAP))
}

#[cfg(unix)]
fn physical() -> Option<usize> {
    // SAFETY: sysconf has no preconditions; it returns -1 when the value is unknown.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if pages <= 0 || size <= 0 {
        return None;
    }
    (pages as usize).checked_mul(size as usize)
}

#[cfg(not(unix))]
fn physical() -> Option<usize> {
    None
}

/// `2GiB`, `512MiB`, `1.5G`, `1000000` (bytes): the `--max-memory` value.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit_bytes: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024.0_f64.powi(4),
        _ => {
            return Err(format!(
                "{text:?} is not a size; use forms like 512MiB, 2GiB"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size; use forms like 512MiB, 2GiB"))?;
    let bytes = value * unit_bytes;
    if !bytes.is_finite() || bytes < 1.0 || bytes >= usize::MAX as f64 {
        return Err(format!(
            "{text:?} is out of range; give at least 1 byte, such as 512MiB or 2GiB"
        ));
    }
    Ok(bytes as usize)
}

/// A size for people: `4 GiB`, `512 MiB`, `1000 bytes`.
pub fn format_size(bytes: usize) -> String {
    const UNITS: [(&str, usize); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size {
            let value = bytes as f64 / size as f64;
            return if value.fract() == 0.0 {
                format!("{value} {unit}")
            } else {
                format!("{value:.1} {unit}")
            };
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("512 MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1.5G"), Ok(1_500_000_000));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("1e30GiB").is_err());
        assert!(parse_size("99999999999999999999999TiB").is_err());
        assert_eq!(format_size(4 << 30), "4 GiB");
        assert_eq!(format_size(1536 << 20), "1.5 GiB");
        assert_eq!(format_size(12), "12 bytes");
        let default = default_limit();
        assert!((256 << 20..=4 << 30).contains(&default), "{default}");
    }
}
