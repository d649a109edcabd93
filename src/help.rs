//! Help for every name a script can call that is not a catalog operation: the waiters, the
//! helpers, `api`, and the stdlib recipes' functions. One signature per call shape, then the
//! options with their defaults: what `barrack ops NAME` and the REPL's `:help NAME` print.
//! (Catalog operations are described from the catalog itself, by `ops_doc`.)

use crate::script::stdlib;

/// One function as a person calls it.
struct FnDoc {
    name: &'static str,
    /// Call shapes, one per line: `wait_active(x, options)`.
    shapes: &'static [&'static str],
    summary: &'static str,
    /// What the arguments may be.
    args: &'static [(&'static str, &'static str)],
    /// Keys of an options map: name, default, meaning.
    options: &'static [(&'static str, &'static str, &'static str)],
    example: &'static str,
}

const WAIT_TARGET: (&str, &str) = (
    "x",
    "a Vm, Volume, Snapshot, … or its id, or an array of them (waited for in parallel, \
     --parallel at a time; the array's handles are refreshed in place)",
);

const WAIT_OPTIONS: &[(&str, &str, &str)] = &[
    (
        "timeout",
        "\"20m\"",
        "give up after this long (server time), with an error naming the object",
    ),
    (
        "interval",
        "\"15s\"",
        "time between polls (server time: a fast simulator polls faster)",
    ),
];

const FUNCTIONS: &[FnDoc] = &[
    FnDoc {
        name: "wait_active",
        shapes: &["wait_active(x)", "wait_active(x, options)"],
        summary: "Wait until the object is ACTIVE; stops early with an error when it reaches \
                  ERROR or a state that cannot lead there. Returns the refreshed object.",
        args: &[WAIT_TARGET],
        options: WAIT_OPTIONS,
        example: "wait_active(vm, #{timeout: \"30m\"});",
    },
    FnDoc {
        name: "wait_status",
        shapes: &["wait_status(x, status)", "wait_status(x, status, options)"],
        summary: "Wait until the object reaches `status` (\"HIBERNATED\", \"AVAILABLE\", …); \
                  stops early on ERROR or a state that cannot lead there.",
        args: &[WAIT_TARGET, ("status", "the status to wait for (any case)")],
        options: WAIT_OPTIONS,
        example: "wait_status(vm, \"HIBERNATED\");",
    },
    FnDoc {
        name: "wait_deleted",
        shapes: &["wait_deleted(x)", "wait_deleted(x, options)"],
        summary: "Wait until the object is gone (the API answers 404). Returns ().",
        args: &[WAIT_TARGET],
        options: WAIT_OPTIONS,
        example: "delete(vm); wait_deleted(vm);",
    },
    FnDoc {
        name: "sleep",
        shapes: &["sleep(duration)"],
        summary: "Pause, in the server's time (faster on a fast simulator); --timeout still \
                  stops the run.",
        args: &[(
            "duration",
            "\"90s\", \"15m\", \"2h\", \"7d\", or a number of seconds",
        )],
        options: &[],
        example: "sleep(\"5m\");",
    },
    FnDoc {
        name: "now",
        shapes: &["now()"],
        summary: "The current time: the server's clock (the simulator's when running against \
                  one). Compare times with < >, subtract them for seconds.",
        args: &[],
        options: &[],
        example: "let t = now(); print(t.local(\"Europe/Helsinki\").hour);",
    },
    FnDoc {
        name: "parse_time",
        shapes: &["parse_time(text)"],
        summary: "Parse an RFC 3339 time such as \"2026-11-26T02:00:00Z\".",
        args: &[("text", "an RFC 3339 time")],
        options: &[],
        example: "let t = parse_time(vm.created_at);",
    },
    FnDoc {
        name: "age",
        shapes: &["age(x)"],
        summary: "Seconds since an object's created_at (or since a time), by the server's clock.",
        args: &[("x", "any object with created_at, or a time")],
        options: &[],
        example: "snapshots().filter(|s| age(s) > duration(\"30d\"))",
    },
    FnDoc {
        name: "local",
        shapes: &["t.local(zone)"],
        summary: "A time's date and clock in an IANA zone (DST-correct): #{year, month, day, \
                  hour, minute, weekday: \"mon\"…, offset}.",
        args: &[("zone", "an IANA zone such as \"Europe/Helsinki\"")],
        options: &[],
        example: "now().local(\"America/New_York\").weekday",
    },
    FnDoc {
        name: "duration",
        shapes: &["duration(text)"],
        summary: "Seconds in a duration such as \"90s\", \"15m\", \"2h\", \"7d\".",
        args: &[("text", "a duration, or a number of seconds")],
        options: &[],
        example: "duration(\"2h\") // 7200",
    },
    FnDoc {
        name: "log",
        shapes: &["log(message)"],
        summary: "A line on stderr with the time; silenced by -q.",
        args: &[("message", "any value")],
        options: &[],
        example: "log(`hibernating ${vm.name}`);",
    },
    FnDoc {
        name: "env",
        shapes: &["env(name)"],
        summary: "An environment variable, or () when unset. Never returns the API key.",
        args: &[("name", "the variable's name")],
        options: &[],
        example: "let team = env(\"TEAM\") ?? \"ml\";",
    },
    FnDoc {
        name: "to_json",
        shapes: &["to_json(x)", "x.to_json()"],
        summary: "A value as pretty JSON text (handles as their server JSON).",
        args: &[("x", "any value")],
        options: &[],
        example: "print(to_json(instances()));",
    },
    FnDoc {
        name: "parse_json",
        shapes: &["parse_json(text)"],
        summary: "Parse JSON text into a value (map, array, number, …).",
        args: &[("text", "JSON")],
        options: &[],
        example: "let m = parse_json(`{\"a\": 1}`);",
    },
    FnDoc {
        name: "table",
        shapes: &["table(rows)", "table(rows, columns)"],
        summary: "An aligned text table of an array of objects or maps; without columns, the \
                  common fields are picked.",
        args: &[
            ("rows", "an array of handles or maps"),
            (
                "columns",
                "an array of field names, e.g. [\"id\", \"name\", \"status\"]",
            ),
        ],
        options: &[],
        example: "print(table(instances(), [\"id\", \"name\", \"status\"]));",
    },
    FnDoc {
        name: "api",
        shapes: &["api(op)", "api(op, args)"],
        summary: "Call any catalog operation by its name; returns the raw JSON. `id` (and \
                  `rule_id`) fill the path; the rest is the body, or the query of a GET. \
                  Alias: call_op (Rhai reserves call).",
        args: &[
            ("op", "an operation name from `barrack ops`"),
            ("args", "a map of arguments"),
        ],
        options: &[],
        example: "api(\"instance_billing\", #{id: vm.id})",
    },
    FnDoc {
        name: "refresh",
        shapes: &["x.refresh()"],
        summary: "Fetch the object again and update this handle in place; returns it.",
        args: &[("x", "a handle (Vm, Volume, Snapshot, …)")],
        options: &[],
        example: "vm.refresh().status",
    },
];

fn render(doc: &FnDoc) -> String {
    let mut lines = vec![format!("{} — {}", doc.name, doc.summary)];
    for shape in doc.shapes {
        lines.push(format!("  {shape}"));
    }
    let width = doc
        .args
        .iter()
        .map(|(n, _)| n.len())
        .chain(doc.options.iter().map(|(n, d, _)| n.len() + d.len() + 3))
        .max()
        .unwrap_or(0);
    for (name, what) in doc.args {
        lines.push(format!("    {name:<width$}  {what}"));
    }
    if !doc.options.is_empty() {
        lines.push("  Options (a map, every key optional):".into());
        for (name, default, what) in doc.options {
            let head = format!("{name} ({default})");
            lines.push(format!("    {head:<width$}  {what}"));
        }
    }
    lines.push(format!("  Example:  {}", doc.example));
    lines.join("\n")
}

/// The recipe's header comment (its usage and what it does), without the `//`.
fn header(source: &str) -> Vec<String> {
    source
        .lines()
        .take_while(|l| l.starts_with("//") && !l.starts_with("///"))
        .map(|l| {
            let text = l.trim_start_matches("//");
            text.strip_prefix(' ')
                .unwrap_or(text)
                .trim_end()
                .to_string()
        })
        .collect()
}

/// The function a recipe's header shows being called: `hibernation::apply(…)` → `apply`.
fn entry(recipe: &str, source: &str) -> Option<String> {
    let marker = format!("{recipe}::");
    header(source).iter().find_map(|line| {
        let at = line.find(&marker)?;
        let rest = &line[at + marker.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        (!name.is_empty()).then_some(name)
    })
}

/// A stdlib function: `rotation::rotate`, `rotate`, or the recipe's name (its entry function).
fn stdlib_doc(name: &str) -> Option<String> {
    let (module, function) = match name.split_once("::") {
        Some((m, f)) => (Some(m), f),
        None => (None, name),
    };
    for recipe in stdlib::names().filter(|n| *n != "common") {
        if module.is_some_and(|m| m != recipe) {
            continue;
        }
        let Some(source) = stdlib::source(recipe) else {
            continue;
        };
        let entry = entry(recipe, source);
        let wanted = if module.is_none() && function == recipe {
            entry.clone()?
        } else {
            function.to_string()
        };
        let found = public_functions(source)
            .into_iter()
            .find(|(f, _, _)| *f == wanted && *f != "main");
        if let Some((function, params, comments)) = found {
            let mut lines = vec![format!(
                "{recipe}::{function}({params}) — stdlib recipe; import \"barrack/{recipe}\" as {recipe};"
            )];
            lines.extend(comments.iter().map(|c| format!("  {c}")));
            if entry.as_deref() == Some(function) {
                lines.push(String::new());
                lines.extend(
                    header(source)
                        .iter()
                        .map(|l| format!("  {l}").trim_end().to_string()),
                );
                lines.push(String::new());
                lines.push(format!(
                    "  Run it:   barrack run stdlib:{recipe} --set key=value…   (source: barrack stdlib show {recipe})"
                ));
            }
            return Some(lines.join("\n"));
        }
    }
    None
}

/// `(name, params, doc lines)` of each `fn` of a recipe, in source order.
fn public_functions(source: &str) -> Vec<(&str, &str, Vec<String>)> {
    let mut found = Vec::new();
    let mut comments: Vec<String> = Vec::new();
    for line in source.lines() {
        let line = line.trim();
        if let Some(doc) = line.strip_prefix("///") {
            comments.push(doc.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("fn ") {
            if let Some((name, tail)) = rest.split_once('(') {
                let params = tail.split(')').next().unwrap_or("");
                found.push((name.trim(), params, std::mem::take(&mut comments)));
            }
        } else {
            comments.clear();
        }
    }
    found
}

/// Help for a name that is not a catalog operation, or `None`.
pub fn describe(name: &str) -> Option<String> {
    let name = name.trim().trim_end_matches("()");
    FUNCTIONS
        .iter()
        .find(|d| d.name == name || (name == "call_op" && d.name == "api"))
        .map(render)
        .or_else(|| stdlib_doc(name))
}

/// Every name this module documents, for suggestions and completion.
pub fn names() -> Vec<String> {
    let mut names: Vec<String> = FUNCTIONS.iter().map(|d| d.name.to_string()).collect();
    for recipe in stdlib::names().filter(|n| *n != "common") {
        if let Some(source) = stdlib::source(recipe) {
            names.extend(
                public_functions(source)
                    .into_iter()
                    .filter(|(f, _, _)| *f != "main")
                    .map(|(f, _, _)| format!("{recipe}::{f}")),
            );
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_show_their_shapes_and_option_defaults() {
        let text = describe("wait_active").unwrap();
        assert!(
            text.contains("  wait_active(x)\n  wait_active(x, options)"),
            "{text}"
        );
        assert!(text.contains("timeout (\"20m\")"), "{text}");
        assert!(text.contains("interval (\"15s\")"), "{text}");
        assert!(text.lines().count() < 12, "{text}");
        assert_eq!(
            crate::script::WAIT_TIMEOUT,
            std::time::Duration::from_secs(20 * 60)
        );
        assert_eq!(
            crate::script::WAIT_INTERVAL,
            std::time::Duration::from_secs(15)
        );
    }

    #[test]
    fn stdlib_functions_show_their_parameters_and_docs() {
        let text = describe("rotation::rotate").unwrap();
        assert!(text.starts_with("rotation::rotate(opts)"), "{text}");
        assert!(text.contains("keep_last"), "{text}");
        assert_eq!(describe("rotation"), describe("rotation::rotate"));
        assert!(describe("hibernation::apply").unwrap().contains("periods"));
        assert!(describe("no_such_thing").is_none());
    }
}
