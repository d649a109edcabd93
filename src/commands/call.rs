//! `barrack call OP [key=value…] [key:=json…] [--body JSON]`

use crate::api::catalog::{self, Op};
use crate::api::signature::did_you_mean;
use crate::api::Args;
use crate::cli::{CallArgs, GlobalOpts};
use crate::connect::connect;
use crate::error::{Error, Result};
use crate::output::Printer;
use serde_json::Value;
use std::process::ExitCode;

/// Find an operation by its unique name, or by a Rhai name only one operation answers to.
pub fn lookup(name: &str) -> Result<&'static Op> {
    if let Some(op) = catalog::find(name) {
        return Ok(op);
    }
    let matches: Vec<&Op> = catalog::by_rhai_name(name).collect();
    match matches.as_slice() {
        [op] => Ok(op),
        [] => Err(Error::usage(format!(
            "no operation named {name:?}{}",
            did_you_mean(name)
        ))),
        many => Err(Error::usage(format!(
            "{name:?} names several operations; use one of {}",
            many.iter().map(|o| o.name).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// `key=value` is a string; `key:=json` is any JSON value.
pub fn parse_fields(fields: &[String], body: Option<&str>) -> Result<Args> {
    let mut args = match body {
        None => Args::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(Error::usage("--body must be a JSON object")),
            Err(e) => return Err(Error::usage(format!("--body is not valid JSON: {e}"))),
        },
    };
    for field in fields {
        if let Some((key, json)) = field.split_once(":=") {
            if !key.is_empty() && !key.contains('=') {
                let value = serde_json::from_str(json).map_err(|e| {
                    Error::usage(format!("{field:?}: the value after := is not JSON ({e})"))
                })?;
                args.insert(key.to_string(), value);
                continue;
            }
        }
        match field.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                args.insert(key.to_string(), Value::String(value.to_string()));
            }
            _ => {
                return Err(Error::usage(format!(
                    "{field:?} is not key=value or key:=json"
                )))
            }
        }
    }
    Ok(args)
}

pub fn run(args: &CallArgs, global: &GlobalOpts, printer: Printer) -> Result<ExitCode> {
    let op = lookup(&args.op)?;
    let fields = parse_fields(&args.fields, args.body.as_deref())?;
    // The catalog's shape, before connecting: a misspelled field is not sent (and dropped).
    let fields = crate::api::check::request(op, &fields)
        .map_err(|problems| crate::api::check::refusal(op.name, problems))?;
    let connection = connect(global, &args.connect, Vec::new())?;
    let value = connection.client.call(op, &fields)?;
    printer
        .value(&mut std::io::stdout().lock(), &value)
        .map_err(|e| Error::io("stdout", e))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_strings_unless_marked_json() {
        let args = parse_fields(
            &[
                "name=007".into(),
                "size_gb:=200".into(),
                "ids:=[\"a\"]".into(),
                "note=a=b".into(),
            ],
            Some(r#"{"region":"FINLAND-1"}"#),
        )
        .unwrap();
        assert_eq!(args["name"], "007");
        assert_eq!(args["size_gb"], 200);
        assert_eq!(args["ids"][0], "a");
        assert_eq!(args["note"], "a=b");
        assert_eq!(args["region"], "FINLAND-1");
        assert!(parse_fields(&["oops".into()], None).is_err());
        assert!(parse_fields(&[], Some("[1]")).is_err());
        assert!(parse_fields(&["n:={".into()], None).is_err());
    }

    #[test]
    fn names_resolve_to_one_operation() {
        assert_eq!(lookup("stop").unwrap().name, "stop_instance");
        assert!(lookup("delete")
            .unwrap_err()
            .to_string()
            .contains("delete_volume"));
        assert!(lookup("balanse")
            .unwrap_err()
            .to_string()
            .contains("balance"));
    }
}
