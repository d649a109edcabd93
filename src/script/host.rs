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
use super::{ops, words};
use crate::error::Error;
use rhai::packages::{Package, StandardPackage};
use rhai::{Dynamic, Engine, EvalAltResult, Map, Module, Scope, AST};
use std::collections::BTreeSet;
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
        // Parsing needs no registered function, so the engine gets only what the compiled
        // script can reach: nothing for an empty one, only the operations it names for one
        // that just calls operations (`balance();`, `hibernate(ARGS);`), else everything.
        let mut engine = self.bare_engine(source.dir.clone());
        let ast = compile(&engine, source)?;
        match functions_needed(&ast) {
            Needs::Nothing => {}
            Needs::Operations(names) => {
                let mut module = Module::new();
                ops::register_named(&mut module, &self.runtime, &names);
                engine.register_global_module(module.into());
            }
            Needs::Everything => self.register_packages(&mut engine),
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

/// The registered functions a compiled script can reach.
#[derive(Debug, PartialEq)]
enum Needs {
    /// None: Rhai evaluates every node of the script itself.
    Nothing,
    /// Only these operations, each called by its plain name (`balance()`, `hibernate(ARGS)`),
    /// their arguments values Rhai builds itself.
    Operations(BTreeSet<&'static str>),
    /// Any function: the standard library and the whole Barrack package.
    Everything,
}

/// What a compiled script needs. Only the nodes listed here are known to need no function
/// (Rhai evaluates them itself); a plain call of an operation needs that operation; anything
/// else — any other call, operator, method, property, index, interpolation, loop (its
/// iterator), switch, import, or a node kind a later Rhai adds — needs everything.
fn functions_needed(ast: &AST) -> Needs {
    use rhai::{ASTNode, Expr, Stmt};
    let mut operations = BTreeSet::new();
    let mut everything = false;
    ast.walk(&mut |path: &[ASTNode]| {
        let call = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, _)))
            | Some(ASTNode::Stmt(Stmt::FnCall(call, _))) => Some(call),
            _ => None,
        };
        if let Some(name) = call.and_then(|call| operation_called(call)) {
            operations.insert(name);
            return true;
        }
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
        everything |= !plain;
        plain
    });
    match (everything, operations.is_empty()) {
        (true, _) => Needs::Everything,
        (false, true) => Needs::Nothing,
        (false, false) => Needs::Operations(operations),
    }
}

/// The operation a call names, when it is a plain call of one: not an operator, not in a
/// module's namespace, not capturing the caller's scope (`f!()`).
fn operation_called(call: &rhai::FnCallExpr) -> Option<&'static str> {
    if call.is_operator_call() || !call.namespace.is_empty() || call.capture_parent_scope {
        return None;
    }
    ops::operation_name(&call.name)
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
    fn a_script_gets_only_the_functions_it_can_reach() {
        let engine = Engine::new_raw();
        let needs = |code: &str| functions_needed(&engine.compile(code).unwrap());
        for plain in [
            "",
            "// a comment only",
            "let x = 1; x",
            "const A = [1, \"b\", #{c: true}]; if A != () { A } else { () }",
            "let n = 0; while false { break; } n ?? 1",
            "try { throw \"no\"; } catch (e) { e }",
        ] {
            assert_eq!(needs(plain), Needs::Nothing, "{plain:?} needs no function");
        }
        let operations =
            |names: &[&'static str]| Needs::Operations(names.iter().copied().collect());
        for (code, names) in [
            ("balance()", &["balance"][..]),
            ("balance();", &["balance"]),
            ("hibernate(ARGS);", &["hibernate"]),
            (
                "let vm = deploy(#{gpu: \"H100\", count: 1}); delete(vm);",
                &["delete", "deploy"],
            ),
            ("if true { stop(\"BRK-1\") }", &["stop"]),
            ("try { balance() } catch (e) { e }", &["balance"]),
            ("fn f() { balance() }", &["balance"]),
        ] {
            assert_eq!(needs(code), operations(names), "{code:?}");
        }
        for calling in [
            "balance().balance",
            "print(balance())",
            "balance() + 1",
            "wait_active(deploy(#{}))",
            "hibernate(instances().filter(|vm| vm.status == \"ACTIVE\"))",
            "Fn(\"balance\").call()",
            "if params != () { stop(params.id) }",
            "let x = 1; x + y",
            "let m = #{}; m.a",
            "let a = [1]; a[0]",
            "let x = 1; `x is ${x}`",
            "let a = [1]; for i in a { return i; }",
            "let x = 1; x += 1;",
            "switch 1 { 1 => 2, _ => 3 }",
            "import \"m\" as m;",
            "fn f() { balance() } f()",
        ] {
            assert_eq!(
                needs(calling),
                Needs::Everything,
                "{calling:?} may call any function"
            );
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

    #[test]
    fn a_script_that_only_calls_operations_runs_them_without_the_packages() {
        let sim = crate::sim::Simulator::start(crate::sim::SimOptions::fast()).unwrap();
        let settings = ClientSettings::new(sim.base_url(), crate::secret::ApiKey::new("k"));
        let host = Host::new(Runtime::new(Client::new(settings).unwrap()));
        let run = |code: &str| host.run(&Source::snippet("<test>", code));
        let json = |value: Dynamic| convert::to_json(&value).unwrap();
        let balance = json(run("balance()").unwrap());
        assert_eq!(balance["currency"], "USD", "{balance}");
        let refused = run("deploy(#{gpu: \"H100-SXM5-80GB\", count: 1, regoin: \"FINLAND-1\"})")
            .unwrap_err()
            .to_string();
        assert!(refused.contains("did you mean \"region\""), "{refused}");
        let missing = run("balance(1, 2, 3, 4)").unwrap_err().to_string();
        assert!(missing.contains("unknown function balance"), "{missing}");
        assert!(host.package.get().is_none(), "no package was built");
        // The same operation reached through a property needs everything, and gets it.
        let figure = run("balance().balance").unwrap();
        assert_eq!(
            serde_json::json!(figure.as_float().unwrap()),
            balance["balance"]
        );
        assert!(host.package.get().is_some());
    }
}
