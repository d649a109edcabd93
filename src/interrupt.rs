//! Ctrl-C. The first press asks the current run to stop (the same flag `--timeout` sets: the
//! engine, waits, sleeps and fleets end, requests already sent finish); a second press while
//! it is stopping exits at once with 130. The REPL clears the flag before each entry, so a
//! press stops one evaluation and the session goes on.

use crate::error::EXIT_INTERRUPTED;
use crate::script::{Stop, StopReason};
use std::sync::Mutex;

static CURRENT: Mutex<Option<(Stop, bool)>> = Mutex::new(None);

/// Route Ctrl-C to `stop` from now on. `announce`: say on stderr that the run is stopping.
pub fn watch(stop: &Stop, announce: bool) {
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some((stop.clone(), announce));
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Without a handler (none could be installed) Ctrl-C ends the process as before.
        let _ = ctrlc::set_handler(on_ctrl_c);
    });
}

fn on_ctrl_c() {
    let current = CURRENT.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let Some((stop, announce)) = current else {
        std::process::exit(EXIT_INTERRUPTED.into());
    };
    if stop.reason().is_some() {
        eprintln!("barrack: interrupted again: exiting now (exit {EXIT_INTERRUPTED})");
        std::process::exit(EXIT_INTERRUPTED.into());
    }
    stop.request(StopReason::Interrupted);
    if announce {
        eprintln!("barrack: stopping after the requests in flight (Ctrl-C again exits at once)");
    }
}
