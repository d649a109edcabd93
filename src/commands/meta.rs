//! `barrack completions SHELL`, `barrack man`, `barrack defs DIR`: what shells, `man` and
//! editors need, generated from the clap definition and the engine's metadata.

use crate::api::{Client, ClientSettings};
use crate::cli::{Cli, CompletionsArgs, DefsArgs, Shell};
use crate::error::{Error, Result};
use crate::script::{stdlib, Host};
use clap::CommandFactory;
use std::process::ExitCode;

pub fn completions(args: &CompletionsArgs) -> Result<ExitCode> {
    use clap_complete::Shell as S;
    let shell = match args.shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Powershell => S::PowerShell,
        Shell::Elvish => S::Elvish,
    };
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "barrack", &mut out);
    let script = String::from_utf8_lossy(&out);
    write_stdout(with_profile_names(args.shell, &script).as_bytes())
}

/// Profiles live in the user's config file, not in the binary: make the generated script ask
/// `barrack config profiles` for them after `--profile` (bash, zsh, fish; the other shells
/// complete --profile with file names as clap generates it). Recipes (`stdlib:NAME`) are
/// offered beside file names by bash; zsh keeps plain file completion for scripts.
fn with_profile_names(shell: Shell, script: &str) -> String {
    const ASK: &str = "barrack config profiles 2>/dev/null";
    match shell {
        Shell::Bash => {
            let mut after_flag = false;
            script
                .lines()
                .map(|line| {
                    let trimmed = line.trim_start();
                    if after_flag && trimmed.starts_with("COMPREPLY=(") {
                        after_flag = false;
                        let indent = &line[..line.len() - trimmed.len()];
                        return format!(
                            "{indent}COMPREPLY=($(compgen -W \"$({ASK})\" -- \"${{cur}}\"))"
                        );
                    }
                    after_flag = trimmed == "--profile)";
                    line.to_string()
                })
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"
        }
        Shell::Zsh => {
            script
                .lines()
                .map(|line| {
                    if line.contains("stdlib\\:rotation") {
                        // zsh would offer only the recipes, never a file: keep its file
                        // completion for script arguments (bash offers both).
                        let cut = line.rfind(":(").unwrap_or(line.len());
                        let tail = line[cut..].find(")'").map_or("", |i| &line[cut + i + 1..]);
                        format!("{}:_default{tail}", &line[..cut])
                    } else if line.contains("'--profile=") {
                        line.replace(
                            ":NAME:_default'",
                            ":NAME:{compadd -- ${(f)\"$(barrack config profiles 2>/dev/null)\"}}'",
                        )
                    } else {
                        line.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"
        }
        Shell::Fish => format!("{script}complete -c barrack -l profile -f -r -a '({ASK})'\n"),
        Shell::Powershell | Shell::Elvish => script.to_string(),
    }
}

pub fn man() -> Result<ExitCode> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Error::io("stdout", e))?;
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> Result<ExitCode> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|_| out.flush())
        .map_err(|e| Error::io("stdout", e))?;
    Ok(ExitCode::SUCCESS)
}

/// Definition files for the Rhai language server: every registered function and handle type,
/// and each stdlib module under its import name, with doc comments.
pub fn defs(args: &DefsArgs) -> Result<ExitCode> {
    // The definitions describe functions; no call is made, so the client points nowhere.
    let client =
        Client::new(ClientSettings::new("http://127.0.0.1:9", None)).map_err(Error::Api)?;
    let host = Host::builder(client).build();
    let mut engine = host.engine(None);
    let mut modules = Vec::new();
    for name in stdlib::names() {
        let ast = engine
            .compile(stdlib::source(name).unwrap_or_default())
            .map_err(|e| Error::script(format!("stdlib:{name}: {e}")))?;
        let module = rhai::Module::eval_ast_as_new(rhai::Scope::new(), &ast, &engine)
            .map_err(|e| Error::script(format!("stdlib:{name}: {e}")))?;
        engine.register_static_module(name, module.into());
        modules.push((name, module_definitions(name, &ast)));
    }
    std::fs::create_dir_all(&args.dir).map_err(|e| Error::io(&args.dir, e))?;
    engine
        .definitions()
        .include_standard_packages(true)
        .write_to_dir(&args.dir)
        .map_err(|e| Error::io(&args.dir, e))?;
    // Rhai's own output for a script module drops the functions' doc comments; write those
    // files from the source instead.
    for (name, text) in modules {
        let path = args.dir.join(format!("{name}.d.rhai"));
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    let written = std::fs::read_dir(&args.dir).map(|d| d.count()).unwrap_or(0);
    eprintln!(
        "barrack: wrote {written} definition files to {}",
        args.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A stdlib module's definition file: its public functions with their `///` comments.
fn module_definitions(name: &str, ast: &rhai::AST) -> String {
    let mut out = format!("module {name};\n");
    let mut functions: Vec<_> = ast
        .iter_functions()
        .filter(|f| f.access != rhai::FnAccess::Private && !f.name.starts_with("anon$"))
        .collect();
    functions.sort_by_key(|f| f.name);
    for f in functions {
        out.push('\n');
        for comment in f.comments.iter() {
            out.push_str(comment);
            out.push('\n');
        }
        let params: Vec<String> = f.params.iter().map(|p| format!("{p}: ?")).collect();
        out.push_str(&format!("fn {}({}) -> ?;\n", f.name, params.join(", ")));
    }
    out
}
