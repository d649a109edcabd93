//! From what was typed to a working client: configuration, the in-process simulator for
//! `--sim`, catalog overrides, retries, and the `-v` request log.

use crate::api::{Catalog, Client, ClientSettings, Exchange, Observer, RetryPolicy};
use crate::cli::{ConnectOpts, GlobalOpts, SimOpts};
use crate::config::{process_env, Config, ConfigFlags};
use crate::error::{Error, Result};
use crate::secret::ApiKey;
use crate::sim::{SimOptions, Simulator};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The key the in-process simulator is called with when none is configured.
pub const SIM_KEY: &str = "sim-local-key";

pub struct Connection {
    pub client: Client,
    /// Kept alive for the run when `--sim` started one.
    pub sim: Option<Simulator>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        // `--sim --state FILE`: the run's last change is on disk before the process exits, and
        // a save that fails is said rather than lost without a word.
        if let Some(sim) = self.sim.take() {
            if let Err(e) = sim.stop() {
                eprintln!("{}{e}", crate::output::error_prefix());
            }
        }
    }
}

/// Apply `SimOpts` flags over a base (`barrack sim` defaults or `--sim` defaults).
pub fn sim_options(mut base: SimOptions, opts: &SimOpts) -> Result<SimOptions> {
    if let Some(speed) = opts.speed {
        if !(speed.is_finite() && speed > 0.0) {
            return Err(Error::usage(format!(
                "--speed must be a positive number, not {speed}"
            )));
        }
        base.speed = speed;
    }
    if let Some(seed) = opts.seed {
        base.seed = seed;
    }
    if let Some(state) = &opts.state {
        base.state = Some(state.clone());
    }
    for (flag, rate) in [
        ("--fault-rate", opts.fault_rate),
        ("--drop-rate", opts.drop_rate),
    ] {
        if let Some(r) = rate {
            if !(0.0..=1.0).contains(&r) {
                return Err(Error::usage(format!(
                    "{flag} must be between 0 and 1, not {r}"
                )));
            }
        }
    }
    if let Some(r) = opts.fault_rate {
        base.faults.fault_rate = r;
    }
    if let Some(r) = opts.drop_rate {
        base.faults.drop_rate = r;
    }
    if let Some(list) = &opts.fault_status {
        if let Some(bad) = list.iter().find(|s| !(400..=599).contains(*s)) {
            return Err(Error::usage(format!(
                "--fault-status takes 4xx/5xx statuses, not {bad}"
            )));
        }
        base.faults.fault_status = list.clone();
    }
    if let Some(ms) = opts.latency_ms {
        base.faults.latency_ms = ms;
    }
    if let Some(point) = opts.fault_point {
        base.faults.point = point;
    }
    // The rates and statuses were checked above with the flags' names; this adds the latency cap.
    base.faults
        .check()
        .map_err(|why| Error::usage(format!("--{}", why.replace('_', "-"))))?;
    Ok(base)
}

fn load_catalog(config: &Config) -> Result<Catalog> {
    let Some(source) = &config.catalog else {
        return Ok(Catalog::builtin());
    };
    let path = &source.value;
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::config(format!(
            "catalog override {} (from {}): {e}",
            path.display(),
            source.source
        ))
    })?;
    Catalog::with_overrides(&text)
        .map_err(|why| Error::config(format!("catalog override {}: {why}", path.display())))
}

/// The `-v` log: one line per HTTP exchange on stderr. URLs and bodies never hold the key.
pub fn verbose_observer() -> Observer {
    Arc::new(|x: &Exchange<'_>| {
        let status = if x.status == 0 {
            "no answer".to_string()
        } else {
            x.status.to_string()
        };
        let id = x
            .request_id
            .map(|r| format!(", request_id {r}"))
            .unwrap_or_default();
        let attempt = if x.attempt > 1 {
            format!(", try {}", x.attempt)
        } else {
            String::new()
        };
        eprintln!(
            "barrack: {} {} → {status} ({} ms{id}{attempt})",
            x.method,
            x.url,
            x.elapsed.as_millis()
        );
    })
}

pub fn connect(
    global: &GlobalOpts,
    opts: &ConnectOpts,
    observers: Vec<Observer>,
) -> Result<Connection> {
    connect_until(global, opts, observers, None)
}

/// The run's end (`--timeout`): when it is, and the limit it came from (for the message).
#[derive(Clone, Copy, Debug)]
pub struct RunLimit {
    pub deadline: Instant,
    pub limit: Duration,
}

/// [`connect`] for a run with a deadline: every request and every backoff stops at it.
pub fn connect_until(
    global: &GlobalOpts,
    opts: &ConnectOpts,
    observers: Vec<Observer>,
    run_limit: Option<RunLimit>,
) -> Result<Connection> {
    let flags = ConfigFlags {
        api_url: global.api_url.clone(),
        profile: global.profile.clone(),
        catalog: global.catalog.clone(),
        ca_certs: global.ca_cert.clone(),
    };
    let mut config = Config::load(&flags, &process_env)?;
    let catalog = load_catalog(&config)?;
    let (sim, base_url, key) = if opts.sim {
        let mut options = sim_options(SimOptions::fast(), &opts.sim_opts)?;
        options.tls = opts.sim_tls;
        let sim = Simulator::start(options)
            .map_err(|e| Error::config(format!("the in-process simulator could not start: {e}")))?;
        let url = sim.base_url();
        config.api_url = crate::config::Sourced {
            value: url.clone(),
            source: crate::config::Source::Simulator,
        };
        let key = config.resolve_key()?.or_else(|| ApiKey::new(SIM_KEY));
        (Some(sim), url, key)
    } else {
        let key = config.resolve_key()?;
        if key.is_none() {
            return Err(Error::config(
                "no API key: set BARRACK_API_KEY, or api_key / api_key_command in a profile of the config file \
                 (or add --sim to use the built-in simulator)",
            ));
        }
        (None, config.api_url.value.clone(), key)
    };
    let mut settings = ClientSettings::new(base_url, key);
    settings.catalog = catalog;
    // Roots matter only to TLS: a plain http:// run (the simulator) reads no certificate files.
    // The machine's (SSL_CERT_FILE/DIR) are read only if a server's issuer needs them.
    if settings.base_url.starts_with("https://") {
        (settings.ca_certs, settings.machine_roots) = config.trusted_roots()?;
    }
    // `--sim-tls`: this run, and nothing else, trusts the certificate its simulator just made.
    if let Some(pem) = sim.as_ref().and_then(|s| s.ca_cert_pem()) {
        settings.ca_certs.push(pem.as_bytes().to_vec());
    }
    settings.retry = RetryPolicy {
        max_tries: opts.retries,
        budget: opts.retry_for.0,
        ..RetryPolicy::default()
    };
    settings.deadline = run_limit.map(|r| r.deadline);
    settings.time_limit = run_limit.map(|r| r.limit);
    // A request that may take longer than a day is a typo, not a wish (and would overflow).
    settings.timeout = if opts.request_timeout.0.is_zero() {
        ClientSettings::new("", None).timeout
    } else {
        opts.request_timeout.0.min(Duration::from_secs(86_400))
    };
    let mut client = Client::new(settings)?;
    if let Some(sim) = &sim {
        // The script's clock is the simulator's from its first line: `now()` and `sleep()`
        // follow it before any request has announced it.
        client.set_server_clock(
            sim_options(SimOptions::fast(), &opts.sim_opts)?.speed,
            sim.world().clock,
        );
    }
    if global.verbose > 0 {
        client = client.with_observer(verbose_observer());
    }
    for observer in observers {
        client = client.with_observer(observer);
    }
    Ok(Connection { client, sim })
}
