//! The Rhai host: the Barrack package (every catalog operation, handle types, waiters, fleet,
//! helpers), the sandboxed engine, and running, evaluating and checking scripts.
//!
//! Embedding (design.md): give your own engine the whole API.
//! ```no_run
//! use barrack::script::{BarrackPackage, Runtime};
//! use barrack::api::{Client, ClientSettings};
//! use rhai::packages::Package;
//! let sim = barrack::sim::Simulator::start(barrack::sim::SimOptions::fast()).unwrap();
//! let client = Client::new(ClientSettings::new(sim.base_url(), barrack::secret::ApiKey::new("k"))).unwrap();
//! let mut engine = rhai::Engine::new();
//! BarrackPackage::new(Runtime::new(client).into()).register_into_engine(&mut engine);
//! let balance: rhai::Map = engine.eval("balance()").unwrap();
//! ```

mod account_facts;
mod actions;
mod bounds;
mod builder;
mod by_name;
pub mod clock;
pub mod convert;
mod deploy;
mod fleet;
mod handle_functions;
pub(crate) mod handles;
mod helpers;
mod ops;
pub mod plan;
mod progress;
mod resolver;
pub(crate) mod runtime;
mod server_time;
pub(crate) mod stdlib;
pub(crate) mod stop;
pub mod time;
mod wait;
mod words;

use crate::api;
use crate::error::{Diagnostic, Error};
use rhai::packages::{Package, StandardPackage};
use rhai::{Dynamic, Engine, EvalAltResult, Map, Module, ParseError, Position, Scope, Shared, AST};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub use helpers::display;
pub use wait::{DEFAULT_INTERVAL as WAIT_INTERVAL, DEFAULT_TIMEOUT as WAIT_TIMEOUT};

/// What a native function returns to a script.
pub type RhaiResult = Result<Dynamic, Box<EvalAltResult>>;
pub use builder::HostBuilder;
pub use runtime::{AuditLog, Runtime};
pub use stop::{Stop, StopReason};

/// The Barrack API as a Rhai package: register it into any engine.
#[derive(Clone)]
pub struct BarrackPackage(Shared<Module>);

impl BarrackPackage {
    /// The package for one run's `runtime`: every catalog operation, handle types, waiters, fleet and helpers.
    pub fn new(runtime: Arc<Runtime>) -> BarrackPackage {
        let mut module = Module::new();
        handles::for_each_type(&mut TypedFunctions {
            module: &mut module,
            runtime: &runtime,
        });
        ops::register(&mut module, &runtime);
        actions::register_for_arrays(&mut module, &runtime);
        wait::register(&mut module, &runtime);
        helpers::register(&mut module, &runtime);
        bounds::register(&mut module, &runtime);
        // No `build_index()`: an engine looks functions of a global module up in the module
        // itself (the index serves namespaced access, and `register_static_module` builds it
        // when needed), and indexing some 700 functions is a measurable part of a one-shot run.
        BarrackPackage(module.into())
    }
}

/// The functions of one handle type: its getters and printing, its waiters, its actions.
struct TypedFunctions<'a> {
    module: &'a mut Module,
    runtime: &'a Arc<Runtime>,
}

impl handles::PerType for TypedFunctions<'_> {
    fn visit<T: Clone + Send + Sync + 'static>(
        &mut self,
        kind: api::Kind,
        getters: &'static [&'static str],
        get: fn(&mut T) -> &mut handles::Handle,
    ) {
        handle_functions::register::<T>(self.module, self.runtime, kind, getters, get);
        wait::register_for::<T>(self.module, self.runtime, kind.type_name(), get);
        actions::register_for::<T>(self.module, self.runtime, kind, get);
    }
}

impl Package for BarrackPackage {
    fn init(_module: &mut Module) {}

    fn as_shared_module(&self) -> Shared<Module> {
        self.0.clone()
    }
}

/// Sandbox limits for scripts (cron runs must not run away).
///
/// Memory is bounded by `max_memory`, checked against the counting allocator
/// ([`crate::memory`]) from the progress callback. Rhai's own container limits
/// (`max_string_size`, `max_array_size`, `max_map_size`) are off (0) by default: with any of
/// them set Rhai re-measures a whole container after every change (a million pushes take
/// minutes instead of 0.6 s) and never checks `m[k] = v`. An embedder that does not install the
/// counting allocator may set them.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Rhai operations before the run is stopped.
    pub max_operations: u64,
    /// Depth of function calls.
    pub max_call_levels: usize,
    /// Depth of expressions (global, in functions).
    pub max_expr_depth: (usize, usize),
    /// Longest string, 0 for no limit.
    pub max_string_size: usize,
    /// Longest array, 0 for no limit.
    pub max_array_size: usize,
    /// Largest map, 0 for no limit.
    pub max_map_size: usize,
    /// Modules a script may import.
    pub max_modules: usize,
    /// Live heap bytes of the process (`--max-memory`); needs [`crate::memory::CountingAlloc`].
    pub max_memory: usize,
}

impl Limits {
    /// Set every limit on an engine (also used by `check`, so both parse alike).
    pub fn apply(&self, engine: &mut Engine) {
        engine
            .set_max_operations(self.max_operations)
            .set_max_call_levels(self.max_call_levels)
            .set_max_expr_depths(self.max_expr_depth.0, self.max_expr_depth.1)
            // 0 = unlimited, as in Rhai; see the type's documentation.
            .set_max_string_size(self.max_string_size)
            .set_max_array_size(self.max_array_size)
            .set_max_map_size(self.max_map_size)
            .set_max_modules(self.max_modules);
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 500_000_000,
            max_call_levels: 64,
            max_expr_depth: (64, 32),
            max_string_size: 0,
            max_array_size: 0,
            max_map_size: 0,
            max_modules: 64,
            max_memory: crate::memory::default_limit(),
        }
    }
}

/// A script to run: where it came from (for messages and imports) and its text.
#[derive(Clone, Debug)]
pub struct Source {
    /// `scripts/x.rhai`, `stdlib:rotation`, `<eval>`.
    pub name: String,
    /// The directory relative imports resolve against.
    pub dir: Option<PathBuf>,
    /// The script's text.
    pub code: String,
}

impl Source {
    /// A path, or `stdlib:NAME`.
    pub fn load(spec: &str) -> Result<Source, Error> {
        if let Some(name) = spec.strip_prefix("stdlib:") {
            if stdlib::source(name).is_none() || name == "common" {
                let known = stdlib::names()
                    .filter(|n| *n != "common")
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Error::usage(format!(
                    "no bundled recipe {name:?}; the recipes are {known}"
                )));
            }
            return Ok(Source {
                name: spec.to_string(),
                dir: None,
                code: stdlib::runner(name),
            });
        }
        let path = Path::new(spec);
        let code = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NoInput {
                what: "script",
                path: path.to_path_buf(),
            },
            _ => Error::io(path, e),
        })?;
        let dir = path.parent().map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        });
        Ok(Source {
            name: spec.to_string(),
            dir,
            code,
        })
    }

    /// A script given as text; `name` is what messages call it.
    pub fn snippet(name: &str, code: &str) -> Source {
        Source {
            name: name.to_string(),
            dir: None,
            code: code.to_string(),
        }
    }
}

/// Everything `barrack run` needs: the runtime, the package, limits, `params` and `ARGS`.
pub struct Host {
    pub(crate) runtime: Arc<Runtime>,
    /// Built on first need: a script that calls no function never needs it (see [`Host::run`]).
    package: OnceLock<BarrackPackage>,
    pub(crate) limits: Limits,
    pub(crate) params: Map,
    pub(crate) args: Vec<String>,
    /// `-o json`: a script's own `print` lines go to stderr, so stdout carries one document.
    pub(crate) print_to_stderr: bool,
}

/// Rhai's standard library as one shared, immutable package: built once per process (it is
/// the largest part of setting up an engine) and shared by every engine after that. (Building
/// it on a second thread while Barrack's package is built was measured: slower on this 2-core
/// machine, since the thread start and the cross-core wake-up cost more than the overlap saves.)
static STANDARD: OnceLock<StandardPackage> = OnceLock::new();

fn standard_package() -> &'static StandardPackage {
    STANDARD.get_or_init(StandardPackage::new)
}

impl Host {
    pub(crate) fn new(runtime: Runtime) -> Host {
        runtime.arm();
        let runtime = Arc::new(runtime);
        Host {
            package: OnceLock::new(),
            runtime,
            limits: Limits::default(),
            params: Map::new(),
            args: Vec::new(),
            print_to_stderr: false,
        }
    }

    /// A sandboxed engine: standard library, the Barrack package, limits, the `--timeout`
    /// deadline, and imports limited to the stdlib and files beside the script.
    pub fn engine(&self, script_dir: Option<PathBuf>) -> Engine {
        let mut engine = self.bare_engine(script_dir);
        self.register_packages(&mut engine);
        engine
    }

    /// The standard library and the Barrack package, the functions a script calls. Building
    /// them is most of an engine's set-up, so each is built once per process, when first needed.
    fn register_packages(&self, engine: &mut Engine) {
        standard_package().register_into_engine(engine);
        self.package
            .get_or_init(|| BarrackPackage::new(self.runtime.clone()))
            .register_into_engine(engine);
    }

    /// An engine with everything of [`Host::engine`] but the functions.
    fn bare_engine(&self, script_dir: Option<PathBuf>) -> Engine {
        let mut engine = Engine::new_raw();
        self.limits.apply(&mut engine);
        engine.set_module_resolver(resolver::Resolver::new(script_dir));
        engine.disable_symbol("eval");
        if self.print_to_stderr {
            engine.on_print(|text| eprintln!("{text}"));
        } else {
            engine.on_print(|text| {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
            });
        }
        let rt = self.runtime.clone();
        engine.on_debug(move |text, source, pos| {
            rt.say(&format!(
                "{}{pos:?}: {text}",
                source.map(|s| format!("{s}:")).unwrap_or_default()
            ));
        });
        // The only per-operation cost of the bounds: one load of the stop flag and two of the
        // memory counter and limit.
        let stop = self.runtime.stop.clone();
        crate::memory::set_limit(self.limits.max_memory);
        engine.on_progress(move |_| {
            if let Some(reason) = stop.reason() {
                return Some(reason.token().into());
            }
            if crate::memory::over_limit() {
                stop.request(StopReason::Memory);
                return Some(StopReason::Memory.token().into());
            }
            None
        });
        engine
    }

    /// `params` (from `--set`) and `ARGS` (after `--`) as constants.
    pub fn scope(&self) -> Scope<'static> {
        let mut scope = Scope::new();
        scope.push_constant("params", self.params.clone());
        let args: rhai::Array = self.args.iter().cloned().map(Dynamic::from).collect();
        scope.push_constant("ARGS", args);
        scope
    }

    /// Compile and run a script; syntax errors are exit 65, uncaught errors exit 1 (or the API
    /// error's code), `--timeout` exit 75.
    pub fn run(&self, source: &Source) -> Result<Dynamic, Error> {
        // Parsing needs no registered function; a script that can reach none (an empty one)
        // is run without building them.
        let mut engine = self.bare_engine(source.dir.clone());
        let ast = compile(&engine, source)?;
        if calls_functions(&ast) {
            self.register_packages(&mut engine);
        }
        let mut scope = self.scope();
        engine
            .eval_ast_with_scope::<Dynamic>(&mut scope, &ast)
            .map_err(|e| {
                let hint = words::set_hint(&e, &source.code, &self.params);
                words::with_hint(self.runtime_error(&source.name, *e), hint)
            })
    }

    /// Turn an uncaught Rhai error into barrack's error, worded for a person.
    pub fn runtime_error(&self, file: &str, err: EvalAltResult) -> Error {
        // A stop that was asked for explains the end of the run, whatever error the script
        // last saw (a fleet whose remaining items were not sent ends in a fleet error).
        if let Some(reason) = stopped_by(&err).or_else(|| self.runtime.stop.reason()) {
            return self.stop_error(reason);
        }
        script_error(file, err, self.runtime.time_limit)
    }

    /// The error of a run ended by `--timeout`, Ctrl-C or `--max-memory`, saying what was in
    /// flight and which mutations sent before the stop finished after it.
    pub fn stop_error(&self, reason: StopReason) -> Error {
        let stop = &self.runtime.stop;
        let in_flight = stop.in_flight_phrase();
        match reason {
            StopReason::Timeout => Error::Timeout {
                after: self.runtime.time_limit.unwrap_or_default(),
                in_flight,
            },
            StopReason::Interrupted => Error::Interrupted {
                in_flight,
                finished: stop.after_stop_phrase(),
            },
            StopReason::Memory => Error::Memory {
                limit: self.limits.max_memory,
            },
        }
    }
}

/// Whether a compiled script can reach a registered function: any call, operator, method,
/// property, index, interpolation, loop (its iterator), switch or import. Only the nodes listed
/// here are known to need none (Rhai evaluates them itself); any other, including node kinds
/// a later Rhai adds, counts as a call.
fn calls_functions(ast: &AST) -> bool {
    use rhai::{ASTNode, Expr, Stmt};
    let mut calls = false;
    ast.walk(&mut |path: &[ASTNode]| {
        let plain = match path.last() {
            Some(ASTNode::Expr(expr)) => matches!(
                expr,
                Expr::DynamicConstant(..)
                    | Expr::BoolConstant(..)
                    | Expr::IntegerConstant(..)
                    | Expr::FloatConstant(..)
                    | Expr::CharConstant(..)
                    | Expr::StringConstant(..)
                    | Expr::Unit(..)
                    | Expr::Array(..)
                    | Expr::Map(..)
                    | Expr::Variable(..)
                    | Expr::Stmt(..)
                    | Expr::And(..)
                    | Expr::Or(..)
                    | Expr::Coalesce(..)
            ),
            Some(ASTNode::Stmt(stmt)) => matches!(
                stmt,
                Stmt::Noop(..)
                    | Stmt::If(..)
                    | Stmt::While(..)
                    | Stmt::Do(..)
                    | Stmt::Var(..)
                    | Stmt::Block(..)
                    | Stmt::TryCatch(..)
                    | Stmt::Expr(..)
                    | Stmt::BreakLoop(..)
                    | Stmt::Return(..)
            ),
            _ => false,
        };
        calls |= !plain;
        plain
    });
    calls
}

/// Compile, reporting every syntax error found (exit 65).
pub fn compile(engine: &Engine, source: &Source) -> Result<AST, Error> {
    match engine.compile(&source.code) {
        Ok(mut ast) => {
            ast.set_source(source.name.as_str());
            Ok(ast)
        }
        Err(_) => Err(Error::Compile {
            diagnostics: check(engine, source),
        }),
    }
}

/// Every syntax error of a script. Rhai stops at the first error, so after each one the
/// offending line is blanked (line numbers kept) and the text parsed again.
pub fn check(engine: &Engine, source: &Source) -> Vec<Diagnostic> {
    let mut lines: Vec<String> = source.code.lines().map(str::to_string).collect();
    let mut found: Vec<Diagnostic> = Vec::new();
    for _ in 0..50 {
        let code = lines.join("\n");
        let Err(err) = engine.compile(&code) else {
            break;
        };
        let diagnostic = diagnostic(&source.name, &err);
        let line = diagnostic.line;
        if found
            .iter()
            .any(|d| d.line == line && d.message == diagnostic.message)
            || line == 0
            || line > lines.len()
        {
            if found.is_empty() {
                found.push(diagnostic);
            }
            break;
        }
        found.push(diagnostic);
        lines[line - 1] = String::new();
    }
    found.sort_by_key(|d| (d.line, d.column));
    found
}

fn diagnostic(file: &str, err: &ParseError) -> Diagnostic {
    let pos = err.position();
    Diagnostic {
        file: file.to_string(),
        line: pos.line().unwrap_or(0),
        column: pos.position().unwrap_or(0),
        message: err.err_type().to_string(),
    }
}

fn location(file: &str, pos: Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(line), Some(col)) => format!("{file}:{line}:{col}: "),
        (Some(line), None) => format!("{file}:{line}: "),
        _ => format!("{file}: "),
    }
}

/// Which stop ended a run, if one did: Rhai's `ErrorTerminated`, possibly inside a function
/// call or a module.
pub fn stopped_by(err: &EvalAltResult) -> Option<StopReason> {
    match err {
        EvalAltResult::ErrorTerminated(token, _) => Some(match token.to_string().as_str() {
            "interrupted" => StopReason::Interrupted,
            "memory" => StopReason::Memory,
            _ => StopReason::Timeout,
        }),
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => stopped_by(inner),
        _ => None,
    }
}

/// The error a script run ends with, as barrack reports it.
pub fn script_error(
    file: &str,
    err: EvalAltResult,
    time_limit: Option<std::time::Duration>,
) -> Error {
    let pos = err.position();
    match err {
        EvalAltResult::ErrorTerminated(..) => Error::Timeout {
            after: time_limit.unwrap_or_default(),
            in_flight: String::new(),
        },
        EvalAltResult::ErrorParsing(kind, pos) => Error::Compile {
            diagnostics: vec![Diagnostic {
                file: file.to_string(),
                line: pos.line().unwrap_or(0),
                column: pos.position().unwrap_or(0),
                message: kind.to_string(),
            }],
        },
        EvalAltResult::ErrorInFunctionCall(name, src, inner, call_pos) => {
            let inner_file = if src.is_empty() {
                file.to_string()
            } else {
                src.to_string()
            };
            match script_error(&inner_file, *inner, time_limit) {
                Error::Script { message, api } => Error::Script {
                    message: format!(
                        "{message}\n  called from function {name}() at {}",
                        location(file, call_pos).trim_end_matches(": ")
                    ),
                    api,
                },
                other => other,
            }
        }
        EvalAltResult::ErrorInModule(name, inner, _) => {
            match script_error(&name, *inner, time_limit) {
                Error::Script { message, api } => Error::Script {
                    message: format!("{message}\n  in module {name}"),
                    api,
                },
                other => other,
            }
        }
        EvalAltResult::ErrorRuntime(value, pos) => {
            let (message, api) = match value.read_lock::<Map>() {
                Some(map) => {
                    let text = map
                        .get("summary")
                        .or_else(|| map.get("message"))
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| display(&value));
                    // A fleet whose failures share one cause carries it as `cause`: the exit
                    // code is that cause's (69 when every call found the API unreachable).
                    let cause = map
                        .get("cause")
                        .and_then(|c| c.read_lock::<Map>().map(|c| c.clone()));
                    let source: &Map = cause.as_ref().unwrap_or(&*map);
                    let status = source.get("status").and_then(|s| s.as_int().ok());
                    let code = source.get("code").map(|c| c.to_string());
                    let api = match (status, code) {
                        (Some(s), Some(c)) if map.contains_key("op") => Some((s as u16, c)),
                        _ => None,
                    };
                    (text, api)
                }
                None => (format!("uncaught: {}", display(&value)), None),
            };
            Error::Script {
                message: format!("{}{message}", location(file, pos)),
                api,
            }
        }
        EvalAltResult::ErrorFunctionNotFound(signature, pos) => Error::Script {
            message: format!("{}{}", location(file, pos), words::not_found(&signature)),
            api: None,
        },
        EvalAltResult::ErrorMismatchDataType(expected, actual, pos)
        | EvalAltResult::ErrorMismatchOutputType(expected, actual, pos) => Error::Script {
            message: format!(
                "{}{}",
                location(file, pos),
                words::mismatch(&expected, &actual)
            ),
            api: None,
        },
        EvalAltResult::ErrorModuleNotFound(path, pos) => Error::Script {
            message: format!(
                "{}cannot import {path}{}",
                location(file, pos),
                if path == "sim" {
                    "; the sim module exists only under `barrack test` and `barrack repl --sim`"
                } else {
                    ""
                }
            ),
            api: None,
        },
        other => {
            let text = other.to_string();
            let text = text.split(" (line ").next().unwrap_or(&text).to_string();
            Error::Script {
                message: format!("{}{text}", location(file, pos)),
                api: None,
            }
        }
    }
}

/// `--set key=value`: numbers, booleans and JSON lists/maps are typed; the rest are strings.
pub fn param_value(text: &str) -> Dynamic {
    let trimmed = text.trim();
    if let Ok(i) = trimmed.parse::<i64>() {
        return i.into();
    }
    if let Ok(f) = trimmed.parse::<f64>() {
        if f.is_finite() && trimmed.contains('.') {
            return f.into();
        }
    }
    match trimmed {
        "true" => return true.into(),
        "false" => return false.into(),
        _ => {}
    }
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(trimmed) {
            return convert::to_dynamic(json);
        }
    }
    text.to_string().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Client, ClientSettings};
    use crate::sim::{SimOptions, Simulator};

    #[test]
    fn the_package_works_as_a_global_and_as_a_static_module() {
        let sim = Simulator::start(SimOptions::fast()).unwrap();
        let client = Client::new(ClientSettings::new(
            sim.base_url(),
            crate::secret::ApiKey::new("k"),
        ))
        .unwrap();
        let package = BarrackPackage::new(Arc::new(Runtime::new(client)));
        let mut engine = Engine::new();
        package.register_into_engine(&mut engine);
        engine.register_static_module("barrack", package.as_shared_module());
        let global: Map = engine.eval("balance()").unwrap();
        let namespaced: Map = engine.eval("barrack::balance()").unwrap();
        assert_eq!(
            global.get("currency").map(|c| c.to_string()),
            Some("USD".into())
        );
        assert_eq!(
            global.get("balance").map(|b| b.to_string()),
            namespaced.get("balance").map(|b| b.to_string())
        );
        let names = engine.gen_fn_signatures(false).join("\n");
        assert!(names.contains("wait_active"), "metadata lists the package");
    }

    fn offline_host() -> Host {
        // Nothing here sends a request: the address is never dialled.
        let settings = ClientSettings::new("http://127.0.0.1:9", crate::secret::ApiKey::new("k"));
        Host::new(Runtime::new(Client::new(settings).unwrap()))
    }

    #[test]
    fn only_scripts_that_can_reach_a_function_get_the_packages() {
        let engine = Engine::new_raw();
        let calls = |code: &str| calls_functions(&engine.compile(code).unwrap());
        for plain in [
            "",
            "// a comment only",
            "let x = 1; x",
            "const A = [1, \"b\", #{c: true}]; if A != () { A } else { () }",
            "let n = 0; while false { break; } n ?? 1",
            "try { throw \"no\"; } catch (e) { e }",
        ] {
            assert!(!calls(plain), "{plain:?} needs no function");
        }
        for calling in [
            "balance()",
            "let x = 1; x + y",
            "let m = #{}; m.a",
            "let a = [1]; a[0]",
            "let x = 1; `x is ${x}`",
            "let a = [1]; for i in a { return i; }",
            "let x = 1; x += 1;",
            "switch 1 { 1 => 2, _ => 3 }",
            "import \"m\" as m;",
            "fn f() { balance() }",
        ] {
            assert!(calls(calling), "{calling:?} may call a function");
        }
    }

    #[test]
    fn a_script_that_calls_nothing_runs_without_building_the_packages() {
        let host = offline_host();
        let run = |code: &str| host.run(&Source::snippet("<test>", code));
        assert!(run("").unwrap().is_unit());
        let value = run("let x = [1, #{a: true}]; x").unwrap();
        assert_eq!(
            convert::to_json(&value).unwrap().to_string(),
            r#"[1,{"a":true}]"#
        );
        let missing = run("let x = y;").unwrap_err().to_string();
        assert!(missing.contains("y"), "{missing}");
        assert!(host.package.get().is_none(), "no package was built");
        // The first script that calls a function builds them, and calls work.
        assert_eq!(run("\"abc\".len() + 1").unwrap().as_int().unwrap(), 4);
        assert!(host.package.get().is_some());
        assert_eq!(run("[3, 4].len()").unwrap().as_int().unwrap(), 2);
    }
}
