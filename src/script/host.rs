//! A run's host: sandboxed engines with the standard library and the Barrack package, and
//! running a script in one, its uncaught error worded for a person.

use super::compile::compile;
use super::limits::Limits;
use super::package::BarrackPackage;
use super::resolver;
use super::run_error::{script_error, stopped_by};
use super::runtime::Runtime;
use super::source::Source;
use super::stop::StopReason;
use super::words;
use crate::error::Error;
use rhai::packages::{Package, StandardPackage};
use rhai::{Dynamic, Engine, EvalAltResult, Map, Scope, AST};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Client, ClientSettings};
    use crate::script::convert;

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
