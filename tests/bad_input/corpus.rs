//! Bad input never panics: a corpus of invalid names, sizes, regions, GPU models,
//! counts, JSON bodies, wrong-state calls, malformed scripts and flags, and of garbage server
//! answers (truncated JSON, HTML, a 70 MB body, unknown fields, no body, a lying or silent
//! server). Each must end in a clear error and a sensible exit code: never a panic, never
//! Rust's exit 101, never the panic hook's exit 70 ("internal error").
//!
//! Script-level cases run in-process through `Host` (the exit code is `Error::exit_code`, the
//! one the binary uses); flags, `barrack call`, files and server answers run the real binary.

use crate::support::garbage::{http, Answer, Garbage};
use crate::support::KEY;
use crate::test::Test;
use barrack::script::{Host, Limits, Source};
use barrack::sim::{SimOptions, Simulator};
use std::path::Path;
use std::time::{Duration, Instant};

// ---- script-level corpus, in-process ----

/// A host for the fast simulator, with a wall-clock deadline so no case can hang the suite.
fn host(sim: &Simulator) -> Host {
    Host::builder(crate::support::client_for(sim, Some(KEY)))
        .quiet(true)
        .timeout(Duration::from_secs(20))
        .build()
}

/// Run every `(code, exit, says)`: the script must fail with that exit code and its message
/// must contain `says`. All mismatches are reported together.
#[track_caller]
fn refused_all(cases: &[(&str, u8, &str)]) {
    let sim = Simulator::start(SimOptions::fast()).expect("the simulator starts");
    let host = host(&sim);
    let mut problems = Vec::new();
    for (code, exit, says) in cases {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            host.run(&Source::snippet("<case>", code))
        }));
        match outcome {
            Err(_) => problems.push(format!("PANIC: {code}")),
            Ok(Ok(value)) => problems.push(format!("accepted (gave {value}): {code}")),
            Ok(Err(err)) => {
                let text = err.to_string();
                if err.exit_code() != *exit || !text.contains(says) {
                    problems.push(format!(
                        "{code}\n    exit {} (expected {exit}), message: {text}\n    expected it to say {says:?}",
                        err.exit_code()
                    ));
                }
                if text.contains("panicked") || text.contains("RUST_BACKTRACE") {
                    problems.push(format!("a Rust panic text for {code}: {text}"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} cases:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
}

/// A valid deploy map with `extra` fields (Rhai map text, `key: value, …`) over it.
fn deploy(extra: &str) -> String {
    let mut fields = vec![
        ("gpu", "\"H100-SXM5-80GB\"".to_string()),
        ("region", "\"FINLAND-1\"".to_string()),
        ("os_image", "\"ubuntu-22.04-cuda-12.4\"".to_string()),
    ];
    for part in extra.trim_start_matches(',').split(", ") {
        if let Some((k, v)) = part.split_once(": ") {
            let k = k.trim();
            fields.retain(|(have, _)| *have != k);
            fields.push((k, v.to_string()));
        }
    }
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("deploy(#{{{}}})", body.join(", "))
}

#[test]
fn invalid_names_sizes_regions_models_and_counts_are_refused_with_the_field_named() {
    let long = "x".repeat(31);
    let cases: Vec<(String, u8, &str)> = vec![
        // names
        (deploy(r#", name: "-lead""#), 1, "name"),
        (deploy(r#", name: "trail_""#), 1, "name"),
        (deploy(r#", name: "ab""#), 1, "name"),
        (deploy(&format!(r#", name: "{long}""#)), 1, "name"),
        (deploy(r#", name: "has space""#), 1, "name"),
        (deploy(r#", name: "dot.ted""#), 1, "name"),
        (deploy(r#", name: "ünïcödé""#), 1, "name"),
        (deploy(r#", name: "new\nline""#), 1, "name"),
        (deploy(", name: 42"), 1, "name: must be a string"),
        (deploy(", name: [1]"), 1, "name: must be a string"),
        // OS volume sizes
        (deploy(", os_volume_gb: 99"), 1, "os_volume_size_gb"),
        (deploy(", os_volume_gb: 10001"), 1, "os_volume_size_gb"),
        (deploy(", os_volume_gb: -1"), 1, "os_volume_size_gb"),
        (deploy(r#", os_volume_gb: "big""#), 1, "os_volume_size_gb"),
        (deploy(", os_volume_gb: 1e20"), 1, "os_volume_size_gb"),
        (deploy(", os_volume_gb: 100.5"), 1, "os_volume_size_gb"),
        // regions
        (deploy(r#", region: "MARS-1""#), 1, "Unknown region"),
        (deploy(r#", region: "finland-1""#), 1, "Unknown region"),
        (deploy(r#", region: """#), 1, "region"),
        (deploy(", region: 42"), 1, "region: must be a string"),
        // GPU models
        (deploy(r#", gpu: "H100""#), 1, "Unknown GPU model"),
        (deploy(r#", gpu: "h100-sxm5-80gb""#), 1, "Unknown GPU model"),
        (deploy(r#", gpu: """#), 1, "gpu_model"),
        (deploy(", gpu: 7"), 1, "gpu_model: must be a string"),
        (deploy(r#", gpu: "L40""#), 1, "not offered in FINLAND-1"),
        (
            deploy(r#", gpu_model: "L40""#),
            1,
            "give either gpu or gpu_model",
        ),
        // counts
        (deploy(", count: 0"), 1, "gpu_count"),
        (deploy(", count: 3"), 1, "gpu_count"),
        (deploy(", count: -1"), 1, "gpu_count"),
        (deploy(", count: 16"), 1, "gpu_count"),
        (deploy(r#", count: "eight""#), 1, "gpu_count"),
        (deploy(", count: 2.5"), 1, "gpu_count"),
        (deploy(", count: 9223372036854775807"), 1, "gpu_count"),
        (deploy(", count: -9223372036854775807 - 1"), 1, "gpu_count"),
        // boot sources and keys
        (deploy(r#", volume: "vol-1""#), 1, "Exactly one boot source"),
        (deploy(r#", ssh_keys: ["key-nope"]"#), 1, "key-nope"),
        (deploy(", ssh_keys: 5"), 1, "ssh_key_ids"),
        // not a map at all
        ("deploy(42)".into(), 1, "must be a map"),
        ("deploy(\"H100\")".into(), 1, "must be a map"),
        ("deploy(#{})".into(), 1, "gpu_model"),
        ("deploy([42, #{}])".into(), 1, "2 of 2 failed"),
        // volumes, scripts, firewalls
        (
            r#"create_volume(#{name: "v", size_gb: 0, region: "FINLAND-1"})"#.into(),
            1,
            "size_gb",
        ),
        (
            r#"create_volume(#{name: "v", size_gb: -5, region: "FINLAND-1"})"#.into(),
            1,
            "size_gb",
        ),
        (
            r#"create_volume(#{name: "v", size_gb: 9, region: "FINLAND-1"})"#.into(),
            1,
            "size_gb",
        ),
        (
            r#"create_volume(#{name: "v", size_gb: 1048577, region: "FINLAND-1"})"#.into(),
            1,
            "size_gb",
        ),
        (
            r#"create_volume(#{name: "v", size_gb: "x", region: "FINLAND-1"})"#.into(),
            1,
            "size_gb",
        ),
        (
            r#"create_volume(#{name: "v", size_gb: 1e300, region: "FINLAND-1"})"#.into(),
            1,
            "size_gb",
        ),
        (
            r#"create_volume(#{name: "bad/name", size_gb: 10, region: "FINLAND-1"})"#.into(),
            1,
            "name",
        ),
        (
            r#"create_volume(#{name: "v", size_gb: 10, region: "NOWHERE"})"#.into(),
            1,
            "region",
        ),
        (
            r#"create_script("bad/name", "echo")"#.into(),
            1,
            "Name must contain only",
        ),
        (
            r#"let s = "x"; for i in 0..14 { s += s; } create_script("big", s + "x")"#.into(),
            1,
            "16384 bytes or less",
        ),
        (
            r#"create_ssh_key("k", "not a key")"#.into(),
            1,
            "public_key",
        ),
        (
            r#"create_firewall(#{name: "f", region: "FINLAND-1", rules: [#{protocol: "SMTP"}]})"#
                .into(),
            1,
            "rules",
        ),
        (
            r#"resize(create_volume(#{name: "v9", size_gb: 20, region: "FINLAND-1"}), 10)"#.into(),
            1,
            "size_gb",
        ),
    ];
    let cases: Vec<(&str, u8, &str)> = cases.iter().map(|(c, e, s)| (c.as_str(), *e, *s)).collect();
    refused_all(&cases);
}

#[test]
fn wrong_state_calls_and_wrong_types_are_refused_naming_the_object() {
    let vm = r#"let vm = deploy(#{gpu: "L40", region: "CANADA-1", name: "state-NN"});"#;
    let cases: Vec<(String, u8, &str)> = vec![
        (
            format!("{vm} vm.stop()"),
            1,
            "it is CREATING; stop needs ACTIVE",
        ),
        (format!("{vm} snapshot(vm)"), 1, "snapshot needs ACTIVE"),
        (format!("{vm} vm.restore()"), 1, "restore needs HIBERNATED"),
        (
            format!("{vm} wait_active(vm); vm.start()"),
            1,
            "it is ACTIVE; start needs",
        ),
        (
            format!(
                "{vm} wait_active(vm); vm.stop(); wait_status(vm, \"SHUTOFF\"); wait_active(vm)"
            ),
            1,
            "will not become ACTIVE",
        ),
        (
            format!("{vm} wait_active(vm); vm.delete(); vm.delete()"),
            1,
            "it is DELETING",
        ),
        (
            format!("{vm} wait_status(vm, \"HIBERNATED\")"),
            1,
            "will not become HIBERNATED",
        ),
        (
            format!("{vm} wait_active(vm, #{{timeut: \"1m\"}})"),
            1,
            "unknown key \"timeut\"; did you mean \"timeout\"?",
        ),
        (
            format!("{vm} wait_active(vm, #{{timeout: \"soon\"}})"),
            1,
            "not a duration",
        ),
        (
            format!("{vm} wait_active(vm, #{{timeout: 1e30}})"),
            1,
            "too long for a duration",
        ),
        (
            format!("{vm} wait_active(vm, #{{interval: -1}})"),
            1,
            "not a duration",
        ),
        (
            format!("{vm} deploy(#{{gpu: \"L40\", region: \"CANADA-1\", name: \"state-NN\"}})"),
            1,
            "CONFLICT",
        ),
        (
            r#"let v = create_volume(#{name: "far", size_gb: 10, region: "FINLAND-2"});
               let vm = deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "near"});
               wait_active(vm); wait_status(v, "AVAILABLE"); vm.attach([v])"#
                .into(),
            1,
            "region",
        ),
        ("instance(\"BRK-999999VM\")".into(), 1, "404 NOT_FOUND"),
        ("instance(42)".into(), 1, "expected a Vm or its id"),
        ("instance(#{})".into(), 1, "expected a Vm or its id"),
        ("stop(\"\")".into(), 1, "expected a Vm or its id"),
        ("stop([1, 2])".into(), 1, "2 of 2 failed"),
        ("wait_active(42)".into(), 1, "expected an object"),
        (
            "wait_active(\"BRK-999999VM\")".into(),
            1,
            "it does not exist",
        ),
        ("delete(\"xyz-1\")".into(), 1, "delete_instance"),
        ("delete(())".into(), 1, "delete"),
        (
            "api(\"nope\", #{})".into(),
            1,
            "no operation named \"nope\"",
        ),
        ("api(\"instance\", #{id: [1]})".into(), 1, "id"),
        (
            "api(\"instances\", #{region: #{a: 1}})".into(),
            1,
            "cannot be a map",
        ),
        ("api(\"balance\", #{t: now()})".into(), 0, ""),
    ];
    // Each case deploys its own instance: names must differ.
    let cases: Vec<(String, u8, &str)> = cases
        .into_iter()
        .enumerate()
        .filter(|(_, c)| c.1 != 0)
        .map(|(i, (code, exit, says))| {
            (code.replace("state-NN", &format!("state-{i}")), exit, says)
        })
        .collect();
    let cases: Vec<(&str, u8, &str)> = cases.iter().map(|(c, e, s)| (c.as_str(), *e, *s)).collect();
    refused_all(&cases);
}

#[test]
fn bad_helper_arguments_json_and_times_are_refused() {
    refused_all(&[
        ("sleep(\"soon\")", 1, "not a duration"),
        ("sleep(-1)", 1, "not a duration"),
        ("sleep(1e30)", 1, "too long for a duration"),
        ("sleep(\"1e30\")", 1, "too long for a duration"),
        ("duration(1e300)", 1, "too long for a duration"),
        (
            "duration(\"99999999999999999999999y\")",
            1,
            "not a duration",
        ),
        ("now() + \"x\"", 1, "not a duration"),
        ("now() + 9223372036854775807", 1, "overflow"),
        ("parse_time(\"x\")", 1, "is not a time"),
        ("parse_time(\"99999-01-01T00:00:00Z\")", 1, "is not a time"),
        ("now().local(\"Not/AZone\")", 1, "unknown time zone"),
        ("age(#{})", 1, "has no created_at"),
        ("age(#{created_at: \"yesterday\"})", 1, "is not a time"),
        ("parse_json(\"{\")", 1, "not valid JSON"),
        ("parse_json(\"1e400\")", 1, "not valid JSON"),
        (
            "let s = \"\"; for i in 0..200 { s += \"[\"; } parse_json(s)",
            1,
            "recursion limit",
        ),
        ("table([1, 2])", 1, "every row must be a map"),
        ("to_json(|x| x)", 1, "cannot be turned into JSON"),
        ("env(42)", 1, "env"),
    ]);
}

#[test]
fn malformed_scripts_are_syntax_errors_or_clear_runtime_errors() {
    let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
    let garbage = "}{)(][".repeat(2000);
    let long_line = format!("let x = {};", "1 + ".repeat(20_000) + "1");
    let cases: Vec<(String, u8, &str)> = vec![
        ("let = 1;".into(), 65, "<case>:1:"),
        ("fn (".into(), 65, "<case>:1:"),
        ("}".into(), 65, "<case>:1:"),
        ("\"unterminated".into(), 65, "<case>:1:"),
        ("let x = \"\\x\";".into(), 65, "<case>:1:"),
        ("eval(\"1\")".into(), 65, "<case>:1:"),
        ("\u{0}".into(), 65, "<case>:1:"),
        (deep, 65, "<case>:1:"),
        (garbage, 65, "<case>:1:"),
        (long_line, 65, "<case>:1:"),
        ("import \"/etc/passwd\" as p;".into(), 1, "cannot import"),
        (
            "import \"../../etc/passwd\" as p;".into(),
            1,
            "cannot import",
        ),
        ("throw 1;".into(), 1, "uncaught: 1"),
        ("throw #{};".into(), 1, "<case>:1:"),
        ("fn f(x) { f(x) } f(1)".into(), 1, "Stack overflow"),
        ("let a = []; a[5]".into(), 1, "out of bounds"),
        ("let m = #{}; m.x.y".into(), 1, "<case>:1:"),
        ("1 / 0".into(), 1, "Division by zero"),
        ("nope(1)".into(), 1, "unknown function nope"),
        ("let s = \"x\"; loop { s += s; }".into(), 1, "<case>:1:"),
        (
            "let a = []; loop { a += [1, 2, 3, 4, 5, 6, 7, 8]; }".into(),
            1,
            "<case>:1:",
        ),
        ("loop { }".into(), 75, "--timeout"),
    ];
    let sim = Simulator::start(SimOptions::fast()).expect("the simulator starts");
    let limited = Host::builder(crate::support::client_for(&sim, Some(KEY)))
        .quiet(true)
        .timeout(Duration::from_secs(20))
        .limits(Limits {
            max_string_size: 1 << 20,
            // Small: Rhai re-measures an array on every change, so growth to the limit is
            // quadratic.
            max_array_size: 10_000,
            ..Limits::default()
        })
        .build();
    let mut problems = Vec::new();
    for (code, exit, says) in &cases {
        if *exit == 75 {
            // Its own short deadline: the run is stopped, exit 75.
            let err = Host::builder(crate::support::client_for(&sim, Some(KEY)))
                .timeout(Duration::from_millis(300))
                .build()
                .run(&Source::snippet("<case>", code))
                .expect_err("stopped");
            assert_eq!(err.exit_code(), 75, "{err}");
            assert!(err.to_string().contains(says), "{err}");
            continue;
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            limited.run(&Source::snippet("<case>", code))
        }));
        let short: String = code.chars().take(60).collect();
        match outcome {
            Err(_) => problems.push(format!("PANIC: {short}")),
            Ok(Ok(_)) => problems.push(format!("accepted: {short}")),
            Ok(Err(err)) => {
                let text = err.to_string();
                if err.exit_code() != *exit || !text.contains(says) {
                    problems.push(format!(
                        "{short}: exit {} (expected {exit}): {text}",
                        err.exit_code()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---- the real binary: flags, `barrack call`, files ----

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Run barrack in `dir` (its HOME is `dir/home`), whatever the outcome.
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Ran {
    // The panic hook prints a backtrace only when asked; these runs judge its plain form.
    let mut test = Test::shared(dir)
        .args(args.iter().copied())
        .env_remove("RUST_BACKTRACE");
    for (k, v) in env {
        test = test.env(k, v);
    }
    let out = test.output();
    Ran {
        code: out.status,
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

/// The problem with one finished run, if any: the expected exit code, the expected words on
/// stderr, and never a panic (Rust's text, exit 101, or the hook's exit 70).
fn judge(label: &str, ran: &Ran, exit: i32, says: &str) -> Option<String> {
    let mut wrong = Vec::new();
    if ran.code != exit {
        wrong.push(format!("exit {} (expected {exit})", ran.code));
    }
    if !ran.stderr.contains(says) {
        wrong.push(format!("stderr lacks {says:?}"));
    }
    for never in ["panicked", "internal error", "RUST_BACKTRACE"] {
        if ran.stderr.contains(never) {
            wrong.push(format!("stderr has {never:?}"));
        }
    }
    if ran.code == 101 || ran.code == 70 {
        wrong.push("a panic".into());
    }
    (!wrong.is_empty()).then(|| {
        let err: String = ran.stderr.chars().take(600).collect();
        format!("{label}: {}\n    stderr: {err}", wrong.join(", "))
    })
}

/// Run every case (in parallel, each in its own directory) and report all problems at once.
#[track_caller]
fn binary_cases(cases: &[(Vec<String>, i32, &str)], setup: impl Fn(&Path) + Sync) {
    let problems: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .chunks(cases.len().div_ceil(4).max(1))
            .map(|chunk| {
                let setup = &setup;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|(args, exit, says)| {
                            let dir = tempfile::tempdir().expect("a temporary directory");
                            setup(dir.path());
                            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
                            let ran = run_in(dir.path(), &argv, &[]);
                            judge(&format!("barrack {}", args.join(" ")), &ran, *exit, says)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec!["a case thread panicked".into()])
            })
            .collect()
    });
    assert!(
        problems.is_empty(),
        "{} of {} cases:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

#[test]
fn malformed_flags_are_usage_errors() {
    let cases = vec![
        (
            argv(&["eval", "--sim", "--parallel", "0", "1"]),
            2,
            "--parallel",
        ),
        (
            argv(&["eval", "--sim", "--parallel", "300", "1"]),
            2,
            "--parallel",
        ),
        (
            argv(&["eval", "--sim", "--timeout", "soon", "1"]),
            2,
            "not a duration",
        ),
        (argv(&["eval", "--sim", "--timeout", "-3s", "1"]), 2, "-3"),
        (
            argv(&["eval", "--sim", "--request-timeout", "x", "1"]),
            2,
            "not a duration",
        ),
        (
            argv(&["eval", "--sim", "--fault-rate", "2", "1"]),
            2,
            "--fault-rate",
        ),
        (
            argv(&["eval", "--sim", "--fault-rate", "NaN", "1"]),
            2,
            "--fault-rate",
        ),
        (argv(&["eval", "--sim", "--fault-rate", "-1", "1"]), 2, "-1"),
        (
            argv(&["eval", "--sim", "--drop-rate", "1.5", "1"]),
            2,
            "--drop-rate",
        ),
        (argv(&["eval", "--sim", "--speed", "0", "1"]), 2, "--speed"),
        (
            argv(&["eval", "--sim", "--speed", "inf", "1"]),
            2,
            "--speed",
        ),
        (
            argv(&["eval", "--sim", "--speed", "fast", "1"]),
            2,
            "--speed",
        ),
        (
            argv(&["eval", "--sim", "--fault-status", "200", "1"]),
            2,
            "--fault-status",
        ),
        (
            argv(&["eval", "--sim", "--fault-status", "abc", "1"]),
            2,
            "--fault-status",
        ),
        (
            argv(&["eval", "--sim", "--fault-status", "99999", "1"]),
            2,
            "--fault-status",
        ),
        (argv(&["eval", "--sim", "--retries", "-1", "1"]), 2, "-1"),
        (
            argv(&["eval", "--sim", "--retries", "4294967296", "1"]),
            2,
            "--retries",
        ),
        (argv(&["eval", "--sim", "--seed", "-5", "1"]), 2, "-5"),
        (
            argv(&["eval", "--sim", "--latency-ms", "x", "1"]),
            2,
            "--latency-ms",
        ),
        (
            argv(&["eval", "--sim", "--set", "novalue", "1"]),
            2,
            "KEY=VALUE",
        ),
        (argv(&["eval", "--sim", "--set", "=v", "1"]), 2, "KEY=VALUE"),
        (argv(&["-o", "yaml", "eval", "--sim", "1"]), 2, "yaml"),
        (argv(&["--frobnicate", "ops"]), 2, "--frobnicate"),
        (argv(&["frobnicate"]), 2, "frobnicate"),
        (argv(&["run"]), 2, "SCRIPT"),
        (
            argv(&["run", "--sim", "stdlib:nope"]),
            2,
            "no bundled recipe",
        ),
        (argv(&["completions", "tcsh"]), 2, "tcsh"),
        (argv(&["sim", "--listen", "999.0.0.1:1"]), 2, "--listen"),
        (argv(&["ops", "nope"]), 2, "nope"),
    ];
    binary_cases(&cases, |_| {});
}

#[test]
fn bad_call_arguments_and_bodies_are_refused() {
    let deep = "[".repeat(100_000);
    let cases = vec![
        (
            argv(&["call", "--sim", "deploy", "--body", "{"]),
            2,
            "--body is not valid JSON",
        ),
        (
            argv(&["call", "--sim", "deploy", "--body", "[1]"]),
            2,
            "must be a JSON object",
        ),
        (
            argv(&["call", "--sim", "deploy", "--body", "null"]),
            2,
            "must be a JSON object",
        ),
        (
            argv(&["call", "--sim", "deploy", "--body", "\"x\""]),
            2,
            "must be a JSON object",
        ),
        (
            argv(&["call", "--sim", "deploy", "--body", ""]),
            2,
            "--body is not valid JSON",
        ),
        (
            argv(&["call", "--sim", "deploy", "--body", &deep]),
            2,
            "recursion limit",
        ),
        (
            argv(&[
                "call",
                "--sim",
                "deploy",
                "--body",
                r#"{"gpu_count": 1e400}"#,
            ]),
            2,
            "number out of range",
        ),
        (
            argv(&[
                "call",
                "--sim",
                "deploy",
                "--body",
                r#"{"gpu_model":"H100-SXM5-80GB","gpu_count":3,"region":"FINLAND-1","os_image_id":"ubuntu-22.04-cuda-12.4"}"#,
            ]),
            1,
            "gpu_count",
        ),
        (
            argv(&[
                "call",
                "--sim",
                "deploy",
                "--body",
                r#"{"gpu_model":"H100-SXM5-80GB","gpu_count":18446744073709551616,"region":"FINLAND-1"}"#,
            ]),
            1,
            "gpu_count",
        ),
        (
            argv(&[
                "call",
                "--sim",
                "create_volume",
                "--body",
                r#"{"name":"v","size_gb":-9223372036854775808,"region":"FINLAND-1"}"#,
            ]),
            1,
            "size_gb",
        ),
        (
            argv(&[
                "call",
                "--sim",
                "create_volume",
                "--body",
                r#"{"name":"v","size_gb":9223372036854775807,"region":"FINLAND-1"}"#,
            ]),
            1,
            "size_gb",
        ),
        (
            argv(&["call", "--sim", "deploy", "oops"]),
            2,
            "is not key=value",
        ),
        (
            argv(&["call", "--sim", "deploy", "=x"]),
            2,
            "is not key=value",
        ),
        (argv(&["call", "--sim", "deploy", "n:={"]), 2, "not JSON"),
        (argv(&["call", "--sim", "nope"]), 2, "no operation named"),
        (
            argv(&["call", "--sim", "delete"]),
            2,
            "names several operations",
        ),
        (
            argv(&["call", "--sim", "instance"]),
            1,
            "id: This field is required",
        ),
        (
            argv(&["call", "--sim", "instance", "id="]),
            1,
            "must be an id string",
        ),
        (
            argv(&["call", "--sim", "instance", "id:=[1]"]),
            1,
            "must be an id string",
        ),
        (
            argv(&["call", "--sim", "instance", "id=../../balance"]),
            1,
            "404 NOT_FOUND",
        ),
        (
            argv(&["call", "--sim", "instance", "id=BRK-000000VM"]),
            1,
            "404 NOT_FOUND",
        ),
        (argv(&["call", "--sim", "instances", "page:=-1"]), 1, "page"),
        (
            argv(&[
                "call",
                "--sim",
                "instances",
                "per_page:=99999999999999999999",
            ]),
            1,
            "per_page",
        ),
        (
            argv(&["call", "--sim", "instances", "region:={}"]),
            1,
            "cannot be a map",
        ),
        (
            argv(&[
                "call",
                "--sim",
                "chat",
                "--body",
                r#"{"model":"x","messages":"no"}"#,
            ]),
            1,
            "messages",
        ),
        (
            argv(&["call", "--sim", "stop", "id=BRK-000001VM"]),
            1,
            "404 NOT_FOUND",
        ),
    ];
    binary_cases(&cases, |_| {});
}

#[test]
fn bad_files_and_configuration_give_clear_errors() {
    let cases = vec![
        (argv(&["run", "--sim", "missing.rhai"]), 66, "missing.rhai"),
        (argv(&["check", "missing.rhai"]), 66, "missing.rhai"),
        (argv(&["run", "--sim", "binary.rhai"]), 1, "binary.rhai"),
        (argv(&["run", "--sim", "."]), 1, "."),
        (argv(&["check", "syntax.rhai"]), 65, "syntax.rhai:2:"),
        (argv(&["run", "--sim", "syntax.rhai"]), 65, "syntax.rhai:2:"),
        (argv(&["run", "--sim", "empty.rhai"]), 0, ""),
        (
            argv(&["eval", "--sim", "--catalog", "missing.json", "1"]),
            78,
            "missing.json",
        ),
        (
            argv(&["eval", "--sim", "--catalog", "garbage.json", "1"]),
            78,
            "garbage.json",
        ),
        (
            argv(&["eval", "--sim", "--catalog", "unknown-op.json", "1"]),
            78,
            "no_such_op",
        ),
        (
            argv(&["eval", "--sim", "--catalog", "bad-template.json", "1"]),
            78,
            "bad-template.json",
        ),
        (
            argv(&["call", "--api-url", "notaurl", "balance"]),
            78,
            "notaurl",
        ),
        (
            argv(&["call", "--api-url", "http://", "balance"]),
            78,
            "http://",
        ),
        (argv(&["call", "balance"]), 78, "no API key"),
        (
            argv(&["eval", "--sim", "--lock", "no/such/dir/lock", "1"]),
            78,
            "mkdir -p no/such/dir",
        ),
        (
            argv(&["eval", "--sim", "--audit-log", "no/such/dir/a.jsonl", "1"]),
            78,
            "--audit-log no/such/dir/a.jsonl",
        ),
        (
            argv(&["eval", "--sim", "--state", "garbage.json", "1"]),
            78,
            "not a simulator state file",
        ),
        (
            argv(&["eval", "--sim", "--set", "x=[1,", "params.x"]),
            0,
            "",
        ),
    ];
    binary_cases(&cases, |dir| {
        std::fs::write(dir.join("binary.rhai"), [0xff, 0xfe, 0x00, 0x80]).unwrap();
        std::fs::write(dir.join("syntax.rhai"), "let a = 1;\nlet = ;\n").unwrap();
        std::fs::write(dir.join("empty.rhai"), "").unwrap();
        std::fs::write(dir.join("garbage.json"), "<html>").unwrap();
        std::fs::write(
            dir.join("unknown-op.json"),
            r#"[{"name": "no_such_op", "method": "GET", "path": "/x/"}]"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("bad-template.json"),
            r#"[{"name": "instance", "method": "GET", "path": "/instances/{id/"}]"#,
        )
        .unwrap();
    });
}

#[test]
fn malformed_config_files_are_configuration_errors_without_the_key() {
    // Each with what only the file's own problem would say, so a config never read cannot pass.
    let cases: [(&str, &str, &str); 5] = [
        (
            "broken.toml",
            "[profiles.p\napi_key = \"sk-test-SECRET\"\n",
            "config.toml: unclosed table",
        ),
        (
            "unknown.toml",
            "[profiles.p]\napi_kee = \"sk-test-SECRET\"\n",
            "unknown field `api_kee`",
        ),
        (
            "unquoted.toml",
            "[profiles.p]\napi_key = sk-test-SECRET\n",
            "config.toml: string values must be quoted",
        ),
        (
            "badurl.toml",
            "[profiles.p]\napi_url = \"ftp://x\"\napi_key = \"sk-test-SECRET\"\n",
            "\"ftp://x\" (from profile p) must start with http:// or https://",
        ),
        (
            "nokey.toml",
            "default_profile = \"missing\"\n",
            "profile \"p\" (from flag --profile) is not in",
        ),
    ];
    let mut problems = Vec::new();
    for (name, text, says) in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("home/.config/barrack/config.toml");
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::write(&config, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let ran = run_in(dir.path(), &["--profile", "p", "call", "balance"], &[]);
        if let Some(p) = judge(name, &ran, 78, says) {
            problems.push(p);
        }
        if ran.stderr.contains("SECRET") || ran.stdout.contains("SECRET") {
            problems.push(format!("{name}: the key is printed: {}", ran.stderr));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---- garbage from the server ----

fn json(status: &str, body: &str) -> Answer {
    http(status, &["Content-Type: application/json"], body.as_bytes())
}

/// Run barrack against a garbage server answering `answer`, with a key and one try.
fn against(answer: Answer, args: &[&str]) -> Ran {
    let server = Garbage::start(answer);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = server.url();
    let mut all = vec!["--api-url", url.as_str()];
    all.extend_from_slice(args);
    run_in(dir.path(), &all, &[("BARRACK_API_KEY", KEY)])
}

#[test]
fn garbage_answers_from_the_server_are_clear_errors() {
    let deep = format!("{{\"success\": true, \"data\": {}}}", "[".repeat(10_000));
    let call = |op: &'static str| -> Vec<&'static str> { vec!["call", "--retries", "1", op] };
    let cases: Vec<(&str, Answer, Vec<&str>, i32, &str)> = vec![
        (
            "truncated JSON",
            json("200 OK", r#"{"success": true, "data": {"balan"#),
            call("balance"),
            1,
            "the answer could not be read",
        ),
        (
            "HTML",
            http("200 OK", &["Content-Type: text/html"], b"<html><body>Welcome</body></html>"),
            call("balance"),
            1,
            "expected JSON",
        ),
        (
            "invalid UTF-8",
            http("200 OK", &[], &[0xff, 0xfe, 0xfd]),
            call("balance"),
            1,
            "expected JSON",
        ),
        ("nesting past serde's limit", json("200 OK", &deep), call("balance"), 1, "recursion limit"),
        (
            "a number no f64 holds",
            json("200 OK", r#"{"success": true, "data": {"balance": 1e400}}"#),
            call("balance"),
            1,
            "number out of range",
        ),
        (
            "success false with 200",
            json("200 OK", r#"{"success": false, "message": "nope", "code": "WEIRD"}"#),
            call("balance"),
            1,
            "WEIRD",
        ),
        (
            "an error envelope with odd types",
            json("400 Bad Request", r#"{"success": false, "message": 5, "code": [1], "errors": {"a": 1, "b": [{"x": 1}]}, "request_id": 7}"#),
            call("balance"),
            1,
            "400",
        ),
        (
            "500 with an HTML page",
            http("500 Internal Server Error", &[], b"<html>oops</html>"),
            call("balance"),
            1,
            "non-JSON answer: <html>oops</html>",
        ),
        (
            "401 with HTML",
            http("401 Unauthorized", &[], b"<h1>who are you</h1>"),
            call("balance"),
            77,
            "Check the API key",
        ),
        ("a status no one knows", http("299 Odd", &[], b"{}"), call("balance"), 0, ""),
        ("a 999 status", http("999 Weird", &[], b""), call("balance"), 1, "999"),
        (
            "a body shorter than its Content-Length",
            Answer::Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"succ".to_vec()),
            call("balance"),
            69,
            "could not be reached",
        ),
        ("not HTTP at all", Answer::Raw(b"HELLO THERE\r\n\r\n".to_vec()), call("balance"), 69, "could not be reached"),
        ("closed without a word", Answer::Close, call("balance"), 69, "could not be reached"),
        (
            "silence past --request-timeout",
            Answer::Hang,
            vec!["call", "--retries", "1", "--request-timeout", "300ms", "balance"],
            69,
            "timed out",
        ),
        ("a 70 MB answer", Answer::Huge(70 << 20), call("balance"), 1, "more than the 67108864"),
        (
            "a list that is an object",
            json("200 OK", r#"{"success": true, "data": {"not": "a list"}}"#),
            vec!["eval", "--retries", "1", "let n = 0; for vm in instances() { n += 1; } n"],
            1,
            "<eval>:1:",
        ),
        (
            "an instance that is an array",
            json("200 OK", r#"{"success": true, "data": [1, 2]}"#),
            vec!["eval", "--retries", "1", "instance(\"BRK-000001VM\").status"],
            1,
            "<eval>:1:",
        ),
        (
            "a status that is a number, and a clock from the far future",
            http(
                "200 OK",
                &["Content-Type: application/json", "X-Sim-Speed: 1e300", "X-Sim-Time: 1e300"],
                br#"{"success": true, "data": {"id": "BRK-000001VM", "status": 5, "created_at": 7}}"#,
            ),
            vec!["eval", "--retries", "1", "let vm = instance(\"BRK-000001VM\"); print(age(now())); wait_active(vm, #{timeout: \"1h\"})"],
            1,
            "will not become ACTIVE",
        ),
        (
            "a tiny clock speed",
            http(
                "200 OK",
                &["Content-Type: application/json", "X-Sim-Speed: 1e-300"],
                br#"{"success": true, "data": {"id": "BRK-000001VM", "status": "CREATING"}}"#,
            ),
            vec!["eval", "--retries", "1", "wait_active(\"BRK-000001VM\", #{timeout: \"300ms\", interval: \"100ms\"})"],
            1,
            "will not become ACTIVE",
        ),
    ];
    let problems: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .into_iter()
            .map(|(label, answer, args, exit, says)| {
                scope.spawn(move || {
                    let ran = against(answer, &args);
                    judge(label, &ran, exit, says)
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| {
                h.join()
                    .unwrap_or_else(|_| Some("a case thread panicked".into()))
            })
            .collect()
    });
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn unknown_fields_and_empty_bodies_from_the_server_are_kept_or_accepted() {
    let ran = against(
        json(
            "200 OK",
            r#"{"success": true, "data": {"balance": 5, "currency": "USD", "shiny_new_field": {"x": [1, 2]}}, "also_new": 1}"#,
        ),
        &["call", "--retries", "1", "balance"],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout.contains("shiny_new_field"), "{}", ran.stdout);

    let ran = against(
        json(
            "200 OK",
            r#"{"success": true, "data": {"id": "BRK-000001VM", "name": "n", "status": "ACTIVE", "gpu_next": "B900"}}"#,
        ),
        &[
            "eval",
            "--retries",
            "1",
            "instance(\"BRK-000001VM\").raw.gpu_next",
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout.trim(), "B900");

    for answer in [
        http("200 OK", &[], b""),
        http("201 Created", &[], b""),
        http("204 No Content", &[], b""),
    ] {
        let ran = against(answer, &["call", "--retries", "1", "balance"]);
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        assert!(!ran.stderr.contains("panicked"));
    }
}

/// A pagination that never ends: `has_next` always true, the same page every time. The client
/// stops at the first page that repeats the one before it, and keeps one copy.
#[test]
fn a_list_whose_pages_never_end_stops() {
    let started = Instant::now();
    let ran = against(
        json(
            "200 OK",
            r#"{"success": true, "data": [{"id": "BRK-000001VM"}], "pagination": {"has_next": true}}"#,
        ),
        &[
            "call",
            "--retries",
            "1",
            "--request-timeout",
            "2s",
            "-o",
            "json",
            "instances",
        ],
    );
    assert!(
        !ran.stderr.contains("panicked") && ran.code != 101 && ran.code != 70,
        "{}",
        ran.stderr
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        ran.stdout.matches("BRK-000001VM").count(),
        1,
        "{}",
        ran.stdout
    );
    eprintln!(
        "endless pages: exit {} after {:.1} s",
        ran.code,
        started.elapsed().as_secs_f64()
    );
}

// ---- inputs that still reach a panic in files this issue could not touch ----

/// Inputs that panicked when issue 7 was worked on, each in code owned elsewhere (see the
/// report): `Duration::from_secs_f64` on a huge number in `cli::parse_duration` and in
/// `client::parse_retry_after`, and `Instant + Duration` overflowing in `commands/script.rs`
/// and inside reqwest for a huge `--request-timeout`.
fn known_panics() -> Vec<(&'static str, Option<Answer>, Vec<&'static str>)> {
    let limited = || json_with("429 Too Many Requests", &["Retry-After: 1e30"], "{}");
    vec![
        (
            "--timeout 1e30",
            None,
            vec!["eval", "--sim", "--timeout", "1e30", "1"],
        ),
        (
            "--timeout 1e19",
            None,
            vec!["eval", "--sim", "--timeout", "1e19", "1"],
        ),
        (
            "--timeout in years past the clock",
            None,
            vec!["eval", "--sim", "--timeout", "500000000000y", "1"],
        ),
        (
            "--request-timeout 1e19",
            None,
            vec!["call", "--sim", "--request-timeout", "1e19", "balance"],
        ),
        (
            "--request-timeout 1e30",
            None,
            vec!["call", "--sim", "--request-timeout", "1e30", "balance"],
        ),
        (
            "Retry-After: 1e30",
            Some(limited()),
            // The header is parsed on every answer; one try keeps the test from sleeping the
            // 20 s backoff cap the huge value is clamped to.
            vec!["call", "--retries", "1", "balance"],
        ),
    ]
}

fn json_with(status: &str, headers: &[&str], body: &str) -> Answer {
    let mut all = vec!["Content-Type: application/json"];
    all.extend_from_slice(headers);
    http(status, &all, body.as_bytes())
}

fn run_case(answer: Option<Answer>, args: &[&str]) -> Ran {
    match answer {
        Some(answer) => against(answer, args),
        None => {
            let dir = tempfile::tempdir().expect("a temporary directory");
            run_in(dir.path(), args, &[("BARRACK_API_KEY", "sk-test-SECRET")])
        }
    }
}

/// The panic hook as the last resort: whatever still panics ends with one short line and exit
/// 70 — never Rust's "panicked" report, a backtrace by default, the key, or exit 101. Once the
/// code is fixed these inputs give a clear error instead, which passes too.
#[test]
fn a_panic_ends_as_exit_70_with_one_short_line_never_101() {
    let mut problems = Vec::new();
    for (label, answer, args) in known_panics() {
        let ran = run_case(answer, &args);
        let hooked = ran.code == 70
            && ran.stderr.starts_with("barrack: internal error: ")
            && ran.stderr.contains("please report it")
            && ran.stderr.lines().count() == 1;
        // A huge but representable duration is simply no practical limit: the run succeeds.
        let clear = ![70, 101].contains(&ran.code) && ran.stderr.starts_with("barrack: error: ")
            || ran.code == 2
            || ran.code == 0;
        if !(hooked || clear) || ran.stderr.contains("panicked") || ran.stderr.contains("SECRET") {
            problems.push(format!("{label}: exit {}: {}", ran.code, ran.stderr));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The same inputs must give a clear error, not an internal one.
#[test]
fn huge_durations_and_retry_after_are_clear_errors() {
    let mut problems = Vec::new();
    for (label, answer, args) in known_panics() {
        let ran = run_case(answer, &args);
        let usage = ran.code == 2 && ran.stderr.contains("too long for a duration");
        if (ran.code == 0 || usage) && !ran.stderr.contains("panicked") {
            continue;
        }
        if let Some(p) = judge(label, &ran, ran.code.clamp(1, 75), "barrack: error") {
            problems.push(p);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
