//! barrack: the Barrack GPU-cloud API inside a Rhai engine, with a built-in simulator.
//!
//! The library surface, for programs that embed barrack:
//! - [`api`]: the operation catalog ([`api::OPS`]) and the HTTP [`api::Client`];
//! - [`script`]: the Rhai package ([`script::BarrackPackage`]) for an engine of your own, or a
//!   sandboxed run built with [`script::Host::builder`] (client, limits, timeout, output, the
//!   bundled stdlib as `import "barrack/…"`);
//! - [`sim`]: the simulator, served over real HTTP on loopback ([`sim::Simulator::start`]);
//! - [`error::Error`], what a run fails with, and [`secret::ApiKey`], a key that never prints.
//!
//! The command line is [`main_entry`]; its own modules are private.
//!
//! # Embedding
//!
//! Start the simulator in-process, build a run against it, and evaluate a workflow:
//!
//! ```
//! use barrack::api::{Client, ClientSettings};
//! use barrack::script::{Host, Source};
//! use barrack::secret::ApiKey;
//! use barrack::sim::{SimOptions, Simulator};
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::start(SimOptions::fast())?;
//! let client = Client::new(ClientSettings::new(sim.base_url(), ApiKey::new("sk-example")))?;
//! let host = Host::builder(client)
//!     .timeout(Duration::from_secs(60))
//!     .quiet(true)
//!     .build();
//! let status = host.run(&Source::snippet(
//!     "<workflow>",
//!     r#"
//!     let vm = deploy(#{gpu: "L40", count: 1, region: "CANADA-1", name: "doc-1"});
//!     wait_active(vm);
//!     vm.hibernate();
//!     wait_status(vm, "HIBERNATED");
//!     vm.status
//!     "#,
//! ))?;
//! assert_eq!(status.to_string(), "HIBERNATED");
//! assert_eq!(sim.world().instances.len(), 1);
//! # Ok(())
//! # }
//! ```

// `ApiError` carries everything a person needs to act on a failure (status, code, message,
// per-field errors, request id, tier, the request); failures are the cold path, so its size in
// `Result` is not worth boxing away.
#![allow(clippy::result_large_err)]
#![warn(missing_docs)]

pub mod api;
mod cli;
mod commands;
mod config;
mod connect;
mod crash;
pub mod error;
mod help;
mod interrupt;
pub mod memory;
mod ops_doc;
mod output;
mod render;
mod repl;
pub mod script;
pub mod secret;
pub mod sim;
mod testing;

use clap::Parser;
use std::ffi::OsString;
use std::io::ErrorKind;
use std::process::ExitCode;

/// Exit code of an internal error (a panic): EX_SOFTWARE.
pub(crate) const EXIT_INTERNAL: u8 = 70;

// The command thread runs scripts, so it takes the stack the script layer asks for.
use script::STACK_SIZE;

/// Parse, run, print the error once, and turn it into the exit code of design.md. A panic — a
/// bug — is the last resort: one short line on stderr, without the key, and exit 70. The
/// command runs on a thread with a 256 MiB stack.
pub fn main_entry(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    install_panic_hook();
    crash::install();
    let args: Vec<OsString> = args.into_iter().collect();
    let run = move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_main(args)))
            .unwrap_or(ExitCode::from(EXIT_INTERNAL))
    };
    match std::thread::Builder::new()
        .name("barrack".into())
        .stack_size(STACK_SIZE)
        .spawn(run)
    {
        Ok(thread) => thread.join().unwrap_or(ExitCode::from(EXIT_INTERNAL)),
        Err(_) => {
            eprintln!(
                "{}could not start the script thread (256 MiB of address space); \
                 raise `ulimit -v` (exit {EXIT_INTERNAL})",
                output::error_prefix()
            );
            ExitCode::from(EXIT_INTERNAL)
        }
    }
}

/// Keys loaded for this process (a profile's `api_key`, `api_key_command`'s output): the panic
/// hook and the crash handler redact them wherever they appear.
static LOADED_KEYS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Note a key that was loaded, so a crash report never shows it.
pub(crate) fn remember_key(key: &str) {
    let key = key.trim();
    if key.is_empty() {
        return;
    }
    let mut keys = LOADED_KEYS.lock().unwrap_or_else(|e| e.into_inner());
    if !keys.iter().any(|k| k == key) {
        keys.push(key.to_string());
    }
}

/// Every text a crash report must not contain: the environment's key and every loaded key.
pub(crate) fn secrets() -> Vec<String> {
    let mut all = vec![std::env::var("BARRACK_API_KEY").unwrap_or_default()];
    // `try_lock`: a panic while the list is held must not deadlock the hook.
    if let Ok(keys) = LOADED_KEYS.try_lock() {
        all.extend(keys.iter().cloned());
    }
    all
}

fn run_main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
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

/// Replace Rust's panic report ("thread 'main' panicked at …", exit 101) with one line that
/// says what happened and asks for a report. Installed once per process; every thread's panic
/// is reported. The process exits 70: through `main_entry`'s `catch_unwind` when the panic
/// unwinds to it, at once when panics abort. `RUST_BACKTRACE=1` adds a backtrace (frames only,
/// no values).
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let payload = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let location = info.location().map(|l| (l.file(), l.line()));
            let secrets = secrets();
            let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
            let mut err = std::io::stderr().lock();
            let _ = std::io::Write::write_fmt(
                &mut err,
                format_args!("{}\n", panic_message(&payload, location, &secrets)),
            );
            if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
                let _ = std::io::Write::write_fmt(
                    &mut err,
                    format_args!("{}\n", std::backtrace::Backtrace::force_capture()),
                );
            }
            if cfg!(panic = "abort") {
                std::process::exit(EXIT_INTERNAL.into());
            }
        }));
    });
}

/// The one line a panic prints: short, on one line, and without secrets — every text in
/// `secrets` and anything after `Bearer ` is replaced by `(redacted)`, whatever the panic said.
pub(crate) fn panic_message(
    payload: &str,
    location: Option<(&str, u32)>,
    secrets: &[&str],
) -> String {
    const MAX: usize = 300;
    let mut text: String = payload.split_whitespace().collect::<Vec<_>>().join(" ");
    for secret in secrets.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        text = text.replace(secret, "(redacted)");
    }
    let mut parts = text.split("Bearer ");
    let mut redacted = parts.next().unwrap_or_default().to_string();
    for rest in parts {
        let tail = rest
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .map_or("", |i| &rest[i..]);
        redacted.push_str("Bearer (redacted)");
        redacted.push_str(tail);
    }
    if let Some((cut, _)) = redacted.char_indices().nth(MAX) {
        redacted.truncate(cut);
        redacted.push('…');
    }
    // Inside the standard library the path starts with the compiler's commit: drop it.
    let place = location
        .map(|(file, line)| {
            let file = file.find("/library/").map_or(file, |i| &file[i + 1..]);
            format!(" at {file}:{line}")
        })
        .unwrap_or_default();
    let what = if redacted.is_empty() {
        "a bug stopped barrack".to_string()
    } else {
        redacted
    };
    format!(
        "barrack: internal error: {what}{place}; this is a bug in barrack, please report it \
         with the command that caused it (exit {EXIT_INTERNAL})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panic_message_is_one_short_line_without_the_key() {
        let msg = panic_message(
            "header was \"Bearer sk-test-SECRET\" and key sk-test-SECRET\nsecond line",
            Some(("src/api/client.rs", 42)),
            &["sk-test-SECRET", ""],
        );
        assert!(!msg.contains("SECRET"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.starts_with("barrack: internal error: header was \"Bearer (redacted)\""));
        assert!(msg.contains("at src/api/client.rs:42"), "{msg}");
        assert!(msg.contains("please report it"), "{msg}");
        let std = panic_message(
            "overflow",
            Some(("/rustc/0123abc/library/std/src/time.rs", 9)),
            &[],
        );
        assert!(std.contains(" at library/std/src/time.rs:9;"), "{std}");
        assert!(!msg.contains("panicked"), "{msg}");

        let long = panic_message(&"x".repeat(10_000), None, &[]);
        assert!(long.len() < 600, "{}", long.len());
        let empty = panic_message("", None, &[]);
        assert!(
            empty.contains("internal error: a bug stopped barrack"),
            "{empty}"
        );
        // A key made only of spaces is no key: nothing is redacted for it.
        assert!(panic_message("a b", None, &["  "]).contains("a b"));
    }
}
