//! Tab completion from the catalog and the engine's metadata: function names, handle methods
//! and getters after `.`, `import "barrack/…"` module names, and the keys a map argument takes.

use crate::api::OPS;
use crate::script::stdlib;
use std::collections::BTreeSet;

/// Keys the map argument of a function accepts, for `deploy(#{g` → `gpu:`: from the catalog's
/// request shapes (and the waiters' options), so a new key completes without a list here.
pub fn map_keys(function: &str) -> Vec<&'static str> {
    if matches!(function, "wait_active" | "wait_status" | "wait_deleted") {
        return crate::api::check::script_keys(crate::api::shape::WAITER);
    }
    let mut keys: Vec<&'static str> = Vec::new();
    for op in crate::api::catalog::by_rhai_name(function) {
        if op
            .args
            .iter()
            .any(|a| a.ty == crate::api::catalog::ArgType::Map)
        {
            for key in crate::api::check::script_keys(op.fields) {
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
    }
    keys
}

/// Getters every handle has, and the common per-kind ones.
const GETTERS: [&str; 22] = [
    "id",
    "name",
    "status",
    "region",
    "created_at",
    "raw",
    "kind",
    "gpu_model",
    "gpu_count",
    "public_ip",
    "private_ip",
    "tier",
    "hourly_cost",
    "size_gb",
    "instance_id",
    "instance_name",
    "rules",
    "instance_ids",
    "fingerprint",
    "public_key",
    "snapshot_id",
    "script",
];

const KEYWORDS: [&str; 16] = [
    "let", "const", "if", "else", "for", "in", "while", "loop", "break", "continue", "return",
    "fn", "try", "catch", "throw", "import",
];

pub struct Completer {
    /// Every function name the engine knows (ours and the standard library's).
    functions: BTreeSet<String>,
}

impl Completer {
    pub fn new(engine_signatures: &[String]) -> Completer {
        let mut functions: BTreeSet<String> = OPS
            .iter()
            .flat_map(|op| op.rhai_names())
            .map(str::to_string)
            .collect();
        for sig in engine_signatures {
            let name = sig.split('(').next().unwrap_or("").trim();
            let name = name.rsplit(' ').next().unwrap_or(name);
            if !name.is_empty()
                && !name.starts_with("get$")
                && !name.starts_with("set$")
                && name.chars().all(|c| c.is_alphanumeric() || c == '_')
            {
                functions.insert(name.to_string());
            }
        }
        Completer { functions }
    }

    /// Candidates for the word ending at `pos`, and where that word starts.
    pub fn complete(&self, line: &str, pos: usize, variables: &[String]) -> (usize, Vec<String>) {
        let before = &line[..pos.min(line.len())];
        // import "barrack/ro…
        if let Some(quote) = before.rfind('"') {
            let opened = before[..quote].trim_end().ends_with("import");
            if opened {
                let typed = &before[quote + 1..];
                let candidates = stdlib::names()
                    .map(|n| format!("barrack/{n}"))
                    .filter(|c| c.starts_with(typed))
                    .collect();
                return (quote + 1, candidates);
            }
        }
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map(|(i, c)| i + c.len_utf8())
            .unwrap_or(0);
        let word = &before[start..];
        let prev = before[..start].trim_end();
        if prev.ends_with('.') {
            let mut out: BTreeSet<String> = GETTERS.iter().map(|g| g.to_string()).collect();
            for op in OPS {
                if matches!(
                    op.args.first().map(|a| a.ty),
                    Some(crate::api::catalog::ArgType::Target(_))
                ) {
                    out.extend(op.aliases.iter().map(|a| a.to_string()));
                }
            }
            out.extend(
                [
                    "refresh",
                    "len",
                    "is_empty",
                    "keys",
                    "values",
                    "contains",
                    "to_string",
                ]
                .map(String::from),
            );
            return (
                start,
                out.into_iter().filter(|c| c.starts_with(word)).collect(),
            );
        }
        if let Some(function) = open_map_argument(&before[..start]) {
            let keys = map_keys(&function);
            if !keys.is_empty() {
                return (
                    start,
                    keys.iter()
                        .filter(|k| k.starts_with(word))
                        .map(|k| format!("{k}: "))
                        .collect(),
                );
            }
        }
        if word.is_empty() {
            return (start, Vec::new());
        }
        let mut out: BTreeSet<String> = self
            .functions
            .iter()
            .filter(|f| f.starts_with(word))
            .cloned()
            .collect();
        out.extend(variables.iter().filter(|v| v.starts_with(word)).cloned());
        out.extend(
            KEYWORDS
                .iter()
                .filter(|k| k.starts_with(word))
                .map(|k| k.to_string()),
        );
        (start, out.into_iter().collect())
    }
}

/// `deploy(#{gpu: "x", ` → Some("deploy"): the function whose `#{` map is open at the end, when
/// the cursor is where a key goes.
fn open_map_argument(text: &str) -> Option<String> {
    let mut depth = 0i32;
    let bytes: Vec<char> = text.chars().collect();
    let mut i = bytes.len();
    while i > 0 {
        i -= 1;
        match bytes[i] {
            '}' | ')' | ']' => depth += 1,
            '(' | '[' => {
                if depth == 0 {
                    return None;
                }
                depth -= 1;
            }
            '{' if depth == 0 => {
                if i == 0 || bytes[i - 1] != '#' {
                    return None;
                }
                let tail: String = bytes[i + 1..].iter().collect();
                let expecting_key = tail.trim().is_empty() || tail.trim_end().ends_with(',');
                if !expecting_key {
                    return None;
                }
                // The function whose `(` encloses the map, past any earlier arguments:
                // `add_rule(fw, #{` → add_rule.
                let mut nesting = 0i32;
                let mut open = None;
                for j in (0..i - 1).rev() {
                    match bytes[j] {
                        ')' | ']' | '}' => nesting += 1,
                        '(' if nesting == 0 => {
                            open = Some(j);
                            break;
                        }
                        '(' | '[' | '{' => nesting -= 1,
                        _ => {}
                    }
                }
                let head: String = bytes[..open?].iter().collect();
                let head = head.trim_end().to_string();
                let name: String = head
                    .chars()
                    .rev()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                return Some(name.chars().rev().collect());
            }
            '{' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completer() -> Completer {
        Completer::new(&["fn print(x: ?) -> ()".into()])
    }

    #[test]
    fn function_names_from_the_catalog() {
        let (start, c) = completer().complete("let x = insta", 13, &[]);
        assert_eq!(start, 8);
        assert!(c.contains(&"instances".to_string()), "{c:?}");
        assert!(c.contains(&"instance_billing".to_string()));
    }

    #[test]
    fn methods_after_a_dot() {
        let (_, c) = completer().complete("vm.hib", 6, &[]);
        assert_eq!(c, vec!["hibernate".to_string()]);
        let (_, c) = completer().complete("vm.st", 5, &[]);
        assert!(
            c.contains(&"status".to_string()) && c.contains(&"stop".to_string()),
            "{c:?}"
        );
    }

    #[test]
    fn every_map_argument_completes_the_keys_of_its_shape() {
        for op in OPS {
            if !op
                .args
                .iter()
                .any(|a| a.ty == crate::api::catalog::ArgType::Map)
            {
                continue;
            }
            for field in op.fields {
                let before = op
                    .args
                    .iter()
                    .take_while(|a| a.ty != crate::api::catalog::ArgType::Map)
                    .map(|_| "x, ")
                    .collect::<String>();
                let line = format!("{}({before}#{{{}", op.name, &field.key[..1]);
                let (_, c) = completer().complete(&line, line.len(), &[]);
                assert!(c.contains(&format!("{}: ", field.key)), "{line}: {c:?}");
            }
        }
        let (_, c) = completer().complete("wait_active(vm, #{ti", 20, &[]);
        assert_eq!(c, vec!["timeout: ".to_string()]);
    }

    #[test]
    fn map_keys_and_modules() {
        let (_, c) = completer().complete("deploy(#{g", 10, &[]);
        assert_eq!(c, vec!["gpu: ".to_string()]);
        let (_, c) = completer().complete("deploy(#{gpu: \"L40\", r", 22, &[]);
        assert_eq!(c, vec!["region: ".to_string()]);
        let (_, c) = completer().complete("let v = vm", 10, &["vm".into(), "vol".into()]);
        assert!(c.contains(&"vm".to_string()));
    }
}
