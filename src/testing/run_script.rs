//! `run_script(path_or_"stdlib:NAME", params)`: run a user's script or a bundled recipe against
//! the test's simulator, the way `barrack run` would, and return `#{result, output, mutations}`.

use super::requests::RequestLog;
use crate::script::time::Time;
use crate::script::{self, Host, Runtime, Source};
use rhai::{Dynamic, EvalAltResult, FuncRegistration, Map, Position, Scope};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

type Res<T> = Result<T, Box<EvalAltResult>>;

/// What a script printed and logged, line by line.
pub type Output = Arc<Mutex<String>>;

/// Route an engine's `print` and `log` into `output` instead of stdout and stderr, so each
/// test's lines stay its own (tests run in parallel) and a failure can show them.
pub fn capture_output(engine: &mut rhai::Engine, output: &Output, runtime: &Arc<Runtime>) {
    let sink = output.clone();
    engine.on_print(move |text| push_line(&sink, text));
    let mut module = rhai::Module::new();
    let (sink, rt) = (output.clone(), runtime.clone());
    FuncRegistration::new("log")
        .in_global_namespace()
        .with_comments(["/// A line with the simulated time, kept with the test's output."])
        .set_into_module(&mut module, move |msg: Dynamic| {
            let text = if msg.is_string() {
                msg.to_string()
            } else {
                script::display(&msg)
            };
            push_line(&sink, &format!("{}  {text}", Time(rt.now())));
        });
    engine.register_global_module(module.into());
}

fn push_line(output: &Output, text: &str) {
    let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
    out.push_str(text);
    out.push('\n');
}

/// Run `spec` (a path relative to the test file's directory, or `stdlib:NAME`) with `params`.
pub fn run_script(
    host: &Host,
    requests: &RequestLog,
    test_dir: Option<&Path>,
    spec: &str,
    params: Map,
) -> Res<Map> {
    let source = load(test_dir, spec)?;
    let output: Output = Arc::default();
    let mut engine = host.engine(source.dir.clone());
    capture_output(&mut engine, &output, &host.runtime);
    let ast = script::compile(&engine, &source)
        .map_err(|e| format!("run_script: {} does not compile:\n{e}", source.name))?;
    let mut scope = Scope::new();
    scope.push_constant("params", params);
    scope.push_constant("ARGS", rhai::Array::new());
    let from = requests.len();
    let result = engine
        .eval_ast_with_scope::<Dynamic>(&mut scope, &ast)
        .map_err(|e| nested_error(&source.name, *e))?;
    let mutations: Vec<_> = requests
        .since(from)
        .into_iter()
        .filter(|r| r.mutates)
        .collect();
    let mut map = Map::new();
    map.insert("result".into(), result);
    map.insert(
        "output".into(),
        output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .into(),
    );
    map.insert("mutations".into(), RequestLog::to_array(&mutations));
    Ok(map)
}

fn load(test_dir: Option<&Path>, spec: &str) -> Res<Source> {
    if let Some(name) = spec.strip_prefix("stdlib:") {
        // Validates the name; the recipe's `main(params)` is then called directly, so the
        // test gets its result map (with any `failed` entries) instead of a thrown summary.
        let mut source = Source::load(spec).map_err(|e| format!("run_script: {e}"))?;
        source.code = format!("import \"barrack/{name}\" as recipe;\nrecipe::main(params)\n");
        return Ok(source);
    }
    let path = Path::new(spec);
    let path: PathBuf = match test_dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    };
    Source::load(&path.to_string_lossy()).map_err(|e| {
        format!("run_script: cannot read {spec:?} (paths are relative to the test file): {e}")
            .into()
    })
}

/// An error of the script run, as the test sees it: a thrown map stays the same map (so
/// `assert_throws(|| run_script(…)).code` works) with `script` and `at` added; anything else
/// becomes a map whose message says where in the script it happened.
fn nested_error(name: &str, err: EvalAltResult) -> Box<EvalAltResult> {
    if matches!(err, EvalAltResult::ErrorTerminated(..)) {
        return err.into();
    }
    let at = place(name, &err);
    let mut map = thrown_map(&err).unwrap_or_else(|| {
        let mut map = Map::new();
        map.insert("code".into(), "SCRIPT_FAILED".into());
        map.insert("status".into(), 0_i64.into());
        map.insert(
            "message".into(),
            script::script_error(name, err, None).to_string().into(),
        );
        map
    });
    map.insert("script".into(), name.into());
    if let Some(at) = at {
        map.insert("at".into(), at.into());
    }
    EvalAltResult::ErrorRuntime(map.into(), Position::NONE).into()
}

/// The map a script threw, from under the function and module frames it passed through.
fn thrown_map(err: &EvalAltResult) -> Option<Map> {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => thrown_map(inner),
        EvalAltResult::ErrorRuntime(value, _) => value.read_lock::<Map>().map(|m| m.clone()),
        _ => None,
    }
}

/// `file:line` of the innermost place an error comes from.
pub fn place(file: &str, err: &EvalAltResult) -> Option<String> {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, src, inner, _) => {
            place(if src.is_empty() { file } else { src }, inner)
        }
        EvalAltResult::ErrorInModule(name, inner, _) => place(name, inner),
        other => other.position().line().map(|line| format!("{file}:{line}")),
    }
}
