//! `barrack stdlib list` / `barrack stdlib show NAME`

use crate::cli::{Format, StdlibCommand};
use crate::error::{Error, Result};
use crate::output::Printer;
use crate::script::stdlib;
use std::io::Write;
use std::process::ExitCode;

pub fn run(command: &StdlibCommand, printer: Printer) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let io = |e| Error::io("stdout", e);
    match command {
        StdlibCommand::List if printer.format == Format::Json => {
            let list: Vec<serde_json::Value> = stdlib::RECIPES
                .iter()
                .map(|(name, summary, _)| serde_json::json!({"name": name, "summary": summary, "import": format!("barrack/{name}")}))
                .collect();
            printer
                .value(&mut out, &serde_json::Value::Array(list))
                .map_err(io)?;
        }
        StdlibCommand::List => {
            for (name, summary, _) in stdlib::RECIPES {
                writeln!(out, "{name:<12} {summary}").map_err(io)?;
            }
            writeln!(out, "\nimport \"barrack/NAME\" as NAME;  ·  barrack run stdlib:NAME --set key=value  ·  barrack stdlib show NAME").map_err(io)?;
        }
        StdlibCommand::Show { name } => {
            let source = stdlib::source(name).ok_or_else(|| {
                Error::usage(format!(
                    "no bundled recipe {name:?}; see `barrack stdlib list`"
                ))
            })?;
            write!(out, "{source}").map_err(io)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
