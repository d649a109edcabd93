//! Criterion benchmarks of the in-process parts (issue 9). Nothing here asserts a time; the
//! side-by-side targets against named baselines are `benches/compare.sh`.
//!
//! - `script/*`: building the packages and an engine, compiling a script, running one with no
//!   API call, and one `balance()` against the in-process simulator (compile + run overhead);
//! - `client/*`: one call through the client, request to decoded JSON, against
//!   `Simulator::start(SimOptions::fast())` on loopback (`balance`, a 100-instance list page);
//! - `catalog/*`: operation lookup by name and by Rhai name, route resolution with overrides,
//!   and the simulator's router;
//! - `sim/*`: the simulator's handler without a socket (`Simulator::answer`), and starting and
//!   stopping a simulator (`barrack test` starts one per test);
//! - `lists/*`: one page of instances from worlds of 0, 1,000 and 10,000 (issue 18: a page
//!   costs its own size, so the full pages at 1,000 and 10,000 should cost the same), and a
//!   filtered page 2 at 10,000 (a filter visits every instance, but writes only its page).
//!
//! `cargo bench --bench inprocess` runs them all; `cargo bench --bench inprocess -- client` one
//! group.

use barrack::api::catalog::{self, Catalog, Method};
use barrack::api::{Args, Client, ClientSettings};
use barrack::script::{BarrackPackage, Host, Runtime, Source};
use barrack::secret::ApiKey;
use barrack::sim::world::Instance;
use barrack::sim::{SimOptions, Simulator};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rhai::packages::StandardPackage;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "bench-key";

fn simulator() -> Simulator {
    Simulator::start(SimOptions::fast()).expect("the in-process simulator starts")
}

fn client(sim: &Simulator) -> Client {
    Client::new(ClientSettings::new(sim.base_url(), ApiKey::new(KEY))).expect("a client")
}

/// A world with `n` instances, so list pages are full.
fn populate(sim: &Simulator, client: &Client, n: usize) {
    let deploy = catalog::find("deploy").expect("deploy");
    let ssh_key = sim.with_world(|w| {
        w.balance = 1e9;
        w.ssh_keys.keys().next().cloned().expect("a seeded SSH key")
    });
    for i in 0..n {
        let mut args = Args::new();
        args.insert("gpu_model".into(), "H100-SXM5-80GB".into());
        args.insert("gpu_count".into(), 1.into());
        args.insert("region".into(), "FINLAND-2".into());
        args.insert("os_image_id".into(), "ubuntu-22.04-cuda-12.4".into());
        args.insert("ssh_key_ids".into(), vec![ssh_key.clone()].into());
        args.insert("name".into(), format!("bench-{i}").into());
        sim.with_world(|w| {
            w.stock.insert(
                barrack::sim::world::stock_key("FINLAND-2", "H100-SXM5-80GB"),
                64,
            )
        });
        client.call(deploy, &args).expect("deploy");
    }
}

fn script(c: &mut Criterion) {
    let sim = simulator();
    let mut group = c.benchmark_group("script");
    group.bench_function("standard_package", |b| b.iter(StandardPackage::new));
    group.bench_function("barrack_package", |b| {
        let rt = Arc::new(Runtime::new(client(&sim)));
        b.iter(|| BarrackPackage::new(rt.clone()))
    });
    let host = Host::builder(client(&sim)).build();
    group.bench_function("engine", |b| b.iter(|| host.engine(None)));
    let engine = host.engine(None);
    let quickstart = include_str!("../scripts/quickstart.rhai");
    group.bench_function("compile_quickstart", |b| {
        b.iter(|| engine.compile(black_box(quickstart)).expect("compiles"))
    });
    let pure = Source::snippet("<bench>", "let x = 0; for i in 0..100 { x += i; } x");
    group.bench_function("run_no_call", |b| {
        b.iter(|| host.run(black_box(&pure)).expect("runs"))
    });
    let one_call = Source::snippet("<bench>", "balance()");
    group.bench_function("run_one_balance", |b| {
        b.iter(|| host.run(black_box(&one_call)).expect("runs"))
    });
    let ast = engine.compile("balance()").expect("compiles");
    group.bench_function("eval_one_balance", |b| {
        b.iter(|| engine.eval_ast::<rhai::Dynamic>(&ast).expect("runs"))
    });
    group.finish();
}

fn client_calls(c: &mut Criterion) {
    let sim = simulator();
    let client = client(&sim);
    populate(&sim, &client, 100);
    let mut group = c.benchmark_group("client");
    let balance = catalog::find("balance").expect("balance");
    let empty = Args::new();
    group.bench_function("balance", |b| {
        b.iter(|| client.call(balance, black_box(&empty)).expect("balance"))
    });
    let instances = catalog::find("instances").expect("instances");
    group.bench_function("instances_100", |b| {
        b.iter(|| {
            let list = client.call(instances, black_box(&empty)).expect("list");
            assert_eq!(list.as_array().map(Vec::len), Some(100));
            list
        })
    });
    group.bench_function("client_new", |b| {
        b.iter(|| Client::new(ClientSettings::new(sim.base_url(), ApiKey::new(KEY))).is_ok())
    });
    group.finish();
}

fn catalog_lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("catalog");
    group.bench_function("find", |b| {
        b.iter(|| catalog::find(black_box("remove_firewall_rule")))
    });
    group.bench_function("by_rhai_name", |b| {
        b.iter(|| catalog::by_rhai_name(black_box("delete")).count())
    });
    let op = catalog::find("instance").expect("instance");
    let builtin = Catalog::builtin();
    group.bench_function("route_builtin", |b| {
        b.iter(|| builtin.route(black_box(op)).1.len())
    });
    let overridden =
        Catalog::with_overrides(r#"[{"name":"instance","path":"/v2/instances/{id}/"}]"#)
            .expect("override");
    group.bench_function("route_override", |b| {
        b.iter(|| overridden.route(black_box(op)).1.len())
    });
    group.bench_function("sim_route", |b| {
        b.iter(|| {
            barrack::sim::route(
                black_box(Method::Delete),
                black_box("/firewalls/fw-1/rules/r-2/"),
            )
        })
    });
    group.finish();
}

fn simulator_handler(c: &mut Criterion) {
    let sim = simulator();
    let client = client(&sim);
    populate(&sim, &client, 100);
    let auth = format!("Bearer {KEY}");
    let headers = [("Authorization", auth.as_str())];
    let mut group = c.benchmark_group("sim");
    group.bench_function("balance", |b| {
        b.iter(|| {
            sim.answer("GET", black_box("/balance/"), &headers, b"")
                .expect("answer")
        })
    });
    group.bench_function("instances_page_100", |b| {
        b.iter(|| {
            sim.answer(
                "GET",
                black_box("/instances/?page=1&per_page=100"),
                &headers,
                b"",
            )
            .expect("answer")
        })
    });
    group.bench_function("not_found", |b| {
        b.iter(|| {
            sim.answer("GET", black_box("/nope/"), &headers, b"")
                .expect("answer")
        })
    });
    let quote = br#"{"gpu_model":"H100-SXM5-80GB","gpu_count":8,"region":"FINLAND-1"}"#;
    group.bench_function("quote_post", |b| {
        b.iter_batched(
            || quote.to_vec(),
            |body| {
                sim.answer("POST", "/pricing/", &headers, &body)
                    .expect("answer")
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("start_and_drop", |b| b.iter(simulator));
    group.finish();
}

/// A world of `n` ACTIVE instances in FINLAND-1, put in directly (deploying 10,000 through the
/// API would take longer than the benchmark).
fn world_of(n: usize) -> Simulator {
    let sim = simulator();
    sim.with_world(|w| {
        for i in 0..n {
            let id = w.new_instance_id(false);
            let mut vm = Instance::starting(
                id.clone(),
                format!("vm-{i}"),
                "ACTIVE",
                "FINLAND-1",
                "H100-SXM5-80GB",
                1,
                format!("10.0.{}.{}", i / 250, i % 250 + 2),
                w.timestamp(),
                w.clock,
            );
            vm.pending = None;
            vm.os_volume_size_gb = 100;
            w.instances.insert(id, vm.into());
        }
    });
    sim
}

fn list_pages(c: &mut Criterion) {
    let auth = format!("Bearer {KEY}");
    let headers = [("Authorization", auth.as_str())];
    let mut group = c.benchmark_group("lists");
    for n in [0, 1_000, 10_000] {
        let sim = world_of(n);
        group.bench_function(format!("instances_page_1_of_{n}"), |b| {
            b.iter(|| {
                sim.answer("GET", black_box("/instances/?page=1"), &headers, b"")
                    .expect("answer")
            })
        });
        if n == 10_000 {
            let filtered = "/instances/?status=ACTIVE&region=FINLAND-1&page=2";
            group.bench_function(format!("instances_filtered_page_2_of_{n}"), |b| {
                b.iter(|| {
                    sim.answer("GET", black_box(filtered), &headers, b"")
                        .expect("answer")
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = script, client_calls, catalog_lookup, simulator_handler, list_pages
}
criterion_main!(benches);
