//! Compiling a script, and finding every syntax error in it (`barrack check`).

use super::source::Source;
use crate::error::{Diagnostic, Error};
use rhai::{Engine, ParseError, AST};

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
