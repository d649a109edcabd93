//! Running tests: each in its own fresh simulator, in parallel, results in the order written.

use super::discover::{TestFile, TestFn};
use super::requests::Request;
use super::run_script::{capture_output, place, run_script, Output};
use super::sandbox::Sandbox;
use super::{assertions, sim_module};
use crate::script::{self, Host};
use rhai::{Dynamic, FuncRegistration, Map, Module};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How many of the last requests a failing test shows.
pub const TAIL: usize = 12;

/// Rhai recurses on the native stack; a worker gets room for the deepest script the engine's
/// limits allow (it is reserved address space, not memory in use).
const STACK: usize = 64 << 20;

/// One test to run.
pub struct Case<'a> {
    pub file: &'a TestFile,
    pub test: &'a TestFn,
}

/// How one test went.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Outcome {
    pub file: String,
    pub name: String,
    pub passed: bool,
    #[serde(rename = "time_ms", serialize_with = "millis")]
    pub time: Duration,
    /// This test's simulator seed (derived from the run's `--seed` and the test's name).
    #[serde(rename = "sim_seed")]
    pub seed: u64,
    /// `file:line` of the failure.
    pub location: Option<String>,
    /// Why it failed, worded as `barrack run` words an uncaught error.
    pub message: Option<String>,
    /// What the test printed.
    pub output: String,
    /// The last requests of a failed test.
    pub requests: Vec<Request>,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// The seed of one test's simulator: the run's seed mixed with the test's name, so a test
/// sees the same world whatever else runs and in whatever order.
pub fn case_seed(seed: u64, file: &str, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in file.bytes().chain([0]).chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Run every case on `jobs` threads; `done` is called in the cases' order as results arrive.
pub fn run_all(
    cases: &[Case<'_>],
    seed: u64,
    jobs: usize,
    mut done: impl FnMut(&Outcome),
) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; cases.len()];
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, cases.len().max(1)) {
            let tx = tx.clone();
            let next = &next;
            let spawned = std::thread::Builder::new()
                .name("barrack-test".into())
                .stack_size(STACK)
                .spawn_scoped(scope, move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    if tx.send((i, run_guarded(case, seed))).is_err() {
                        break;
                    }
                });
            if spawned.is_err() {
                // The workers that did start take every case; with none, they run below.
                break;
            }
        }
        drop(tx);
        let mut shown = 0;
        for (i, outcome) in rx {
            outcomes[i] = Some(outcome);
            while let Some(Some(ready)) = outcomes.get(shown) {
                done(ready);
                shown += 1;
            }
        }
    });
    // Only when no worker could start are cases left over: run them here.
    (0..cases.len())
        .map(|i| match outcomes[i].take() {
            Some(o) => o,
            None => {
                let o = run_guarded(&cases[i], seed);
                done(&o);
                o
            }
        })
        .collect()
}

/// A test that panics (a bug in barrack) fails with that said, instead of ending the run.
fn run_guarded(case: &Case<'_>, seed: u64) -> Outcome {
    let started = Instant::now();
    let seed = case_seed(seed, &case.file.name, &case.test.name);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case(case, seed))).unwrap_or_else(
        |_| Outcome {
            file: case.file.name.clone(),
            name: case.test.name.clone(),
            passed: false,
            time: started.elapsed(),
            seed,
            location: None,
            message: Some(
                "internal error in barrack while running this test (a bug: please report it)"
                    .into(),
            ),
            output: String::new(),
            requests: Vec::new(),
        },
    )
}

fn run_case(case: &Case<'_>, seed: u64) -> Outcome {
    let started = Instant::now();
    let file = case.file;
    let name = case.test.name.clone();
    let mut outcome = Outcome {
        file: file.name.clone(),
        name: name.clone(),
        passed: false,
        time: Duration::ZERO,
        seed,
        location: None,
        message: None,
        output: String::new(),
        requests: Vec::new(),
    };
    if case.test.params > 0 {
        outcome.location = Some(file.name.clone());
        outcome.message = Some(format!(
            "{}: {name} takes {} parameter(s); a test function takes none",
            file.name, case.test.params
        ));
        outcome.time = started.elapsed();
        return outcome;
    }
    let sandbox = match Sandbox::start(seed) {
        Ok(sandbox) => sandbox,
        Err(e) => {
            outcome.message = Some(format!("the test's simulator could not start: {e}"));
            outcome.time = started.elapsed();
            return outcome;
        }
    };
    // Waits' progress lines of parallel tests would interleave on stderr; `print` and `log`
    // are captured per test instead.
    let host = Host::builder(sandbox.client.clone())
        .clock(sandbox.clock.clone())
        .quiet(true)
        .build();
    let host = Arc::new(host);
    let output: Output = Arc::default();
    let mut engine = host.engine(file.dir.clone());
    capture_output(&mut engine, &output, &host.runtime);
    engine.register_global_module(test_functions(&host, &sandbox, file).into());
    engine.register_static_module("sim", sim_module::module(&sandbox.sim, &sandbox.requests));
    let mut scope = host.scope();
    let result = engine.call_fn::<Dynamic>(&mut scope, &file.ast, &name, ());
    outcome.time = started.elapsed();
    outcome.output = output.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match result {
        Ok(_) => outcome.passed = true,
        Err(err) => {
            let err = match *err {
                // The test function itself is the frame every error passes through: not news.
                rhai::EvalAltResult::ErrorInFunctionCall(called, _, inner, _) if called == name => {
                    *inner
                }
                other => other,
            };
            outcome.location = place(&file.name, &err);
            outcome.message = Some(script::script_error(&file.name, err, None).to_string());
            outcome.requests = sandbox.requests.tail(TAIL);
        }
    }
    outcome
}

/// `assert*` and `run_script`, bound to this test's host and directory.
fn test_functions(host: &Arc<Host>, sandbox: &Sandbox, file: &TestFile) -> Module {
    let mut module = Module::new();
    assertions::register(&mut module);
    for with_params in [true, false] {
        let (host, requests, dir) = (host.clone(), sandbox.requests.clone(), file.dir.clone());
        let registration = FuncRegistration::new("run_script")
            .in_global_namespace()
            .with_volatility(true)
            .with_comments(["/// Run a script (path relative to the test) or \"stdlib:NAME\" against this test's simulator; returns #{result, output, mutations}."]);
        if with_params {
            registration.set_into_module(&mut module, move |spec: &str, params: Map| {
                run_script(&host, &requests, dir.as_deref(), spec, params)
            });
        } else {
            registration.set_into_module(&mut module, move |spec: &str| {
                run_script(&host, &requests, dir.as_deref(), spec, Map::new())
            });
        }
    }
    module
}
