//! `barrack sim`: serve the simulator until SIGINT (Ctrl-C), SIGTERM or SIGHUP, then stop in
//! order: no more requests, and the world saved to `--state FILE` before the process exits.

use crate::cli::{GlobalOpts, SimArgs};
use crate::connect::sim_options;
use crate::error::{Error, Result, EXIT_INTERRUPTED};
use crate::sim::{SimOptions, Simulator, SAVE_INTERVAL};
use std::path::Path;
use std::process::ExitCode;

pub fn run(args: &SimArgs, global: &GlobalOpts) -> Result<ExitCode> {
    let mut options = sim_options(SimOptions::new(), &args.sim_opts)?;
    options.listen = args.listen;
    options.api_key = args.require_key.clone();
    options.tls = args.tls;
    let state = options.state.clone();
    let summary = format!(
        "speed {}×, seed {}{}",
        options.speed,
        options.seed,
        state
            .as_ref()
            .map(|p| format!(", state {}", p.display()))
            .unwrap_or_default()
    );
    // Caught from before the first request: a stop signal never ends the process mid-change.
    let signals = StopSignals::catch()?;
    let sim = Simulator::start(options).map_err(|e| Error::config(e.to_string()))?;
    sim.on_save_error(|e| {
        eprintln!(
            "barrack sim: warning: {e}; changes since the last save are only in memory, \
             and saving is tried again every {} ms",
            SAVE_INTERVAL.as_millis()
        )
    });
    // The certificate is on disk before the "serving" line, so whoever waits for that line can
    // trust it at once.
    if let (Some(path), Some(pem)) = (&args.tls_cert, sim.ca_cert_pem()) {
        write_public(path, pem).map_err(|e| {
            Error::config(format!(
                "--tls-cert {}: cannot write the certificate: {e}",
                path.display()
            ))
        })?;
    }
    if !global.quiet {
        eprintln!(
            "barrack sim: serving the Barrack API on {} ({summary})",
            sim.base_url()
        );
        let trust = match &args.tls_cert {
            Some(path) => format!(" --ca-cert {}", path.display()),
            None => String::new(),
        };
        eprintln!(
            "barrack sim: try  BARRACK_API_KEY=any barrack call balance --api-url {}{trust}",
            sim.base_url()
        );
    }
    #[cfg(not(unix))]
    {
        let _ = signals;
        sim.wait();
        Ok(ExitCode::SUCCESS)
    }
    #[cfg(unix)]
    {
        let mut signals = signals;
        let (signal, code) = signals.wait();
        // Still caught while the world is saved: a second Ctrl-C cannot cut the save short.
        sim.stop().map_err(|e| Error::config(e.to_string()))?;
        drop(signals);
        if !global.quiet {
            let saved = state
                .map(|p| format!("; the world is saved to {}", p.display()))
                .unwrap_or_default();
            eprintln!("barrack sim: stopped by {signal}{saved}");
        }
        Ok(ExitCode::from(code))
    }
}

/// SIGINT, SIGTERM and SIGHUP, caught: each is turned into an orderly stop.
#[cfg(unix)]
struct StopSignals(signal_hook::iterator::Signals);

#[cfg(unix)]
impl StopSignals {
    fn catch() -> Result<StopSignals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
            .map(StopSignals)
            .map_err(|e| Error::config(format!("cannot catch the stop signals: {e}")))
    }

    /// Block until a stop signal comes: its name, and the exit status it asks for (Ctrl-C is
    /// an interruption, 130, as everywhere in barrack; SIGTERM and SIGHUP, from a service
    /// manager or a closed terminal, are the ordinary way a server ends, 0).
    fn wait(&mut self) -> (&'static str, u8) {
        use signal_hook::consts::{SIGINT, SIGTERM};
        match self.0.forever().next() {
            Some(SIGINT) => ("SIGINT", EXIT_INTERRUPTED),
            Some(SIGTERM) => ("SIGTERM", 0),
            _ => ("SIGHUP", 0),
        }
    }
}

/// Without Unix signals, Ctrl-C ends the process as it always did.
#[cfg(not(unix))]
struct StopSignals;

#[cfg(not(unix))]
impl StopSignals {
    fn catch() -> Result<StopSignals> {
        Ok(StopSignals)
    }
}

/// Write `text` to `path` readable by everyone (0644: a certificate is public), replacing it
/// whole so a reader never sees half a file.
fn write_public(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))?;
    }
    std::fs::rename(&tmp, path)
}
