//! The conventions cloud-CLI users expect: completions, man page, editor definitions, JSON
//! output, colour rules, profiles, the OpenAPI document.

use crate::test::Test;
use barrack::sim::{SimOptions, Simulator};

#[test]
fn completions_for_every_shell() {
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
fn the_openapi_document_is_valid_openapi_3_with_every_operation() {
    let sim = Simulator::start(SimOptions::fast()).unwrap();
    let text = reqwest::blocking::get(format!("{}/openapi.json", sim.base_url()))
        .unwrap()
        .text()
        .unwrap();
    let doc: openapiv3::OpenAPI = serde_json::from_str(&text).expect("a valid OpenAPI 3 document");
    assert!(doc.openapi.starts_with("3."));
    let mut ids = Vec::new();
    for (path, item) in doc.paths.paths.iter() {
        let item = item.as_item().expect("inline path items");
        for (method, operation) in item.iter() {
            let id = operation
                .operation_id
                .clone()
                .expect("every operation has an id");
            let op = barrack::api::catalog::find(&id).expect("ids are catalog names");
            assert_eq!(
                (op.path, op.method.as_str().to_ascii_lowercase()),
                (path.as_str(), method.to_string())
            );
            ids.push(id);
        }
    }
    assert_eq!(ids.len(), barrack::api::OPS.len());
}
