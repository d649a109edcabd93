//! The engine's limits: durations that never wrap, one memory bound that ordinary Rhai never
//! meets, deep values and import cycles that are errors rather than crashes, imports of regular
//! files only.
