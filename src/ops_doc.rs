//! The detailed form of an operation for a person: `barrack ops NAME` and the REPL's `:help`.
//! Its pieces (signatures, keys, an example) are the catalog's own, from `api::signature`.

use crate::api::catalog::{ArgType, Catalog, Op};
use crate::api::signature::{example, keys, signature};

/// The detailed form of `barrack ops NAME` and `:help NAME`.
pub fn describe(op: &'static Op, catalog: &Catalog) -> String {
    let (method, path) = catalog.route(op);
    let mut lines = vec![format!("{} — {}", op.name, op.summary)];
    for name in op.rhai_names() {
        lines.push(format!("  {}", signature(op, name)));
    }
    lines.push(format!("  HTTP:     {method} {path}"));
    lines.push(format!("  Group:    {}", op.group));
    lines.push(format!(
        "  Effect:   {}",
        if op.mutates {
            "changes the account (recorded by plan, written to --audit-log)"
        } else {
            "read-only"
        }
    ));
    if op.paginated {
        lines.push("  Pages:    every page is fetched".into());
    }
    if matches!(op.args.first().map(|a| a.ty), Some(ArgType::Target(_))) {
        lines.push("  Fleet:    pass an array as the first argument to act on many at once".into());
    }
    lines.extend(keys(op).into_iter().map(|line| format!("  {line}")));
    lines.push(format!("  Example:  {}", example(op)));
    for choice in crate::api::choices::for_op(op.id) {
        lines.push(format!(
            "  Choice:   {} — barrack's choice, not the reference's: {} (the reference: {})",
            choice.topic, choice.chosen, choice.reference
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::catalog::find;

    #[test]
    fn the_detail_names_the_route() {
        let text = describe(find("deploy").unwrap(), &Catalog::builtin());
        assert!(text.contains("POST /instances/"), "{text}");
    }
}
