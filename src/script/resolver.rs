//! The only way a script reaches other code: `import "barrack/NAME"` (a bundled recipe) or a
//! file beside the script (no absolute paths, no `..`, nothing outside the script's directory).

use super::stdlib;
use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

pub struct Resolver {
    /// The directory of the running script; `None` for `eval` and the REPL (stdlib only).
    base: Option<PathBuf>,
    cache: Mutex<HashMap<String, Shared<Module>>>,
    /// The modules being loaded, outermost first: an import of one of them is a cycle (which
    /// would otherwise recurse until the stack overflows).
    loading: Mutex<Vec<(String, String)>>,
}

impl Resolver {
    pub fn new(base: Option<PathBuf>) -> Resolver {
        Resolver {
            base,
            cache: Mutex::new(HashMap::new()),
            loading: Mutex::new(Vec::new()),
        }
    }

    /// Mark `key` (the module's real path or stdlib name) as loading; an error naming the
    /// cycle when it already is.
    fn enter(&self, key: &str, path: &str, pos: Position) -> Result<(), Box<EvalAltResult>> {
        let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(start) = loading.iter().position(|(k, _)| k == key) {
            let mut names: Vec<&str> = loading[start..].iter().map(|(_, p)| p.as_str()).collect();
            names.push(path);
            return Err(Self::not_found(
                path,
                &format!(
                    "import cycle: {}; a module cannot import itself, directly or through others",
                    names.join(" → ")
                ),
                pos,
            ));
        }
        loading.push((key.to_string(), path.to_string()));
        Ok(())
    }

    fn leave(&self, key: &str) {
        let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = loading.iter().rposition(|(k, _)| k == key) {
            loading.remove(i);
        }
    }

    /// Rhai replaces a resolver's "module not found" with its own bare one, so the reason is
    /// carried in an error map instead (`message`, as every barrack error has).
    fn not_found(path: &str, why: &str, pos: Position) -> Box<EvalAltResult> {
        let message = format!("cannot import {path:?}: {why}");
        let mut map = rhai::Map::new();
        map.insert("code".into(), "IMPORT_FAILED".into());
        map.insert("message".into(), message.clone().into());
        map.insert("summary".into(), message.into());
        EvalAltResult::ErrorRuntime(map.into(), pos).into()
    }

    fn file_path(&self, path: &str, pos: Position) -> Result<PathBuf, Box<EvalAltResult>> {
        let Some(base) = &self.base else {
            return Err(Self::not_found(
                path,
                "only barrack/NAME modules can be imported here",
                pos,
            ));
        };
        let relative = Path::new(path);
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(Self::not_found(
                path,
                "imports must be relative to the script's directory, without ..",
                pos,
            ));
        }
        let mut file = base.join(relative);
        if file.extension().is_none_or(|e| e != "rhai") {
            file.set_extension("rhai");
        }
        let root = base
            .canonicalize()
            .map_err(|e| Self::not_found(path, &e.to_string(), pos))?;
        let real = file
            .canonicalize()
            .map_err(|_| Self::not_found(path, &format!("no file {}", file.display()), pos))?;
        if !real.starts_with(&root) {
            return Err(Self::not_found(
                path,
                "it leads outside the script's directory",
                pos,
            ));
        }
        // A FIFO, a device or a directory would block or fail on read: only regular files.
        let regular = std::fs::metadata(&real).is_ok_and(|m| m.is_file());
        if !regular {
            return Err(Self::not_found(
                path,
                &format!("{} is not a regular file", real.display()),
                pos,
            ));
        }
        Ok(real)
    }
}

impl ModuleResolver for Resolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        if let Some(module) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
        {
            return Ok(module.clone());
        }
        let (source_name, code) = match path.strip_prefix("barrack/") {
            Some(name) => match stdlib::source(name) {
                Some(code) => (format!("stdlib:{name}"), code.to_string()),
                None => {
                    let known = stdlib::names().collect::<Vec<_>>().join(", ");
                    return Err(Self::not_found(
                        path,
                        &format!("the bundled modules are {known}"),
                        pos,
                    ));
                }
            },
            None => {
                let file = self.file_path(path, pos)?;
                let code = std::fs::read_to_string(&file)
                    .map_err(|e| Self::not_found(path, &e.to_string(), pos))?;
                (file.display().to_string(), code)
            }
        };
        let mut ast = engine.compile(&code).map_err(|e| {
            EvalAltResult::ErrorInModule(source_name.clone(), Box::new(e.into()), pos)
        })?;
        ast.set_source(source_name.as_str());
        self.enter(&source_name, path, pos)?;
        let module = Module::eval_ast_as_new(Scope::new(), &ast, engine);
        self.leave(&source_name);
        let module = module.map_err(|e| EvalAltResult::ErrorInModule(source_name, e, pos))?;
        let module: Shared<Module> = module.into();
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_string(), module.clone());
        Ok(module)
    }
}
