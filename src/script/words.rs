//! Rhai's own error words, said the way people say them: `i64` is "an integer", and
//! `unknown function .. (i64, &str | ImmutableString | String)` is "cannot use `..` between an
//! integer and a string". When the odd value came from `--set`, the flag is named too, since
//! that is where the fix goes.

use crate::error::Error;
use rhai::{EvalAltResult, Map};

/// A Rhai (Rust) type name as a person says it, with its article.
pub fn type_words(rust: &str) -> String {
    let rust = rust.trim();
    if rust.contains("ImmutableString") || rust == "&str" || rust == "String" || rust == "string" {
        return "a string".into();
    }
    let last = rust.rsplit("::").next().unwrap_or(rust);
    match last {
        "i64" | "i32" | "INT" | "u64" | "usize" | "int" => "an integer".into(),
        "f64" | "f32" | "FLOAT" | "float" | "decimal" => "a decimal number".into(),
        "bool" => "a boolean".into(),
        "char" => "a character".into(),
        "()" | "unit" => "nothing (`()`)".into(),
        "array" | "Array" | "Vec<Dynamic>" => "an array".into(),
        "map" | "Map" => "a map".into(),
        "Fn" | "FnPtr" => "a function pointer".into(),
        "Instant" | "timestamp" => "a timestamp".into(),
        "Blob" | "blob" => "a blob".into(),
        "?" | "Dynamic" => "any value".into(),
        other => {
            let first = other.chars().next().unwrap_or('x').to_ascii_lowercase();
            let article = if "aeiou".contains(first) { "an" } else { "a" };
            format!("{article} {other}")
        }
    }
}

/// Operators Rhai reports as "functions" when no overload takes the operands given.
const OPERATORS: &[&str] = &[
    "..", "..=", "+", "-", "*", "/", "%", "**", "==", "!=", "<", ">", "<=", ">=", "&", "|", "^",
    "<<", ">>", "!", "+=", "-=", "*=", "/=", "%=", "**=", "&=", "|=", "^=", "<<=", ">>=", "in",
];

/// Split Rhai's `name (t1, t2)` into the name and each argument type.
fn parse(signature: &str) -> (&str, Vec<&str>) {
    match signature.split_once(" (") {
        Some((name, rest)) => {
            let inner = rest.strip_suffix(')').unwrap_or(rest).trim();
            let types = if inner.is_empty() {
                Vec::new()
            } else {
                inner.split(", ").collect()
            };
            (name.trim(), types)
        }
        None => (
            signature.split('(').next().unwrap_or(signature).trim(),
            Vec::new(),
        ),
    }
}

fn is_operator(name: &str) -> bool {
    OPERATORS.contains(&name)
}

/// The message for Rhai's ErrorFunctionNotFound: operators in plain words, functions by name
/// with their argument types said as people say them, and a near-miss suggestion.
pub fn not_found(signature: &str) -> String {
    let (name, types) = parse(signature);
    let said: Vec<String> = types.iter().map(|t| type_words(t)).collect();
    if is_operator(name) {
        return match said.as_slice() {
            [one] => format!("cannot use `{name}` on {one}"),
            [left, right] if name == "in" => {
                format!("cannot look for {left} in {right}")
            }
            [left, right] => format!("cannot use `{name}` between {left} and {right}"),
            _ => format!("cannot use `{name}` on {}", said.join(", ")),
        };
    }
    let hint = crate::api::signature::did_you_mean(name);
    if said.is_empty() {
        format!("unknown function {name}(){hint}")
    } else {
        format!("unknown function {name} taking ({}){hint}", said.join(", "))
    }
}

/// Rhai's "Data type incorrect: i64 (expecting string)", said plainly.
pub fn mismatch(expected: &str, actual: &str) -> String {
    match (expected.is_empty(), actual.is_empty()) {
        (false, false) => format!(
            "expected {}, got {}",
            type_words(expected),
            type_words(actual)
        ),
        (false, true) => format!("expected {}", type_words(expected)),
        _ => format!("a value of the wrong type: {}", type_words(actual)),
    }
}

/// When an operator failed on a line that reads a `params` value given as a string by
/// `--set`, the sentence that names the flag: `params.size` is the string "abc", from
/// `--set size=abc`.
pub fn set_hint(err: &EvalAltResult, code: &str, params: &Map) -> Option<String> {
    let (signature, pos) = innermost_not_found(err)?;
    let (name, types) = parse(signature);
    if !is_operator(name) || !types.iter().any(|t| type_words(t) == "a string") {
        return None;
    }
    let line = code.lines().nth(pos.line()?.checked_sub(1)?)?;
    params.iter().find_map(|(key, value)| {
        let text = value.read_lock::<rhai::ImmutableString>()?.to_string();
        let read = [format!("params.{key}"), format!("params[\"{key}\"]")];
        read.iter().any(|r| line.contains(r.as_str())).then(|| {
            format!(
                "`params.{key}` is the string {text:?}, from `--set {key}={text}`: \
                 give the value the script expects (numbers, booleans and JSON arrays or maps \
                 given to --set are typed; anything else is a string)"
            )
        })
    })
}

fn innermost_not_found(err: &EvalAltResult) -> Option<(&str, rhai::Position)> {
    match err {
        EvalAltResult::ErrorFunctionNotFound(signature, pos) => Some((signature.as_str(), *pos)),
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => innermost_not_found(inner),
        _ => None,
    }
}

/// Add a hint line to a script error's message.
pub fn with_hint(error: Error, hint: Option<String>) -> Error {
    match (error, hint) {
        (Error::Script { message, api }, Some(hint)) => Error::Script {
            message: format!("{message}\n  {hint}"),
            api,
        },
        (error, _) => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_and_types_read_as_people_say_them() {
        assert_eq!(
            not_found(".. (i64, &str | ImmutableString | String)"),
            "cannot use `..` between an integer and a string"
        );
        assert_eq!(
            not_found("- (array, i64)"),
            "cannot use `-` between an array and an integer"
        );
        assert_eq!(not_found("! (f64)"), "cannot use `!` on a decimal number");
        assert!(not_found("nope (i64)").starts_with("unknown function nope taking (an integer)"));
        assert_eq!(type_words("barrack::script::handles::Vm"), "a Vm");
        assert_eq!(type_words("bool"), "a boolean");
        assert_eq!(
            mismatch("string", "i64"),
            "expected a string, got an integer"
        );
    }
}
