//! How an operation reads in Rhai: its parameters' names and types, its signatures, an example
//! call and the keys of its map. The engine registers its functions with these (parameter info,
//! doc comments, hints in errors); `barrack ops`, the REPL's `:help` and the editor definitions
//! show the same text.

use super::catalog::{ArgType, Op, OpId, Returns};
use super::shape::{Field, Rule};

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

/// The Rhai type a call returns.
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
                super::Kind::Vm => "vm".into(),
                super::Kind::SshKey => "key".into(),
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
            ArgType::Map => match op.id {
                OpId::Deploy => r#"#{gpu: "H100-SXM5-80GB", count: 8, region: "FINLAND-1", name: "train-1"}"#.into(),
                OpId::Quote => r#"#{gpu: "H100-SXM5-80GB", count: 8, region: "FINLAND-1"}"#.into(),
                OpId::CreateVolume => r#"#{name: "data", size_gb: 500, region: "FINLAND-1"}"#.into(),
                OpId::CreateFirewall => r#"#{name: "web", region: "FINLAND-1", rules: [#{protocol: "TCP", port_range: "443"}]}"#.into(),
                OpId::Chat => r#"#{model: "llama-3.1-70b-instruct", messages: [#{role: "user", content: "hi"}]}"#.into(),
                _ if arg.field == "filter" => match op.fields.first() {
                    Some(f) if f.name == "status" => r#"#{status: "ACTIVE"}"#.into(),
                    Some(f) if f.name == "region" => r#"#{region: "FINLAND-1"}"#.into(),
                    Some(f) if f.name == "name" => r#"#{name: "train-*"}"#.into(),
                    _ => "#{}".into(),
                },
                _ if arg.field == "rule" => r#"#{protocol: "TCP", port_range: "22", remote_ip_prefix: "0.0.0.0/0"}"#.into(),
                _ => "#{}".into(),
            },
        }
    };
    let args: Vec<String> = (0..op.required.max(usize::from(op.id == OpId::Deploy)))
        .map(sample)
        .collect();
    let first_is_target = matches!(op.args.first().map(|a| a.ty), Some(ArgType::Target(_)));
    if first_is_target && op.aliases.contains(&name) {
        format!("{}.{name}({});", args[0], args[1..].join(", "))
    } else {
        format!("let result = {name}({});", args.join(", "))
    }
}

/// Every key the operation's map argument takes, one line each with type, default and rule;
/// then what happens to any other key. Positional arguments with a rule are listed too.
pub fn keys(op: &Op) -> Vec<String> {
    let mut lines = Vec::new();
    let ruled: Vec<String> = op
        .args
        .iter()
        .enumerate()
        .filter(|(_, a)| !matches!(a.rule, Rule::Any))
        .filter_map(|(i, a)| Field::of_arg(a, i < op.required))
        .map(|f| format!("  {}: {}, {}", f.name, f.ty.describe(), f.rule.describe()))
        .collect();
    if !ruled.is_empty() {
        lines.push("Arguments:".into());
        lines.extend(ruled);
    }
    let Some(arg) = op.args.iter().find(|a| a.ty == ArgType::Map) else {
        return lines;
    };
    lines.push(format!("Keys of {}:", arg.field));
    if op.fields.is_empty() {
        lines.push("  (none)".into());
    }
    lines.extend(op.fields.iter().map(|f| format!("  {}", f.line())));
    lines.push("  Any other key is refused, naming the closest one.".into());
    lines
}

/// ", did you mean …?" after an operation name that matched nothing, or where to look.
pub fn did_you_mean(name: &str) -> String {
    let close = super::suggest::near(name, super::OPS.iter().flat_map(|op| op.rhai_names()));
    if close.is_empty() {
        "; see `barrack ops`".into()
    } else {
        format!("; did you mean {}?", close.join(", "))
    }
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
    }
}
