//! The one integration test binary (`autotests = false`): shared helpers, then one `mod` per topic.
//! Every test talks real HTTP to a simulator started in-process on an ephemeral port.

// barrack's errors are large by design (see src/lib.rs).
#![allow(clippy::result_large_err)]

// ---- Core (issue "Core"): helpers in tests/support/, tests in tests/core_*.rs ----
mod support;

mod core_cli;
mod core_lifecycle;
mod core_ops;
mod core_rules;

// ---- The simulator as a server: HTTP limits, lost answers, fault points, TLS, admin ----
mod sim_server;

// ---- The seeds' rules, kept (issue 14): each reference rule against the simulator ----
mod seed_rules;

// ---- The Rhai host, the REPL, the stdlib: the `Test` builder runs the real binary ----
mod retries;
mod test;
mod tls;
mod transport;

mod ecosystem;
mod embed;
mod plan;
mod repl;
mod script_api;
mod script_cli;
mod stdlib;
mod strict_keys;
mod testing;

// ---- Polish for people (issue 17): what a new user trips over; `barrack status` ----
mod polish;

// ---- Scale (issue 18): the simulator with thousands of objects ----
mod scale;
mod status;

// ---- Reliability (issue 7): soak under faults, bad input, secrets, property tests ----
mod bad_input;
mod props;
mod secrets;
mod soak;

// ---- Run control and engine bounds (issue 13; Ctrl-C of 17; --timeout cost of 18) ----
mod bounds;

// ---- Scale (issue 18): a fleet deploy reads the account facts once ----
mod deploy_facts;

// ---- Scale (issue 18): --state FILE saved behind the requests, and on every orderly stop ----
mod sim_state;
