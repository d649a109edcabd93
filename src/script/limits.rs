//! The sandbox limits of a run's engines.

use rhai::Engine;

/// The stack of a thread that runs a script (`barrack` runs each command on one) and of fleet
/// workers: 256 MiB of address space (touched only as deep as the work goes), so Rhai's
/// recursion on deeply nested values — clone, drop, printing, barrack's depth-checked
/// comparisons and conversions — ends in an error or a result, not a stack overflow (the
/// default 8 MiB main stack overflowed at 4,600 levels).
pub(crate) const STACK_SIZE: usize = 256 << 20;

/// Sandbox limits for scripts (cron runs must not run away).
///
/// Memory is bounded by `max_memory`, checked against the counting allocator
/// ([`crate::memory`]) from the progress callback. Rhai's own container limits
/// (`max_string_size`, `max_array_size`, `max_map_size`) are off (0) by default: with any of
/// them set Rhai re-measures a whole container after every change (a million pushes take
/// minutes instead of 0.6 s) and never checks `m[k] = v`. An embedder that does not install the
/// counting allocator may set them.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Rhai operations before the run is stopped.
    pub max_operations: u64,
    /// Depth of function calls.
    pub max_call_levels: usize,
    /// Depth of expressions (global, in functions).
    pub max_expr_depth: (usize, usize),
    /// Longest string, 0 for no limit.
    pub max_string_size: usize,
    /// Longest array, 0 for no limit.
    pub max_array_size: usize,
    /// Largest map, 0 for no limit.
    pub max_map_size: usize,
    /// Modules a script may import.
    pub max_modules: usize,
    /// Live heap bytes of the process (`--max-memory`); needs [`crate::memory::CountingAlloc`].
    pub max_memory: usize,
}

impl Limits {
    /// Set every limit on an engine (also used by `check`, so both parse alike).
    pub fn apply(&self, engine: &mut Engine) {
        engine
            .set_max_operations(self.max_operations)
            .set_max_call_levels(self.max_call_levels)
            .set_max_expr_depths(self.max_expr_depth.0, self.max_expr_depth.1)
            // 0 = unlimited, as in Rhai; see the type's documentation.
            .set_max_string_size(self.max_string_size)
            .set_max_array_size(self.max_array_size)
            .set_max_map_size(self.max_map_size)
            .set_max_modules(self.max_modules);
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 500_000_000,
            max_call_levels: 64,
            max_expr_depth: (64, 32),
            max_string_size: 0,
            max_array_size: 0,
            max_map_size: 0,
            max_modules: 64,
            max_memory: crate::memory::default_limit(),
        }
    }
}
