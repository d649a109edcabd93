//! `deploy(map)`: the keys the catalog lists for it, the defaults the docs give, and the one
//! deployment validation the server also runs, before any request, so a bad spec costs
//! nothing and says the same words.

use super::account_facts::{AccountFacts, Reservation};
use super::runtime::Runtime;
use crate::api::check::{self, Mode, Vocabulary};
use crate::api::shape::{Tier, DEPLOY};
use crate::api::{deployment, facts, rules, ApiError, Args};
use serde_json::Value;

const OP: &str = "deploy";

/// Check a deployment spec as the script wrote it, fill the defaults, and check the request as
/// it will be sent with the one deployment validation (`api::deployment`).
///
/// Defaults: GPU count 1; the region — when omitted — is the first region (advanced first) with
/// stock for the request, in the tier its tier-only keys need; the boot source — when none is
/// given — is the first OS image; the OS volume is 100 GB in advanced regions; the SSH key is
/// the account's only key when the boot source needs one. The name is left to the server, which
/// generates `barrack-{gpu}-{random}`. The shape is checked before any request, so a misspelled
/// key costs nothing.
/// The account facts come from `account`, shared by the specs of one deploy call.
pub fn prepare(rt: &Runtime, account: &AccountFacts, spec: &Args) -> Result<Args, ApiError> {
    let mut spec = spec.clone();
    // The key the user named the startup script by, for the message when it is not found.
    let script_key = if spec.contains_key("startup_script") {
        "startup_script"
    } else {
        "startup_script_id"
    };
    if spec.get("name").and_then(Value::as_str) == Some("") {
        spec.remove("name");
    }
    let checked = check::check_map(OP, DEPLOY, &spec, Vocabulary::Script, Mode::Partial)
        .map_err(|problems| check::refusal(OP, problems))?;
    let mut args = checked.fields.clone();
    let Some(model) = args
        .get("gpu_model")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Err(ApiError::invalid(
            OP,
            "gpu_model",
            "This field is required (e.g. gpu: \"H100-SXM5-80GB\")",
        ));
    };
    let count = args.get("gpu_count").and_then(Value::as_i64).unwrap_or(1);
    args.insert("gpu_count".into(), count.into());
    // Held until the spec passes every check below, so a refused spec reserves nothing.
    let mut reservation = None;
    let region = match args.get("region").and_then(Value::as_str) {
        Some(region) => region.to_string(),
        None => {
            let reserved = region_with_stock(rt, account, &model, count, tier_needed(&args))?;
            let region = reserved.region().to_string();
            reservation = Some(reserved);
            args.insert("region".into(), region.clone().into());
            region
        }
    };
    // Checked before the lookups below, so this mistake costs no request either.
    deployment::offered(&region, &model).map_err(|m| ApiError::invalid(OP, "gpu_model", m))?;
    let advanced = facts::is_advanced(&region);
    if !deployment::BOOT_SOURCES
        .iter()
        .any(|k| args.contains_key(*k))
    {
        let first = account
            .os_images(rt)?
            .first()
            .and_then(|image| image.get("id"))
            .cloned()
            .ok_or_else(|| {
                ApiError::invalid(
                    OP,
                    "os_image",
                    "no boot source given and the account lists no OS images",
                )
            })?;
        args.insert("os_image_id".into(), first);
    }
    if advanced && !args.contains_key("os_volume_size_gb") {
        args.insert("os_volume_size_gb".into(), rules::OS_VOLUME_MIN_GB.into());
    }
    let volume_boot = args.contains_key("volume_id");
    if !volume_boot && !args.contains_key("ssh_key_ids") {
        let ids: Vec<Value> = account
            .ssh_keys(rt)?
            .iter()
            .filter_map(|k| k.get("id").cloned())
            .collect();
        match ids.len() {
            1 => {
                args.insert("ssh_key_ids".into(), Value::Array(ids));
            }
            0 => {
                return Err(ApiError::invalid(
                    OP,
                    "ssh_keys",
                    "At least one SSH key is required for OS-image and custom-image boots; the account has none: create_ssh_key(name, public_key) first",
                ))
            }
            n => {
                return Err(ApiError::invalid(
                    OP,
                    "ssh_keys",
                    format!("At least one SSH key is required for OS-image and custom-image boots; the account has {n}: choose with ssh_keys: [...]"),
                ))
            }
        }
    }
    // A startup script may be named by its handle, its id or its name.
    super::by_name::startup_script(&mut args, script_key, || account.scripts(rt))?;
    let request = deployment::check(&args)
        .map_err(|problems| check::refusal(OP, checked.in_user_words(problems)))?;
    if let Some(reservation) = reservation {
        reservation.keep();
    }
    Ok(request)
}

/// The tier the spec's tier-only keys need (`startup_script` → advanced), if any.
fn tier_needed(args: &Args) -> Tier {
    DEPLOY
        .iter()
        .filter(|f| args.contains_key(f.name))
        .map(|f| f.tier)
        .find(|t| *t != Tier::Both)
        .unwrap_or(Tier::Both)
}

/// The first region (advanced ones first) whose stock covers `count` GPUs of `model`, reserved.
fn region_with_stock<'a>(
    rt: &Runtime,
    account: &'a AccountFacts,
    model: &str,
    count: i64,
    tier: Tier,
) -> Result<Reservation<'a>, ApiError> {
    let regions: Vec<&str> = facts::REGIONS
        .iter()
        .copied()
        .filter(|r| match tier {
            Tier::Both => true,
            Tier::Advanced => facts::is_advanced(r),
            Tier::Legacy => !facts::is_advanced(r),
        })
        .collect();
    if let Some(reservation) = account.reserve(rt, &regions, model, count)? {
        return Ok(reservation);
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
