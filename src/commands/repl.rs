//! `barrack repl`

use super::script::host;
use crate::api::{Exchange, Observer};
use crate::cli::{GlobalOpts, ReplArgs};
use crate::config::{process_env, state_dir};
use crate::error::{Error, Result};
use crate::output::Printer;
use crate::repl::{self, History, Session};
use crate::testing::requests::RequestLog;
use crate::testing::sandbox::SimClock;
use crate::testing::sim_module;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// `:explain on`: every HTTP request on stderr, with its body; the key never appears.
fn explain_observer(flag: Arc<AtomicBool>) -> Observer {
    Arc::new(move |x: &Exchange<'_>| {
        if !flag.load(Ordering::Relaxed) {
            return;
        }
        let body = x.body.map(|b| format!(" {b}")).unwrap_or_default();
        let status = if x.status == 0 {
            "no answer".into()
        } else {
            x.status.to_string()
        };
        eprintln!(
            "→ {} {}{body}\n← {status} ({} ms){}",
            x.method,
            x.url,
            x.elapsed.as_millis(),
            x.request_id
                .map(|r| format!(" request_id {r}"))
                .unwrap_or_default()
        );
    })
}

pub fn run(args: ReplArgs, global: &GlobalOpts, printer: Printer) -> Result<ExitCode> {
    let explain = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(RequestLog::new());
    let (host, mut connection) = host(
        global,
        &args.opts,
        Vec::new(),
        vec![explain_observer(explain.clone()), requests.observer()],
        false,
    )?;
    let sim = connection.sim.take().map(Arc::new);
    let history = state_dir(&process_env)
        .map(|dir| History::open(dir.join("history"), connection.client.api_key().cloned()));
    if let Some(sim) = &sim {
        // now() reads the simulator's clock, so it follows `sim::advance` at once.
        let _ = host
            .runtime
            .clock
            .set(Arc::new(SimClock::live(sim.clone())));
        requests.attach(sim.clone());
    }
    crate::interrupt::watch(&host.runtime.stop, false);
    let mut session = Session::new(host, printer, explain, history);
    if let Some(sim) = &sim {
        // `sim::advance`, `sim::faults`… on the session's own simulator, as in `barrack test`.
        session.add_module("sim", sim_module::module(sim, &requests));
    }
    let failures = repl::run(session).map_err(|e| Error::io("the terminal", e))?;
    drop(connection);
    drop(sim);
    if failures > 0 {
        return Err(Error::script(format!(
            "{failures} {} of the piped input failed (see the errors above)",
            if failures == 1 { "entry" } else { "entries" }
        )));
    }
    Ok(ExitCode::SUCCESS)
}
