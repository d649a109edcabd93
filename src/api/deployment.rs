//! The one validation of a deployment request (DeploymentRequest), as sent: the shape's keys,
//! types and ranges, then the rules that tie fields together — the region offers the GPU
//! model, exactly one boot source, SSH keys as the boot source needs them, tier keys. The Rhai
//! `deploy` (after filling its defaults), the planner and the simulator all call it.

use super::check::{self, Mode, Problems, Vocabulary};
use super::facts;
use super::shape::DEPLOY;
use serde_json::{Map, Value};

/// The boot sources, of which a request names exactly one.
pub const BOOT_SOURCES: [&str; 3] = ["os_image_id", "volume_id", "image_id"];

/// Check a request as it would be sent. Returns it normalised (one id as a list of one).
pub fn check(request: &Map<String, Value>) -> Result<Map<String, Value>, Problems> {
    let mut request = request.clone();
    // A blank name asks the server to generate one.
    if request.get("name").and_then(Value::as_str) == Some("") {
        request.remove("name");
    }
    // Shape problems and cross-field ones are reported together, as the server names every
    // bad field in one answer.
    let (fields, mut problems) =
        match check::check_map("deploy", DEPLOY, &request, Vocabulary::Api, Mode::Whole) {
            Ok(checked) => (checked.fields, Problems::new()),
            Err(found) => (request.clone(), found),
        };
    let mut add =
        |field: &str, message: String| problems.entry(field.to_string()).or_default().push(message);
    let text = |key: &str| fields.get(key).and_then(Value::as_str);
    if let (Some(region), Some(model)) = (text("region"), text("gpu_model")) {
        if let Err(message) = offered(region, model) {
            add("gpu_model", message);
        }
    }
    let sources = BOOT_SOURCES
        .iter()
        .filter(|k| fields.contains_key(**k))
        .count();
    if sources != 1 {
        add(
            "boot_source",
            "Exactly one boot source is required: os_image_id, volume_id or image_id".into(),
        );
    }
    let advanced = text("region").is_some_and(facts::is_advanced);
    let has_keys = fields
        .get("ssh_key_ids")
        .and_then(Value::as_array)
        .is_some_and(|k| !k.is_empty());
    let volume_boot = fields.contains_key("volume_id");
    if volume_boot && advanced && has_keys {
        add(
            "ssh_key_ids",
            crate::api::choices::SSH_KEYS_ON_VOLUME_BOOT.into(),
        );
    }
    if sources == 1 && !volume_boot && !has_keys {
        add(
            "ssh_key_ids",
            "At least one SSH key is required for OS-image and custom-image boots".into(),
        );
    }
    if problems.is_empty() {
        Ok(fields)
    } else {
        Err(problems)
    }
}

/// The region's tier offers the GPU model (unknown names are the shape check's to report).
pub fn offered(region: &str, model: &str) -> Result<(), String> {
    if facts::is_region(region)
        && facts::is_gpu_model(model)
        && !facts::region_offers(region, model)
    {
        return Err(format!(
            "{model} is not offered in {region} ({} tier)",
            facts::tier(region)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_complete_request_passes_and_cross_field_rules_are_named() {
        let good = json!({"gpu_model": "H100-SXM5-80GB", "gpu_count": 8, "region": "FINLAND-1",
                          "os_image_id": "ubuntu-22.04-cuda-12.4", "ssh_key_ids": ["key-1"]});
        assert!(check(&req(good)).is_ok());
        let err = check(&req(json!({"gpu_model": "L40", "region": "FINLAND-1"}))).unwrap_err();
        assert!(
            err["gpu_model"][0].contains("not offered in FINLAND-1"),
            "{err:?}"
        );
        assert!(err.contains_key("boot_source"), "{err:?}");
        let err = check(&req(
            json!({"gpu_model": "H100-SXM5-80GB", "region": "FINLAND-1",
                                    "volume_id": "vol-1", "ssh_key_ids": ["key-1"]}),
        ))
        .unwrap_err();
        assert!(err["ssh_key_ids"][0].contains("volume boot"), "{err:?}");
    }
}
