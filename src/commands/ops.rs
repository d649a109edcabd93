//! `barrack ops [--json] [NAME]`

use crate::api::catalog::{self, Catalog, OPS};
use crate::api::signature;
use crate::cli::{Format, GlobalOpts, OpsArgs};
use crate::error::{Error, Result};
use crate::ops_doc;
use crate::output::{self, Printer};
use serde_json::{json, Value};
use std::io::Write;
use std::process::ExitCode;

/// The JSON form of the catalog: what `--catalog` reads back.
pub fn catalog_json(catalog: &Catalog) -> Value {
    Value::Array(
        OPS.iter()
            .map(|op| {
                let (method, path) = catalog.route(op);
                json!({
                    "name": op.name,
                    "rhai": op.rhai_names().collect::<Vec<_>>(),
                    "group": op.group,
                    "method": method,
                    "path": path,
                    "summary": op.summary,
                    "mutates": op.mutates,
                    "paginated": op.paginated,
                    "signature": signature::signature(op, op.name),
                    "returns": signature::return_type(op.returns),
                    "keys": op.fields.iter().map(key_json).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// One key of a request shape, as `barrack ops --json` prints it.
fn key_json(field: &crate::api::shape::Field) -> Value {
    json!({
        "key": field.key,
        "field": field.name,
        "type": field.ty.describe(),
        "required": field.required,
        "default": (!field.default.is_empty()).then_some(field.default),
        "rule": field.rule.describe(),
        "tier": field.tier.as_str(),
        "doc": field.doc,
        "chosen": field.chosen,
    })
}

pub fn run(args: &OpsArgs, global: &GlobalOpts, printer: Printer) -> Result<ExitCode> {
    let catalog = match &global.catalog {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            Catalog::with_overrides(&text).map_err(|why| {
                Error::config(format!("catalog override {}: {why}", path.display()))
            })?
        }
        None => Catalog::builtin(),
    };
    let json_out = args.json || printer.format == Format::Json;
    let mut out = std::io::stdout().lock();
    let write_err = |e: std::io::Error| Error::io("stdout", e);
    match &args.name {
        None if json_out => Printer::new(Format::Json)
            .value(&mut out, &catalog_json(&catalog))
            .map_err(write_err)?,
        None => {
            let rows: Vec<Value> = OPS
                .iter()
                .map(|op| {
                    let (method, path) = catalog.route(op);
                    let names = op.rhai_names().collect::<Vec<_>>().join(", ");
                    json!({"name": names, "method": method, "path": path, "summary": op.summary})
                })
                .collect();
            let cols = ["name", "method", "path", "summary"].map(String::from);
            writeln!(out, "{}", output::table(&rows, &cols)).map_err(write_err)?;
            writeln!(
                out,
                "\n{} operations. `barrack ops NAME` for one in detail; NAME may also be a waiter, \
                 a helper or a recipe function (`barrack ops wait_active`, `barrack ops rotation::rotate`).",
                OPS.len()
            )
            .map_err(write_err)?;
        }
        Some(name) => {
            let matches: Vec<_> = match catalog::find(name) {
                Some(op) => vec![op],
                None => catalog::by_rhai_name(name).collect(),
            };
            if matches.is_empty() {
                // Not an operation: a waiter, a helper or a stdlib function.
                return match crate::help::describe(name) {
                    Some(text) if !json_out => {
                        writeln!(out, "{text}").map_err(write_err)?;
                        Ok(ExitCode::SUCCESS)
                    }
                    Some(_) => Err(Error::usage(format!(
                        "{name} is a function of barrack's Rhai surface, not an API operation; \
                         `barrack ops {name}` without --json describes it"
                    ))),
                    None => {
                        let names = crate::help::names();
                        let close =
                            crate::api::suggest::near(name, names.iter().map(String::as_str));
                        let hint = if close.is_empty() {
                            signature::did_you_mean(name)
                        } else {
                            format!("; did you mean {}?", close.join(", "))
                        };
                        Err(Error::usage(format!(
                            "no operation or function named {name:?}{hint}"
                        )))
                    }
                };
            }
            if json_out {
                let all = catalog_json(&catalog);
                let picked: Vec<Value> = all
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|v| matches.iter().any(|op| v["name"] == op.name))
                    .cloned()
                    .collect();
                Printer::new(Format::Json)
                    .value(&mut out, &Value::Array(picked))
                    .map_err(write_err)?;
            } else {
                let text: Vec<String> = matches
                    .iter()
                    .map(|op| ops_doc::describe(op, &catalog))
                    .collect();
                writeln!(out, "{}", text.join("\n\n")).map_err(write_err)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
