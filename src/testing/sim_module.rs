//! The `sim` module of a test: `sim::advance`, `sim::set_time`, `sim::faults`, `sim::stock`,
//! `sim::balance`, `sim::fail`, `sim::profile_complete`, `sim::requests`, `sim::state`.
//! Every knob acts on the test's own simulator directly (not over HTTP), so none of them shows
//! up in `sim::requests()` or moves the fault dice.

use super::requests::RequestLog;
use crate::api::facts;
use crate::script::convert;
use crate::script::handles::as_handle;
use crate::script::time::{duration, Time};
use crate::sim::{Faults, Simulator};
use rhai::{Dynamic, EvalAltResult, FuncRegistration, Map, Module, Shared};
use std::sync::Arc;

type Res<T> = Result<T, Box<EvalAltResult>>;

/// The module, bound to one simulator and its request log.
pub fn module(sim: &Arc<Simulator>, requests: &Arc<RequestLog>) -> Shared<Module> {
    let mut module = Module::new();
    let s = sim.clone();
    FuncRegistration::new("advance")
        .with_volatility(true)
        .with_comments(["/// Move the simulated clock forward (\"1d\", \"90m\" or seconds): lifecycles, billing and now() follow."])
        .set_into_module(&mut module, move |d: Dynamic| -> Res<()> {
            s.advance(duration(&d)?);
            Ok(())
        });
    let s = sim.clone();
    FuncRegistration::new("set_time")
        .with_volatility(true)
        .with_comments(["/// Move the simulated clock forward to a time (\"2026-03-27T18:55:00+02:00\" or a time value)."])
        .set_into_module(&mut module, move |t: Dynamic| -> Res<()> { set_time(&s, &t) });
    let s = sim.clone();
    FuncRegistration::new("faults")
        .with_volatility(true)
        .with_comments(["/// Inject faults: #{rate: 0.3, statuses: [503, 429], drop: 0.05, latency_ms: 0}; #{} turns them off."])
        .set_into_module(&mut module, move |options: Map| -> Res<()> {
            s.set_faults(faults(&options)?);
            Ok(())
        });
    let s = sim.clone();
    FuncRegistration::new("stock")
        .with_volatility(true)
        .with_comments(["/// Set the free GPUs of a model in a region: sim::stock(\"FINLAND-1\", \"H100-SXM5-80GB\", 0)."])
        .set_into_module(&mut module, move |region: &str, gpu: &str, n: i64| -> Res<()> {
            stock(&s, region, gpu, n)
        });
    let s = sim.clone();
    FuncRegistration::new("balance")
        .with_volatility(true)
        .with_comments(["/// Set the account balance."])
        .set_into_module(&mut module, move |x: Dynamic| -> Res<()> {
            balance(&s, &x)
        });
    let s = sim.clone();
    FuncRegistration::new("fail")
        .with_volatility(true)
        .with_comments(["/// Put an instance (a Vm or its id) in ERROR."])
        .set_into_module(&mut module, move |vm: Dynamic| -> Res<()> { fail(&s, &vm) });
    let s = sim.clone();
    FuncRegistration::new("profile_complete")
        .with_volatility(true)
        .with_comments(["/// Whether the account's profile is complete (deploys need it)."])
        .set_into_module(&mut module, move |complete: bool| {
            s.with_world(|w| w.profile_complete = complete);
        });
    let log = requests.clone();
    FuncRegistration::new("requests")
        .with_volatility(true)
        .with_comments(["/// The requests made so far: #{time, method, path, op, status, mutates}, each retry included."])
        .set_into_module(&mut module, move || RequestLog::to_array(&log.since(0)));
    let s = sim.clone();
    FuncRegistration::new("state")
        .with_volatility(true)
        .with_comments(["/// The simulated world as a map: clock, balance, stock, instances, volumes, snapshots…"])
        .set_into_module(&mut module, move || state(&s));
    module.into()
}

fn set_time(sim: &Simulator, t: &Dynamic) -> Res<()> {
    let wanted = match t.read_lock::<Time>() {
        Some(time) => *time,
        None if t.is_string() => {
            Time::parse(&t.to_string()).map_err(|e| format!("sim::set_time: {e}"))?
        }
        None => {
            return Err(format!(
                "sim::set_time: give a time such as \"2026-03-27T18:55:00+02:00\", not {}",
                convert::describe_value(t)
            )
            .into())
        }
    };
    let now = sim.now();
    if (wanted.epoch() as f64) < now.floor() {
        return Err(format!(
            "sim::set_time: the simulated clock only moves forward: it is {} and {wanted} is earlier \
             (in `barrack test` the clock starts at {})",
            Time(super::sandbox::epoch_to_timestamp(now)),
            super::sandbox::START
        )
        .into());
    }
    sim.advance_to(wanted.epoch() as f64);
    Ok(())
}

const FAULT_KEYS: &str = "rate, statuses, drop, latency_ms";

fn faults(options: &Map) -> Res<Faults> {
    let mut faults = Faults::default();
    let fraction = |key: &str, v: &Dynamic| -> Res<f64> {
        let f = v
            .as_float()
            .or_else(|_| v.as_int().map(|i| i as f64))
            .map_err(|_| format!("sim::faults: {key} must be a number between 0 and 1"))?;
        if !(0.0..=1.0).contains(&f) {
            return Err(format!("sim::faults: {key} must be between 0 and 1, not {f}").into());
        }
        Ok(f)
    };
    for (key, value) in options {
        match key.as_str() {
            "rate" => faults.fault_rate = fraction("rate", value)?,
            "drop" => faults.drop_rate = fraction("drop", value)?,
            "statuses" => {
                let list = value.read_lock::<rhai::Array>().map(|a| a.clone()).ok_or(
                    "sim::faults: statuses must be an array of HTTP statuses such as [503, 429]",
                )?;
                let mut statuses = Vec::new();
                for s in list {
                    match s.as_int() {
                        Ok(code @ 400..=599) => statuses.push(code as u16),
                        _ => {
                            return Err(format!(
                                "sim::faults: statuses takes 4xx/5xx codes, not {s}"
                            )
                            .into())
                        }
                    }
                }
                if statuses.is_empty() {
                    return Err(
                        "sim::faults: statuses is empty; give at least one, such as [503]".into(),
                    );
                }
                faults.fault_status = statuses;
            }
            "latency_ms" => match value.as_int() {
                Ok(ms @ 0..=10_000) => faults.latency_ms = ms as u64,
                _ => {
                    return Err(format!(
                        "sim::faults: latency_ms must be 0 to 10000 milliseconds, not {value}"
                    )
                    .into())
                }
            },
            other => {
                return Err(format!(
                    "sim::faults: unknown option {other:?}; the options are {FAULT_KEYS}"
                )
                .into())
            }
        }
    }
    Ok(faults)
}

fn stock(sim: &Simulator, region: &str, gpu: &str, n: i64) -> Res<()> {
    let regions: Vec<&str> = facts::ADVANCED_REGIONS
        .iter()
        .chain(facts::LEGACY_REGIONS.iter())
        .copied()
        .collect();
    if !regions.contains(&region) {
        return Err(format!(
            "sim::stock: unknown region {region:?}; the regions are {}",
            regions.join(", ")
        )
        .into());
    }
    if !facts::region_offers(region, gpu) {
        let offered: Vec<&str> = if facts::is_advanced(region) {
            facts::ADVANCED_GPU_MODELS.to_vec()
        } else {
            facts::LEGACY_GPU_MODELS.to_vec()
        };
        return Err(format!(
            "sim::stock: {region} does not offer {gpu:?}; it offers {}",
            offered.join(", ")
        )
        .into());
    }
    if n < 0 {
        return Err(format!("sim::stock: the number of free GPUs cannot be negative ({n})").into());
    }
    sim.with_world(|w| w.stock.insert(crate::sim::world::stock_key(region, gpu), n));
    Ok(())
}

fn balance(sim: &Simulator, x: &Dynamic) -> Res<()> {
    let amount = x
        .as_float()
        .or_else(|_| x.as_int().map(|i| i as f64))
        .ok()
        .filter(|f| f.is_finite())
        .ok_or_else(|| {
            format!(
                "sim::balance: give an amount such as 25.0, not {}",
                convert::describe_value(x)
            )
        })?;
    sim.with_world(|w| w.balance = amount);
    Ok(())
}

fn fail(sim: &Simulator, vm: &Dynamic) -> Res<()> {
    let id = match as_handle(vm) {
        Some(handle) => handle.id(),
        None if vm.is_string() => vm.to_string(),
        None => {
            return Err(format!(
                "sim::fail: give an instance (a Vm or its id), not {}",
                convert::describe_value(vm)
            )
            .into())
        }
    };
    let found = sim.with_world(|w| match w.instances.get_mut(&id) {
        Some(instance) => {
            instance.status = "ERROR".into();
            instance.pending = None;
            true
        }
        None => false,
    });
    if found {
        Ok(())
    } else {
        Err(format!("sim::fail: no instance {id:?} in this test's simulator").into())
    }
}

/// The world as the simulator keeps it, without its bookkeeping (idempotency answers, RNG).
fn state(sim: &Simulator) -> Dynamic {
    let mut json = serde_json::to_value(sim.world()).unwrap_or_default();
    if let Some(map) = json.as_object_mut() {
        for key in ["idempotency", "rng_state", "next_serial"] {
            map.remove(key);
        }
        // The world writes its clock as RFC 3339; `time` is the same instant as the scripts'
        // `now()` prints it.
        map.insert(
            "time".into(),
            Time(super::sandbox::epoch_to_timestamp(sim.now()))
                .to_string()
                .into(),
        );
    }
    convert::to_dynamic(json)
}
