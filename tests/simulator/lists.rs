//! Lists (issue 18, "a page costs its own size"): every list writes only its page, filters on
//! the objects it shows, and shows each object exactly as the object's own get route does.
//! Bodies are read raw over HTTP, so field order counts too.

use crate::support::*;
use barrack::sim::Simulator;
use serde_json::{json, Value};
use std::time::Duration;

/// A body's `data` and `pagination`, from a raw GET that must succeed.
#[track_caller]
fn get(sim: &Simulator, path: &str) -> (Value, Value) {
    let got = raw(sim, "GET", path, None, &[]).expect("the request is sent");
    assert_eq!(got.status, 200, "GET {path}: {}", got.text);
    let mut body = got.json();
    (body["data"].take(), body["pagination"].take())
}

/// The ids of a list answer's items, in order.
fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[track_caller]
fn post(sim: &Simulator, path: &str, body: Value) -> Value {
    let got = raw(sim, "POST", path, Some(&body.to_string()), &[]).expect("sent");
    assert!(got.status < 300, "POST {path}: {}", got.text);
    // "Create a startup script" answers 201 with no body at all.
    if got.text.is_empty() {
        return Value::Null;
    }
    got.json()["data"].take()
}

/// Instances of one fleet, by what the test made of them.
struct Fleet {
    /// FINLAND-1, ACTIVE.
    active_finland: Vec<String>,
    /// FINLAND-1, stopped (SHUTOFF).
    shutoff_finland: Vec<String>,
    /// FINLAND-2: one HIBERNATED, the rest ACTIVE.
    finland2: Vec<String>,
    hibernated: String,
    /// CANADA-1 (legacy tier), ACTIVE.
    legacy: Vec<String>,
}

/// Twelve instances over three regions and three states, with the clock moved so that every
/// transition has finished and some minutes are billed.
fn fleet(sim: &Simulator) -> Fleet {
    let client = client_for(sim, Some(KEY));
    let deploy_n = |region: &str, prefix: &str, n: usize| -> Vec<String> {
        (0..n)
            .map(|i| {
                deploy(
                    sim,
                    &client,
                    region,
                    json!({"name": format!("{prefix}-{i}")}),
                )
            })
            .collect()
    };
    let finland = deploy_n(REGION, "fi", 7);
    let finland2 = deploy_n("FINLAND-2", "fi2", 3);
    let legacy = deploy_n(LEGACY_REGION, "ca", 2);
    sim.advance(Duration::from_secs(400));
    let (shutoff, active) = (finland[..2].to_vec(), finland[2..].to_vec());
    for id in &shutoff {
        post(sim, &format!("/instances/{id}/stop/"), json!({}));
    }
    post(
        sim,
        &format!("/instances/{}/hibernate/", finland2[1]),
        json!({}),
    );
    sim.advance(Duration::from_secs(185));
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    Fleet {
        active_finland: sorted(active),
        shutoff_finland: sorted(shutoff),
        hibernated: finland2[1].clone(),
        finland2: sorted(finland2),
        legacy: sorted(legacy),
    }
}

#[test]
fn page_two_of_a_filtered_list_holds_exactly_the_matching_objects_of_that_page() {
    let (sim, _client) = sim();
    let fleet = fleet(&sim);
    assert_eq!(fleet.active_finland.len(), 5);

    // Five ACTIVE in FINLAND-1, two a page: page 2 is the third and fourth in id order.
    let (data, pagination) = get(
        &sim,
        &format!("/instances/?status=ACTIVE&region={REGION}&per_page=2&page=2"),
    );
    assert_eq!(ids(&data), fleet.active_finland[2..4].to_vec());
    assert_eq!(
        pagination,
        json!({"page": 2, "per_page": 2, "total": 5, "total_pages": 3, "has_next": true})
    );

    // The last page holds what is left, and says there is no next.
    let (data, pagination) = get(
        &sim,
        &format!("/instances/?status=ACTIVE&region={REGION}&per_page=2&page=3"),
    );
    assert_eq!(ids(&data), fleet.active_finland[4..].to_vec());
    assert_eq!(pagination["has_next"], json!(false));

    // A page past the end is empty, with the same totals.
    let (data, pagination) = get(&sim, "/instances/?status=SHUTOFF&page=2");
    assert_eq!(ids(&data), Vec::<String>::new());
    assert_eq!(
        pagination,
        json!({"page": 2, "per_page": 20, "total": 2, "total_pages": 1, "has_next": false})
    );
    let (data, _) = get(&sim, "/instances/?status=SHUTOFF");
    assert_eq!(ids(&data), fleet.shutoff_finland);

    // Filters on what the answer derives (tier), on numbers, and on names.
    let (data, pagination) = get(&sim, "/instances/?tier=legacy&per_page=1&page=2");
    assert_eq!(ids(&data), fleet.legacy[1..].to_vec());
    assert_eq!(pagination["total"], json!(2));
    let (data, _) = get(&sim, "/instances/?region=FINLAND-2&gpu_count=1");
    assert_eq!(ids(&data), fleet.finland2);
    let (data, _) = get(&sim, "/instances/?region=FINLAND-2&gpu_count=2");
    assert_eq!(ids(&data), Vec::<String>::new());
    let (data, _) = get(&sim, "/instances/?status=HIBERNATED");
    assert_eq!(ids(&data), vec![fleet.hibernated.clone()]);
    let (data, _) = get(&sim, "/instances/?name=fi-3&status=ACTIVE");
    assert_eq!(data.as_array().map(Vec::len), Some(1));
    assert_eq!(data[0]["name"], json!("fi-3"));

    // Unfiltered, the totals count the whole world.
    let (data, pagination) = get(&sim, "/instances/?per_page=5&page=3");
    assert_eq!(data.as_array().map(Vec::len), Some(2));
    assert_eq!(
        pagination,
        json!({"page": 3, "per_page": 5, "total": 12, "total_pages": 3, "has_next": false})
    );
}

/// Every object of every listed kind, as its list shows it, is byte for byte what its get
/// route answers; no bookkeeping field of the simulator shows in either.
#[test]
fn every_list_shows_each_object_exactly_as_its_get_route_does() {
    let (sim, _client) = sim();
    let fleet = fleet(&sim);
    let vm = &fleet.active_finland[0];
    let volume = post(
        &sim,
        "/volumes/",
        json!({"name": "data-1", "size_gb": 100, "region": REGION}),
    );
    post(
        &sim,
        "/volumes/",
        json!({"name": "boot-1", "size_gb": 100, "region": "FINLAND-2", "bootable": true,
               "os_image_id": OS_IMAGE}),
    );
    let firewall = post(
        &sim,
        "/firewalls/",
        json!({"name": "web", "region": REGION, "rules": [{"direction": "ingress",
               "protocol": "tcp", "port_range_min": 443, "port_range_max": 443,
               "remote_ip_prefix": "0.0.0.0/0", "ethertype": "IPv4"}]}),
    );
    post(
        &sim,
        "/firewalls/",
        json!({"name": "empty", "region": REGION}),
    );
    post(
        &sim,
        "/scripts/",
        json!({"name": "boot", "script": "#!/bin/sh\necho hi\n"}),
    );
    sim.advance(Duration::from_secs(30));
    post(
        &sim,
        &format!("/instances/{vm}/volumes/attach/"),
        json!({"volume_ids": [volume["id"]]}),
    );
    post(
        &sim,
        &format!(
            "/firewalls/{}/attach/",
            firewall["id"].as_str().unwrap_or("")
        ),
        json!({"instance_ids": [vm]}),
    );
    let snapshot = post(
        &sim,
        "/snapshots/",
        json!({"instance_id": vm, "name": "snap"}),
    );
    sim.advance(Duration::from_secs(120));
    let snapshot_id = snapshot["id"].as_str().unwrap_or("");
    post(&sim, &format!("/snapshots/{snapshot_id}/image/"), json!({}));
    // A restore in progress carries bookkeeping (the snapshot it reads) the API never shows.
    post(
        &sim,
        &format!("/snapshots/{snapshot_id}/restore/"),
        json!({"name": "restored"}),
    );

    let hidden = [
        "pending",
        "holds_gpus",
        "partial_seconds",
        "billing_records",
        "total_cost",
        "restoring_from",
        "billed_to",
        "rule_due",
    ];
    for kind in [
        "instances",
        "volumes",
        "snapshots",
        "images",
        "firewalls",
        "ssh-keys",
        "scripts",
    ] {
        let (items, pagination) = get(&sim, &format!("/{kind}/?per_page=100"));
        let items = items.as_array().cloned().unwrap_or_default();
        assert!(!items.is_empty(), "no {kind} listed");
        assert_eq!(pagination["total"], json!(items.len()), "{kind}");
        for item in &items {
            let id = item["id"].as_str().unwrap_or_default();
            let (one, _) = get(&sim, &format!("/{kind}/{id}/"));
            assert_eq!(
                serde_json::to_string(item).ok(),
                serde_json::to_string(&one).ok(),
                "{kind} {id}: the list and the get route differ"
            );
            let keys: Vec<&String> = item
                .as_object()
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            for field in hidden {
                assert!(
                    !keys.iter().any(|k| *k == field),
                    "{kind} {id} shows the simulator's {field}: {item}"
                );
            }
        }
    }

    // The unpaginated lists show the same objects the same way.
    let (attached, _) = get(&sim, &format!("/instances/{vm}/firewalls/"));
    let (one, _) = get(
        &sim,
        &format!("/firewalls/{}/", firewall["id"].as_str().unwrap_or("")),
    );
    assert_eq!(attached, json!([one]));
    let (eligible, _) = get(&sim, "/instances/snapshot-eligible/");
    let (vm_json, _) = get(&sim, &format!("/instances/{vm}/"));
    assert!(
        eligible
            .as_array()
            .is_some_and(|all| all.contains(&vm_json)),
        "{vm} is ACTIVE, so snapshot-eligible: {eligible}"
    );
    let (data, _) = get(&sim, "/volumes/?bootable=true");
    assert_eq!(data.as_array().map(Vec::len), Some(1));
    assert_eq!(data[0]["name"], json!("boot-1"));
    let (data, pagination) = get(
        &sim,
        &format!("/volumes/?region={REGION}&per_page=1&page=1"),
    );
    assert_eq!(data[0]["id"], volume["id"]);
    assert_eq!(pagination["total"], json!(1));
    let (data, _) = get(&sim, &format!("/snapshots/?instance_id={vm}"));
    assert_eq!(ids(&data), vec![snapshot_id.to_string()]);
}

/// An instance's fields, in the order the API has always written them: a client printing the
/// JSON it got shows them in this order.
#[test]
fn an_instance_shows_its_fields_in_the_documented_order() {
    let (sim, client) = sim();
    let id = active_instance(&sim, &client, REGION, json!({}));
    let (vm, _) = get(&sim, &format!("/instances/{id}/"));
    let keys: Vec<&str> = vm
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "id",
            "name",
            "status",
            "region",
            "gpu_model",
            "gpu_count",
            "vcpus",
            "ram_gb",
            "os_volume_size_gb",
            "boot_source",
            "ssh_key_ids",
            "public_ip_enabled",
            "public_ip",
            "private_ip",
            "volume_ids",
            "security_rules",
            "startup_script_id",
            "source_snapshot_id",
            "created_at",
            "updated_at",
            "billed_minutes",
            "tier",
            "hourly_cost",
        ]
    );
}

#[test]
fn gpu_stocks_shows_every_configuration_of_the_stock_in_the_documented_order() {
    let (sim, _) = sim();
    let set = json!({"region": "FINLAND-1", "gpu_model": "H100-SXM5-80GB", "available": 5});
    let got = raw(&sim, "POST", "/_sim/stock", Some(&set.to_string()), &[]).expect("sent");
    assert_eq!(got.status, 200, "{}", got.text);
    let path = "/gpu-stocks/?region=FINLAND-1&gpu_model=H100-SXM5-80GB";
    let got = raw(&sim, "GET", path, None, &[]).expect("sent");
    assert_eq!(got.status, 200, "{}", got.text);
    let row = r#"{"region":"FINLAND-1","tier":"advanced","gpu_model":"H100-SXM5-80GB","available_gpus":5,"configurations":[{"gpu_count":1,"available":5},{"gpu_count":2,"available":2},{"gpu_count":4,"available":1},{"gpu_count":8,"available":0}]}"#;
    assert!(
        got.text
            .starts_with(&format!(r#"{{"success":true,"data":[{row}],"#)),
        "{}",
        got.text
    );
    // Unfiltered, every region and model is a row, the legacy ones in their tier.
    let (all, _) = get(&sim, "/gpu-stocks/");
    let rows = all.as_array().expect("a list");
    assert!(rows.len() > 10, "{all}");
    assert!(rows.iter().any(|r| r["tier"] == "legacy"), "{all}");
    assert!(rows
        .iter()
        .all(|r| r["configurations"].as_array().map(Vec::len) == Some(4)));
}
