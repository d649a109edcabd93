//! `barrack run`, `eval` and `check`: scripts against the API (or the simulator).

use crate::cli::{CheckArgs, EvalArgs, Format, GlobalOpts, RunArgs, ScriptOpts};
use crate::connect::{connect_until, Connection, RunLimit};
use crate::error::{Error, Result};
use crate::output::Printer;
use crate::script::{self, AuditLog, Host, Limits, Source};
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

/// An exclusive lock held for the whole run (`--lock`); a second run exits 75 at once.
pub struct RunLock(#[allow(dead_code)] File);

pub fn lock(path: &std::path::Path) -> Result<RunLock> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::flag_path("--lock", path, &e))?;
    match file.try_lock() {
        Ok(()) => Ok(RunLock(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::LockHeld {
            path: path.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(path, e)),
    }
}

/// Connect and build the host for a run: runtime settings, params, audit log.
pub fn host(
    global: &GlobalOpts,
    opts: &ScriptOpts,
    args: Vec<String>,
    observers: Vec<crate::api::Observer>,
    planning: bool,
) -> Result<(Host, Connection)> {
    let started = Instant::now();
    let deadline = opts.timeout.and_then(|t| started.checked_add(t.0));
    let run_limit = opts.timeout.zip(deadline).map(|(t, deadline)| RunLimit {
        deadline,
        limit: t.0,
    });
    // The key command and the connection share the run's deadline.
    let connection = crate::config::within_deadline(deadline, || {
        connect_until(global, &opts.connect, observers, run_limit)
    })?;
    let mut builder = Host::builder(connection.client.clone())
        .parallel(opts.parallel as usize)
        .quiet(global.quiet)
        .progress(std::io::stderr().is_terminal())
        .events(!global.quiet)
        .print_to_stderr(global.output == Format::Json)
        .args(args);
    if let (Some(at), Some(limit)) = (deadline, opts.timeout) {
        builder = builder.deadline(at, limit.0);
    }
    if planning {
        builder = builder.plan();
    } else if let Some(path) = &opts.audit_log {
        builder = builder
            .audit(AuditLog::open(path).map_err(|e| Error::flag_path("--audit-log", path, &e))?);
    }
    if let Some(size) = opts.max_memory {
        builder = builder.limits(Limits {
            max_memory: size.0,
            ..Limits::default()
        });
    }
    let mut params = rhai::Map::new();
    for kv in &opts.set {
        params.insert(kv.key.as_str().into(), script::param_value(&kv.value));
    }
    let host = builder.params(params).build();
    Ok((host, connection))
}

/// With `-o json`, stdout carries exactly one JSON document: the script's value (`null` when it
/// has none); the script's own `print` lines went to stderr.
pub fn run(args: RunArgs, global: &GlobalOpts, printer: Printer) -> Result<ExitCode> {
    let _lock = args.opts.lock.as_deref().map(lock).transpose()?;
    let (host, _connection) = host(global, &args.opts, args.args.clone(), Vec::new(), false)?;
    crate::interrupt::watch(&host.runtime.stop, true);
    let source = Source::load(&args.script)?;
    let value = host.run(&source)?;
    if printer.format == Format::Json {
        print_value(&value, printer)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn eval(args: EvalArgs, global: &GlobalOpts, printer: Printer) -> Result<ExitCode> {
    let _lock = args.opts.lock.as_deref().map(lock).transpose()?;
    let (host, _connection) = host(global, &args.opts, Vec::new(), Vec::new(), false)?;
    crate::interrupt::watch(&host.runtime.stop, true);
    let value = host.run(&Source::snippet("<eval>", &args.code))?;
    print_value(&value, printer)?;
    Ok(ExitCode::SUCCESS)
}

/// A value as `eval` and the REPL print it: one line for handles, JSON for maps and arrays.
pub fn print_value(value: &rhai::Dynamic, printer: Printer) -> Result<()> {
    if value.is_unit() && printer.format == Format::Text {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let written = match printer.format {
        Format::Json => match script::convert::to_json(value) {
            Ok(json) => printer.value(&mut out, &json),
            Err(e) => return Err(Error::script(e)),
        },
        Format::Text => writeln!(out, "{}", script::display(value)),
    };
    written.map_err(|e| Error::io("stdout", e))
}

/// One `ok  PATH` line per file that compiles (stdout), every syntax error (stderr), then a
/// summary when more than one file was checked.
pub fn check(args: CheckArgs, global: &GlobalOpts) -> Result<ExitCode> {
    let mut engine = rhai::Engine::new_raw();
    script::Limits::default().apply(&mut engine);
    let mut diagnostics = Vec::new();
    let mut out = std::io::stdout().lock();
    let mut failed_files = 0;
    for spec in &args.scripts {
        let source = Source::load(spec)?;
        let found = script::check(&engine, &source);
        if found.is_empty() {
            if !global.quiet {
                writeln!(out, "ok  {spec}").map_err(|e| Error::io("stdout", e))?;
            }
        } else {
            failed_files += 1;
        }
        diagnostics.extend(found);
    }
    let total = args.scripts.len();
    if total > 1 && !global.quiet {
        writeln!(
            out,
            "{} of {total} files compile{}",
            total - failed_files,
            if failed_files == 0 {
                ""
            } else {
                "; the errors follow on stderr"
            }
        )
        .map_err(|e| Error::io("stdout", e))?;
    }
    if diagnostics.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Error::Compile { diagnostics })
    }
}
