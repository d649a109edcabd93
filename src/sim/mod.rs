//! The Barrack simulator: a stateful stand-in for the service, served over real HTTP (or HTTPS).
//!
//! Layers, each in its own module: [`world`] and `handlers` are the models and their rules;
//! `router` maps method and path to a catalog operation; `auth`, `faults` and `idempotency`
//! wrap every API request; `app` runs one request through them in order; `server` is the
//! HTTP transport (hyper), `tls` its certificate; `admin` serves `/_sim/`; `state_file` loads
//! and saves `--state FILE` behind the requests.
//!
//! ```no_run
//! let sim = barrack::sim::Simulator::start(barrack::sim::SimOptions::fast()).unwrap();
//! println!("{}", sim.base_url()); // http://127.0.0.1:PORT
//! ```

mod admin;
mod app;
mod auth;
mod billing;
mod clock;
mod control;
mod faults;
mod handlers;
mod http;
mod idempotency;
mod openapi;
mod reply;
mod router;
mod server;
mod state_file;
mod tls;
pub mod world;

pub use crate::api::rules;
use app::{Shared, State};
use clock::Clock;
pub use faults::{FaultPoint, Faults, MAX_LATENCY_MS};
pub use http::HttpResponse;
use http::{Action, HttpRequest};
pub use router::{route, PathParams};
use serde_json::Value;
pub use state_file::SAVE_INTERVAL;
use state_file::{StateFile, Writer};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
pub use world::World;

/// The simulator's settings (`barrack sim` flags; the same with `--sim`).
#[derive(Clone)]
pub struct SimOptions {
    /// Where to listen; port 0 picks a free one (see [`Simulator::addr`]).
    pub listen: SocketAddr,
    /// Lifecycle clock multiplier: 1 = the documented real durations.
    pub speed: f64,
    /// Seed of the world (ids, durations) and of the fault draws: the same seed, the same run.
    pub seed: u64,
    /// Load the world from this JSON file if it exists, and save it after changes: at most every
    /// [`SAVE_INTERVAL`], behind the requests, and at [`Simulator::stop`] (or drop). Writing it is
    /// tried at start, so a file that cannot be written is an error then, not a silent loss later.
    pub state: Option<PathBuf>,
    /// Faults to inject (latency, errors, dropped connections).
    pub faults: Faults,
    /// If set, only this key is accepted, on the API and on the `/_sim/` admin routes
    /// (otherwise any non-empty Bearer key on the API, and none on the admin routes).
    pub api_key: Option<String>,
    /// Serve HTTPS with a self-signed certificate for 127.0.0.1 and localhost, made at start
    /// (see [`Simulator::ca_cert_pem`]).
    pub tls: bool,
    /// A connection that sends no complete request head for this long is closed (idle
    /// keep-alive connections, and clients that stall in the middle of a head).
    pub idle_timeout: Duration,
}

impl std::fmt::Debug for SimOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimOptions")
            .field("listen", &self.listen)
            .field("speed", &self.speed)
            .field("seed", &self.seed)
            .field("state", &self.state)
            .field("faults", &self.faults)
            // The required key is an API key like any other: it never prints.
            .field("api_key", &self.api_key.as_ref().map(|_| "(redacted)"))
            .field("tls", &self.tls)
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

/// The `--sim` default speed: a 2–5 minute deploy takes 0.12–0.3 s.
pub const FAST_SPEED: f64 = 1000.0;

/// The default [`SimOptions::idle_timeout`], nginx's `keepalive_timeout` minus a little: longer
/// than any pause between a script's calls, short enough that abandoned connections go.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

impl SimOptions {
    /// `barrack sim` defaults: documented durations on 127.0.0.1:8787.
    pub fn new() -> SimOptions {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            speed: 1.0,
            seed: 1,
            state: None,
            faults: Faults::default(),
            api_key: None,
            tls: false,
            idle_timeout: IDLE_TIMEOUT,
        }
    }

    /// In-process defaults (`--sim`, tests): an ephemeral loopback port and a fast clock.
    pub fn fast() -> SimOptions {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            speed: FAST_SPEED,
            ..SimOptions::new()
        }
    }
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions::new()
    }
}

/// A running simulator. Dropping it stops the server, closes every connection and saves the
/// world to its state file (see [`Simulator::stop`] to hear whether that save worked).
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    ca_cert_pem: Option<String>,
    /// `None` once stopped.
    server: Option<server::Server>,
    /// Saves `--state` behind the requests; `None` without a state file, or once stopped.
    writer: Option<Writer>,
}

impl Simulator {
    /// Bind, load or seed the world, and serve in the background.
    pub fn start(options: SimOptions) -> std::io::Result<Simulator> {
        let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
        options.faults.check().map_err(invalid)?;
        let listener = TcpListener::bind(options.listen).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot listen on {}: {e}", options.listen),
            )
        })?;
        let addr = listener.local_addr()?;
        let now = jiff::Timestamp::now().as_second() as f64;
        let loaded = match &options.state {
            Some(path) => state_file::load(path)?,
            None => None,
        };
        let was_loaded = loaded.is_some();
        let world = loaded.unwrap_or_else(|| World::seeded(options.seed, now));
        let state_file = options
            .state
            .clone()
            .map(|path| Arc::new(StateFile::new(path)));
        if let Some(file) = &state_file {
            // A file that cannot be written fails here, not silently later: a new world is
            // written at once; a loaded one is on disk already, so only the writing is tried.
            if was_loaded {
                file.check_writable()?;
            } else {
                file.save(|| world.clone())?;
            }
        }
        let speed = options.speed.max(f64::MIN_POSITIVE);
        let state = State {
            clock: Clock::new(world.clock, speed),
            world,
            fault_rng: fastrand::Rng::with_seed(options.seed),
            faults: options.faults.clone(),
        };
        let shared = Arc::new(Shared::new(
            state,
            state_file.clone(),
            options.api_key.clone(),
        ));
        let tls = options
            .tls
            .then(tls::self_signed)
            .transpose()
            .map_err(invalid)?;
        let (ca_cert_pem, acceptor) = match tls {
            Some(tls) => (Some(tls.cert_pem), Some(tls.acceptor)),
            None => (None, None),
        };
        let server =
            server::Server::start(listener, acceptor, shared.clone(), options.idle_timeout)?;
        let writer = match state_file {
            Some(file) => {
                let saver = shared.clone();
                // A failure is kept for `stop` and told through `on_save_error`.
                let save = move || {
                    let _ = saver.save();
                };
                Some(Writer::spawn(file, save)?)
            }
            None => None,
        };
        Ok(Simulator {
            addr,
            shared,
            ca_cert_pem,
            server: Some(server),
            writer,
        })
    }

    /// The address it listens on (the port chosen when [`SimOptions::listen`] had port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (`https://…` with [`SimOptions::tls`]), the API's base URL.
    pub fn base_url(&self) -> String {
        let scheme = if self.ca_cert_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// With [`SimOptions::tls`], the self-signed certificate (PEM) a client must trust to reach
    /// this simulator: what `barrack sim --tls --tls-cert FILE` writes to FILE.
    pub fn ca_cert_pem(&self) -> Option<&str> {
        self.ca_cert_pem.as_deref()
    }

    /// A snapshot of the world, for tests and `--state`.
    pub fn world(&self) -> World {
        let mut state = self.shared.lock();
        let now = state.clock.now();
        state.world.tick(now);
        state.world.clone()
    }

    /// Move the simulated clock forward.
    pub fn advance(&self, by: Duration) {
        let mut state = self.shared.lock();
        state.clock.advanced += by.as_secs_f64();
        self.shared.changed();
    }

    /// Change the fault settings of a running simulator. A latency above [`MAX_LATENCY_MS`] is
    /// clamped to it; use [`Faults::check`] first to refuse it instead.
    pub fn set_faults(&self, mut faults: Faults) {
        faults.latency_ms = faults.latency_ms.min(MAX_LATENCY_MS);
        self.shared.lock().faults = faults;
    }

    /// Change the world directly (tests set balances, stock, errors).
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut state = self.shared.lock();
        let now = state.clock.now();
        state.world.tick(now);
        let result = f(&mut state.world);
        // `f` may have set a transition directly.
        state.world.reindex_later();
        self.shared.changed();
        result
    }

    /// Answer one request in-process, exactly as over HTTP but without a socket (and without
    /// the injected latency): `None` when the simulator would close the connection instead
    /// (`--drop-rate`). For benchmarks of the handlers themselves, and tests that need no
    /// network.
    pub fn answer(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Option<HttpResponse> {
        let request = HttpRequest::from_pairs(method, target, headers, body);
        match app::dispatch(&self.shared, request) {
            Action::Respond(response) => Some(response),
            Action::Drop => None,
        }
    }

    /// Requests served, faults injected, responses dropped, idempotent replays; with a state
    /// file, `state_file`: its saves and what the last one cost.
    pub fn stats(&self) -> Value {
        self.shared.stats_json()
    }

    /// Save the world to the state file now, if it changed since the last save (the simulator
    /// goes on serving meanwhile). Without a state file, nothing to do.
    pub fn flush(&self) -> std::io::Result<()> {
        self.shared.save()
    }

    /// Call `report` whenever a save in the background fails (once per run of failures): the
    /// changes since the last good save are then only in memory. `barrack sim` prints it.
    pub fn on_save_error(&self, report: impl Fn(&std::io::Error) + Send + Sync + 'static) {
        if let Some(file) = self.shared.state_file() {
            file.on_error(report);
        }
    }

    /// Stop serving, then save what changed since the last save: every change acknowledged
    /// before the stop is in the state file when this returns `Ok`.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> std::io::Result<()> {
        // No request may change the world after the last save: the server goes first.
        drop(self.server.take());
        drop(self.writer.take());
        self.shared.save()
    }

    /// Block until the process is interrupted (`barrack sim`).
    pub fn wait(mut self) {
        if let Some(server) = &mut self.server {
            server.wait();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        // Whoever needs to hear about a failed last save calls `stop`.
        let _ = self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_required_key_never_prints() {
        let options = SimOptions {
            api_key: Some("sk-SECRET".into()),
            ..SimOptions::fast()
        };
        assert!(!format!("{options:?}").contains("SECRET"));
    }
}
