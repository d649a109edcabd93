//! The documents shipped with barrack say what it does: README links and its plan excerpt, the
//! OpenAPI document (valid, every operation, no link outside the repository), the shipped crontab,
//! and `barrack ops` on which rules are barrack's own choices.

use crate::test::Test;
use barrack::sim::{SimOptions, Simulator};

// ---- the OpenAPI document ----

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

// ---- the README ----

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

// ---- the shipped crontab ----

#[test]
fn the_shipped_crontab_says_to_create_the_log_directory() {
    let crontab =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/cron/crontab"))
            .unwrap();
    assert!(crontab.contains("mkdir -p /var/log/barrack"), "{crontab}");
}

// ---- `barrack ops` and the README on the rules ----

#[test]
fn ops_says_which_rules_are_barracks_choices_and_the_readme_claims_no_server_words() {
    let deploy = Test::new().args(["ops", "deploy"]).success();
    for topic in [
        "Choice:   billing start",
        "Choice:   SSH keys on a volume boot",
        "Choice:   regions' GPU sets",
        "Choice:   message wording",
        "barrack's choice, not the reference's",
    ] {
        assert!(deploy.stdout.contains(topic), "{topic}:\n{}", deploy.stdout);
    }
    Test::new()
        .args(["ops", "create_volume"])
        .stdout_has("Choice:   volume size maximum")
        .stdout_has("1,048,576 GB")
        .success();
    for (op, topic) in [
        ("delete_snapshot", "snapshot deleted during restore"),
        ("toggle_public_ip", "public IP tier"),
        ("add_firewall_rule", "firewall and rule states"),
        ("hibernate_instance", "data volumes of stopped instances"),
        ("create_script", "creating a startup script"),
    ] {
        Test::new()
            .args(["ops", op])
            .stdout_has(&format!("Choice:   {topic}"))
            .success();
    }
    Test::new()
        .args(["ops", "balance"])
        .stdout_lacks("Choice:")
        .success();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("the README");
    assert!(
        !readme.contains("server's own"),
        "the README calls chosen words the server's own"
    );
}
