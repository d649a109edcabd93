//! `barrack sim`: serve the simulator until interrupted.

use crate::cli::{GlobalOpts, SimArgs};
use crate::connect::sim_options;
use crate::error::{Error, Result};
use crate::sim::{SimOptions, Simulator};
use std::path::Path;
use std::process::ExitCode;

pub fn run(args: &SimArgs, global: &GlobalOpts) -> Result<ExitCode> {
    let mut options = sim_options(SimOptions::new(), &args.sim_opts)?;
    options.listen = args.listen;
    options.api_key = args.require_key.clone();
    options.tls = args.tls;
    let summary = format!(
        "speed {}×, seed {}{}",
        options.speed,
        options.seed,
        options
            .state
            .as_ref()
            .map(|p| format!(", state {}", p.display()))
            .unwrap_or_default()
    );
    let sim = Simulator::start(options)
        .map_err(|e| Error::config(format!("cannot serve on {}: {e}", args.listen)))?;
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
    sim.wait();
    Ok(ExitCode::SUCCESS)
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
