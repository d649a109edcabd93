//! `barrack plan SCRIPT` and `barrack run --dry-run`: the ordered list of mutations a script
//! would make and the hourly cost change; exit 0 = no changes, 2 = changes, 1 = error.

use super::script::{host, lock};
use crate::cli::{Format, GlobalOpts, RunArgs};
use crate::error::{Error, Result};
use crate::output::{figures, Printer};
use crate::script::plan::{Change, Planner};
use crate::script::Source;
use serde_json::{json, Value};
use std::io::Write;
use std::process::ExitCode;

pub fn run(args: RunArgs, global: &GlobalOpts, printer: Printer) -> Result<ExitCode> {
    let _lock = args.opts.lock.as_deref().map(lock).transpose()?;
    let (host, connection) = host(global, &args.opts, args.args.clone(), Vec::new(), true)?;
    let source = Source::load(&args.script)?;
    let _ = host.run(&source)?;
    let changes = host
        .runtime
        .planner()
        .map(Planner::changes)
        .unwrap_or_default();
    let currency = connection
        .client
        .call(crate::api::OpId::Balance.op(), &Default::default())
        .ok()
        .and_then(|b| {
            b.get("currency")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "USD".into());
    print_plan(&changes, &currency, printer).map_err(|e| Error::io("stdout", e))?;
    Ok(if changes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn symbol(change: &Change) -> char {
    if change.op == "deploy"
        || change.op.starts_with("create")
        || change.op == "snapshot"
        || change.op == "restore_snapshot"
        || change.op.starts_with("clone")
    {
        '+'
    } else if change.op.starts_with("delete") {
        '-'
    } else {
        '~'
    }
}

fn summary(change: &Change) -> String {
    let a = &change.args;
    match (a.get("gpu_count"), a.get("gpu_model"), a.get("region")) {
        (Some(c), Some(Value::String(m)), Some(Value::String(r))) => format!("{c}× {m} {r}"),
        _ => a
            .iter()
            .map(|(k, v)| {
                let text = crate::output::scalar(v).replace('\n', "\\n");
                let short: String = text.chars().take(40).collect();
                format!(
                    "{k}={short}{}",
                    if short.len() < text.len() { "…" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn money(delta: f64, currency: &str) -> String {
    if figures::round(delta, 4) == 0.0 {
        String::new()
    } else {
        figures::rate(delta, currency, true)
    }
}

pub fn print_plan(changes: &[Change], currency: &str, printer: Printer) -> std::io::Result<()> {
    let total: f64 = changes.iter().map(|c| c.hourly_delta).sum();
    let mut out = std::io::stdout().lock();
    if printer.format == Format::Json {
        // Rates to the price list's four decimals: the float noise of summing them goes, and
        // the figure a reviewer compares is the exact one.
        let changes: Vec<Value> = changes
            .iter()
            .map(|c| {
                let mut value = serde_json::to_value(c).unwrap_or(Value::Null);
                value["hourly_delta"] = figures::round(c.hourly_delta, 4).into();
                value
            })
            .collect();
        let value = json!({
            "changes": changes,
            "count": changes.len(),
            "hourly_cost_change": figures::round(total, 4),
            "currency": currency,
        });
        return printer.value(&mut out, &value);
    }
    if changes.is_empty() {
        return writeln!(out, "Plan: no changes.");
    }
    writeln!(
        out,
        "Plan: {} change{}",
        changes.len(),
        if changes.len() == 1 { "" } else { "s" }
    )?;
    let rows: Vec<Value> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({"n": format!("{:>3}. {}", i + 1, symbol(c)), "op": c.op, "target": c.target,
                   "what": summary(c), "cost": money(c.hourly_delta, currency)})
        })
        .collect();
    let table = crate::output::table(
        &rows,
        &["n", "op", "target", "what", "cost"].map(String::from),
    );
    for line in table.lines().skip(1) {
        writeln!(out, "{line}")?;
    }
    let total_text = figures::rate(total, currency, true);
    writeln!(out, "Hourly cost change: {total_text}")
}
