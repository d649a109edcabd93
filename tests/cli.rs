//! The command line as a user types it: `barrack ops`, `barrack call`, `barrack sim` as a server,
//! catalog overrides, `-o json` (one valid document from every command that prints data), colour
//! only on a terminal, profiles and `config show`, `barrack check`, help for every function, and
//! shell completion (asked of bash itself), completions for every shell, the man page, `defs`.

use crate::support::*;
use crate::test::{help_says, Test};
use barrack::api::OPS;
use barrack::sim::{SimOptions, Simulator};
use std::time::{Duration, Instant};

#[test]
fn ops_json_lists_every_operation_with_its_route() {
    let list = Test::new().args(["ops", "--json"]).success().json();
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), 69);
    assert_eq!(list.len(), OPS.len());
    for (entry, op) in list.iter().zip(OPS) {
        assert_eq!(entry["name"], op.name);
        assert_eq!(entry["method"], op.method.as_str(), "{}", op.name);
        assert_eq!(entry["path"], op.path, "{}", op.name);
    }
}

#[test]
fn ops_name_shows_one_operation_in_detail() {
    Test::new()
        .args(["ops", "stop"])
        .stdout_has("POST /instances/{id}/stop/")
        .stdout_has("stop_instance")
        .success();
    Test::new()
        .args(["ops", "stpo"])
        .stderr_has("did you mean stop")
        .status(2);
}

#[test]
fn call_balance_prints_the_simulators_balance_as_json() {
    let balance = Test::new()
        .args(["call", "balance", "--sim", "-o", "json"])
        .success()
        .json();
    assert!(balance["balance"].as_f64().unwrap() > 0.0, "{balance}");
    assert_eq!(balance["currency"], "USD");
}

#[test]
fn call_takes_key_value_and_json_fields() {
    // Every --sim run starts the same seeded world, so its SSH key id is stable.
    let keys = Test::new()
        .args(["call", "ssh_keys", "--sim", "-o", "json"])
        .success()
        .json();
    let key = keys[0]["id"].as_str().unwrap().to_string();
    let ids = format!("ssh_key_ids:=[\"{key}\"]");
    let vm = Test::new()
        .args([
            "call",
            "deploy",
            "--sim",
            "-o",
            "json",
            "gpu_model=H100-SXM5-80GB",
            "gpu_count:=2",
            "region=FINLAND-1",
            "os_image_id=ubuntu-22.04-cuda-12.4",
            &ids,
            "name=from-cli",
        ])
        .success()
        .json();
    assert_eq!(vm["name"], "from-cli");
    assert_eq!(vm["gpu_count"], 2);
    assert_eq!(vm["status"], "CREATING");
    // A validation error exits 1 and names the field and the printed message.
    Test::new()
        .args([
            "call",
            "create_script",
            "--sim",
            "name=bad/name",
            "script=echo",
        ])
        .stderr_has("VALIDATION_ERROR")
        .stderr_has("name: Name must contain only alphanumeric characters")
        .status(1);
}

#[test]
fn an_unknown_operation_is_a_usage_error_with_a_suggestion() {
    Test::new()
        .args(["call", "nope", "--sim"])
        .stderr_has("no operation named \"nope\"")
        // It points at the list.
        .stderr_has("barrack ops")
        .status(2);
    Test::new()
        .args(["call", "balanse", "--sim"])
        .stderr_has("did you mean balance")
        .status(2);
}

#[test]
fn an_api_error_exits_1_with_the_servers_code() {
    Test::new()
        .args(["call", "instance", "id=BRK-000000VM", "--sim"])
        .stderr_has("NOT_FOUND")
        .stderr_has("BRK-000000VM")
        .stderr_has("request_id")
        .stdout("")
        .status(1);
}

#[test]
fn call_without_a_key_or_sim_is_a_configuration_error_saying_how_to_fix_it() {
    Test::new()
        .args(["call", "balance"])
        .stderr_has("no API key")
        .stderr_has("BARRACK_API_KEY")
        .status(78);
}

#[test]
fn a_catalog_override_with_an_unknown_operation_is_a_configuration_error() {
    for args in [
        vec!["call", "balance", "--sim", "--catalog", "catalog.json"],
        vec!["ops", "--catalog", "catalog.json"],
    ] {
        // It names the entry.
        Test::new()
            .file(
                "catalog.json",
                r#"[{"name": "balance"}, {"name": "no_such_op", "path": "/x/"}]"#,
            )
            .args(args)
            .stderr_has("\"no_such_op\"")
            .status(78);
    }
    Test::new()
        .file(
            "catalog.json",
            r#"[{"name": "instance", "path": "/instances/{id/"}]"#,
        )
        .args(["ops", "--catalog", "catalog.json"])
        .stderr_has("\"instance\"")
        .status(78);

    // A valid override is what the client uses: the simulator does not know the new path.
    let valid = r#"[{"name": "balance", "path": "/v2/balance/"}]"#;
    let listed = Test::new()
        .file("catalog.json", valid)
        .args(["ops", "--json", "--catalog", "catalog.json", "balance"])
        .success()
        .json();
    assert_eq!(listed[0]["path"], "/v2/balance/");
    Test::new()
        .file("catalog.json", valid)
        .args(["call", "balance", "--sim", "--catalog", "catalog.json"])
        .stderr_has("/v2/balance/")
        .status(1);
}

#[test]
fn barrack_sim_serves_the_api_over_http() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");
    let mut sim = Test::new()
        .args(["sim", "--listen", &listen, "--speed", "1000", "--seed", "7"])
        .stderr_has(&format!("serving the Barrack API on {url}"))
        .spawn();

    let started = Instant::now();
    let balance = loop {
        match raw_to(&url, "GET", "/balance/", None, &[]) {
            Ok(answer) => break answer,
            Err(_) if started.elapsed() < Duration::from_secs(15) => {
                if let Some(status) = sim.exited() {
                    panic!("barrack sim exited early with {status}");
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(e) => panic!("barrack sim never answered on {url}: {e}"),
        }
    };
    assert_eq!(balance.status, 200);
    assert_eq!(balance.json()["data"]["balance"], 10_000.0);
    assert_eq!(balance.header("x-sim-speed"), Some("1000"));
    let unauthorized = reqwest::blocking::get(format!("{url}/balance/")).unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);

    // The CLI's own client against it, with the key from the environment.
    let regions = Test::new()
        .args(["call", "regions", "--api-url", &url, "-o", "json"])
        .env("BARRACK_API_KEY", "sk-any")
        .success()
        .json();
    assert!(regions
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == "CANADA-1" && r["tier"] == "legacy"));

    sim.kill();
}

// ---- completions, the man page, editor definitions ----

#[test]
fn completions_come_for_every_shell_and_an_unknown_shell_is_a_usage_error() {
    for (shell, marker) in [
        ("bash", "complete -F _barrack"),
        ("zsh", "#compdef barrack"),
        ("fish", "complete -c barrack"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[barrack]"),
    ] {
        let out = Test::new()
            .args(["completions", shell])
            .stdout_has(marker)
            .success();
        for sub in ["run", "plan", "repl", "stdlib"] {
            assert!(out.stdout.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    Test::new().args(["completions", "tcsh"]).status(2);
}

#[test]
fn the_man_page_is_roff() {
    let out = Test::new().arg("man").stdout_has(".TH barrack 1").success();
    assert!(
        out.stdout.contains("plan") && out.stdout.contains("\\-\\-sim"),
        "{}",
        &out.stdout[..400.min(out.stdout.len())]
    );
}

#[test]
fn defs_describe_every_function_handle_and_stdlib_module() {
    let out = Test::new()
        .args(["defs", "defs"])
        .stderr_has("definition files")
        .success();
    let dir = out.path("defs");
    let api = std::fs::read_to_string(dir.join("__static__.d.rhai")).unwrap();
    assert!(api.contains("fn deploy(spec: map) -> Vm;"), "deploy");
    assert!(
        api.contains("/// Create a new instance (DeploymentRequest)."),
        "doc comments"
    );
    assert!(api.contains("fn wait_status(target: Vm, status: String) -> Vm;"));
    for op in barrack::api::OPS {
        for name in op.rhai_names() {
            assert!(api.contains(&format!("fn {name}(")), "defs lack {name}");
        }
    }
    for module in [
        "rotation",
        "hibernation",
        "budget",
        "reaper",
        "deploy",
        "cleanup",
        "restore",
    ] {
        assert!(
            dir.join(format!("{module}.d.rhai")).exists(),
            "no definitions for stdlib {module}"
        );
    }
    let rotation = std::fs::read_to_string(dir.join("rotation.d.rhai")).unwrap();
    assert!(rotation.contains("fn rotate(opts: ?) -> ?;"), "{rotation}");
    assert!(
        rotation.contains("/// Rotate snapshots."),
        "stdlib doc comments: {rotation}"
    );
}

// ---- -o json: valid JSON from every command that prints data ----

#[test]
fn json_output_is_valid_for_every_command_that_prints_data() {
    for args in [
        vec!["ops", "-o", "json"],
        vec!["ops", "--json", "deploy"],
        vec!["call", "balance", "--sim", "-o", "json"],
        vec!["call", "instances", "--sim", "-o", "json"],
        vec!["eval", "--sim", "-o", "json", "#{a: [1, 2], b: \"x\"}"],
        vec!["stdlib", "list", "-o", "json"],
        vec!["config", "show", "-o", "json"],
    ] {
        let out = Test::new().args(args.clone()).success();
        let _: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}\n{}", out.stdout));
    }
    let out = Test::new()
        .file("p.rhai", r#"deploy(#{gpu: "L40", region: "CANADA-1"});"#)
        .args(["plan", "--sim", "-o", "json", "p.rhai"])
        .status(2);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(plan["count"], 1);
}

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

// ---- colour only on a terminal ----

#[test]
fn errors_go_to_stderr_in_colour_only_on_a_terminal_without_no_color() {
    let out = Test::eval("nope()").status(1);
    assert!(
        out.stdout.is_empty() && !out.stderr.contains('\x1b'),
        "no colour without a terminal"
    );
    let on_tty = |no_color: bool| {
        let test = Test::new()
            .args(["eval", "--sim", "nope()"])
            .env_remove("NO_COLOR")
            .on_terminal();
        let test = if no_color {
            test.env("NO_COLOR", "1")
        } else {
            test
        };
        test.output().stdout
    };
    let coloured = on_tty(false);
    assert!(
        coloured.contains("\x1b[1;31mbarrack: error:"),
        "{coloured:?}"
    );
    let plain = on_tty(true);
    assert!(
        plain.contains("barrack: error:") && !plain.contains("\x1b[1;31m"),
        "{plain:?}"
    );
}

// ---- profiles and `config show` ----

#[test]
fn profiles_select_the_api_and_config_show_says_where_each_setting_came_from() {
    let mut options = SimOptions::fast();
    options.api_key = Some("sk-staging".into());
    let staging = Simulator::start(options).unwrap();
    let config = format!(
        "default_profile = \"prod\"\n[profiles.prod]\napi_url = \"http://127.0.0.1:9\"\napi_key = \"sk-prod\"\n\n[profiles.staging]\napi_url = \"{}\"\napi_key_command = \"echo sk-staging\"\n",
        staging.base_url()
    );
    let out = Test::new()
        .config(&config)
        .args(["config", "show"])
        .stdout_has("profile     prod  (default_profile in ")
        .stdout_has("api_url     http://127.0.0.1:9  (profile prod)")
        .stdout_has("api_key     (redacted)  (profile prod)")
        .success();
    assert!(!out.stdout.contains("sk-prod"));
    Test::new()
        .config(&config)
        .args(["call", "balance", "--profile", "staging", "-o", "json"])
        .stdout_has("\"currency\"")
        .success();
    Test::new()
        .config(&config)
        .args(["config", "show"])
        .env("BARRACK_PROFILE", "staging")
        .env("BARRACK_API_URL", "http://127.0.0.1:1")
        .stdout_has("api_url     http://127.0.0.1:1  (environment BARRACK_API_URL)")
        .stdout_has("profile     staging  (environment BARRACK_PROFILE)")
        .success();
    Test::new()
        .config_with_mode(&config, 0o644)
        .args(["config", "show"])
        .stderr_has("chmod 600")
        .stderr_lacks("sk-prod")
        .status(78);
    Test::new()
        .config(&config)
        .args(["config", "show", "--profile", "nope"])
        .stderr_has("known profiles: prod, staging")
        .status(78);
}

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

// ---- `barrack check` ----

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

// ---- help for every function, one line per call shape ----

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

// ---- shell completion offers operations, recipes and profiles ----

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
