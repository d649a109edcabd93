//! `deploy(map)`: friendly keys, the defaults the docs give, and the validation the simulator
//! applies, run before any request, so a bad name costs nothing and says the same words.

use super::runtime::Runtime;
use crate::api::{catalog, facts, rules, ApiError, Args};
use serde_json::Value;

const OP: &str = "deploy";

/// Script-friendly keys and the DeploymentRequest fields they fill.
const ALIASES: [(&str, &str); 9] = [
    ("gpu", "gpu_model"),
    ("count", "gpu_count"),
    ("os_image", "os_image_id"),
    ("volume", "volume_id"),
    ("image", "image_id"),
    ("ssh_keys", "ssh_key_ids"),
    ("os_volume_gb", "os_volume_size_gb"),
    ("startup_script", "startup_script_id"),
    ("volumes", "volume_ids"),
];

/// Normalise, default and check a deployment request.
///
/// Defaults: GPU count 1; the region — when omitted — is the first region (advanced first) with
/// stock for the request; the boot source — when none is given — is the first OS image; the OS
/// volume is 100 GB in advanced regions; the SSH key is the account's only key when the boot
/// source needs one. The name is left to the server, which generates `barrack-{gpu}-{random}`.
pub fn prepare(rt: &Runtime, args: &mut Args) -> Result<(), ApiError> {
    let script_key = if args.contains_key("startup_script") {
        "startup_script"
    } else {
        "startup_script_id"
    };
    for (short, long) in ALIASES {
        if let Some(value) = args.remove(short) {
            if args.contains_key(long) {
                return Err(ApiError::invalid(
                    OP,
                    short,
                    format!("give either {short} or {long}, not both"),
                ));
            }
            args.insert(long.into(), value);
        }
    }
    for list in ["ssh_key_ids", "volume_ids"] {
        match args.get(list).cloned() {
            Some(Value::String(one)) => {
                args.insert(list.into(), Value::Array(vec![Value::String(one)]));
            }
            Some(Value::Null) => {
                args.remove(list);
            }
            // Anything but a list of id strings would otherwise be replaced by the defaults
            // below (`ssh_keys: 5` silently became the account's key).
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
            Some(other) => {
                return Err(ApiError::invalid(
                    OP,
                    list,
                    format!("must be an id or a list of ids, not {other}"),
                ))
            }
            None => {}
        }
    }
    let model = match args.get("gpu_model") {
        Some(Value::String(m)) => m.clone(),
        Some(_) => {
            return Err(ApiError::invalid(
                OP,
                "gpu_model",
                "must be a string such as \"H100-SXM5-80GB\"",
            ))
        }
        None => {
            return Err(ApiError::invalid(
                OP,
                "gpu_model",
                "This field is required (e.g. gpu: \"H100-SXM5-80GB\")",
            ))
        }
    };
    if !facts::is_gpu_model(&model) {
        let known: Vec<&str> = facts::ADVANCED_GPU_MODELS
            .iter()
            .chain(&facts::LEGACY_GPU_MODELS)
            .copied()
            .collect();
        return Err(ApiError::invalid(
            OP,
            "gpu_model",
            format!("Unknown GPU model {model:?}; known: {}", known.join(", ")),
        ));
    }
    let count = match args.get("gpu_count") {
        None => 1,
        Some(v) => v.as_i64().ok_or_else(|| {
            ApiError::invalid(OP, "gpu_count", "must be a whole number: 1, 2, 4 or 8")
        })?,
    };
    rules::gpu_count(count).map_err(|m| ApiError::invalid(OP, "gpu_count", m))?;
    args.insert("gpu_count".into(), count.into());
    if let Some(name) = args.get("name") {
        match name {
            Value::String(n) if n.is_empty() => {
                args.remove("name");
            }
            Value::String(n) => {
                rules::instance_name(n).map_err(|m| ApiError::invalid(OP, "name", m))?
            }
            _ => return Err(ApiError::invalid(OP, "name", "must be a string")),
        }
    }
    // Everything that needs no request is checked first: a bad request costs nothing.
    if let Some(v) = args.get("os_volume_size_gb") {
        let gb = v.as_i64().ok_or_else(|| {
            ApiError::invalid(OP, "os_volume_size_gb", "must be a whole number of GB")
        })?;
        rules::os_volume_size(gb).map_err(|m| ApiError::invalid(OP, "os_volume_size_gb", m))?;
    }
    let sources = ["os_image_id", "volume_id", "image_id"]
        .iter()
        .filter(|k| args.contains_key(**k))
        .count();
    if sources > 1 {
        return Err(ApiError::invalid(
            OP,
            "boot_source",
            "Exactly one boot source is required: os_image_id, volume_id or image_id",
        ));
    }
    let region = match args.get("region") {
        Some(Value::String(r)) => {
            if !facts::is_region(r) {
                return Err(ApiError::invalid(
                    OP,
                    "region",
                    format!("Unknown region {r:?}"),
                ));
            }
            r.clone()
        }
        Some(_) => {
            return Err(ApiError::invalid(
                OP,
                "region",
                "must be a string such as \"FINLAND-1\"",
            ))
        }
        None => {
            let region = region_with_stock(rt, &model, count)?;
            args.insert("region".into(), region.clone().into());
            region
        }
    };
    if !facts::region_offers(&region, &model) {
        return Err(ApiError::invalid(
            OP,
            "gpu_model",
            format!(
                "{model} is not offered in {region} ({} tier)",
                facts::tier(&region)
            ),
        ));
    }
    let advanced = facts::is_advanced(&region);
    if sources == 0 {
        let images = rt.call(op("os_images"), &Args::new())?;
        let first = images
            .as_array()
            .and_then(|list| list.first())
            .and_then(|image| image.get("id"))
            .cloned()
            .ok_or_else(|| {
                ApiError::invalid(
                    OP,
                    "os_image_id",
                    "no boot source given and the account lists no OS images",
                )
            })?;
        args.insert("os_image_id".into(), first);
    }
    if advanced && !args.contains_key("os_volume_size_gb") {
        args.insert("os_volume_size_gb".into(), rules::OS_VOLUME_MIN_GB.into());
    }
    let volume_boot = args.contains_key("volume_id");
    let has_keys = args
        .get("ssh_key_ids")
        .and_then(Value::as_array)
        .is_some_and(|k| !k.is_empty());
    if volume_boot && advanced && has_keys {
        return Err(ApiError::invalid(
            OP,
            "ssh_key_ids",
            crate::api::choices::SSH_KEYS_ON_VOLUME_BOOT,
        ));
    }
    if !volume_boot && !has_keys {
        let keys = rt.call(op("ssh_keys"), &Args::new())?;
        let ids: Vec<Value> = keys
            .as_array()
            .map(|list| list.iter().filter_map(|k| k.get("id").cloned()).collect())
            .unwrap_or_default();
        match ids.len() {
            1 => {
                args.insert("ssh_key_ids".into(), Value::Array(ids));
            }
            0 => {
                return Err(ApiError::invalid(
                    OP,
                    "ssh_key_ids",
                    "At least one SSH key is required for OS-image and custom-image boots; the account has none: create_ssh_key(name, public_key) first",
                ))
            }
            n => {
                return Err(ApiError::invalid(
                    OP,
                    "ssh_key_ids",
                    format!("At least one SSH key is required for OS-image and custom-image boots; the account has {n}: choose with ssh_keys: [...]"),
                ))
            }
        }
    }
    // A startup script may be named by its handle, its id or its name.
    super::by_name::startup_script(rt, args, script_key)?;
    Ok(())
}

fn op(name: &str) -> &'static catalog::Op {
    catalog::find(name).unwrap_or(&catalog::OPS[0])
}

/// The first region (advanced ones first) whose stock covers `count` GPUs of `model`.
fn region_with_stock(rt: &Runtime, model: &str, count: i64) -> Result<String, ApiError> {
    let stocks = rt.call(op("gpu_stocks"), &Args::new())?;
    let regions = facts::ADVANCED_REGIONS.iter().chain(&facts::LEGACY_REGIONS);
    for region in regions {
        let available = stocks.as_array().into_iter().flatten().any(|item| {
            item.get("region").and_then(Value::as_str) == Some(region)
                && item.get("gpu_model").and_then(Value::as_str) == Some(model)
                && item
                    .get("available_gpus")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    >= count
        });
        if available {
            return Ok(region.to_string());
        }
    }
    let mut err = ApiError::invalid(
        OP,
        "region",
        format!("no region has {count}× {model} in stock; try a smaller count or another GPU"),
    );
    err.status = 409;
    err.code = "OUT_OF_STOCK".into();
    err.message = "Out of stock".into();
    Err(err)
}
