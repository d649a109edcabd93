//! The validation rules of barrack-api.md "Resource rules" (names, sizes, GPU counts and tiers,
//! boot sources, SSH keys, startup scripts, snapshots, volumes, public IPs), each with its message,
//! as the simulator enforces them over HTTP. A refused request must change nothing.

use crate::support::*;
use crate::test::Test;
use barrack::api::rules::{SCRIPT_NAME_CHARS, SCRIPT_TOO_LARGE};
use barrack::api::Client;
use barrack::sim::Simulator;
use serde_json::{json, Value};

/// Deploy `extra` over the default spec and expect a 400 naming `field` with `says`; nothing is
/// created.
#[track_caller]
fn deploy_invalid(
    sim: &Simulator,
    client: &Client,
    region: &str,
    extra: Value,
    field: &str,
    says: &str,
) {
    let before = sim.world().instances.len();
    let err = fail(client, "deploy", deploy_spec(sim, region, extra.clone()));
    assert_invalid(&err, field, says);
    assert_eq!(
        sim.world().instances.len(),
        before,
        "a refused deploy created an instance ({extra})"
    );
}

/// A snapshot (AVAILABLE) of a fresh ACTIVE instance in `region`.
fn available_snapshot(sim: &Simulator, client: &Client, region: &str, name: &str) -> String {
    let vm = active_instance(sim, client, region, json!({}));
    let snap = id_of(&ok(
        client,
        "snapshot",
        json!({"instance_id": vm, "name": name}),
    ));
    wait_object(sim, client, "get_snapshot", &snap, "AVAILABLE");
    snap
}

fn available_volume(sim: &Simulator, client: &Client, spec: Value) -> String {
    let id = id_of(&ok(client, "create_volume", spec));
    wait_object(sim, client, "volume", &id, "AVAILABLE");
    id
}

#[test]
fn instance_names_are_3_to_30_letters_digits_hyphens_underscores() {
    let (sim, client) = sim();
    for good in ["abc", "Train_run-01", &"a".repeat(30), "a-_b"] {
        let vm = ok(
            &client,
            "deploy",
            deploy_spec(&sim, REGION, json!({"name": good})),
        );
        assert_eq!(vm["name"], good);
    }
    let too_long = "a".repeat(31);
    let cases = [
        ("ab", "must be 3-30 characters long"),
        (too_long.as_str(), "must be 3-30 characters long"),
        ("bad name", "only letters, numbers, hyphens and underscores"),
        ("bad.name", "only letters, numbers, hyphens and underscores"),
        ("naïve", "only letters, numbers, hyphens and underscores"),
        ("-abc", "cannot start or end with a hyphen or underscore"),
        ("abc-", "cannot start or end with a hyphen or underscore"),
        ("_abc", "cannot start or end with a hyphen or underscore"),
        ("abc_", "cannot start or end with a hyphen or underscore"),
    ];
    for (name, says) in cases {
        deploy_invalid(&sim, &client, REGION, json!({"name": name}), "name", says);
    }
}

#[test]
fn instance_names_are_unique_per_region_and_generated_when_blank() {
    let (sim, client) = sim();
    deploy(&sim, &client, REGION, json!({"name": "trainer"}));
    let err = fail(
        &client,
        "deploy",
        deploy_spec(&sim, REGION, json!({"name": "trainer"})),
    );
    assert_refused(
        &err,
        409,
        "CONFLICT",
        "\"trainer\" already exists in FINLAND-1",
    );
    assert_eq!(sim.world().instances.len(), 1);
    // Another region may reuse it.
    deploy(&sim, &client, "FINLAND-2", json!({"name": "trainer"}));

    for blank in [json!({"name": ""}), json!({})] {
        let vm = ok(&client, "deploy", deploy_spec(&sim, REGION, blank));
        let name = vm["name"].as_str().unwrap();
        let random = name
            .strip_prefix("barrack-h100s-")
            .unwrap_or_else(|| panic!("generated name {name:?} is not barrack-h100s-…"));
        assert_eq!(random.len(), 3, "{name}");
        assert!(random
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    }
    let legacy = ok(
        &client,
        "deploy",
        deploy_spec(&sim, LEGACY_REGION, json!({})),
    );
    assert!(
        legacy["name"].as_str().unwrap().starts_with("barrack-l40-"),
        "{legacy}"
    );
}

#[test]
fn restored_instance_names_are_2_to_30_and_unique_across_all_regions() {
    let (sim, client) = sim();
    let snap = available_snapshot(&sim, &client, REGION, "base");
    // Taken in another region than the snapshot's: still refused.
    deploy(&sim, &client, "ICELAND-1", json!({"name": "taken"}));
    let err = fail(
        &client,
        "restore_snapshot",
        json!({"id": snap, "name": "taken"}),
    );
    assert_refused(&err, 409, "CONFLICT", "\"taken\" already exists");

    let before = sim.world().instances.len();
    for (name, says) in [
        (json!("a"), "must be 2-30 characters long"),
        (json!("a".repeat(31)), "must be 2-30 characters long"),
        (json!("no spaces"), "only letters, numbers"),
        (Value::Null, "This field is required"),
    ] {
        let err = fail(
            &client,
            "restore_snapshot",
            json!({"id": snap, "name": name}),
        );
        assert_invalid(&err, "name", says);
    }
    assert_eq!(sim.world().instances.len(), before);

    let vm = ok(
        &client,
        "restore_snapshot",
        json!({"id": snap, "name": "ab"}),
    );
    assert_eq!(vm["name"], "ab", "two characters are enough for a restore");
    let vm = ok(
        &client,
        "restore_snapshot",
        json!({"id": snap, "name": "b".repeat(30)}),
    );
    assert_eq!(vm["name"].as_str().unwrap().len(), 30);
}

#[test]
fn the_os_volume_is_100_to_10000_gb_in_advanced_regions() {
    let (sim, client) = sim();
    let vm = ok(&client, "deploy", deploy_spec(&sim, REGION, json!({})));
    assert_eq!(vm["os_volume_size_gb"], 100, "default 100");
    for good in [100, 2_500, 10_000] {
        let vm = ok(
            &client,
            "deploy",
            deploy_spec(&sim, REGION, json!({"os_volume_size_gb": good})),
        );
        assert_eq!(vm["os_volume_size_gb"], good);
    }
    for bad in [99, 10_001, 0] {
        deploy_invalid(
            &sim,
            &client,
            REGION,
            json!({"os_volume_size_gb": bad}),
            "os_volume_size_gb",
            "between 100 and 10000 GB",
        );
    }
    deploy_invalid(
        &sim,
        &client,
        LEGACY_REGION,
        json!({"os_volume_size_gb": 200}),
        "os_volume_size_gb",
        "advanced regions only",
    );
}

#[test]
fn volume_sizes_standard_10_bootable_100_max_1048576_positive_integers() {
    let (sim, client) = sim();
    let mut n = 0;
    let mut spec = |size: Value, bootable: bool| {
        n += 1;
        let mut s = json!({"name": format!("v{n}"), "size_gb": size, "region": REGION, "bootable": bootable});
        if bootable {
            s["os_image_id"] = json!(OS_IMAGE);
        }
        s
    };
    for (size, bootable) in [
        (10, false),
        (1_048_576, false),
        (100, true),
        (1_048_576, true),
    ] {
        let v = ok(&client, "create_volume", spec(json!(size), bootable));
        assert_eq!(
            (v["size_gb"].as_i64(), v["bootable"].as_bool()),
            (Some(size), Some(bootable))
        );
    }
    let cases = [
        (json!(9), false, "Standard volumes must be at least 10 GB"),
        (json!(99), true, "Bootable volumes must be at least 100 GB"),
        (json!(1_048_577), false, "cannot exceed 1048576 GB"),
        (json!(1_048_577), true, "cannot exceed 1048576 GB"),
        (json!(0), false, "Size must be a positive integer"),
        (json!(-20), false, "Size must be a positive integer"),
        (json!(10.5), false, "Must be a whole number"),
        (json!("ten"), false, "Must be a whole number"),
    ];
    let before = sim.world().volumes.len();
    for (size, bootable, says) in cases {
        let err = fail(&client, "create_volume", spec(size, bootable));
        assert_invalid(&err, "size_gb", says);
    }
    let err = fail(
        &client,
        "create_volume",
        json!({"name": "nosize", "region": REGION}),
    );
    assert_invalid(&err, "size_gb", "This field is required");
    assert_eq!(sim.world().volumes.len(), before);

    // Resizing keeps to the same limits, and only grows.
    let vol = available_volume(
        &sim,
        &client,
        json!({"name": "grow", "size_gb": 50, "region": REGION}),
    );
    let err = fail(
        &client,
        "resize_volume",
        json!({"id": vol, "size_gb": 1_048_577}),
    );
    assert_invalid(&err, "size_gb", "cannot exceed 1048576 GB");
    let err = fail(&client, "resize_volume", json!({"id": vol, "size_gb": 40}));
    assert_invalid(&err, "size_gb", "only grow");
    assert_eq!(ok(&client, "volume", json!({"id": vol}))["size_gb"], 50);
    assert_eq!(
        ok(&client, "resize_volume", json!({"id": vol, "size_gb": 60}))["size_gb"],
        60
    );
}

#[test]
fn volume_names_use_the_dotted_charset_and_are_unique_across_regions() {
    let (sim, client) = sim();
    let v = ok(
        &client,
        "create_volume",
        json!({"name": "My data_v1.2-final", "size_gb": 10, "region": REGION}),
    );
    assert_eq!(v["name"], "My data_v1.2-final");
    for bad in ["bad/name", "semi;colon", "tab\tname", "ümlaut"] {
        let err = fail(
            &client,
            "create_volume",
            json!({"name": bad, "size_gb": 10, "region": REGION}),
        );
        assert_invalid(&err, "name", SCRIPT_NAME_CHARS);
    }
    // Unique across the account: another region does not help.
    let err = fail(
        &client,
        "create_volume",
        json!({"name": "My data_v1.2-final", "size_gb": 10, "region": "FINLAND-3"}),
    );
    assert_refused(&err, 409, "CONFLICT", "unique across the account");
    let id = id_of(&v);
    wait_object(&sim, &client, "volume", &id, "AVAILABLE");
    let err = fail(
        &client,
        "clone_volume",
        json!({"id": id, "name": "My data_v1.2-final"}),
    );
    assert_refused(&err, 409, "CONFLICT", "already exists");
    let err = fail(&client, "clone_volume", json!({"id": id, "name": "a/b"}));
    assert_invalid(&err, "name", SCRIPT_NAME_CHARS);
    assert_eq!(sim.world().volumes.len(), 1);
}

#[test]
fn startup_scripts_use_the_printed_messages() {
    let (sim, client) = sim();
    ok(
        &client,
        "create_script",
        json!({"name": "Setup script_v1.2-final", "script": "x".repeat(16_384)}),
    );
    // 8,192 two-byte characters are exactly 16,384 bytes: the limit counts bytes.
    ok(
        &client,
        "create_script",
        json!({"name": "accents", "script": "é".repeat(8_192)}),
    );
    for bad_name in ["bad/name", "semi;colon", "emoji 🚀", "quote\"d"] {
        let err = fail(
            &client,
            "create_script",
            json!({"name": bad_name, "script": "echo"}),
        );
        assert_invalid(&err, "name", SCRIPT_NAME_CHARS);
        assert_eq!(err.errors["name"], vec![SCRIPT_NAME_CHARS.to_string()]);
    }
    for big in ["x".repeat(16_385), "é".repeat(8_193)] {
        let err = fail(
            &client,
            "create_script",
            json!({"name": "big", "script": big}),
        );
        assert_invalid(&err, "script", SCRIPT_TOO_LARGE);
        assert_eq!(err.errors["script"], vec![SCRIPT_TOO_LARGE.to_string()]);
    }
    // Both at once: one answer names both fields.
    let err = fail(
        &client,
        "create_script",
        json!({"name": "a/b", "script": "x".repeat(17_000)}),
    );
    assert_eq!(err.errors.len(), 2, "{err}");
    assert_eq!(sim.world().scripts.len(), 2);

    // Names are unique per user, on create and on update.
    let err = fail(
        &client,
        "create_script",
        json!({"name": "accents", "script": "echo"}),
    );
    assert_refused(&err, 409, "CONFLICT", "\"accents\" already exists");
    let accents = sim
        .world()
        .scripts
        .values()
        .find(|s| s.name == "accents")
        .map(|s| s.id.clone())
        .unwrap();
    let err = fail(
        &client,
        "update_script",
        json!({"id": accents, "name": "Setup script_v1.2-final"}),
    );
    assert_refused(&err, 409, "CONFLICT", "already exists");
    let err = fail(
        &client,
        "update_script",
        json!({"id": accents, "script": "y".repeat(16_385)}),
    );
    assert_invalid(&err, "script", SCRIPT_TOO_LARGE);
    let err = fail(
        &client,
        "update_script",
        json!({"id": accents, "name": "x/y"}),
    );
    assert_invalid(&err, "name", SCRIPT_NAME_CHARS);
    let same = ok(
        &client,
        "update_script",
        json!({"id": accents, "name": "accents", "script": "echo"}),
    );
    assert_eq!(
        (same["name"].as_str(), same["size_bytes"].as_i64()),
        (Some("accents"), Some(4))
    );
}

#[test]
fn ssh_keys_are_required_for_image_boots_and_refused_for_volume_boots() {
    let (sim, client) = sim();
    let key = default_key(&sim);
    deploy_invalid(
        &sim,
        &client,
        REGION,
        json!({"ssh_key_ids": null}),
        "ssh_key_ids",
        "At least one SSH key is required for OS-image and custom-image boots",
    );
    deploy_invalid(
        &sim,
        &client,
        LEGACY_REGION,
        json!({"ssh_key_ids": []}),
        "ssh_key_ids",
        "At least one SSH key is required",
    );
    deploy_invalid(
        &sim,
        &client,
        REGION,
        json!({"ssh_key_ids": ["key-0000none"]}),
        "ssh_key_ids",
        "SSH key key-0000none not found",
    );

    // A custom image: needs a key too.
    let snap = available_snapshot(&sim, &client, REGION, "golden");
    let image = id_of(&ok(
        &client,
        "create_image",
        json!({"id": snap, "name": "golden-image"}),
    ));
    wait_object(&sim, &client, "image", &image, "AVAILABLE");
    deploy_invalid(
        &sim,
        &client,
        REGION,
        json!({"os_image_id": null, "image_id": image, "ssh_key_ids": null}),
        "ssh_key_ids",
        "At least one SSH key is required",
    );
    let vm = ok(
        &client,
        "deploy",
        deploy_spec(
            &sim,
            REGION,
            json!({"os_image_id": null, "image_id": image}),
        ),
    );
    assert_eq!(vm["boot_source"], json!({"type": "image", "id": image}));

    // A bootable volume in an advanced region: no key.
    let vol = available_volume(
        &sim,
        &client,
        json!({"name": "boot", "size_gb": 100, "region": REGION, "bootable": true, "os_image_id": OS_IMAGE}),
    );
    deploy_invalid(
        &sim,
        &client,
        REGION,
        json!({"os_image_id": null, "volume_id": vol, "ssh_key_ids": [key]}),
        "ssh_key_ids",
        "SSH keys cannot be used with a volume boot",
    );
    let vm = ok(
        &client,
        "deploy",
        deploy_spec(
            &sim,
            REGION,
            json!({"os_image_id": null, "volume_id": vol, "ssh_key_ids": null}),
        ),
    );
    assert_eq!(vm["boot_source"], json!({"type": "volume", "id": vol}));
    assert_eq!(
        ok(&client, "volume", json!({"id": vol}))["status"],
        "IN_USE"
    );
    // The volume is taken now: "Volume Not Available".
    let err = fail(
        &client,
        "deploy",
        deploy_spec(
            &sim,
            REGION,
            json!({"os_image_id": null, "volume_id": vol, "ssh_key_ids": null}),
        ),
    );
    assert_refused(&err, 409, "CONFLICT", "Volume not available");
}

#[test]
fn a_deploy_names_every_missing_field_and_needs_exactly_one_boot_source() {
    let (sim, client) = sim();
    let err = fail(&client, "deploy", json!({}));
    for field in ["gpu_model", "gpu_count", "region", "boot_source"] {
        assert!(err.errors.contains_key(field), "{field} not named in {err}");
    }
    deploy_invalid(
        &sim,
        &client,
        REGION,
        json!({"image_id": "img-0001abcd"}),
        "boot_source",
        "Exactly one boot source",
    );
    deploy_invalid(
        &sim,
        &client,
        REGION,
        json!({"os_image_id": "windows-95"}),
        "os_image_id",
        "Unknown OS image",
    );
    // Tier-specific fields.
    let script = {
        ok(
            &client,
            "create_script",
            json!({"name": "boot", "script": "echo"}),
        );
        sim.world().scripts.keys().next().cloned().unwrap()
    };
    deploy_invalid(
        &sim,
        &client,
        LEGACY_REGION,
        json!({"startup_script_id": script}),
        "startup_script_id",
        "advanced regions only",
    );
    deploy_invalid(
        &sim,
        &client,
        REGION,
        json!({"public_ip": false}),
        "public_ip",
        "legacy regions only",
    );
    deploy_invalid(
        &sim,
        &client,
        REGION,
        json!({"startup_script_id": "scr-0000none"}),
        "startup_script_id",
        "not found",
    );
    let vm = ok(
        &client,
        "deploy",
        deploy_spec(&sim, REGION, json!({"startup_script_id": script})),
    );
    assert_eq!(vm["startup_script_id"], script.as_str());
}

#[test]
fn gpu_counts_are_1_2_4_or_8() {
    let (sim, client) = sim();
    for count in [1, 2, 4, 8] {
        let vm = ok(
            &client,
            "deploy",
            deploy_spec(&sim, REGION, json!({"gpu_count": count})),
        );
        assert_eq!(vm["gpu_count"], count);
    }
    for bad in [0, 3, 5, 16, -1] {
        deploy_invalid(
            &sim,
            &client,
            REGION,
            json!({"gpu_count": bad}),
            "gpu_count",
            "GPU count must be 1, 2, 4 or 8",
        );
    }
    let err = fail(
        &client,
        "quote",
        json!({"gpu_model": GPU, "gpu_count": 3, "region": REGION}),
    );
    assert_invalid(&err, "gpu_count", "1, 2, 4 or 8");
}

#[test]
fn gpu_models_are_offered_by_their_region_tier_only() {
    let (sim, client) = sim();
    let advanced = ["B300-262GB", "B200-180GB", "H200-141GB", "H100-SXM5-80GB"];
    let legacy = [
        "H100-PCIe-NVLink-80GB",
        "H100-PCIe-80GB",
        "A100-PCIe-NVLink-80GB",
        "A100-PCIe-80GB",
        "L40",
        "RTX-A6000",
    ];
    for model in advanced {
        for region in ["FINLAND-1", "FINLAND-2", "FINLAND-3", "ICELAND-1"] {
            ok(
                &client,
                "deploy",
                deploy_spec(&sim, region, json!({"gpu_model": model})),
            );
        }
        deploy_invalid(
            &sim,
            &client,
            LEGACY_REGION,
            json!({"gpu_model": model}),
            "gpu_model",
            &format!("{model} is not offered in CANADA-1 (legacy tier)"),
        );
    }
    for model in legacy {
        ok(
            &client,
            "deploy",
            deploy_spec(&sim, LEGACY_REGION, json!({"gpu_model": model})),
        );
        deploy_invalid(
            &sim,
            &client,
            REGION,
            json!({"gpu_model": model}),
            "gpu_model",
            &format!("{model} is not offered in FINLAND-1 (advanced tier)"),
        );
    }
    deploy_invalid(
        &sim,
        &client,
        REGION,
        json!({"gpu_model": "H100"}),
        "gpu_model",
        "Unknown GPU model",
    );
    deploy_invalid(
        &sim,
        &client,
        "MARS-1",
        json!({}),
        "region",
        "Unknown region",
    );
}

#[test]
fn snapshots_need_an_active_source_and_a_unique_name() {
    let (sim, client) = sim();
    let vm = deploy(&sim, &client, REGION, json!({"name": "src"}));
    let err = fail(
        &client,
        "snapshot",
        json!({"instance_id": vm, "name": "early"}),
    );
    assert_refused(
        &err,
        409,
        "CONFLICT",
        "it is CREATING; snapshot needs ACTIVE",
    );
    wait_status(&sim, &client, &vm, "ACTIVE");
    ok(
        &client,
        "snapshot",
        json!({"instance_id": vm, "name": "nightly"}),
    );
    let err = fail(
        &client,
        "snapshot",
        json!({"instance_id": vm, "name": "nightly"}),
    );
    assert_refused(&err, 409, "CONFLICT", "\"nightly\" already exists");
    // Unique across instances too.
    let other = active_instance(&sim, &client, "FINLAND-2", json!({"name": "other"}));
    let err = fail(
        &client,
        "snapshot",
        json!({"instance_id": other, "name": "nightly"}),
    );
    assert_refused(&err, 409, "CONFLICT", "already exists");
    let err = fail(
        &client,
        "snapshot",
        json!({"instance_id": vm, "name": "bad/name"}),
    );
    assert_invalid(&err, "name", "Snapshot name");
    ok(&client, "stop_instance", json!({"id": vm}));
    wait_status(&sim, &client, &vm, "SHUTOFF");
    let err = fail(
        &client,
        "snapshot",
        json!({"instance_id": vm, "name": "off"}),
    );
    assert_refused(&err, 409, "CONFLICT", "it is SHUTOFF");
    assert_eq!(sim.world().snapshots.len(), 1);
    // Without a name, one is made up from the instance's.
    let auto = ok(&client, "snapshot", json!({"instance_id": other}));
    assert!(
        auto["name"].as_str().unwrap().starts_with("other-"),
        "{auto}"
    );
}

#[test]
fn volumes_attach_to_active_instances_of_their_region_only() {
    let (sim, client) = sim();
    let vm = active_instance(&sim, &client, REGION, json!({}));
    let here = available_volume(
        &sim,
        &client,
        json!({"name": "here", "size_gb": 10, "region": REGION}),
    );
    let there = available_volume(
        &sim,
        &client,
        json!({"name": "there", "size_gb": 10, "region": "FINLAND-2"}),
    );
    let err = fail(
        &client,
        "attach_volumes",
        json!({"id": vm, "volume_ids": [there]}),
    );
    assert_refused(&err, 409, "CONFLICT", "they must be in the same region");
    let err = fail(
        &client,
        "attach_volumes",
        json!({"id": vm, "volume_ids": []}),
    );
    assert_invalid(&err, "volume_ids", "At least one volume id is required");

    ok(&client, "hibernate_instance", json!({"id": vm}));
    let err = fail(
        &client,
        "attach_volumes",
        json!({"id": vm, "volume_ids": [here]}),
    );
    assert_refused(
        &err,
        409,
        "CONFLICT",
        "it is HIBERNATING; attach needs ACTIVE",
    );
    wait_status(&sim, &client, &vm, "HIBERNATED");
    let err = fail(
        &client,
        "attach_volumes",
        json!({"id": vm, "volume_ids": [here]}),
    );
    assert_refused(
        &err,
        409,
        "CONFLICT",
        "it is HIBERNATED; attach needs ACTIVE",
    );
    assert!(sim.world().volumes[&here].instance_id.is_none());

    ok(&client, "restore_instance", json!({"id": vm}));
    wait_status(&sim, &client, &vm, "ACTIVE");
    ok(
        &client,
        "attach_volumes",
        json!({"id": vm, "volume_ids": [here]}),
    );
    assert_eq!(
        ok(&client, "instance", json!({"id": vm}))["volume_ids"],
        json!([here])
    );
    // An attached volume cannot be attached again, nor deleted.
    let other = active_instance(&sim, &client, REGION, json!({"name": "other"}));
    let err = fail(
        &client,
        "attach_volumes",
        json!({"id": other, "volume_ids": [here]}),
    );
    assert_refused(&err, 409, "CONFLICT", "is IN_USE");
    let err = fail(&client, "delete_volume", json!({"id": here}));
    assert_refused(&err, 409, "CONFLICT", "detach it first");
    // Deleting the instance frees it.
    ok(&client, "delete_instance", json!({"id": vm}));
    wait_gone(&sim, &client, &vm);
    assert_eq!(
        ok(&client, "volume", json!({"id": here}))["status"],
        "AVAILABLE"
    );
}

// ---- public IPs ----

#[test]
fn toggle_public_ip_is_for_the_legacy_tier_only_like_deploys_public_ip() {
    let (sim, client) = sim();
    let advanced = active_instance(&sim, &client, REGION, json!({"name": "adv"}));
    let before = ok(&client, "instance", json!({"id": advanced}));
    let err = fail(&client, "toggle_public_ip", json!({"id": advanced}));
    assert_refused(&err, 409, "CONFLICT", "legacy-tier instances only");
    assert!(err.message.contains("advanced tier"), "{err}");
    assert_eq!(err.tier.as_deref(), Some("advanced"), "{err}");
    let after = ok(&client, "instance", json!({"id": advanced}));
    assert_eq!(before["public_ip"], after["public_ip"], "nothing changed");
    // deploy's public_ip is refused on the same tier, naming it.
    let err = fail(
        &client,
        "deploy",
        deploy_spec(&sim, REGION, json!({"public_ip": true})),
    );
    assert_invalid(&err, "public_ip", "legacy regions only");

    let legacy = active_instance(&sim, &client, LEGACY_REGION, json!({"name": "old"}));
    let on = ok(&client, "toggle_public_ip", json!({"id": legacy}));
    assert_eq!(on["public_ip_enabled"], true, "{on}");
    assert!(on["public_ip"].is_string(), "{on}");
    let off = ok(&client, "toggle_public_ip", json!({"id": legacy}));
    assert_eq!(off["public_ip_enabled"], false, "{off}");

    // The dry run refuses it as the run would.
    Test::new()
        .file(
            "toggle.rhai",
            r#"
            let vm = deploy(#{gpu: "H100-SXM5-80GB", region: "FINLAND-1", name: "plan-adv"});
            wait_active(vm);
            vm.toggle_public_ip();
            "#,
        )
        .args(["plan", "--sim", "toggle.rhai"])
        .stderr_has("legacy-tier instances only")
        .stderr_has("(advanced tier)")
        .status(1);
}
