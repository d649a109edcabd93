//! The bundled recipes, compiled into the binary: `import "barrack/NAME" as NAME;`, listed by
//! `barrack stdlib list`, and runnable as `barrack run stdlib:NAME --set key=value…` (each
//! recipe's `main(params)` reads its options from `params`).

/// Name, one-line summary, source.
pub const RECIPES: &[(&str, &str, &str)] = &[
    (
        "rotation",
        "nightly snapshot rotation: snapshot, confirm, then delete beyond keep_last / max_age",
        include_str!("../../stdlib/rotation.rhai"),
    ),
    (
        "hibernation",
        "hibernate outside schedule periods, start inside (IANA time zones, DST)",
        include_str!("../../stdlib/hibernation.rhai"),
    ),
    (
        "budget",
        "runway from balance and burn; warn, then hibernate the most expensive first",
        include_str!("../../stdlib/budget.rhai"),
    ),
    (
        "reaper",
        "hibernate or delete instances matching a pattern older than max_age (dry_run)",
        include_str!("../../stdlib/reaper.rhai"),
    ),
    (
        "deploy",
        "stock-aware deploy: first (gpu, count, region) choice in stock within max_hourly",
        include_str!("../../stdlib/deploy.rhai"),
    ),
    (
        "cleanup",
        "orphaned volumes, snapshots and firewalls: listed, removed only with confirm",
        include_str!("../../stdlib/cleanup.rhai"),
    ),
    (
        "restore",
        "restore the newest snapshot matching a pattern into a new instance",
        include_str!("../../stdlib/restore.rhai"),
    ),
    (
        "common",
        "helpers the recipes share: selecting instances, options, stamps",
        include_str!("../../stdlib/common.rhai"),
    ),
];

pub fn source(name: &str) -> Option<&'static str> {
    RECIPES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, src)| *src)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    RECIPES.iter().map(|(n, _, _)| *n)
}

/// The script `barrack run stdlib:NAME` runs: the recipe's `main(params)`, its result printed
/// as JSON, and a non-zero exit when it reports failures.
pub fn runner(name: &str) -> String {
    format!(
        "import \"barrack/{name}\" as recipe;\n\
         let result = recipe::main(params);\n\
         print(to_json(result));\n\
         if type_of(result) == \"map\" && result.failed != () && !result.failed.is_empty() {{\n\
         \x20   throw #{{code: \"RECIPE_FAILED\", status: 0, op: \"{name}\", errors: #{{}}, message: `{name}: ${{result.failed.len()}} failure(s): ${{result.failed.map(|f| f.reason)}}`}};\n\
         }}\n\
         result\n"
    )
}
