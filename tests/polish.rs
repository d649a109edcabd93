//! What a new user trips over (issue 17), each through the CLI as the user types it: progress
//! lines, exit codes, one JSON document on stdout, figures that read like money, errors in
//! plain words, `--set` typing, flags' missing directories, help and completion.

use crate::test::Test;
use serde_json::Value;

/// Whether `barrack ARGS` prints `text` (help is wrapped to the terminal: compare words).
fn help_says(args: &[&str], text: &str) -> bool {
    let out = Test::new().args(args.iter().copied()).success();
    let words = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    words.contains(text) || panic!("{text:?} not in:\n{}", out.stdout)
}

// ---- 1. fleet waits: one line per object, in server time, no spinner debris off a terminal ----

#[test]
fn a_fleet_wait_off_a_terminal_prints_one_line_per_object_in_server_time() {
    let out = Test::run(
        r#"
        let vms = deploy([#{gpu: "L40", region: "CANADA-1", name: "w-1"},
                          #{gpu: "L40", region: "CANADA-1", name: "w-2"},
                          #{gpu: "L40", region: "CANADA-1", name: "w-3"}]);
        wait_active(vms);
        "#,
    )
    .success();
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("is ACTIVE after"))
        .collect();
    assert_eq!(lines.len(), 3, "{}", out.stderr);
    for name in ["w-1", "w-2", "w-3"] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("({name}) is ACTIVE"))),
            "{}",
            out.stderr
        );
    }
    // Deploys take 2–5 minutes of the simulator's time (a fraction of a second of ours): the
    // lines report the server's minutes, not the wall clock's.
    for line in &lines {
        let took = line.rsplit("after ").next().unwrap();
        let took = humantime::parse_duration(took).unwrap();
        assert!(took.as_secs() >= 120, "{line}");
    }
    for debris in ['\r', '\x1b', '⠁', '⠋'] {
        assert!(!out.stderr.contains(debris), "{:?}", out.stderr);
    }
}

#[test]
fn a_fleet_action_on_one_object_says_object() {
    Test::run(
        r#"
        let vm = deploy(#{gpu: "L40", region: "CANADA-1"});
        wait_active(vm);
        hibernate([vm]);
        "#,
    )
    .stderr_has("hibernate on 1 object: 1 done, 0 failed")
    .stderr_lacks("1 objects")
    .success();
}

// ---- 2. a piped REPL exits 1 when a line failed ----

#[test]
fn a_piped_repl_exits_1_when_any_entry_failed_and_0_otherwise() {
    Test::new()
        .args(["repl", "--sim"])
        .stdin("let a = 1;\nnope(a);\nprint(a + 1);\n")
        .stdout_has("2")
        .stderr_has("unknown function nope")
        .stderr_has("1 entry of the piped input failed")
        .status(1);
    Test::new()
        .args(["repl", "--sim"])
        .stdin("let a = 1;\nprint(a + 1);\n")
        .stdout_has("2")
        .success();
}

// ---- 3. -o json: exactly one JSON document on stdout ----

#[test]
fn plan_json_is_one_document_and_the_scripts_prints_go_to_stderr() {
    let out = Test::new()
        .file(
            "job.rhai",
            r#"
            print("about to deploy");
            let vm = deploy(#{gpu: "L40", region: "CANADA-1", name: "job-1"});
            "#,
        )
        .args(["plan", "--sim", "-o", "json", "job.rhai"])
        .stderr_has("about to deploy")
        .stdout_lacks("about to deploy")
        .status(2);
    assert_eq!(out.json()["count"], 1);
    // A recipe prints its result: with -o json that goes to stderr too.
    let out = Test::new()
        .args([
            "plan",
            "--sim",
            "-o",
            "json",
            "stdlib:rotation",
            "--set",
            "name=db-*",
        ])
        .args(["--set", "keep_last=7"])
        .output();
    assert!(out.status == 0 || out.status == 2, "{}", out.stderr);
    let plan = out.json();
    assert!(plan["changes"].is_array(), "{plan}");
}

#[test]
fn run_and_eval_json_print_one_document_the_scripts_value() {
    let out = Test::eval(r#"print("chatter"); #{a: 1, b: [true]}"#)
        .args(["-o", "json"])
        .stderr_has("chatter")
        .success();
    assert_eq!(out.json(), serde_json::json!({"a": 1, "b": [true]}));
    let out = Test::run(r#"print("chatter"); 40 + 2"#)
        .args(["-o", "json"])
        .stderr_has("chatter")
        .success();
    assert_eq!(out.json(), serde_json::json!(42));
    let out = Test::new()
        .args(["run", "--sim", "-o", "json", "stdlib:cleanup"])
        .success();
    assert!(out.json().is_object(), "{}", out.stdout);
    assert!(help_says(
        &["run", "--help"],
        "stdout carries exactly one JSON document"
    ));
}

// ---- 4. figures read like money ----

#[test]
fn plan_figures_are_cents_and_rates_without_float_noise() {
    let out = Test::new()
        .args(["plan", "--sim", "-o", "json"])
        .file(
            "snap.rhai",
            r#"
            let vm = deploy(#{gpu: "L40", region: "CANADA-1", name: "snap-1"});
            wait_active(vm);
            snapshot(vm, "s-1");
            vm.hibernate();
            "#,
        )
        .arg("snap.rhai")
        .status(2);
    let plan = out.json();
    let text = out.stdout.clone();
    assert!(!text.contains("99999"), "{text}");
    assert!(!text.contains("00000"), "{text}");
    let snapshot = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["op"] == "snapshot")
        .unwrap();
    assert_eq!(snapshot["hourly_delta"], 0.007);
    Test::new()
        .file(
            "stop.rhai",
            r#"
            let vm = deploy(#{gpu: "L40", region: "CANADA-1", name: "snap-1"});
            wait_active(vm);
            snapshot(vm, "s-1");
            "#,
        )
        .args(["plan", "--sim", "stop.rhai"])
        .stdout_has("+0.0070 USD/h")
        .stdout_has("Plan: 2 changes")
        .stdout_lacks("-0.0")
        .status(2);
}

#[test]
fn a_plan_with_no_cost_change_says_zero_not_minus_zero() {
    let out = Test::new()
        .file("none.rhai", "let x = 1;")
        .args(["plan", "--sim", "-o", "json", "none.rhai"])
        .success();
    assert_eq!(out.stdout.matches("-0.0").count(), 0, "{}", out.stdout);
    assert_eq!(out.json()["hourly_cost_change"], 0.0);
}

#[test]
fn the_budget_recipe_logs_runway_and_burn_rounded_for_people() {
    let (sim, client) = crate::support::sim();
    crate::support::active_instance(
        &sim,
        &client,
        crate::support::REGION,
        serde_json::json!({"gpu_count": 8, "name": "big"}),
    );
    sim.with_world(|w| w.balance = 1000.0 / 3.0);
    let out = Test::new()
        .args(["run", "--api-url", &sim.base_url(), "stdlib:budget"])
        .args(["--set", "hibernate_hours=1"])
        .env("BARRACK_API_KEY", crate::support::KEY)
        .success();
    // 333.33 USD at 19.934 USD/h (8×2.49 + the OS volume's 0.014) lasts 16.7 h.
    assert!(
        out.stderr
            .contains("budget: WARNING 333.33 USD lasts 16.7 h at 19.934 USD/h"),
        "{}",
        out.stderr
    );
    let result: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(result["runway_hours"], 16.7, "{result}");
    assert_eq!(result["burn_per_hour"], 19.934, "{result}");
}

// ---- 5. errors in plain words, naming --set ----

#[test]
fn a_string_from_set_in_a_range_names_both_types_and_the_flag() {
    Test::run("for i in 0..params.size { print(i); }")
        .set("size", "abc")
        .stderr_has("cannot use `..` between an integer and a string")
        .stderr_has("`--set size=abc`")
        .stderr_lacks("ImmutableString")
        .stderr_lacks("i64")
        .status(1);
}

#[test]
fn wrong_argument_types_are_said_as_people_say_them() {
    Test::eval("snapshot(42)")
        .stderr_has("got an integer")
        .stderr_lacks("i64")
        .status(1);
    Test::eval("[1] - 3")
        .stderr_has("cannot use `-` between an array and an integer")
        .status(1);
    Test::eval("let m = #{}; m[3]")
        .stderr_has("expected a string, got an integer")
        .stderr_lacks("i64")
        .status(1);
}

// ---- 6. --set typing: JSON arrays and maps drive recipes ----

#[test]
fn set_takes_json_arrays_of_maps_that_drive_the_hibernation_recipe() {
    let (sim, client) = crate::support::sim();
    let vm = crate::support::active_instance(
        &sim,
        &client,
        crate::support::LEGACY_REGION,
        serde_json::json!({"name": "dev-1"}),
    );
    // Saturday 23:00 UTC: outside every mon-fri 09:00–19:00 period, so dev-1 is hibernated.
    let out = Test::new()
        .args(["run", "--api-url", &sim.base_url(), "stdlib:hibernation"])
        .env("BARRACK_API_KEY", crate::support::KEY)
        .args(["--set", "name=dev-*"])
        .args([
            "--set",
            r#"periods=[{"begin":"09:00","end":"19:00","weekdays":"mon-fri"}]"#,
        ])
        .args(["--set", "timezone=UTC", "--set", "now=2026-12-05T23:00:00Z"])
        .success();
    let result: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(result["in_period"], false, "{result}");
    assert!(result["hibernated"].to_string().contains(&vm), "{result}");
    let status = crate::support::ok(&client, "instance", serde_json::json!({"id": vm}));
    assert_eq!(status["status"], "HIBERNATING", "{status}");
    assert!(help_says(
        &["run", "--help"],
        "JSON arrays and maps as Rhai arrays and maps"
    ));
}

// ---- 7. a flag's missing directory is a configuration error naming both ----

#[test]
fn audit_log_and_lock_in_a_missing_directory_exit_78_naming_flag_and_directory() {
    Test::run("1")
        .args(["--audit-log", "logs/missing/audit.jsonl"])
        .stderr_has("--audit-log logs/missing/audit.jsonl")
        .stderr_has("the directory logs/missing does not exist")
        .stderr_has("mkdir -p logs/missing")
        .status(78);
    Test::run("1")
        .args(["--lock", "run/missing/x.lock"])
        .stderr_has("--lock run/missing/x.lock")
        .stderr_has("mkdir -p run/missing")
        .status(78);
}

#[test]
fn the_shipped_crontab_says_to_create_the_log_directory() {
    let crontab =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/cron/crontab"))
            .unwrap();
    assert!(crontab.contains("mkdir -p /var/log/barrack"), "{crontab}");
}

// ---- 8. a missing script is 66 with the path ----

#[test]
fn a_missing_script_exits_66_with_its_path() {
    Test::new()
        .args(["run", "--sim", "nowhere/job.rhai"])
        .stderr_has("script nowhere/job.rhai does not exist")
        .status(66);
    Test::new()
        .args(["check", "gone.rhai"])
        .stderr_has("gone.rhai")
        .status(66);
    assert!(help_says(
        &["--help"],
        "66 a script or input file does not exist"
    ));
}

// ---- 9. an id that never existed ----

#[test]
fn waiting_for_an_id_that_never_existed_says_it_does_not_exist() {
    Test::eval(r#"wait_active("BRK-000000VM")"#)
        .stderr_has("BRK-000000VM will not become ACTIVE: it does not exist")
        .stderr_lacks("deleted")
        .status(1);
    Test::run(
        r#"
        let vm = deploy(#{gpu: "L40", region: "CANADA-1"});
        wait_active(vm);
        delete(vm);
        wait_deleted(vm);
        wait_active(vm);
        "#,
    )
    .stderr_has("it was deleted")
    .stderr_lacks("does not exist")
    .status(1);
}

// ---- 10. config show says where the profile came from ----

#[test]
fn config_show_names_default_profile_and_its_file() {
    let config = "default_profile = \"prod\"\n[profiles.prod]\napi_url = \"http://127.0.0.1:9\"\n";
    let out = Test::new()
        .config(config)
        .args(["config", "show"])
        .stdout_has("profile     prod  (default_profile in ")
        .stdout_lacks("built-in default)\napi_url")
        .success();
    assert!(
        out.stdout.contains("barrack/config.toml)"),
        "{}",
        out.stdout
    );
    let missing =
        "default_profile = \"staging\"\n[profiles.prod]\napi_url = \"http://127.0.0.1:9\"\n";
    Test::new()
        .config(missing)
        .args(["config", "show"])
        .stderr_has("profile \"staging\" (from default_profile in ")
        .stderr_has("known profiles: prod")
        .status(78);
}

// ---- 11. check says what it checked ----

#[test]
fn check_prints_one_line_per_file_and_a_summary() {
    Test::new()
        .file("a.rhai", "let a = 1;")
        .args(["check", "a.rhai"])
        .stdout("ok  a.rhai\n")
        .success();
    Test::new()
        .file("a.rhai", "let a = 1;")
        .file("b.rhai", "let b = ;")
        .args(["check", "a.rhai", "b.rhai"])
        .stdout_has("ok  a.rhai")
        .stdout_lacks("ok  b.rhai")
        .stdout_has("1 of 2 files compile")
        .stderr_has("b.rhai:1:")
        .status(65);
}

// ---- 12. help for every function, one line per call shape ----

#[test]
fn ops_and_repl_help_describe_waiters_helpers_and_recipes() {
    let out = Test::new()
        .args(["ops", "wait_active"])
        .stdout_has("  wait_active(x)\n  wait_active(x, options)\n")
        .stdout_has("timeout (\"20m\")")
        .stdout_has("interval (\"15s\")")
        .success();
    assert!(out.stdout.lines().count() <= 10, "{}", out.stdout);
    for (name, says) in [
        ("sleep", "sleep(duration)"),
        ("table", "table(rows, columns)"),
        ("now", "now()"),
        ("wait_status", "wait_status(x, status, options)"),
        ("rotation::rotate", "keep_last"),
        ("hibernation", "periods"),
    ] {
        Test::new().args(["ops", name]).stdout_has(says).success();
    }
    let out = Test::new()
        .args(["repl", "--sim"])
        .stdin(":help wait_deleted\n")
        .stdout_has("  wait_deleted(x, options)")
        .stdout_has("timeout (\"20m\")")
        .success();
    assert!(out.stdout.lines().count() < 15, "{}", out.stdout);
    Test::new()
        .args(["ops", "wait_actve"])
        .stderr_has("did you mean wait_active")
        .status(2);
}

// ---- 13. shell completion offers operations, recipes and profiles ----

const PROFILES: &str = "[profiles.prod]\napi_url = \"http://127.0.0.1:9\"\n[profiles.staging]\napi_url = \"http://127.0.0.1:8\"\n";

#[test]
fn bash_completion_offers_operations_recipes_and_profiles() {
    let script = Test::new()
        .config(PROFILES)
        .args(["completions", "bash"])
        .stdout_has("stdlib:rotation")
        .stdout_has("instance_billing")
        .stdout_has("barrack config profiles")
        .success();
    Test::new()
        .args(["config", "profiles"])
        .stdout("")
        .success();
    // zsh: profiles asked for; script arguments still complete file names.
    Test::new()
        .args(["completions", "zsh"])
        .stdout_has("barrack config profiles")
        .stdout_has("a bundled recipe:_default'")
        .stdout_lacks(":(stdlib\\:rotation")
        .success();
    // Ask bash itself, as a user pressing Tab would.
    let complete = |words: &str| -> String {
        let program = format!(
            "source barrack.bash; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}; \
             _barrack barrack \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        Test::shell(&program)
            .config(PROFILES)
            .file("barrack.bash", &script.stdout)
            .output()
            .stdout
    };
    let ops = complete("barrack call instance_b");
    assert_eq!(ops.trim(), "instance_billing", "{ops}");
    // (bash splits words at `:`, so a user types the start of `stdlib` and picks.)
    let recipes = complete("barrack run std");
    assert!(recipes.lines().any(|l| l == "stdlib:rotation"), "{recipes}");
    assert!(
        recipes.lines().all(|l| l.starts_with("stdlib:")),
        "{recipes}"
    );
    let profiles = complete("barrack status --profile st");
    assert_eq!(profiles.trim(), "staging", "{profiles}");
}

// ---- 14. the simulator's admin routes are documented; the README's links resolve ----

#[test]
fn sim_help_documents_the_admin_routes_and_their_bodies() {
    Test::new()
        .args(["sim", "--help"])
        .stdout_has("POST /_sim/advance   {\"seconds\": N}")
        .stdout_has("POST /_sim/faults")
        .stdout_has("POST /_sim/error")
        .stdout_has("GET  /_sim/state")
        .success();
}

#[test]
fn the_readme_links_only_files_that_are_in_the_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut missing = Vec::new();
    for part in readme.split("](").skip(1) {
        let target = part.split(')').next().unwrap_or("");
        let path = target.split('#').next().unwrap_or("");
        if path.is_empty() || path.contains("://") {
            continue;
        }
        if !root.join(path).exists() {
            missing.push(path.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "README links to missing files: {missing:?}"
    );
    assert!(
        readme.contains("/_sim/advance"),
        "the README documents the admin routes"
    );
}

#[test]
fn the_openapi_document_points_at_no_file_outside_the_repository() {
    let (sim, _client) = crate::support::sim();
    let answer = crate::support::raw(&sim, "GET", "/openapi.json", None, &[]).unwrap();
    assert_eq!(answer.status, 200);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for word in answer
        .text
        .split(|c: char| c.is_whitespace() || "\"()`,".contains(c))
    {
        let word = word.trim_end_matches('.');
        if word.ends_with(".md") || word.ends_with(".rs") || word.ends_with(".yaml") {
            assert!(
                root.join(word).exists(),
                "/openapi.json names {word}, not in the repository"
            );
        }
    }
}

// ---- 15. the README's plan excerpt is what `plan` prints ----

#[test]
fn the_readme_plan_excerpt_is_what_plan_prints() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme.find("\nPlan: ").expect("the README shows a plan") + 1;
    let excerpt = &readme[start..];
    let excerpt = &excerpt[..excerpt.find("```").unwrap()];
    let out = Test::new()
        .args(["plan", "--sim"])
        .arg(root.join("scripts/quickstart.rhai").to_str().unwrap())
        .status(2);
    let printed = &out.stdout[out.stdout.find("Plan: ").unwrap()..];
    assert_eq!(excerpt, printed);
}
