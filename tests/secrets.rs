//! The grep test: with `-v`, the API key `sk-test-SECRET` appears nowhere — not in
//! stdout, stderr, the audit log (`--audit-log`) or the REPL history — on the happy path and on
//! the error paths (401, unreachable, faults and retries, a script that asks for the key).

use crate::test::Test;
use barrack::sim::{Faults, SimOptions, Simulator};
use std::path::{Path, PathBuf};

const SECRET: &str = "sk-test-SECRET";

/// Everything a run left behind that a person or a log collector could read.
struct Traces {
    label: String,
    code: i32,
    texts: Vec<(String, String)>,
}

impl Traces {
    /// Assert the key (or its distinctive part) is in none of the texts.
    #[track_caller]
    fn assert_clean(&self) {
        for (what, text) in &self.texts {
            assert!(
                !text.contains(SECRET) && !text.contains("SECRET"),
                "{}: the key appears in {what}:\n{text}",
                self.label
            );
        }
    }

    #[track_caller]
    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            code,
            "{}: exit code\n{}",
            self.label,
            self.texts
                .iter()
                .map(|(w, t)| format!("--- {w} ---\n{t}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        self
    }

    fn text(&self, what: &str) -> &str {
        self.texts
            .iter()
            .find(|(w, _)| w == what)
            .map_or("", |(_, t)| t.as_str())
    }
}

/// Run barrack in `home` with the key in the environment and `stdin` piped in; collect stdout,
/// stderr, and every file under `home` (audit logs, history, state), whatever their names.
fn run(label: &str, home: &Path, args: &[&str], stdin: &str) -> Traces {
    let out = Test::shared(home)
        .args(args.iter().copied())
        .env("BARRACK_API_KEY", SECRET)
        .env_remove("RUST_BACKTRACE")
        .stdin(stdin)
        .output();
    let mut texts = vec![
        ("stdout".to_string(), out.stdout),
        ("stderr".to_string(), out.stderr),
    ];
    for file in files_under(home) {
        let name = file
            .strip_prefix(home)
            .unwrap_or(&file)
            .display()
            .to_string();
        // Scripts and config files are the test's own input.
        if name.ends_with(".rhai") || name.ends_with("config.toml") {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap_or_default();
        texts.push((name, String::from_utf8_lossy(&bytes).into_owned()));
    }
    Traces {
        label: label.to_string(),
        code: out.status,
        texts,
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// A script that does real work, asks for the key every way it can, and prints what it got.
const NOSY: &str = r#"
print(`env: ${env("BARRACK_API_KEY")} ${env("barrack_api_key")} ${env("BARRACK_API_KEY ")}`);
print(params);
print(ARGS);
let vm = deploy(#{gpu: "L40", region: "CANADA-1", name: "nosy-1"});
try { vm.stop(); } catch (e) { print(e); }
wait_active(vm);
print(vm);
print(vm.raw);
print(to_json(vm));
log("a log line");
debug("a debug line");
try { instance("BRK-999999VM"); } catch (e) { print(e.summary); }
let snap = snapshot(vm);
wait_status(snap, "AVAILABLE");
delete(vm);
wait_deleted(vm);
delete(snap);
"#;

#[test]
fn a_verbose_run_with_an_audit_log_never_shows_the_key() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("nosy.rhai"), NOSY).unwrap();
    let traces = run(
        "run -v",
        home.path(),
        &[
            "-v",
            "-v",
            "run",
            "--sim",
            "--fault-rate",
            "0.2",
            "--drop-rate",
            "0.1",
            "--retries",
            "20",
            "--audit-log",
            "audit.jsonl",
            "--set",
            "k=v",
            "nosy.rhai",
            "--",
            "arg",
        ],
        "",
    );
    traces.assert_code(0).assert_clean();
    let first = traces.text("stdout").lines().next().unwrap_or_default();
    assert_eq!(
        first.trim(),
        "env:",
        "env() gives () for the key, however asked"
    );
    assert!(
        traces.text("stderr").contains("→"),
        "-v logged the requests"
    );
    assert!(
        traces.text("audit.jsonl").contains("\"op\":\"deploy\""),
        "the audit log was written: {}",
        traces.text("audit.jsonl")
    );
}

#[test]
fn a_script_error_a_thrown_key_and_a_failed_plan_never_show_it() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("throw.rhai"),
        r#"let k = env("BARRACK_API_KEY"); throw `the key is ${k}`;"#,
    )
    .unwrap();
    std::fs::write(
        home.path().join("plan.rhai"),
        r#"deploy(#{gpu: "L40", region: "CANADA-1", name: "p-1"}); instance("BRK-999999VM");"#,
    )
    .unwrap();
    for (label, args, code) in [
        ("throw", vec!["-v", "run", "--sim", "throw.rhai"], 1),
        ("plan", vec!["-v", "plan", "--sim", "plan.rhai"], 1),
        (
            "eval",
            vec!["-v", "eval", "--sim", "instance(\"BRK-1VM\")"],
            1,
        ),
        ("config show", vec!["-v", "config", "show"], 0),
        (
            "config show json",
            vec!["-v", "-o", "json", "config", "show"],
            0,
        ),
    ] {
        run(label, home.path(), &args, "")
            .assert_code(code)
            .assert_clean();
    }
}

#[test]
fn refused_and_unreachable_calls_never_show_the_key() {
    // A simulator that wants another key: every call is refused 401.
    let sim = Simulator::start(SimOptions {
        api_key: Some("the-right-key".into()),
        ..SimOptions::fast()
    })
    .unwrap();
    let url = sim.base_url();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("deploy.rhai"),
        r#"deploy(#{gpu: "L40", region: "CANADA-1", name: "r-1"});"#,
    )
    .unwrap();
    let refused = run(
        "401",
        home.path(),
        &["-v", "call", "--api-url", &url, "balance"],
        "",
    );
    refused.assert_code(77).assert_clean();
    assert!(refused.text("stderr").contains("401"));
    run(
        "401 in a script, audited",
        home.path(),
        &[
            "-v",
            "run",
            "--api-url",
            &url,
            "--audit-log",
            "audit-401.jsonl",
            "deploy.rhai",
        ],
        "",
    )
    .assert_code(77)
    .assert_clean();

    // Nothing listens on port 1: unreachable after retries.
    let down = run(
        "unreachable",
        home.path(),
        &[
            "-v",
            "call",
            "--retries",
            "2",
            "--api-url",
            "http://127.0.0.1:1",
            "balance",
        ],
        "",
    );
    down.assert_code(69).assert_clean();
    run(
        "unreachable in a script, audited",
        home.path(),
        &[
            "-v",
            "run",
            "--retries",
            "1",
            "--api-url",
            "http://127.0.0.1:1",
            "--audit-log",
            "audit-down.jsonl",
            "deploy.rhai",
        ],
        "",
    )
    .assert_code(69)
    .assert_clean();

    // Every request faulted: rate limited past the retries.
    let limited = Simulator::start(SimOptions {
        faults: Faults {
            fault_rate: 1.0,
            fault_status: vec![429, 503],
            ..Faults::default()
        },
        ..SimOptions::fast()
    })
    .unwrap();
    let traces = run(
        "faults",
        home.path(),
        &[
            "-v",
            "call",
            "--retries",
            "3",
            "--api-url",
            &limited.base_url(),
            "balance",
        ],
        "",
    );
    traces.assert_clean();
    assert!([1, 75].contains(&traces.code), "exit {}", traces.code);
}

#[test]
fn the_repl_history_explain_and_audit_log_never_hold_the_key() {
    let home = tempfile::tempdir().unwrap();
    let session = format!(
        ":explain on\n\
         let k = \"{SECRET}\";\n\
         print(k.len());\n\
         env(\"BARRACK_API_KEY\")\n\
         let vm = deploy(#{{gpu: \"L40\", region: \"CANADA-1\", name: \"repl-1\"}});\n\
         vm.stop()\n\
         wait_active(vm); vm.name\n\
         instance(\"BRK-999999VM\")\n\
         throw \"{SECRET}\";\n\
         :explain off\n\
         balance().currency\n"
    );
    let traces = run(
        "repl",
        home.path(),
        &["-v", "repl", "--sim", "--audit-log", "audit-repl.jsonl"],
        &session,
    );
    // Entries of the session fail on purpose (a wrong-state stop, a 404, a throw): exit 1.
    traces.assert_code(1);
    let history = traces.text("home/.local/state/barrack/history");
    assert!(
        history.contains("print(k.len())"),
        "the history was written: {history:?}"
    );
    assert!(
        traces.text("stdout").contains("repl-1"),
        "{}",
        traces.text("stdout")
    );
    // The session typed the key itself: it reached the script (its length printed), but the
    // history, the explain lines and the audit log must not keep it. stdout and stderr echo what
    // the user's own code printed or threw, so check those for the request log only.
    for (what, text) in &traces.texts {
        if what == "stdout" || what == "stderr" {
            continue;
        }
        assert!(!text.contains("SECRET"), "the key is in {what}:\n{text}");
    }
    for line in traces.text("stderr").lines().filter(|l| l.contains("→")) {
        assert!(!line.contains("SECRET"), "{line}");
    }
}

#[test]
fn a_key_in_a_profile_never_shows_nor_in_its_permission_error() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("home/.config/barrack/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        format!("default_profile = \"p\"\n[profiles.p]\napi_key = \"{SECRET}\"\n"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = run(
            "0644 profile",
            home.path(),
            &["-v", "--api-url", "http://127.0.0.1:1", "call", "balance"],
            "",
        );
        open.assert_code(78).assert_clean();
        assert!(
            open.text("stderr").contains("chmod"),
            "{}",
            open.text("stderr")
        );
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // Without BARRACK_API_KEY the profile's key is used; the server refuses it.
    let sim = Simulator::start(SimOptions {
        api_key: Some("the-right-key".into()),
        ..SimOptions::fast()
    })
    .unwrap();
    Test::shared(home.path())
        .args(["-v", "--api-url", &sim.base_url(), "call", "balance"])
        .env_remove("RUST_BACKTRACE")
        .stdout_lacks("SECRET")
        .stderr_lacks("SECRET")
        .status(77);
    let shown = run("config show", home.path(), &["-v", "config", "show"], "");
    shown.assert_code(0).assert_clean();
}
