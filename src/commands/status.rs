//! `barrack status [--watch [DUR]]`: what a fleet operator checks first, on one screen, every
//! figure from API reads (balance, instances with their billing, volumes, snapshots, the
//! hibernated count). `-o json` prints the same figures as one object.

use super::status_view;
use crate::api::{catalog, Args, Client};
use crate::cli::{Format, GlobalOpts, StatusArgs};
use crate::connect::connect;
use crate::error::{Error, Result};
use crate::output::{figures, Printer};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// Statuses in which an instance has given its GPUs back (hibernation releases them; a stopped
/// instance keeps them, as the API documents).
const GPUS_RELEASED: [&str; 3] = ["HIBERNATING", "HIBERNATED", "DELETING"];

/// How many billing reads run at once: a fleet of hundreds answers in a few round trips.
const READERS: usize = 8;

/// The figures of one screen.
#[derive(Debug, Clone)]
pub struct Status {
    pub time: String,
    pub now: jiff::Timestamp,
    pub balance: f64,
    pub currency: String,
    pub burn_instances: f64,
    pub burn_volumes: f64,
    pub burn_snapshots: f64,
    pub hibernated: i64,
    /// Instances as the API lists them.
    pub instances: Vec<Value>,
    /// Newest snapshot of each listed instance (`None`: it has none).
    pub newest: Vec<(Value, Option<Value>)>,
}

impl Status {
    pub fn burn(&self) -> f64 {
        self.burn_instances + self.burn_volumes + self.burn_snapshots
    }

    /// Hours the balance lasts at the current burn; `None` when nothing burns.
    pub fn runway_hours(&self) -> Option<f64> {
        let burn = figures::round(self.burn(), 4);
        (burn > 0.0).then(|| (self.balance / burn).max(0.0))
    }

    /// Counts by status: `{"ACTIVE": 2, "HIBERNATED": 1}`.
    pub fn by_status(&self) -> BTreeMap<String, i64> {
        let mut counts = BTreeMap::new();
        for vm in &self.instances {
            *counts.entry(text(vm, "status")).or_insert(0) += 1;
        }
        counts
    }

    /// Counts by region, then status.
    pub fn by_region(&self) -> BTreeMap<String, BTreeMap<String, i64>> {
        let mut counts: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        for vm in &self.instances {
            *counts
                .entry(text(vm, "region"))
                .or_default()
                .entry(text(vm, "status"))
                .or_insert(0) += 1;
        }
        counts
    }

    pub fn gpus_in_use(&self) -> i64 {
        self.instances
            .iter()
            .filter(|vm| !GPUS_RELEASED.contains(&text(vm, "status").as_str()))
            .map(|vm| vm.get("gpu_count").and_then(Value::as_i64).unwrap_or(0))
            .sum()
    }

    pub fn errors(&self) -> Vec<&Value> {
        self.instances
            .iter()
            .filter(|vm| text(vm, "status") == "ERROR")
            .collect()
    }

    /// Seconds since an RFC 3339 time, by the server's clock.
    pub fn age_seconds(&self, created_at: &str) -> Option<i64> {
        let then: jiff::Timestamp = created_at.parse().ok()?;
        Some((self.now.as_second() - then.as_second()).max(0))
    }

    /// The `-o json` object. Rates to the price list's four decimals, runway to 0.1 h: the
    /// balance is the server's own figure, untouched.
    pub fn to_json(&self) -> Value {
        let newest: Map<String, Value> = self
            .newest
            .iter()
            .map(|(vm, snap)| {
                let value = match snap {
                    None => Value::Null,
                    Some(s) => json!({
                        "id": s.get("id"),
                        "name": s.get("name"),
                        "status": s.get("status"),
                        "created_at": s.get("created_at"),
                        "age_seconds": self.age_seconds(&text(s, "created_at")),
                    }),
                };
                (text(vm, "id"), value)
            })
            .collect();
        json!({
            "time": self.time,
            "balance": self.balance,
            "currency": self.currency,
            "hourly_burn": figures::round(self.burn(), 4),
            "hourly_burn_by_kind": {
                "instances": figures::round(self.burn_instances, 4),
                "volumes": figures::round(self.burn_volumes, 4),
                "snapshots": figures::round(self.burn_snapshots, 4),
            },
            "runway_hours": self.runway_hours().map(|h| figures::round(h, 1)),
            "instances": self.by_status(),
            "instances_total": self.instances.len(),
            "regions": self.by_region(),
            "gpus_in_use": self.gpus_in_use(),
            "hibernated": self.hibernated,
            "errors": self.errors().iter().map(|vm| text(vm, "id")).collect::<Vec<_>>(),
            "newest_snapshots": newest,
        })
    }
}

pub fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn number(value: &Value, key: &str) -> f64 {
    value.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

fn read(client: &Client, op: &str, args: Args) -> Result<Value> {
    let op = catalog::find(op)
        .ok_or_else(|| Error::script(format!("the catalog has no operation {op}")))?;
    Ok(client.call(op, &args)?)
}

fn id_args(id: &str) -> Args {
    let mut args = Args::new();
    args.insert("id".into(), id.into());
    args
}

fn list(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}

/// Each instance's current hourly rate from its billing (0 for one gone since it was listed).
fn instance_rates(client: &Client, instances: &[Value]) -> Result<Vec<f64>> {
    let mut rates = vec![0.0; instances.len()];
    for (chunk_rates, chunk) in rates.chunks_mut(READERS).zip(instances.chunks(READERS)) {
        let answers: Vec<Result<f64>> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|vm| {
                    scope.spawn(move || {
                        match read(client, "instance_billing", id_args(&text(vm, "id"))) {
                            Ok(billing) => Ok(number(&billing, "current_hourly_rate")),
                            Err(Error::Api(e)) if e.status == 404 => Ok(0.0),
                            Err(e) => Err(e),
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::script("a billing read stopped")))
                })
                .collect()
        });
        for (slot, answer) in chunk_rates.iter_mut().zip(answers) {
            *slot = answer?;
        }
    }
    Ok(rates)
}

/// Read everything one screen shows.
pub fn gather(client: &Client) -> Result<Status> {
    let balance = read(client, "balance", Args::new())?;
    let instances = list(read(client, "instances", Args::new())?);
    let volumes = list(read(client, "volumes", Args::new())?);
    let snapshots = list(read(client, "snapshots", Args::new())?);
    let hibernated = read(client, "hibernated_count", Args::new())?
        .get("count")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let rates = instance_rates(client, &instances)?;
    let active = |id: &str| {
        instances
            .iter()
            .any(|vm| text(vm, "id") == id && text(vm, "status") == "ACTIVE")
    };
    // A detached volume bills on its own; an attached one with its instance, while ACTIVE.
    let burn_volumes = volumes
        .iter()
        .filter(|v| match v.get("instance_id").and_then(Value::as_str) {
            None => true,
            Some(id) => active(id),
        })
        .map(|v| number(v, "hourly_cost"))
        .sum();
    let burn_snapshots = snapshots.iter().map(|s| number(s, "hourly_cost")).sum();
    let newest = instances
        .iter()
        .map(|vm| {
            let id = text(vm, "id");
            let snap = snapshots
                .iter()
                .filter(|s| text(s, "instance_id") == id)
                .max_by_key(|s| text(s, "created_at"))
                .cloned();
            (vm.clone(), snap)
        })
        .collect();
    let now = client.server_now();
    Ok(Status {
        time: now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        now,
        balance: number(&balance, "balance"),
        currency: balance
            .get("currency")
            .and_then(Value::as_str)
            .unwrap_or("USD")
            .to_string(),
        burn_instances: rates.iter().sum(),
        burn_volumes,
        burn_snapshots,
        hibernated,
        instances,
        newest,
    })
}

pub fn run(args: &StatusArgs, global: &GlobalOpts, printer: Printer) -> Result<ExitCode> {
    let connection = connect(global, &args.connect, Vec::new())?;
    let terminal = std::io::stdout().is_terminal();
    let color = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut shown: u64 = 0;
    loop {
        let status = gather(&connection.client)?;
        let mut out = std::io::stdout().lock();
        let written = match printer.format {
            Format::Json => printer.value(&mut out, &status.to_json()),
            Format::Text => {
                let screen = status_view::render(&status, color);
                if args.watch.is_some() && terminal {
                    // Home and clear: the next screen replaces this one in place.
                    write!(out, "\x1b[H\x1b[2J{screen}")
                } else if shown > 0 {
                    write!(out, "\n{screen}")
                } else {
                    write!(out, "{screen}")
                }
            }
        };
        written
            .and_then(|_| out.flush())
            .map_err(|e| Error::io("stdout", e))?;
        drop(out);
        shown += 1;
        let Some(every) = args.watch else {
            break;
        };
        if args.count.is_some_and(|n| shown >= n) {
            break;
        }
        std::thread::sleep(every.0);
    }
    Ok(ExitCode::SUCCESS)
}
