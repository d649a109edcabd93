//! The one check of a map a user writes, generated from the catalog's request shapes: unknown
//! keys (with the closest match), types, allowed values, ranges and the tier a key applies to.
//! Rhai, `barrack call`, the planner and the simulator all call it, so they refuse the same
//! things in the same words.

use super::catalog::Op;
use super::facts;
use super::shape::{Field, FieldType, Rule, Tier, PAGING};
use super::suggest::{closest, glob};
use super::ApiError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Per-key messages, keyed by the key as the user typed it.
pub type Problems = BTreeMap<String, Vec<String>>;

/// Which names a map may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vocabulary {
    /// A script's map: the short keys (`gpu`, `count`) and the API names both.
    Script,
    /// A request body or query as sent: the API names only.
    Api,
}

/// A map that passed the check: its fields under their API names, and what the user typed.
#[derive(Debug, Default)]
pub struct Checked {
    /// Every key the request takes, with its type and default, as JSON.
    pub fields: Map<String, Value>,
    /// API name → the key the user wrote, for messages in the user's words.
    pub typed: BTreeMap<String, String>,
}

impl Checked {
    /// Problems found under API names, each saying which key the user typed for it.
    pub fn in_user_words(&self, problems: Problems) -> Problems {
        problems
            .into_iter()
            .map(|(field, messages)| match self.typed.get(&field) {
                Some(typed) if *typed != field => (
                    field,
                    messages.into_iter().map(|m| typed_note(m, typed)).collect(),
                ),
                _ => (field, messages),
            })
            .collect()
    }
}

/// A message about an API field, naming the key the user wrote for it.
fn typed_note(message: String, typed: &str) -> String {
    format!("{} (your key {typed:?})", message.trim_end_matches('.'))
}

/// How strictly a map is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// It selects from a list: strings may be globs, nothing is required.
    Filter,
    /// Part of a request (defaults still to come, or the server names what is missing).
    Partial,
    /// A whole request: required fields must be there.
    Whole,
}

/// `deploy: unknown key "cout"; did you mean "count"? (accepted: gpu, count, …)`
pub fn unknown_key(function: &str, key: &str, accepted: &[&str]) -> String {
    unknown_key_of(function, key, accepted, &[])
}

/// As [`unknown_key`]; a script's short key sent where API names are expected (`gpu` in a
/// request body) suggests the API name it stands for.
fn unknown_key_of(function: &str, key: &str, accepted: &[&str], fields: &[Field]) -> String {
    let short = fields
        .iter()
        .find(|f| f.key == key && f.name != key)
        .map(|f| f.name);
    let hint = match short.or_else(|| closest(key, accepted)) {
        Some(best) => format!("; did you mean {best:?}?"),
        None => String::new(),
    };
    let list = if accepted.is_empty() {
        "none".to_string()
    } else {
        accepted.join(", ")
    };
    format!("{function}: unknown key {key:?}{hint} (accepted: {list})")
}

/// Refuse any key of `given` not in `accepted` (waiter options, recipe parameters).
pub fn known_keys<'a>(
    function: &str,
    accepted: &[&str],
    given: impl IntoIterator<Item = &'a str>,
) -> Result<(), String> {
    for key in given {
        if !accepted.contains(&key) {
            return Err(unknown_key(function, key, accepted));
        }
    }
    Ok(())
}

/// The keys a script writes for a shape, in order.
pub fn script_keys(fields: &[Field]) -> Vec<&'static str> {
    fields.iter().map(|f| f.script_key()).collect()
}

/// Check a user's map against a shape. Problems are keyed by the API field (so a script catches
/// them as it catches the server's), each naming the key the user typed; an unknown key is
/// keyed by itself.
pub fn check_map(
    function: &str,
    fields: &[Field],
    map: &Map<String, Value>,
    vocabulary: Vocabulary,
    mode: Mode,
) -> Result<Checked, Problems> {
    let filter = mode == Mode::Filter;
    let accepted: Vec<&str> = match vocabulary {
        Vocabulary::Script => script_keys(fields),
        Vocabulary::Api => fields.iter().map(|f| f.name).collect(),
    };
    let mut problems = Problems::new();
    let mut checked = Checked::default();
    for (key, value) in map {
        let field = fields.iter().find(|f| match vocabulary {
            Vocabulary::Script => f.answers_to(key),
            Vocabulary::Api => f.name == key,
        });
        let Some(field) = field else {
            add(
                &mut problems,
                key,
                unknown_key_of(function, key, &accepted, fields),
            );
            continue;
        };
        if let Some(first) = checked.typed.get(field.name) {
            add(
                &mut problems,
                key,
                format!("{function}: give either {first} or {key}, not both"),
            );
            continue;
        }
        if value.is_null() {
            continue;
        }
        let mut found = Problems::new();
        let checked_value =
            check_value(function, field, key, value, vocabulary, filter, &mut found);
        for (k, messages) in found {
            let at = match k.strip_prefix(key.as_str()) {
                Some(rest) => format!("{}{rest}", field.name),
                None => k,
            };
            for m in messages {
                let m = if key != field.name {
                    typed_note(m, key)
                } else {
                    m
                };
                add(&mut problems, &at, m);
            }
        }
        match checked_value {
            Some(v) => {
                checked.fields.insert(field.name.to_string(), v);
                checked.typed.insert(field.name.to_string(), key.clone());
            }
            None => continue,
        }
    }
    if mode == Mode::Whole {
        for field in fields.iter().filter(|f| f.required) {
            if !checked.fields.contains_key(field.name) && !problems.contains_key(field.name) {
                add(&mut problems, field.name, "This field is required");
            }
        }
    }
    tier_keys(fields, &checked, &mut problems);
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(problems)
    }
}

/// Keys that apply to one tier are refused in a region of the other, naming the tier.
fn tier_keys(fields: &[Field], checked: &Checked, problems: &mut Problems) {
    let Some(region) = checked.fields.get("region").and_then(Value::as_str) else {
        return;
    };
    if !facts::is_region(region) {
        return;
    }
    let here = if facts::is_advanced(region) {
        Tier::Advanced
    } else {
        Tier::Legacy
    };
    for field in fields {
        if field.tier == Tier::Both || field.tier == here {
            continue;
        }
        if let Some(typed) = checked.typed.get(field.name) {
            add(
                problems,
                field.name,
                format!(
                    "{typed:?} applies to {} regions only; {region} is a {} region",
                    field.tier.as_str(),
                    here.as_str()
                ),
            );
        }
    }
}

fn add(problems: &mut Problems, key: &str, message: impl Into<String>) {
    problems
        .entry(key.to_string())
        .or_default()
        .push(message.into());
}

fn is_glob(text: &str) -> bool {
    text.contains(['*', '?'])
}

/// The value, normalised (one id becomes a list of one), or `None` after recording a problem.
fn check_value(
    function: &str,
    field: &Field,
    key: &str,
    value: &Value,
    vocabulary: Vocabulary,
    filter: bool,
    problems: &mut Problems,
) -> Option<Value> {
    let lenient = vocabulary == Vocabulary::Api;
    let shown = shown(value);
    let wrong = |problems: &mut Problems, what: &str| {
        // The server's words are capitalised; a script's message reads on from the key.
        let message = match vocabulary {
            Vocabulary::Script => format!("must be {what}, not {shown}"),
            Vocabulary::Api => format!("Must be {what}; {key} cannot be {shown}"),
        };
        add(problems, key, message);
        None
    };
    let value = match field.ty {
        // A blank optional text is left for the server to treat as absent (a blank instance
        // name asks for a generated one).
        FieldType::Text if !field.required && value.as_str() == Some("") => {
            return Some(value.clone())
        }
        FieldType::Text | FieldType::Id(_) => match value {
            Value::String(s) if matches!(field.ty, FieldType::Id(_)) && s.trim().is_empty() => {
                return wrong(problems, "an id")
            }
            Value::String(_) => value.clone(),
            _ => return wrong(problems, "a string"),
        },
        FieldType::Int => match value {
            Value::Number(n) if n.is_i64() => value.clone(),
            // Only floats that hold an integer exactly (JSON from Rhai may carry `8.0`).
            Value::Number(n)
                if n.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0) =>
            {
                Value::from(n.as_f64().unwrap_or(0.0) as i64)
            }
            Value::String(s) if lenient && s.trim().parse::<i64>().is_ok() => value.clone(),
            _ => return wrong(problems, "a whole number"),
        },
        FieldType::Number => match value {
            Value::Number(_) => value.clone(),
            Value::String(s) if lenient && s.trim().parse::<f64>().is_ok() => value.clone(),
            _ => return wrong(problems, "a number"),
        },
        FieldType::Bool => match value {
            Value::Bool(_) => value.clone(),
            _ if filter && lenient && matches!(value.as_str(), Some("true" | "false")) => {
                value.clone()
            }
            _ => return wrong(problems, "true or false"),
        },
        FieldType::Ids(_) => match value {
            Value::String(s) if !s.trim().is_empty() => Value::Array(vec![value.clone()]),
            Value::Array(items)
                if items
                    .iter()
                    .all(|i| i.as_str().is_some_and(|s| !s.trim().is_empty())) =>
            {
                value.clone()
            }
            _ => return wrong(problems, "an id or a list of ids"),
        },
        FieldType::Maps(inner) => {
            let Value::Array(items) = value else {
                return wrong(problems, "a list of maps");
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Value::Object(map) = item else {
                    add(
                        problems,
                        &format!("{key}[{i}]"),
                        format!("must be a map, not {}", self::shown(item)),
                    );
                    continue;
                };
                let name = format!("{function} {key}[{i}]");
                match check_map(&name, inner, map, Vocabulary::Api, Mode::Whole) {
                    Ok(c) => out.push(Value::Object(c.fields)),
                    Err(found) => {
                        for (k, messages) in found {
                            for m in messages {
                                add(problems, &format!("{key}[{i}].{k}"), m);
                            }
                        }
                    }
                }
            }
            Value::Array(out)
        }
    };
    if let Err(message) = check_rule(field.rule, &value, filter) {
        add(problems, key, message);
        return None;
    }
    Some(value)
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "a map".into(),
        other => other.to_string(),
    }
}

fn check_rule(rule: Rule, value: &Value, filter: bool) -> Result<(), String> {
    let text = value.as_str();
    let number = || value.as_i64().or_else(|| text?.trim().parse().ok());
    match rule {
        Rule::Any => Ok(()),
        Rule::OneOf(allowed, noun) | Rule::OneOfAnyCase(allowed, noun) => {
            let Some(text) = text else { return Ok(()) };
            let any_case = matches!(rule, Rule::OneOfAnyCase(..));
            let hit = |a: &&str| {
                if filter && is_glob(text) {
                    glob(text, a)
                } else if any_case {
                    a.eq_ignore_ascii_case(text)
                } else {
                    *a == text
                }
            };
            if allowed.iter().any(hit) {
                return Ok(());
            }
            let hint = match closest(text, allowed) {
                Some(best) => format!("; did you mean {best:?}?"),
                None => String::new(),
            };
            Err(format!(
                "Unknown {noun} {text:?}: it is not one of {}{hint}",
                either(allowed)
            ))
        }
        Rule::Range(low, high) => match number() {
            Some(n) if n < low || n > high => Err(if high == i64::MAX {
                format!("must be at least {low} (got {n})")
            } else {
                format!("must be between {low} and {high} (got {n})")
            }),
            _ => Ok(()),
        },
        Rule::Counts(allowed) => match number() {
            Some(n) if !allowed.contains(&n) => {
                let words: Vec<String> = allowed.iter().map(i64::to_string).collect();
                let words: Vec<&str> = words.iter().map(String::as_str).collect();
                Err(format!("must be {} (got {n})", either(&words)))
            }
            _ => Ok(()),
        },
        Rule::IntCheck(check, _) => match number() {
            Some(n) => check(n),
            None => Ok(()),
        },
        Rule::Check(check, _) => match text {
            Some(t) if !(filter && is_glob(t)) => check(t),
            _ => Ok(()),
        },
    }
}

/// "A, B or C".
fn either(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// Every field a request to `op` may carry besides its path placeholders, described as the
/// keys of a map are: positional arguments (with their rules), the map's keys, and paging for a
/// paginated list.
pub fn request_shape(op: &Op) -> Vec<Field> {
    let path = op.path_params();
    let mut shape: Vec<Field> = op
        .args
        .iter()
        .enumerate()
        .filter(|(_, a)| !path.contains(&a.field))
        .filter_map(|(i, a)| Field::of_arg(a, i < op.required))
        .collect();
    shape.extend(op.fields.iter().copied());
    if op.paginated {
        shape.extend(PAGING.iter().copied());
    }
    shape
}

/// The names of [`request_shape`], as sent.
pub fn request_fields(op: &Op) -> Vec<&'static str> {
    request_shape(op).iter().map(|f| f.name).collect()
}

/// Check a request as sent (`api("op", map)`, `barrack call`, the planner, the simulator):
/// every field known, well typed and within its rule. Path placeholders pass through.
pub fn request(op: &Op, fields: &Map<String, Value>) -> Result<Map<String, Value>, Problems> {
    let path = op.path_params();
    let (placeholders, sent): (Map<String, Value>, Map<String, Value>) = fields
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| path.contains(&k.as_str()));
    let mode = if op.method == super::Method::Get {
        Mode::Filter
    } else {
        Mode::Partial
    };
    let mut checked = check_map(op.name, &request_shape(op), &sent, Vocabulary::Api, mode)?.fields;
    checked.extend(placeholders);
    Ok(checked)
}

/// A refusal before sending, with every problem.
pub fn refusal(op: &str, problems: Problems) -> ApiError {
    let mut err = ApiError::invalid(op, "", "");
    err.errors = problems;
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::shape::DEPLOY;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn an_unknown_key_is_named_with_the_closest_match_and_the_accepted_keys() {
        let err = check_map(
            "deploy",
            DEPLOY,
            &map(json!({"gpu": "H100-SXM5-80GB", "cout": 8, "os_volume_size": 500})),
            Vocabulary::Script,
            Mode::Whole,
        )
        .unwrap_err();
        let cout = &err["cout"][0];
        assert!(
            cout.starts_with("deploy: unknown key \"cout\"; did you mean \"count\"? (accepted: gpu, count, region"),
            "{cout}"
        );
        assert!(
            err["os_volume_size"][0].contains("\"os_volume_gb\""),
            "{err:?}"
        );
    }

    #[test]
    fn short_keys_become_api_fields_and_one_id_a_list() {
        let ok = check_map(
            "deploy",
            DEPLOY,
            &map(json!({"gpu": "L40", "count": 2, "ssh_keys": "key-1", "region": "CANADA-1"})),
            Vocabulary::Script,
            Mode::Whole,
        )
        .unwrap();
        assert_eq!(ok.fields["gpu_model"], "L40");
        assert_eq!(ok.fields["ssh_key_ids"], json!(["key-1"]));
        assert_eq!(ok.typed["gpu_count"], "count");
    }

    #[test]
    fn tier_keys_are_refused_in_the_other_tier_naming_it() {
        let err = check_map(
            "deploy",
            DEPLOY,
            &map(json!({"gpu": "L40", "region": "CANADA-1", "startup_script": "scr-1"})),
            Vocabulary::Script,
            Mode::Whole,
        )
        .unwrap_err();
        assert!(
            err["startup_script_id"][0]
                .contains("\"startup_script\" applies to advanced regions only"),
            "{err:?}"
        );
        let err = check_map(
            "deploy",
            DEPLOY,
            &map(json!({"gpu": "H100-SXM5-80GB", "region": "FINLAND-1", "cloud_init": "#cloud-config"})),
            Vocabulary::Script,
            Mode::Whole,
        )
        .unwrap_err();
        assert!(
            err["cloud_init"][0].contains("legacy regions only"),
            "{err:?}"
        );
    }

    #[test]
    fn values_outside_the_rule_are_named() {
        let err = check_map(
            "deploy",
            DEPLOY,
            &map(json!({"gpu": "H100-SXM5-80GB", "count": 3, "os_volume_gb": 50})),
            Vocabulary::Script,
            Mode::Whole,
        )
        .unwrap_err();
        assert!(err["gpu_count"][0].contains("1, 2, 4 or 8"), "{err:?}");
        assert!(
            err["gpu_count"][0].contains("your key \"count\""),
            "{err:?}"
        );
        assert!(
            err["os_volume_size_gb"][0].contains("between 100 and 10000"),
            "{err:?}"
        );
    }
}
