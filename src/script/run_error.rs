//! The error a script run ends with, worded for a person: where it happened, what the API
//! said, which stop ended the run.

use super::helpers::display;
use super::stop::StopReason;
use super::words;
use crate::error::{Diagnostic, Error};
use rhai::{EvalAltResult, Map, Position};

fn location(file: &str, pos: Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(line), Some(col)) => format!("{file}:{line}:{col}: "),
        (Some(line), None) => format!("{file}:{line}: "),
        _ => format!("{file}: "),
    }
}

/// Which stop ended a run, if one did: Rhai's `ErrorTerminated`, possibly inside a function
/// call or a module.
pub fn stopped_by(err: &EvalAltResult) -> Option<StopReason> {
    match err {
        EvalAltResult::ErrorTerminated(token, _) => Some(match token.to_string().as_str() {
            "interrupted" => StopReason::Interrupted,
            "memory" => StopReason::Memory,
            _ => StopReason::Timeout,
        }),
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => stopped_by(inner),
        _ => None,
    }
}

/// The error a script run ends with, as barrack reports it.
pub fn script_error(
    file: &str,
    err: EvalAltResult,
    time_limit: Option<std::time::Duration>,
) -> Error {
    let pos = err.position();
    match err {
        EvalAltResult::ErrorTerminated(..) => Error::Timeout {
            after: time_limit.unwrap_or_default(),
            in_flight: String::new(),
        },
        EvalAltResult::ErrorParsing(kind, pos) => Error::Compile {
            diagnostics: vec![Diagnostic {
                file: file.to_string(),
                line: pos.line().unwrap_or(0),
                column: pos.position().unwrap_or(0),
                message: kind.to_string(),
            }],
        },
        EvalAltResult::ErrorInFunctionCall(name, src, inner, call_pos) => {
            let inner_file = if src.is_empty() {
                file.to_string()
            } else {
                src.to_string()
            };
            match script_error(&inner_file, *inner, time_limit) {
                Error::Script { message, api } => Error::Script {
                    message: format!(
                        "{message}\n  called from function {name}() at {}",
                        location(file, call_pos).trim_end_matches(": ")
                    ),
                    api,
                },
                other => other,
            }
        }
        EvalAltResult::ErrorInModule(name, inner, _) => {
            match script_error(&name, *inner, time_limit) {
                Error::Script { message, api } => Error::Script {
                    message: format!("{message}\n  in module {name}"),
                    api,
                },
                other => other,
            }
        }
        EvalAltResult::ErrorRuntime(value, pos) => {
            let (message, api) = match value.read_lock::<Map>() {
                Some(map) => {
                    let text = map
                        .get("summary")
                        .or_else(|| map.get("message"))
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| display(&value));
                    // A fleet whose failures share one cause carries it as `cause`: the exit
                    // code is that cause's (69 when every call found the API unreachable).
                    let cause = map
                        .get("cause")
                        .and_then(|c| c.read_lock::<Map>().map(|c| c.clone()));
                    let source: &Map = cause.as_ref().unwrap_or(&*map);
                    let status = source.get("status").and_then(|s| s.as_int().ok());
                    let code = source.get("code").map(|c| c.to_string());
                    let api = match (status, code) {
                        (Some(s), Some(c)) if map.contains_key("op") => Some((s as u16, c)),
                        _ => None,
                    };
                    (text, api)
                }
                None => (format!("uncaught: {}", display(&value)), None),
            };
            Error::Script {
                message: format!("{}{message}", location(file, pos)),
                api,
            }
        }
        EvalAltResult::ErrorFunctionNotFound(signature, pos) => Error::Script {
            message: format!("{}{}", location(file, pos), words::not_found(&signature)),
            api: None,
        },
        EvalAltResult::ErrorMismatchDataType(expected, actual, pos)
        | EvalAltResult::ErrorMismatchOutputType(expected, actual, pos) => Error::Script {
            message: format!(
                "{}{}",
                location(file, pos),
                words::mismatch(&expected, &actual)
            ),
            api: None,
        },
        EvalAltResult::ErrorModuleNotFound(path, pos) => Error::Script {
            message: format!(
                "{}cannot import {path}{}",
                location(file, pos),
                if path == "sim" {
                    "; the sim module exists only under `barrack test` and `barrack repl --sim`"
                } else {
                    ""
                }
            ),
            api: None,
        },
        other => {
            let text = other.to_string();
            let text = text.split(" (line ").next().unwrap_or(&text).to_string();
            Error::Script {
                message: format!("{}{text}", location(file, pos)),
                api: None,
            }
        }
    }
}
