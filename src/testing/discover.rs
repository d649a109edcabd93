//! Finding tests: `*_test.rhai` files under the paths given (a file given by name is taken as
//! it is), compiled once each, and their `test_*` functions.

use crate::error::{Diagnostic, Error};
use crate::script::{self, Source};
use rhai::AST;
use std::path::{Path, PathBuf};

/// Test files end with this.
pub const SUFFIX: &str = "_test.rhai";

/// One compiled test file and the names of its tests, in the order they are written.
pub struct TestFile {
    /// As shown in reports: the path as found.
    pub name: String,
    /// Where `import` and `run_script` paths resolve.
    pub dir: Option<PathBuf>,
    pub ast: AST,
    pub tests: Vec<TestFn>,
}

/// A `test_*` function: its name and how many parameters it (wrongly) takes.
pub struct TestFn {
    pub name: String,
    pub params: usize,
}

/// Every test file under `paths`, sorted; directories are searched (hidden ones and `target`
/// skipped).
pub fn find(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut found = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_dir() {
            if !name.starts_with('.') && name != "target" {
                walk(&path, found)?;
            }
        } else if name.ends_with(SUFFIX) {
            found.push(path);
        }
    }
    Ok(())
}

/// Where `fn name` starts in the text (functions not found this way go last).
fn written_at(code: &str, name: &str) -> usize {
    let needle = format!("fn {name}");
    code.match_indices(&needle)
        .map(|(i, _)| i)
        .find(|&i| {
            code[i + needle.len()..]
                .chars()
                .next()
                .is_some_and(|c| c == '(' || c.is_whitespace())
        })
        .unwrap_or(usize::MAX)
}

/// Compile every file; all syntax errors of all files come back together (exit 65).
pub fn compile(paths: &[PathBuf]) -> Result<Vec<TestFile>, Error> {
    let mut engine = rhai::Engine::new_raw();
    script::Limits::default().apply(&mut engine);
    let mut files = Vec::new();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    for path in paths {
        let name = path.to_string_lossy().trim_start_matches("./").to_string();
        let mut source = Source::load(&path.to_string_lossy())?;
        source.name = name.clone();
        match script::compile(&engine, &source) {
            Ok(ast) => {
                let mut tests: Vec<TestFn> = ast
                    .iter_functions()
                    .filter(|f| f.name.starts_with("test_"))
                    .map(|f| TestFn {
                        name: f.name.to_string(),
                        params: f.params.len(),
                    })
                    .collect();
                // The AST keeps functions hashed; reports follow the order they are written in.
                tests.sort_by_key(|t| written_at(&source.code, &t.name));
                files.push(TestFile {
                    name,
                    dir: source.dir.clone(),
                    ast,
                    tests,
                });
            }
            Err(Error::Compile { diagnostics: found }) => diagnostics.extend(found),
            Err(other) => return Err(other),
        }
    }
    if diagnostics.is_empty() {
        Ok(files)
    } else {
        Err(Error::Compile { diagnostics })
    }
}
