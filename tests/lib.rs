//! The one integration test binary (`autotests = false`): shared helpers, then one `mod` per
//! feature, named for what a user would look for. Every test talks real HTTP to a simulator on
//! loopback (in-process, or `barrack sim`); every run of the `barrack` binary goes through the
//! `Test` builder (tests/test.rs).

// barrack's errors are large by design (see src/lib.rs).
#![allow(clippy::result_large_err)]

// ---- helpers: the simulator and raw HTTP (support/), the `Test` builder for the binary ----
mod support;
mod test;

// ---- the command line: commands, flags, exit codes, help, completion, profiles ----
mod cli;
mod run_and_eval;

// ---- scripts: the Rhai surface, the engine's limits, the stdlib recipes, plans ----
mod limits;
mod plan;
mod recipes;
mod scripts;

// ---- the API through the client: every operation, lifecycles, the server's rules ----
mod firewalls;
mod lifecycle;
mod operations;
mod rules;

// ---- what barrack refuses: bad input of every kind, misspelled keys ----
mod bad_input;

// ---- runs nobody watches: timeouts, Ctrl-C, locks, the audit log, exit codes ----
mod unattended;

// ---- the wire: connections, proxies, TLS, retries ----
mod transport;

// ---- the simulator as a server, and at scale ----
mod simulator;

// ---- fleets, `barrack status`, the REPL, `barrack test`, embedding ----
mod embed;
mod fleets;
mod repl;
mod status;
mod test_command;

// ---- the documents shipped with barrack say what it does ----
mod docs;

// ---- reliability: the key never shows, the fault soak, property tests ----
mod props;
mod secrets;
mod soak;
