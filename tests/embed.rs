//! `examples/embed.rs` runs as part of the tests: the library surface it uses is the product.

#[path = "../examples/embed.rs"]
mod example;

#[test]
fn the_embedding_example_runs() {
    example::main().unwrap_or_else(|e| panic!("examples/embed.rs failed: {e}"));
}

use crate::support::{self, KEY};
use barrack::script::{AuditLog, Host, Limits, Source};
use std::time::Duration;

const DEPLOY: &str = r#"
    let vm = deploy(#{gpu: "L40", count: 1, region: "CANADA-1", name: params.name});
    `${vm.name} ${ARGS[0]}`
"#;

/// A planning host built by method: params and ARGS reach the script, the deployment is
/// recorded in the plan, and the simulator never sees it.
#[test]
fn a_planning_host_records_instead_of_sending() {
    let (sim, _) = support::sim();
    let mut params = rhai::Map::new();
    params.insert("name".into(), "planned-1".into());
    let host = Host::builder(support::client_for(&sim, Some(KEY)))
        .quiet(true)
        .plan()
        .params(params)
        .args(vec!["from-args".into()])
        .build();
    let value = host
        .run(&Source::snippet("<plan>", DEPLOY))
        .unwrap_or_else(|e| panic!("the plan runs: {e}"));
    assert_eq!(value.to_string(), "planned-1 from-args");
    let changes = host
        .runtime()
        .planner()
        .map(|p| p.changes())
        .unwrap_or_default();
    let ops: Vec<&str> = changes.iter().map(|c| c.op).collect();
    assert_eq!(ops, ["deploy"]);
    assert!(sim.world().instances.is_empty(), "a plan sends nothing");
}

/// An audited host writes one line per mutation, naming the operation and never the key.
#[test]
fn an_audited_host_logs_each_mutation_without_the_key() {
    let (sim, _) = support::sim();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path).expect("the audit log opens");
    let mut params = rhai::Map::new();
    params.insert("name".into(), "audited-1".into());
    let host = Host::builder(support::client_for(&sim, Some(KEY)))
        .quiet(true)
        .audit(log)
        .params(params)
        .args(vec!["x".into()])
        .build();
    let value = host
        .run(&Source::snippet("<audit>", DEPLOY))
        .unwrap_or_else(|e| panic!("the deployment runs: {e}"));
    assert_eq!(value.to_string(), "audited-1 x");
    let text = std::fs::read_to_string(&path).expect("the audit log is readable");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains("\"op\":\"deploy\""), "{text}");
    assert!(lines[0].contains("\"outcome\":\"ok\""), "{text}");
    assert!(!text.contains(KEY), "{text}");
    assert_eq!(sim.world().instances.len(), 1);
}

/// Limits set on the builder bound the script: a loop past `max_operations` is stopped with an
/// error, not run to the end.
#[test]
fn a_host_applies_its_limits() {
    let (sim, _) = support::sim();
    let host = Host::builder(support::client_for(&sim, Some(KEY)))
        .quiet(true)
        .timeout(Duration::from_secs(60))
        .limits(Limits {
            max_operations: 1_000,
            ..Limits::default()
        })
        .build();
    let err = host
        .run(&Source::snippet(
            "<limits>",
            "let n = 0; while n < 100000 { n += 1; } n",
        ))
        .expect_err("the loop passes max_operations");
    assert!(err.to_string().contains("operations"), "{err}");
    let small = Source::snippet("<limits>", "let n = 0; while n < 10 { n += 1; } n");
    assert_eq!(
        host.run(&small).map(|v| v.to_string()).ok().as_deref(),
        Some("10")
    );
}
