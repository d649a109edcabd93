//! `barrack sim`: serve the simulator until interrupted.

use crate::cli::{GlobalOpts, SimArgs};
use crate::connect::sim_options;
use crate::error::{Error, Result};
use crate::sim::{SimOptions, Simulator};
use std::process::ExitCode;

pub fn run(args: &SimArgs, global: &GlobalOpts) -> Result<ExitCode> {
    let mut options = sim_options(SimOptions::new(), &args.sim_opts)?;
    options.listen = args.listen;
    options.api_key = args.require_key.clone();
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
        .map_err(|e| Error::config(format!("cannot listen on {}: {e}", args.listen)))?;
    if !global.quiet {
        eprintln!(
            "barrack sim: serving the Barrack API on {} ({summary})",
            sim.base_url()
        );
        eprintln!(
            "barrack sim: try  BARRACK_API_KEY=any barrack call balance --api-url {}",
            sim.base_url()
        );
    }
    sim.wait();
    Ok(ExitCode::SUCCESS)
}
