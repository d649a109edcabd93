//! How an operation reads to a person: its Rhai signatures, its HTTP route, an example.
//! Shared by `barrack ops`, the REPL's `:help` and the editor definitions.

use crate::api::catalog::{ArgType, Catalog, Op, Returns};

/// The Rhai type a person passes for an argument.
pub fn arg_type(ty: ArgType) -> String {
    match ty {
        ArgType::Target(kind) => format!("{} | String", kind.type_name()),
        ArgType::Targets(kind) => format!("Array<{}> | {}", kind.type_name(), kind.type_name()),
        ArgType::Str => "String".into(),
        ArgType::Int => "int".into(),
        ArgType::Map => "Map".into(),
    }
}

pub fn return_type(returns: Returns) -> String {
    match returns {
        Returns::Raw => "Map".into(),
        Returns::One(kind) => kind.type_name().into(),
        Returns::List(kind) => format!("Array<{}>", kind.type_name()),
    }
}

/// Parameter names as a script would call them: `vm` for an instance, `spec` for a map…
pub fn param_name(op: &Op, index: usize) -> String {
    let arg = &op.args[index];
    match arg.ty {
        ArgType::Target(kind) | ArgType::Targets(kind)
            if arg.field == "id" || arg.field.ends_with("_id") =>
        {
            match kind {
                crate::api::Kind::Vm => "vm".into(),
                crate::api::Kind::SshKey => "key".into(),
                other => other.type_name().to_ascii_lowercase(),
            }
        }
        _ => arg.field.to_string(),
    }
}

/// `stop_instance(vm: Vm | String) -> Vm`, with optional arguments in brackets.
pub fn signature(op: &Op, name: &str) -> String {
    let params: Vec<String> = (0..op.args.len())
        .map(|i| {
            let p = format!("{}: {}", param_name(op, i), arg_type(op.args[i].ty));
            if i >= op.required {
                format!("[{p}]")
            } else {
                p
            }
        })
        .collect();
    format!(
        "{name}({}) -> {}",
        params.join(", "),
        return_type(op.returns)
    )
}

/// A line of Rhai that calls the operation.
pub fn example(op: &Op) -> String {
    let name = op.aliases.first().copied().unwrap_or(op.name);
    let sample = |i: usize| -> String {
        let arg = &op.args[i];
        match arg.ty {
            ArgType::Target(_) | ArgType::Targets(_) => param_name(op, i),
            ArgType::Str => format!("\"{}\"", match arg.field { "name" => "my-name", "public_key" => "ssh-ed25519 AAAA… me@host", "script" => "#!/bin/sh\\necho hi", f => f }),
            ArgType::Int => "200".into(),
            ArgType::Map => match op.name {
                "deploy" => r#"#{gpu: "H100-SXM5-80GB", count: 8, region: "FINLAND-1", name: "train-1"}"#.into(),
                "quote" => r#"#{gpu_model: "H100-SXM5-80GB", gpu_count: 8, region: "FINLAND-1"}"#.into(),
                "create_volume" => r#"#{name: "data", size_gb: 500, region: "FINLAND-1"}"#.into(),
                "create_firewall" => r#"#{name: "web", region: "FINLAND-1", rules: [#{protocol: "TCP", port_range: "443"}]}"#.into(),
                "chat" => r#"#{model: "llama-3.1-70b-instruct", messages: [#{role: "user", content: "hi"}]}"#.into(),
                _ if arg.field == "filter" => r#"#{status: "ACTIVE"}"#.into(),
                _ if arg.field == "rule" => r#"#{protocol: "TCP", port_range: "22", remote_ip_prefix: "0.0.0.0/0"}"#.into(),
                _ => "#{}".into(),
            },
        }
    };
    let args: Vec<String> = (0..op.required.max(usize::from(op.name == "deploy")))
        .map(sample)
        .collect();
    let first_is_target = matches!(op.args.first().map(|a| a.ty), Some(ArgType::Target(_)));
    if first_is_target && op.aliases.contains(&name) {
        format!("{}.{name}({});", args[0], args[1..].join(", "))
    } else {
        format!("let result = {name}({});", args.join(", "))
    }
}

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
    lines.push(format!("  Example:  {}", example(op)));
    lines.join("\n")
}

/// ", did you mean …?" for a near miss.
pub fn suggest(name: &str) -> String {
    let names: Vec<&str> = crate::api::OPS
        .iter()
        .flat_map(|op| op.rhai_names())
        .collect();
    let close: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.contains(name) || name.contains(n) || edit_distance(n, name) <= 2)
        .take(4)
        .collect();
    if close.is_empty() {
        "; see `barrack ops`".into()
    } else {
        format!("; did you mean {}?", close.join(", "))
    }
}

pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::catalog::find;

    #[test]
    fn signatures_read_like_rhai() {
        let op = find("stop_instance").unwrap();
        assert_eq!(signature(op, "stop"), "stop(vm: Vm | String) -> Vm");
        let op = find("snapshot").unwrap();
        assert_eq!(
            signature(op, "snapshot"),
            "snapshot(vm: Vm | String, [name: String]) -> Snapshot"
        );
        assert_eq!(example(find("stop_instance").unwrap()), "vm.stop();");
        let text = describe(find("deploy").unwrap(), &Catalog::builtin());
        assert!(text.contains("POST /instances/"), "{text}");
    }
}
