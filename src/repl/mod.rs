//! `barrack repl`: one engine and one scope for the session, multi-line input, history that
//! never records the key, completion from the catalog, `:help`, `:explain`. When stdin is not a
//! terminal it reads and evaluates lines, so it can be piped.

mod complete;
mod input;

use crate::api::catalog::{self, Catalog};
use crate::cli::Format;
use crate::ops_doc;
use crate::output::Printer;
use crate::script::{self, Host, Source};
use crate::secret::ApiKey;
use input::Input;
use rhai::{Dynamic, Engine, Scope, AST};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use complete::Completer;
pub use input::classify;

const PROMPT: &str = "barrack> ";
const CONTINUE: &str = "     ...> ";

/// The session's state: engine, scope, the functions defined so far.
pub struct Session {
    host: Host,
    engine: Engine,
    scope: Scope<'static>,
    ast: AST,
    last: Option<AST>,
    printer: Printer,
    explain: Arc<AtomicBool>,
    completer: Completer,
    history: Option<History>,
    /// Entries that ended in an error: a piped session exits 1 when there were any.
    failures: usize,
}

/// What a finished entry asks of the loop.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

impl Session {
    pub fn new(
        host: Host,
        printer: Printer,
        explain: Arc<AtomicBool>,
        history: Option<History>,
    ) -> Session {
        let engine = host.engine(std::env::current_dir().ok());
        let scope = host.scope();
        let completer = Completer::new(&engine.gen_fn_signatures(false));
        Session {
            host,
            engine,
            scope,
            ast: AST::empty(),
            last: None,
            printer,
            explain,
            completer,
            history,
            failures: 0,
        }
    }

    /// Add a module under a name (`barrack repl --sim` adds `sim`), completion included.
    pub fn add_module(&mut self, name: &str, module: rhai::Shared<rhai::Module>) {
        self.engine.register_static_module(name, module);
        self.completer = Completer::new(&self.engine.gen_fn_signatures(false));
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn variables(&self) -> Vec<String> {
        self.scope
            .iter()
            .map(|(name, _, _)| name.to_string())
            .collect()
    }

    pub fn remember(&mut self, line: &str) {
        if let Some(history) = &mut self.history {
            history.append(line);
        }
    }

    /// Add a typed line to `buffer`; once the entry is complete, run it. `None` while more
    /// lines are needed.
    pub fn feed(&mut self, buffer: &mut String, line: &str) -> Option<Flow> {
        self.remember(line);
        if !buffer.is_empty() {
            buffer.push('\n');
        }
        buffer.push_str(line);
        if classify(&self.engine, buffer) == Input::Incomplete {
            return None;
        }
        let entry = std::mem::take(buffer);
        Some(self.entry(&entry))
    }

    /// Run one complete entry: a command or code. Errors are printed, never fatal.
    pub fn entry(&mut self, text: &str) -> Flow {
        match classify(&self.engine, text) {
            Input::Empty | Input::Incomplete => Flow::Continue,
            Input::Command(name, arg) => self.command(&name, &arg),
            Input::Code(code) => {
                let code: String = code
                    .lines()
                    .map(input::strip_continuation)
                    .collect::<Vec<_>>()
                    .join("\n");
                self.eval(&code);
                Flow::Continue
            }
        }
    }

    fn eval(&mut self, code: &str) {
        let ast = match self.engine.compile_with_scope(&self.scope, code) {
            Ok(ast) => ast,
            Err(err) => {
                let diagnostics = script::check(&self.engine, &Source::snippet("<repl>", code));
                let text = if diagnostics.is_empty() {
                    err.to_string()
                } else {
                    diagnostics
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                eprintln!("error: {text}");
                self.failures += 1;
                return;
            }
        };
        self.last = Some(ast.clone());
        self.ast += ast;
        // A Ctrl-C (or memory stop) ended the previous entry only; this one starts afresh.
        self.host.runtime.stop.clear();
        let result = self
            .engine
            .eval_ast_with_scope::<Dynamic>(&mut self.scope, &self.ast);
        self.ast.clear_statements();
        match result {
            Ok(value) => self.print(&value),
            Err(err) => {
                self.failures += 1;
                eprintln!("error: {}", self.host.runtime_error("<repl>", *err));
            }
        }
    }

    fn print(&self, value: &Dynamic) {
        if value.is_unit() {
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = match (self.printer.format, script::convert::to_json(value)) {
            (Format::Json, Ok(json)) => self.printer.value(&mut out, &json),
            _ => writeln!(out, "{}", script::display(value)),
        };
    }

    fn command(&mut self, name: &str, arg: &str) -> Flow {
        let mut out = std::io::stdout().lock();
        match name {
            "q" | "quit" | "exit" => return Flow::Quit,
            "help" | "h" if arg.is_empty() => {
                let _ = writeln!(out, "{}", overview());
            }
            "help" | "h" => {
                let _ = writeln!(out, "{}", help_for(&self.engine, arg));
            }
            "ops" => {
                let rows: Vec<serde_json::Value> = catalog::OPS
                    .iter()
                    .map(|op| serde_json::json!({"name": op.rhai_names().collect::<Vec<_>>().join(", "), "method": op.method, "path": op.path, "summary": op.summary}))
                    .collect();
                let cols = ["name", "method", "path", "summary"].map(String::from);
                let _ = writeln!(out, "{}", crate::output::table(&rows, &cols));
            }
            "explain" => match arg {
                "on" => {
                    self.explain.store(true, Ordering::SeqCst);
                    let _ = writeln!(
                        out,
                        "explain on: each HTTP request is printed (key redacted)"
                    );
                }
                "off" => {
                    self.explain.store(false, Ordering::SeqCst);
                    let _ = writeln!(out, "explain off");
                }
                _ => eprintln!("error: :explain on|off"),
            },
            "scope" => {
                for (name, constant, value) in self.scope.iter() {
                    let text = script::display(&value).replace('\n', " ");
                    let text: String = text.chars().take(120).collect();
                    let _ = writeln!(
                        out,
                        "{}{name} = {text}",
                        if constant { "const " } else { "" }
                    );
                }
            }
            "ast" => match &self.last {
                Some(ast) => {
                    let _ = writeln!(out, "{:#?}", ast.statements());
                }
                None => {
                    let _ = writeln!(out, "(nothing compiled yet)");
                }
            },
            "load" if !arg.is_empty() => match Source::load(arg) {
                Ok(source) => {
                    drop(out);
                    self.eval(&source.code);
                }
                Err(e) => {
                    self.failures += 1;
                    eprintln!("error: {e}");
                }
            },
            "clear" => {
                self.scope = self.host.scope();
                self.ast = AST::empty();
                let _ = writeln!(out, "scope cleared");
            }
            "complete" => {
                let (_, candidates) = self.completer.complete(arg, arg.len(), &self.variables());
                let _ = writeln!(out, "{}", candidates.join("\n"));
            }
            other => {
                self.failures += 1;
                eprintln!("error: unknown command :{other}; :help lists them");
            }
        }
        Flow::Continue
    }
}

fn overview() -> String {
    "barrack repl: Rhai with the whole Barrack API. One scope for the session: `let vm = deploy(#{gpu: \"L40\", region: \"CANADA-1\"});` then `vm.status`.\n\
     \n\
     Commands:\n\
     \x20 :help            this overview          :help NAME   one function: signature, HTTP route, example\n\
     \x20 :ops             every API operation     :explain on|off  print each HTTP request (key redacted)\n\
     \x20 :scope           the variables           :ast         the last entry's syntax tree\n\
     \x20 :load FILE       run a script into the scope\n\
     \x20 :clear           forget every variable   :quit        leave (or Ctrl-D)\n\
     \n\
     Tab completes functions, methods after `.`, map keys (`deploy(#{g` → gpu:) and `import \"barrack/…\"`.\n\
     An unfinished line (open brace, trailing operator, `\\`) continues on the next; Ctrl-C clears it.\n\
     Start with: balance(), instances(), gpu_stocks(), :help deploy"
        .to_string()
}

/// `:help NAME`: catalog operations in detail; other functions by their signatures and docs.
pub fn help_for(engine: &Engine, name: &str) -> String {
    let catalog = Catalog::builtin();
    let ops: Vec<_> = match catalog::find(name) {
        Some(op) => vec![op],
        None => catalog::by_rhai_name(name).collect(),
    };
    if !ops.is_empty() {
        return ops
            .iter()
            .map(|op| ops_doc::describe(op, &catalog))
            .collect::<Vec<_>>()
            .join("\n\n");
    }
    if let Some(text) = crate::help::describe(name) {
        return text;
    }
    let metadata = engine.gen_fn_metadata_to_json(false).unwrap_or_default();
    let parsed: serde_json::Value = serde_json::from_str(&metadata).unwrap_or_default();
    let mut lines = Vec::new();
    for f in parsed["functions"].as_array().into_iter().flatten() {
        if f["name"] == name {
            lines.push(format!("  {}", f["signature"].as_str().unwrap_or(name)));
            for c in f["docComments"].as_array().into_iter().flatten() {
                let text = c.as_str().unwrap_or("").trim_start_matches("///").trim();
                if !text.is_empty() && !text.starts_with("```") {
                    lines.push(format!("    {text}"));
                }
            }
        }
    }
    if lines.is_empty() {
        format!(
            "no function named {name:?}{}",
            crate::api::signature::did_you_mean(name)
        )
    } else {
        // One line per call shape: overloads that differ only in the handle type read alike.
        let mut seen = std::collections::HashSet::new();
        lines.retain(|l| seen.insert(l.clone()));
        format!("{name}\n{}", lines.join("\n"))
    }
}

/// The history file: created 0600, never given a line that holds the API key.
pub struct History {
    path: PathBuf,
    key: Option<ApiKey>,
}

impl History {
    pub fn open(path: PathBuf, key: Option<ApiKey>) -> History {
        History { path, key }
    }

    /// Lines of earlier sessions.
    pub fn load(&self) -> Vec<String> {
        std::fs::read_to_string(&self.path)
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    pub fn append(&mut self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        if let Some(key) = &self.key {
            if line.contains(key.expose()) {
                return;
            }
        }
        if let Some(dir) = self.path.parent() {
            let _ = create_private_dir(dir);
        }
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        if let Ok(mut file) = options.open(&self.path) {
            let _ = writeln!(file, "{}", line.replace('\n', " "));
        }
    }
}

fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Read from a terminal with rustyline, or line by line from a pipe. Returns how many piped
/// entries failed (a terminal session is judged by the person at it, so 0 there).
pub fn run(mut session: Session) -> std::io::Result<usize> {
    if !std::io::stdin().is_terminal() {
        run_piped(&mut session)?;
        return Ok(session.failures);
    }
    let config = rustyline::Config::builder()
        .completion_type(rustyline::CompletionType::List)
        .auto_add_history(false)
        .build();
    let mut editor: rustyline::Editor<EditorHelper, rustyline::history::DefaultHistory> =
        rustyline::Editor::with_config(config).map_err(std::io::Error::other)?;
    editor.set_helper(Some(EditorHelper {
        completer: Completer::new(&session.engine().gen_fn_signatures(false)),
        variables: Vec::new(),
    }));
    if let Some(history) = &session.history {
        for line in history.load() {
            let _ = editor.add_history_entry(line);
        }
    }
    println!("barrack repl — :help for help, Ctrl-D to leave");
    let mut buffer = String::new();
    loop {
        if let Some(helper) = editor.helper_mut() {
            helper.variables = session.variables();
        }
        let prompt = if buffer.is_empty() { PROMPT } else { CONTINUE };
        match editor.readline(prompt) {
            Ok(line) => {
                let _ = editor.add_history_entry(line.as_str());
                if session.feed(&mut buffer, &line) == Some(Flow::Quit) {
                    break;
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => buffer.clear(),
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(std::io::Error::other(e)),
        }
    }
    Ok(0)
}

fn run_piped(session: &mut Session) -> std::io::Result<()> {
    let stdin = std::io::stdin();
    let mut buffer = String::new();
    for line in stdin.lock().lines() {
        if session.feed(&mut buffer, &line?) == Some(Flow::Quit) {
            return Ok(());
        }
    }
    if !buffer.trim().is_empty() {
        session.entry(&buffer);
    }
    Ok(())
}

/// rustyline's helper: completion only.
struct EditorHelper {
    completer: Completer,
    variables: Vec<String>,
}

impl rustyline::completion::Completer for EditorHelper {
    type Candidate = String;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(self.completer.complete(line, pos, &self.variables))
    }
}
impl rustyline::hint::Hinter for EditorHelper {
    type Hint = String;
}
impl rustyline::highlight::Highlighter for EditorHelper {}
impl rustyline::validate::Validator for EditorHelper {}
impl rustyline::Helper for EditorHelper {}
