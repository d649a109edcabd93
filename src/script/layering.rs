//! The crate's layering, checked on its source: dependencies point one way.
//!
//! - `api` knows nothing of the layers above it, `script` nothing of the command line, `sim`
//!   nothing of scripts or the command line (design.md, "Embedding": the library is usable
//!   without the CLI, and the CLI's modules stay private);
//! - the modules of `src/script` import each other without a cycle, and none imports its parent
//!   (`mod.rs` only declares and re-exports), so each can be read, tested and changed from the
//!   bottom up.
//!
//! Only code that is built counts: unit tests (`#[cfg(test)] mod tests`) and comments (doc links
//! included) are left out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The command line's own modules: no library layer may import them.
const CLI: [&str; 9] = [
    "cli", "commands", "config", "connect", "help", "ops_doc", "output", "repl", "testing",
];

/// What each library layer must not import, besides the command line.
const ABOVE: [(&str, &[&str]); 3] = [
    ("api", &["script", "sim"]),
    ("script", &["sim"]),
    ("sim", &["script"]),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// A file's built code: without its unit tests and its comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(end) => &text[..end],
        None => &text,
    };
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `.rs` file under `dir`, sorted; this file (built for tests only) left out.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with(file!()) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The names that follow `prefix` in `code` (`super::ops` → `ops`; `super::{a, b::c}` → `a`, `b`),
/// where `prefix` starts a path.
fn names_after(code: &str, prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        if code[..at].ends_with(|c: char| is_ident(c) || c == ':') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name: String = item.trim().chars().take_while(|c| is_ident(*c)).collect();
                if !name.is_empty() {
                    names.push(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            if !name.is_empty() {
                names.push(name);
            }
        }
    }
    names
}

/// The import graph of `src/script`: each module and the sibling modules it uses; `mod` is the
/// parent (`mod.rs`), which a child reaches by using an item defined there.
fn script_graph() -> BTreeMap<String, Vec<String>> {
    let dir = src().join("script");
    let files = rust_files(&dir);
    let module_of = |path: &Path| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let modules: Vec<String> = files.iter().map(|f| module_of(f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let this = module_of(file);
        let code = code(file);
        let mut uses: Vec<String> = if this == "mod" {
            // The parent uses a child wherever it names a path into it.
            modules
                .iter()
                .filter(|m| *m != "mod" && !names_after(&code, &format!("{m}::")).is_empty())
                .cloned()
                .collect()
        } else {
            names_after(&code, "super::")
                .into_iter()
                .chain(names_after(&code, "crate::script::"))
                .map(|name| {
                    if modules.contains(&name) {
                        name
                    } else {
                        "mod".to_string()
                    }
                })
                .filter(|m| *m != this)
                .collect()
        };
        uses.sort();
        uses.dedup();
        graph.insert(this, uses);
    }
    graph
}

/// A cycle of the graph as the path `a → b → … → a`, if there is one.
fn cycle(graph: &BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Seen {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, Vec<String>>,
        seen: &mut BTreeMap<String, Seen>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match seen.get(node) {
            Some(Seen::Done) => return None,
            Some(Seen::Open) => {
                let start = path.iter().position(|n| n == node).unwrap_or(0);
                let mut found = path[start..].to_vec();
                found.push(node.to_string());
                return Some(found);
            }
            None => {}
        }
        seen.insert(node.to_string(), Seen::Open);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, seen, path) {
                return Some(found);
            }
        }
        path.pop();
        seen.insert(node.to_string(), Seen::Done);
        None
    }
    let mut seen = BTreeMap::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut seen, &mut Vec::new()))
}

#[test]
fn the_script_modules_import_each_other_without_a_cycle() {
    let graph = script_graph();
    assert!(
        graph.len() > 20,
        "the script modules were not found: {graph:?}"
    );
    assert!(
        graph["ops"].contains(&"fleet".to_string()),
        "the graph misses a known import: {graph:?}"
    );
    if let Some(found) = cycle(&graph) {
        panic!(
            "src/script imports in a circle: {}; move the shared piece down into a module both \
             use, or pass it in (a closure, a trait the runtime holds)",
            found.join(" → ")
        );
    }
}

#[test]
fn each_library_layer_imports_only_the_layers_below_it() {
    let mut wrong = Vec::new();
    for (layer, above) in ABOVE {
        for file in rust_files(&src().join(layer)) {
            let code = code(&file);
            for name in names_after(&code, "crate::") {
                if CLI.contains(&name.as_str()) || above.contains(&name.as_str()) {
                    let file = file
                        .strip_prefix(src())
                        .unwrap_or(&file)
                        .display()
                        .to_string();
                    wrong.push(format!("src/{file} uses crate::{name}"));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "a library layer reaches up (api < script, sim; neither knows the command line):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checks_see_imports_and_circles() {
    let code = "use super::{convert, handles::Handle};\nlet x = super::ops::run();\nnot_super::y; self::super::z;";
    assert_eq!(names_after(code, "super::"), ["convert", "handles", "ops"]);
    let graph: BTreeMap<String, Vec<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(
        cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    let mut open = graph.clone();
    open.insert("c".into(), vec!["d".into()]);
    assert_eq!(cycle(&open), None);
}
