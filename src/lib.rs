//! barrack: the Barrack GPU-cloud API inside a Rhai engine, with a built-in simulator.
//!
//! The library surface: [`api`] (catalog, client), [`sim`] (the simulator), and the command line
//! entry point [`main_entry`] that the binary calls.

// `ApiError` carries everything a person needs to act on a failure (status, code, message,
// per-field errors, request id, tier, the request); failures are the cold path, so its size in
// `Result` is not worth boxing away.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod cli;
mod commands;
pub mod config;
pub mod connect;
pub mod error;
pub mod ops_doc;
pub mod output;
pub mod repl;
pub mod script;
pub mod secret;
pub mod sim;

use clap::Parser;
use std::ffi::OsString;
use std::io::ErrorKind;
use std::process::ExitCode;

/// Parse, run, print the error once, and turn it into the exit code of design.md.
pub fn main_entry(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match commands::run(cli) {
        Ok(code) => code,
        Err(error::Error::Io { source, .. }) if source.kind() == ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}{e}", output::error_prefix());
            ExitCode::from(e.exit_code())
        }
    }
}
