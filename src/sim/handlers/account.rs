//! Account-wide operations: balance, catalogue reads, pricing, SSH keys, startup scripts, AI.

use super::{found, found_mut, list, list_of, missing, removed, Outcome, Req};
use crate::api::Kind;
use crate::sim::reply::{FieldErrors, Refusal, Reply};
use crate::sim::rules;
use crate::sim::world::*;
use serde::Serialize;
use serde_json::{json, Value};

/// Minimum balance to deploy or restore: $1.00 / €1.00 / ₹100.00.
pub fn minimum_balance(currency: &str) -> f64 {
    match currency {
        "INR" => 100.0,
        _ => 1.0,
    }
}

pub const OS_IMAGES: [(&str, &str); 4] = [
    ("ubuntu-22.04-cuda-12.4", "Ubuntu 22.04 LTS with CUDA 12.4"),
    ("ubuntu-24.04-cuda-12.6", "Ubuntu 24.04 LTS with CUDA 12.6"),
    ("debian-12-cuda-12.4", "Debian 12 with CUDA 12.4"),
    ("rocky-9-cuda-12.4", "Rocky Linux 9 with CUDA 12.4"),
];

const AI_MODELS: [(&str, f64); 2] = [
    ("llama-3.1-70b-instruct", 0.000_9),
    ("qwen-2.5-7b-instruct", 0.000_2),
];

pub fn balance(world: &World, _req: &Req) -> Outcome {
    Ok(Reply::ok(
        json!({
            "balance": round2(world.balance),
            "currency": world.currency,
            "minimum_balance": minimum_balance(&world.currency),
        }),
        "advanced",
    ))
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn all_regions() -> impl Iterator<Item = &'static str> {
    ADVANCED_REGIONS.into_iter().chain(LEGACY_REGIONS)
}

fn models_of(region: &str) -> &'static [(&'static str, f64)] {
    if is_advanced(region) {
        &ADVANCED_GPUS
    } else {
        &LEGACY_GPUS
    }
}

/// One row of "GPU stocks", written straight to JSON (a `json!` tree per row made this list
/// allocate some 1,500 times per request).
#[derive(Serialize)]
struct StockRow<'a> {
    region: &'a str,
    tier: &'static str,
    gpu_model: &'a str,
    available_gpus: i64,
    configurations: [Configuration; GPU_COUNTS.len()],
}

#[derive(Serialize)]
struct Configuration {
    gpu_count: i64,
    available: i64,
}

pub fn gpu_stocks(world: &World, req: &Req) -> Outcome {
    let mut rows = Vec::new();
    for region in all_regions() {
        for (model, _) in models_of(region) {
            let free = world.free_gpus(region, model);
            rows.push(StockRow {
                region,
                tier: tier(region),
                gpu_model: model,
                available_gpus: free,
                configurations: GPU_COUNTS.map(|gpu_count| Configuration {
                    gpu_count,
                    available: free / gpu_count,
                }),
            });
        }
    }
    list_of(rows.iter(), |row| row, req, "advanced")
}

pub fn gpu_specs(_world: &World, req: &Req) -> Outcome {
    let specs = |(model, _): &(&str, f64), tier: &str| {
        let memory: i64 = model
            .rsplit('-')
            .next()
            .and_then(|m| m.trim_end_matches("GB").parse().ok())
            .unwrap_or(48);
        let (vcpus, ram) = per_gpu(tier);
        json!({"gpu_model": model, "memory_gb": memory, "tier": tier,
               "vcpus_per_gpu": vcpus, "ram_gb_per_gpu": ram, "gpu_counts": GPU_COUNTS})
    };
    let items = ADVANCED_GPUS
        .iter()
        .map(|g| specs(g, "advanced"))
        .chain(LEGACY_GPUS.iter().map(|g| specs(g, "legacy")))
        .collect();
    list(items, req, "advanced")
}

/// vCPUs and GB of RAM that come with each GPU.
pub fn per_gpu(tier: &str) -> (i64, i64) {
    if tier == "advanced" {
        (16, 128)
    } else {
        (8, 64)
    }
}

pub fn regions(_world: &World, req: &Req) -> Outcome {
    let items = all_regions()
        .map(|region| {
            let models: Vec<&str> = models_of(region).iter().map(|(m, _)| *m).collect();
            json!({"name": region, "tier": tier(region), "gpu_models": models,
                   "deprecated": matches!(region, "NORWAY-1" | "US-1")})
        })
        .collect();
    list(items, req, "advanced")
}

pub fn pricing(world: &World, _req: &Req) -> Outcome {
    let gpus: Vec<Value> = ADVANCED_GPUS
        .iter()
        .map(|(m, r)| json!({"gpu_model": m, "tier": "advanced", "hourly_per_gpu": r}))
        .chain(
            LEGACY_GPUS
                .iter()
                .map(|(m, r)| json!({"gpu_model": m, "tier": "legacy", "hourly_per_gpu": r})),
        )
        .collect();
    let volumes: Vec<Value> = VOLUME_TYPES
        .iter()
        .map(|(t, r)| json!({"type": t, "hourly_per_gb": r}))
        .collect();
    Ok(Reply::ok(
        json!({
            "currency": world.currency,
            "gpus": gpus,
            "os_volume_hourly_per_gb": OS_VOLUME_RATE,
            "volumes": volumes,
            "snapshot_hourly_per_gb": SNAPSHOT_RATE,
            "billing": "per minute",
        }),
        "advanced",
    ))
}

/// Hourly cost of a configuration, as deploy computes it.
pub fn quote(world: &World, req: &Req) -> Outcome {
    // Keys, types, models, counts and sizes were checked against deploy's shape on the way in.
    let mut errors = FieldErrors::default();
    let model = req.text("gpu_model", &mut errors);
    let count = req.int("gpu_count", &mut errors).unwrap_or(1);
    let os_gb = req
        .int("os_volume_size_gb", &mut errors)
        .unwrap_or(rules::OS_VOLUME_MIN_GB);
    let region = req.text("region", &mut errors);
    let rate = match model.as_deref() {
        None => {
            errors.add("gpu_model", "This field is required");
            0.0
        }
        Some(m) => gpu_rate(m).unwrap_or(0.0),
    };
    if let (Some(r), Some(m)) = (&region, &model) {
        errors.check("gpu_model", crate::api::deployment::offered(r, m));
    }
    // Quote takes deploy's keys: the data volumes named are priced by their size and type.
    let mut volume_cost = 0.0;
    for id in req.ids("volume_ids", &mut errors).unwrap_or_default() {
        match world.volumes.get(&id) {
            Some(volume) => volume_cost += volume.hourly_cost(),
            None => errors.add("volume_ids", format!("Volume {id} not found")),
        }
    }
    errors.finish()?;
    let gpu = rate * count as f64;
    let os = os_gb as f64 * OS_VOLUME_RATE;
    let region_tier = region.as_deref().map(tier).unwrap_or("advanced");
    Ok(Reply::ok(
        json!({
            "currency": world.currency,
            "hourly_cost": round4(gpu + os + volume_cost),
            "breakdown": {"gpu": round4(gpu), "os_volume": round4(os), "volumes": round4(volume_cost)},
        }),
        region_tier,
    ))
}

pub fn os_images(_world: &World, req: &Req) -> Outcome {
    let items = OS_IMAGES
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name, "requires_ssh_key": true, "min_disk_gb": 100}))
        .collect();
    list(items, req, "advanced")
}

pub fn ai_models(_world: &World, req: &Req) -> Outcome {
    let items = AI_MODELS
        .iter()
        .map(|(id, price)| json!({"id": id, "object": "model", "price_per_token": price}))
        .collect();
    list(items, req, "advanced")
}

pub fn chat(world: &mut World, req: &Req) -> Outcome {
    let mut errors = FieldErrors::default();
    let model = req.text("model", &mut errors);
    let price = match model.as_deref() {
        None => {
            errors.add("model", "This field is required");
            0.0
        }
        Some(m) => match AI_MODELS.iter().find(|(id, _)| *id == m) {
            Some((_, p)) => *p,
            None => {
                errors.add("model", format!("Unknown model {m}"));
                0.0
            }
        },
    };
    let messages = match req.body.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m.clone(),
        _ => {
            errors.add("messages", "At least one message is required");
            Vec::new()
        }
    };
    let last = messages
        .last()
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if messages
        .iter()
        .any(|m| m.get("role").and_then(Value::as_str).is_none())
    {
        errors.add("messages", "Every message needs a role and content");
    }
    errors.finish()?;
    let prompt_tokens = messages
        .iter()
        .filter_map(|m| m.get("content").and_then(Value::as_str))
        .map(|c| c.split_whitespace().count() as i64 + 1)
        .sum::<i64>();
    let answer = format!("(simulated) You said: {last}");
    let completion_tokens = answer.split_whitespace().count() as i64;
    let cost = (prompt_tokens + completion_tokens) as f64 * price;
    world.balance -= cost;
    let id = world.new_id("chatcmpl-");
    let created_at = world.timestamp();
    world.ai_usage.push(json!({
        "id": id, "model": model, "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens, "cost": round4(cost), "created_at": created_at,
    }));
    Ok(Reply::ok(
        json!({
            "id": id,
            "object": "chat.completion",
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }),
        "advanced",
    ))
}

pub fn ai_usage(world: &World, _req: &Req) -> Outcome {
    let tokens: i64 = world
        .ai_usage
        .iter()
        .map(|u| {
            u["prompt_tokens"].as_i64().unwrap_or(0) + u["completion_tokens"].as_i64().unwrap_or(0)
        })
        .sum();
    let cost: f64 = world
        .ai_usage
        .iter()
        .map(|u| u["cost"].as_f64().unwrap_or(0.0))
        .sum();
    Ok(Reply::ok(
        json!({"total_requests": world.ai_usage.len(), "total_tokens": tokens,
               "total_cost": round4(cost), "currency": world.currency}),
        "advanced",
    ))
}

pub fn ai_usage_history(world: &World, req: &Req) -> Outcome {
    list_of(world.ai_usage.iter(), |u| u, req, "advanced")
}

pub fn ssh_keys(world: &World, req: &Req) -> Outcome {
    list_of(world.ssh_keys.values(), |k| k, req, "advanced")
}

pub fn create_ssh_key(world: &mut World, req: &Req) -> Outcome {
    let mut errors = FieldErrors::default();
    let name = req.text("name", &mut errors);
    let key = req.text("public_key", &mut errors);
    match &name {
        None => errors.add("name", "This field is required"),
        Some(n) => errors.check("name", rules::ssh_key_name(n)),
    }
    match &key {
        None => errors.add("public_key", "This field is required"),
        Some(k) => errors.check("public_key", rules::public_key(k)),
    }
    errors.finish()?;
    let (name, key) = (name.unwrap_or_default(), key.unwrap_or_default());
    if world.ssh_keys.values().any(|k| k.name == name) {
        return Err(Refusal::conflict(format!(
            "An SSH key named {name:?} already exists"
        )));
    }
    if world
        .ssh_keys
        .values()
        .any(|k| k.public_key.split_whitespace().nth(1) == key.split_whitespace().nth(1))
    {
        return Err(Refusal::conflict("This public key is already registered"));
    }
    let id = world.new_id(Kind::SshKey.id_prefix());
    let fingerprint = format!("SHA256:{:016x}", fnv(key.as_bytes()));
    let created_at = world.timestamp();
    let ssh_key = SshKey {
        id: id.clone(),
        name,
        public_key: key,
        fingerprint,
        created_at,
    };
    let reply = Reply::created(&ssh_key, "advanced");
    world.ssh_keys.insert(id, ssh_key);
    Ok(reply)
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

pub fn ssh_key(world: &World, req: &Req) -> Outcome {
    let key = found(&world.ssh_keys, Kind::SshKey, req.id())?;
    Ok(Reply::ok(key, "advanced"))
}

pub fn delete_ssh_key(world: &mut World, req: &Req) -> Outcome {
    let key = removed(&mut world.ssh_keys, Kind::SshKey, req.id())?;
    Ok(Reply::ok(
        json!({"id": key.id, "deleted": true}),
        "advanced",
    ))
}

pub fn scripts(world: &World, req: &Req) -> Outcome {
    list_of(world.scripts.values(), |s| s, req, "advanced")
}

/// Validate a script's fields, all at once, as the printed example does.
fn check_script(
    world: &World,
    req: &Req,
    own_id: Option<&str>,
    creating: bool,
) -> Result<(Option<String>, Option<String>), Refusal> {
    let mut errors = FieldErrors::default();
    let name = req.text("name", &mut errors);
    let body = req.text("script", &mut errors);
    match &name {
        Some(n) => errors.check("name", rules::script_name(n)),
        None if creating => errors.add("name", "This field is required"),
        None => {}
    }
    match &body {
        Some(b) => errors.check("script", rules::script_content(b)),
        None if creating => errors.add("script", "This field is required"),
        None => {}
    }
    errors.finish()?;
    if let Some(n) = &name {
        if world
            .scripts
            .values()
            .any(|s| &s.name == n && Some(s.id.as_str()) != own_id)
        {
            return Err(Refusal::conflict(format!(
                "A startup script named {n:?} already exists"
            )));
        }
    }
    Ok((name, body))
}

pub fn create_script(world: &mut World, req: &Req) -> Outcome {
    let (name, body) = check_script(world, req, None, true)?;
    let (name, body) = (name.unwrap_or_default(), body.unwrap_or_default());
    let id = world.new_id(Kind::Script.id_prefix());
    let now = world.timestamp();
    let size_bytes = body.len() as i64;
    world.scripts.insert(
        id.clone(),
        Script {
            id,
            name,
            script: body,
            size_bytes,
            created_at: now.clone(),
            updated_at: now,
        },
    );
    // The reference prints: 201, "This response does not have a body."
    Ok(Reply {
        status: 201,
        envelope: None,
        pagination: None,
        tier: "advanced",
    })
}

pub fn script(world: &World, req: &Req) -> Outcome {
    let script = found(&world.scripts, Kind::Script, req.id())?;
    Ok(Reply::ok(script, "advanced"))
}

pub fn update_script(world: &mut World, req: &Req) -> Outcome {
    if !world.scripts.contains_key(req.id()) {
        return Err(missing(Kind::Script, req.id()));
    }
    let (name, body) = check_script(world, req, Some(req.id()), false)?;
    let now = world.timestamp();
    let script = found_mut(&mut world.scripts, Kind::Script, req.id())?;
    if let Some(n) = name {
        script.name = n;
    }
    if let Some(b) = body {
        script.size_bytes = b.len() as i64;
        script.script = b;
    }
    script.updated_at = now;
    Ok(Reply::ok(&*script, "advanced"))
}

pub fn delete_script(world: &mut World, req: &Req) -> Outcome {
    let script = removed(&mut world.scripts, Kind::Script, req.id())?;
    Ok(Reply::ok(
        json!({"id": script.id, "deleted": true}),
        "advanced",
    ))
}

/// All or nothing: an unknown id deletes none of them.
pub fn delete_scripts(world: &mut World, req: &Req) -> Outcome {
    let mut errors = FieldErrors::default();
    let ids = req.ids("ids", &mut errors);
    if ids.as_ref().is_none_or(|i| i.is_empty()) && errors.is_empty() {
        errors.add("ids", "At least one script id is required");
    }
    errors.finish()?;
    let ids = ids.unwrap_or_default();
    if let Some(unknown) = ids.iter().find(|id| !world.scripts.contains_key(*id)) {
        return Err(missing(Kind::Script, unknown));
    }
    for id in &ids {
        world.scripts.remove(id);
    }
    Ok(Reply::ok(
        json!({"deleted": ids, "count": ids.len()}),
        "advanced",
    ))
}
