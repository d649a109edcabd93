//! The command line, as typed: clap derive, doc comments as help text.
//! House rules: explicit `short = 'x'`, bare `long`, uppercase `value_name`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The Barrack GPU-cloud API inside a Rhai scripting engine, with a built-in simulator.
///
/// Try it with no account: `barrack run --sim scripts/quickstart.rhai`.
#[derive(Debug, Parser)]
#[command(
    name = "barrack",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = "Exit codes: 0 ok · 1 script error (uncaught throw or API error, failed wait) · 2 usage \
                  error, or plan with changes · 65 does not compile · 66 a script or input file does \
                  not exist · 69 API unreachable · 70 internal error · 75 try again later (lock held, \
                  rate limited, --timeout) · 77 authentication refused · 78 bad configuration \
                  (including a flag's file or directory that cannot be used) · 130 interrupted \
                  (Ctrl-C)"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GlobalOpts {
    /// Output format of printed values. With json, stdout carries exactly one JSON document
    /// (a script's own `print` lines go to stderr).
    #[arg(short = 'o', long, value_enum, global = true, default_value_t = Format::Text)]
    pub output: Format,
    /// More detail on stderr: each HTTP request (key redacted).
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress or log lines, only results and errors.
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    /// Profile of the config file to use (else BARRACK_PROFILE, else default_profile).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Base URL of the API (else BARRACK_API_URL, else the profile's api_url).
    #[arg(long, global = true, value_name = "URL")]
    pub api_url: Option<String>,
    /// Override operation paths from a JSON file in the form `barrack ops --json` prints.
    #[arg(long, global = true, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Also trust the CA certificates (PEM) in FILE (repeatable; also `ca_cert` in a profile,
    /// SSL_CERT_FILE, SSL_CERT_DIR). The bundled roots stay trusted.
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a workflow script (a path, or stdlib:NAME).
    #[command(after_help = "Examples:\n  \
        barrack run --sim scripts/quickstart.rhai\n  \
        barrack run stdlib:rotation --set 'name=db-*' --set keep_last=7 --lock /tmp/rot.lock --timeout 45m\n  \
        barrack run job.rhai --set region=FINLAND-1 -- extra words for ARGS")]
    Run(RunArgs),
    /// Run one snippet of Rhai and print its value.
    Eval(EvalArgs),
    /// Compile scripts without running them; report every syntax error as file:line:col.
    Check(CheckArgs),
    /// Dry run: reads are live, mutations are recorded, not sent. Exit 0 = no changes, 2 = changes.
    #[command(after_help = "Examples:\n  \
        barrack plan --sim scripts/quickstart.rhai\n  \
        barrack plan stdlib:rotation --set 'name=db-*' --set keep_last=7 -o json")]
    Plan(RunArgs),
    /// Interactive session: one scope, completion, history, :help.
    Repl(ReplArgs),
    /// Run the test_* functions of *_test.rhai files, each against its own fresh simulator.
    #[command(after_help = "Examples:\n  \
        barrack test                          # every *_test.rhai under the current directory\n  \
        barrack test scripts/ --filter nightly --seed 42\n  \
        barrack test --format junit > report.xml\n\n\
        Exit codes: 0 all passed · 1 a test failed · 65 a file does not compile")]
    Test(TestArgs),
    /// List every API operation: Rhai name(s), method, path, summary.
    Ops(OpsArgs),
    /// Call one operation by its name and print the JSON it returns.
    Call(CallArgs),
    /// Serve the Barrack simulator over HTTP (or HTTPS with --tls).
    #[command(after_help = SIM_HELP)]
    Sim(SimArgs),
    /// The bundled recipes.
    #[command(subcommand)]
    Stdlib(StdlibCommand),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Write Rhai definition files of every registered function, for editors.
    Defs(DefsArgs),
    /// Print the man page (roff) on stdout.
    Man,
    /// Show the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The fleet at a glance: instances by state and region, GPUs in use, hourly burn, balance
    /// and runway, hibernated, ERROR, the newest snapshot of each instance.
    #[command(
        after_help = "Every figure comes from API reads. Burn: each instance's current rate \
        (its billing), detached volumes and volumes of ACTIVE instances, every snapshot. Runway = \
        balance ÷ burn; its bar is full at 30 days and turns red under one (colour only on a \
        terminal, never with NO_COLOR). GPUs in use: every instance except HIBERNATING, \
        HIBERNATED and DELETING ones (hibernation releases the GPU).\n\n\
        Examples:\n  \
        barrack status --sim\n  \
        barrack status -o json | jq .runway_hours\n  \
        barrack status --watch 30s"
    )]
    Status(StatusArgs),
}

/// How to reach the API: the real service, or a simulator started in-process.
#[derive(Debug, Args, Clone, Default)]
pub struct ConnectOpts {
    /// Start the simulator in-process (seeded, fast clock) and use it over loopback HTTP.
    #[arg(long)]
    pub sim: bool,
    /// With --sim: serve the in-process simulator over HTTPS with a certificate made at start,
    /// trusted by this run only, so the run takes the TLS path a run against the service takes.
    #[arg(long, requires = "sim")]
    pub sim_tls: bool,
    #[command(flatten)]
    pub sim_opts: SimOpts,
    /// Time budget for retrying one request's transient failures (429, 5xx, connection
    /// errors), with full-jitter backoff; never past --timeout.
    #[arg(long, value_name = "DUR", default_value = "2m")]
    pub retry_for: Dur,
    /// A hard cap on tries per request, the first included (1 = no retry); only when given.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub retries: Option<u32>,
    /// Time limit of each HTTP request.
    #[arg(long, value_name = "DUR", default_value = "60s")]
    pub request_timeout: Dur,
}

/// Simulator settings, shared by `barrack sim` and `--sim`.
#[derive(Debug, Args, Clone, Default)]
pub struct SimOpts {
    /// Lifecycle clock multiplier (sim: 1 = documented durations; --sim: 1000).
    #[arg(long, value_name = "X")]
    pub speed: Option<f64>,
    /// Seed of the simulated world (ids, durations, faults).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Load the world from FILE if it exists, and save it there: at start for a new world (a
    /// FILE that cannot be written is an error then), at most every 200 ms after changes, behind the
    /// requests, and whole at every orderly stop (Ctrl-C, SIGTERM or SIGHUP for `barrack sim`,
    /// the end of the run for --sim). Each save replaces FILE atomically (a temporary file in
    /// its directory, flushed, renamed over it), so FILE is never torn; a crash (SIGKILL, power
    /// cut) loses at most the changes of the last 200 ms and of one save in progress.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Fraction of API requests answered with an injected error.
    #[arg(long, value_name = "F")]
    pub fault_rate: Option<f64>,
    /// Statuses injected errors are drawn from.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub fault_status: Option<Vec<u16>>,
    /// Fraction of mutating requests applied, then answered by closing the connection.
    #[arg(long, value_name = "F")]
    pub drop_rate: Option<f64>,
    /// Milliseconds added to every API request (at most 600000, ten minutes); other
    /// connections are served meanwhile.
    #[arg(long, value_name = "MS")]
    pub latency_ms: Option<u64>,
    /// Where injected errors happen, relative to the Idempotency-Key replay [default: edge, the
    /// harder case a client meets behind a real load balancer].
    #[arg(long, value_name = "POINT")]
    pub fault_point: Option<crate::sim::FaultPoint>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ScriptOpts {
    #[command(flatten)]
    pub connect: ConnectOpts,
    /// A value for the script's `params` map (repeatable). Typed: integers, floats and
    /// booleans as such, JSON arrays and maps as Rhai arrays and maps
    /// (`--set 'periods=[{"begin":"09:00"}]'`), anything else a string.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<KeyValue>,
    /// Stop the whole run after this long (exit 75).
    #[arg(long, value_name = "DUR")]
    pub timeout: Option<Dur>,
    /// Hold an exclusive lock on PATH for the run; if another run holds it, exit 75 at once.
    /// Its directory must exist (else exit 78).
    #[arg(long, value_name = "PATH")]
    pub lock: Option<PathBuf>,
    /// Append one JSON line per mutating API call to PATH. Its directory must exist (else exit 78).
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
    /// How many calls of a fleet action run at once.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub parallel: u32,
    /// Stop the script (exit 1) once the process holds more than SIZE of memory, e.g. 2GiB
    /// [default: half the physical memory, at most 4 GiB].
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<Size>,
}

/// A memory size such as `512MiB`, `2GiB`, `1.5G` or bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub usize);

impl FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::memory::parse_size(s).map(Size)
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub opts: ScriptOpts,
    /// Record mutations instead of sending them (what `barrack plan` does).
    #[arg(long)]
    pub dry_run: bool,
    /// The script: a file path, or stdlib:NAME for a bundled recipe.
    #[arg(value_name = "SCRIPT", value_parser = Offer(stdlib_specs), hide_possible_values = true)]
    pub script: String,
    /// Words after `--`, visible to the script as the array ARGS.
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub opts: ScriptOpts,
    /// Rhai code to run; its value is printed.
    #[arg(value_name = "CODE")]
    pub code: String,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub connect: ConnectOpts,
    /// Show it again every DUR (default 10s): redrawn in place on a terminal, repeated blocks
    /// otherwise.
    #[arg(long, value_name = "DUR", num_args = 0..=1, default_missing_value = "10s")]
    pub watch: Option<Dur>,
    /// With --watch: stop after N screens.
    #[arg(long, value_name = "N", requires = "watch")]
    pub count: Option<u64>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Script files (or stdlib:NAME).
    #[arg(required = true, value_name = "SCRIPT", value_parser = Offer(stdlib_specs), hide_possible_values = true)]
    pub scripts: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ReplArgs {
    #[command(flatten)]
    pub opts: ScriptOpts,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Test files, or directories searched for *_test.rhai files (default: the current directory).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// How many tests run at once (default: the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: Option<u32>,
    /// Run only the tests whose name (or file) contains TEXT.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Seed of the tests' simulators (default: a new one each run, printed to repeat it).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Report format (`-o json` prints one JSON document instead).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = TestFormat::Text)]
    pub format: TestFormat,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    /// One line per test with its time; failures in detail.
    #[default]
    Text,
    /// Test Anything Protocol, version 13.
    Tap,
    /// JUnit XML, as CI systems read it.
    Junit,
}

#[derive(Debug, Args)]
pub struct OpsArgs {
    /// Print JSON (the format --catalog reads).
    #[arg(long)]
    pub json: bool,
    /// One operation (or Rhai name) in detail.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct CallArgs {
    #[command(flatten)]
    pub connect: ConnectOpts,
    /// The operation's name (see `barrack ops`).
    #[arg(value_name = "OP", value_parser = Offer(op_names), hide_possible_values = true)]
    pub op: String,
    /// Arguments: `key=value` (a string) or `key:=json` (a number, list, map…). `id=…` fills `{id}`.
    #[arg(value_name = "KEY=VALUE")]
    pub fields: Vec<String>,
    /// The request body as one JSON object (merged under the key=value fields).
    #[arg(long, value_name = "JSON")]
    pub body: Option<String>,
}

/// `barrack sim --help`'s closing section: the admin routes and how a client trusts --tls.
const SIM_HELP: &str = "\
Admin routes (never part of the API; with --require-key they need the same key):
  GET  /_sim/state     the whole world as JSON
  GET  /_sim/stats     requests, faults_injected, responses_dropped, idempotent_replays,
                       and with --state: state_file {saves, last_bytes, last_snapshot_ms,
                       last_write_ms, error}
  POST /_sim/advance   {\"seconds\": N}   move the clock forward
  POST /_sim/faults    {\"fault_rate\": F, \"fault_status\": [S, ..], \"drop_rate\": F,
                        \"latency_ms\": N, \"point\": \"edge\"|\"app\"}   replace the fault settings
  POST /_sim/balance   {\"balance\": X}
  POST /_sim/profile   {\"complete\": true|false}
  POST /_sim/stock     {\"region\": R, \"gpu_model\": M, \"available\": N}
  POST /_sim/error     {\"id\": \"BRK-…\"}   put an instance in ERROR

Stopping: Ctrl-C (exit 130), SIGTERM or SIGHUP (exit 0) stop serving, save the world to
--state FILE and exit; every change answered before the signal is in FILE.

Examples:
  barrack sim --speed 1000 --fault-rate 0.3 --drop-rate 0.05
  barrack sim --state world.json --speed 100
  barrack sim --tls --tls-cert /tmp/sim.pem --listen 127.0.0.1:8443
  barrack run job.rhai --api-url https://127.0.0.1:8443 --ca-cert /tmp/sim.pem";

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    pub listen: std::net::SocketAddr,
    /// Accept only this key, on the API and on the /_sim/ admin routes (default: any non-empty
    /// Bearer key on the API, none on the admin routes).
    #[arg(long, value_name = "KEY")]
    pub require_key: Option<String>,
    /// Serve HTTPS with a self-signed certificate for 127.0.0.1 and localhost, made at start.
    #[arg(long, requires = "tls_cert")]
    pub tls: bool,
    /// Write the --tls certificate (PEM) to FILE, for clients: `--ca-cert FILE`, `curl --cacert FILE`.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub tls_cert: Option<PathBuf>,
    #[command(flatten)]
    pub sim_opts: SimOpts,
}

#[derive(Debug, Subcommand)]
pub enum StdlibCommand {
    /// List the bundled recipes.
    List,
    /// Print a recipe's source.
    Show {
        #[arg(value_name = "NAME")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// The effective settings and where each came from (key redacted).
    Show,
    /// The profile names of the config file, one a line (shell completion of --profile uses it).
    Profiles,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct DefsArgs {
    /// Directory to write the definition files into.
    #[arg(value_name = "DIR", default_value = ".barrack-defs")]
    pub dir: PathBuf,
}

/// A value parser that accepts any text and offers `names` to shell completion: operation
/// names after `barrack call`, `stdlib:NAME` after `barrack run`, generated from the catalog
/// and the stdlib, so a new operation or recipe completes with no edit here. Files still
/// complete (the shells fall back to file names when no offered word matches).
#[derive(Clone, Copy)]
pub struct Offer(pub fn() -> Vec<&'static str>);

impl clap::builder::TypedValueParser for Offer {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            (self.0)()
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

/// Every name `barrack call` takes: each operation's name and Rhai aliases.
pub fn op_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = crate::api::OPS
        .iter()
        .flat_map(|op| std::iter::once(op.name).chain(op.rhai_names()))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// `stdlib:rotation`, … for every runnable recipe.
pub fn stdlib_specs() -> Vec<&'static str> {
    crate::script::stdlib::RECIPES
        .iter()
        .filter(|(name, _, _)| *name != "common")
        .map(|(name, _, _)| -> &'static str {
            // Completion and help ask a handful of times per process: a few leaked bytes.
            Box::leak(format!("stdlib:{name}").into_boxed_str())
        })
        .collect()
}

/// A duration such as `90s`, `15m`, `2h`, `7d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Dur(pub Duration);

impl FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::script::time::parse_duration(s).map(Dur)
    }
}

/// `--set key=value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl FromStr for KeyValue {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok(KeyValue {
                key: k.trim().to_string(),
                value: v.to_string(),
            }),
            _ => Err(format!("{s:?} is not KEY=VALUE")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("barrack").chain(args.iter().copied()))
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn run_takes_sets_args_and_common_opts() {
        let cli = parse(&[
            "run",
            "--sim",
            "--set",
            "n=3",
            "--parallel",
            "4",
            "-o",
            "json",
            "x.rhai",
            "--",
            "a",
            "b",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else {
            panic!()
        };
        assert!(run.opts.connect.sim);
        assert_eq!(
            run.opts.set,
            vec![KeyValue {
                key: "n".into(),
                value: "3".into()
            }]
        );
        assert_eq!(run.opts.parallel, 4);
        assert_eq!(run.args, vec!["a", "b"]);
        assert_eq!(cli.global.output, Format::Json);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        assert!(parse(&["run", "--parallel", "0", "x.rhai"]).is_err());
        assert!(parse(&["run", "--timeout", "soon", "x.rhai"]).is_err());
        assert!(parse(&["run", "--set", "novalue", "x.rhai"]).is_err());
        assert!(parse(&["completions", "tcsh"]).is_err());
    }

    #[test]
    fn retries_are_a_time_budget_with_an_optional_cap() {
        let cli = parse(&["call", "balance"]).unwrap();
        let Command::Call(call) = cli.command else {
            panic!()
        };
        assert_eq!(call.connect.retries, None);
        assert_eq!(call.connect.retry_for, Dur(Duration::from_secs(120)));
        let cli = parse(&[
            "call",
            "balance",
            "--retries",
            "2",
            "--retry-for",
            "10s",
            "--ca-cert",
            "a.pem",
            "--ca-cert",
            "b.pem",
        ])
        .unwrap();
        let Command::Call(call) = cli.command else {
            panic!()
        };
        assert_eq!(call.connect.retries, Some(2));
        assert_eq!(call.connect.retry_for, Dur(Duration::from_secs(10)));
        assert_eq!(cli.global.ca_cert.len(), 2);
        assert!(parse(&["call", "balance", "--retries", "0"]).is_err());
    }

    #[test]
    fn test_takes_paths_jobs_filter_seed_and_format() {
        let cli = parse(&[
            "test",
            "a",
            "b_test.rhai",
            "--jobs",
            "3",
            "--filter",
            "night",
            "--seed",
            "7",
            "--format",
            "junit",
        ])
        .unwrap();
        let Command::Test(test) = cli.command else {
            panic!()
        };
        assert_eq!(
            test.paths,
            vec![PathBuf::from("a"), PathBuf::from("b_test.rhai")]
        );
        assert_eq!((test.jobs, test.seed), (Some(3), Some(7)));
        assert_eq!(test.filter.as_deref(), Some("night"));
        assert_eq!(test.format, TestFormat::Junit);
        assert!(parse(&["test", "--jobs", "0"]).is_err());
        assert!(parse(&["test", "--format", "xml"]).is_err());
    }
}
