//! One run's settings in one place: an embedder states what differs from the defaults and gets
//! a [`Host`] (a sandboxed engine per script) or a bare [`Runtime`] for its own engine.

use super::audit::AuditLog;
use super::calls::{Planned, Sent};
use super::clock::Clock;
use super::host::Host;
use super::limits::Limits;
use super::plan::Planner;
use super::runtime::Runtime;
use crate::api::Client;
use rhai::Map;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings for a run, set by method and applied at once by [`HostBuilder::build`].
///
/// ```no_run
/// # fn demo(client: barrack::api::Client) -> Result<(), barrack::error::Error> {
/// use barrack::script::{Host, Limits, Source};
/// let host = Host::builder(client)
///     .timeout(std::time::Duration::from_secs(600))
///     .parallel(4)
///     .limits(Limits { max_operations: 1_000_000, ..Limits::default() })
///     .build();
/// host.run(&Source::snippet("<job>", "balance()"))?;
/// # Ok(()) }
/// ```
pub struct HostBuilder {
    runtime: Runtime,
    audit: Option<AuditLog>,
    planning: bool,
    limits: Limits,
    params: Map,
    args: Vec<String>,
    print_to_stderr: bool,
}

impl Host {
    /// Start describing a run that calls the API through `client`; see [`HostBuilder`].
    pub fn builder(client: Client) -> HostBuilder {
        HostBuilder {
            runtime: Runtime::new(client),
            audit: None,
            planning: false,
            limits: Limits::default(),
            params: Map::new(),
            args: Vec::new(),
            print_to_stderr: false,
        }
    }

    /// The runtime every registered function shares: e.g. [`Runtime::planner`] after a
    /// planning run.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }
}

impl HostBuilder {
    /// How many fleet actions run at once (default 16).
    pub fn parallel(mut self, workers: usize) -> Self {
        self.runtime.parallel = workers.max(1);
        self
    }

    /// End the run `limit` from now: the script stops with a timeout error saying what was in
    /// flight. Without it a run has no wall-clock bound.
    pub fn timeout(self, limit: Duration) -> Self {
        let at = Instant::now().checked_add(limit);
        match at {
            Some(at) => self.deadline(at, limit),
            // Further than `Instant` can count: no deadline in practice.
            None => self,
        }
    }

    /// End the run at `at`; `limit` is the timeout the messages name (the CLI computes the
    /// deadline once and shares it with connecting).
    pub(crate) fn deadline(mut self, at: Instant, limit: Duration) -> Self {
        self.runtime.deadline = Some(at);
        self.runtime.time_limit = Some(limit);
        self
    }

    /// No lines from the run on stderr: `debug` output, progress and events (default: shown).
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.runtime.quiet = quiet;
        self
    }

    /// Spinners for waits and fleets; for a terminal on stderr (default off).
    pub fn progress(mut self, on: bool) -> Self {
        self.runtime.progress = on;
        self
    }

    /// One plain stderr line per finished wait or fleet action, for logs (default off).
    pub fn events(mut self, on: bool) -> Self {
        self.runtime.events = on;
        self
    }

    /// Append one JSON line per mutating call to `log`.
    pub fn audit(mut self, log: AuditLog) -> Self {
        self.audit = Some(log);
        self
    }

    /// Plan instead of acting: mutations are recorded (see [`Runtime::planner`]), not sent;
    /// fleets run one item at a time so the plan keeps the script's order.
    pub fn plan(mut self) -> Self {
        self.planning = true;
        self.runtime.parallel = 1;
        self
    }

    /// The clock `now()`, sleeps and waits follow (default: the system clock), e.g. a
    /// simulator's.
    pub fn clock(self, clock: Arc<dyn Clock>) -> Self {
        let _ = self.runtime.clock.set(clock);
        self
    }

    /// Sandbox limits of every engine the host builds.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The script's `params` constant.
    pub fn params(mut self, params: Map) -> Self {
        self.params = params;
        self
    }

    /// The script's `ARGS` constant.
    pub fn args(mut self, args: Vec<String>) -> Self {
        self.args = args;
        self
    }

    /// Send a script's `print` lines to stderr instead of stdout (so stdout can carry one JSON
    /// document).
    pub fn print_to_stderr(mut self, on: bool) -> Self {
        self.print_to_stderr = on;
        self
    }

    /// The host: engines with the standard library, the Barrack package, the limits and the
    /// module resolver for the bundled stdlib and files beside the script. Starts the timer of
    /// the timeout.
    pub fn build(self) -> Host {
        let HostBuilder {
            runtime,
            audit,
            planning,
            limits,
            params,
            args,
            print_to_stderr,
        } = self;
        let mut host = Host::new(with_calls(runtime, audit, planning));
        host.limits = limits;
        host.params = params;
        host.args = args;
        host.print_to_stderr = print_to_stderr;
        host
    }

    /// Only the runtime, for registering [`super::BarrackPackage`] into an engine of your own
    /// (limits, params, args and printing are then that engine's business). Call
    /// [`Runtime::arm`] if a timeout was set.
    pub fn into_runtime(self) -> Runtime {
        with_calls(self.runtime, self.audit, self.planning)
    }
}

/// The runtime with where its calls go: planned, or sent and audited when asked. (A plan sends
/// no mutation, so there is nothing to audit.)
fn with_calls(mut runtime: Runtime, audit: Option<AuditLog>, planning: bool) -> Runtime {
    let client = runtime.client.clone();
    runtime.calls = if planning {
        Box::new(Planned {
            client,
            planner: Planner::new(),
        })
    } else {
        Box::new(Sent { client, audit })
    };
    runtime
}
