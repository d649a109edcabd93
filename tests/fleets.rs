//! Fleets: a fleet deploy reads the account facts (OS images, SSH keys, stock, scripts) once per
//! call, so N deployments cost N requests plus a constant (counted by the simulator); a full region
//! hands over to the next; fleet waits print one line per object in server time off a terminal.

use crate::support::{client_for, frozen_options, requests, run_code, GPU, KEY};
use crate::test::Test;
use barrack::script::Host;
use barrack::sim::Simulator;

fn host(sim: &Simulator, parallel: usize) -> Host {
    Host::builder(client_for(sim, Some(KEY)))
        .parallel(parallel)
        .build()
}

/// The API requests `deploy` of `n` bare specs (region, boot image and SSH key all defaulted)
/// makes, on a fresh simulator, and how many instances it made.
fn deploy_bare_specs(n: usize) -> (u64, usize) {
    let sim = Simulator::start(frozen_options()).unwrap();
    let host = host(&sim, 4);
    let before = requests(&sim);
    let code = format!(
        r#"let specs = []; for i in 0..{n} {{ specs.push(#{{gpu: "{GPU}"}}); }}
           deploy(specs).len()"#
    );
    let made = run_code(&host, &code).unwrap_or_else(|e| panic!("{e}"));
    let spent = requests(&sim) - before;
    assert_eq!(made.as_int().unwrap(), n as i64);
    (spent, sim.world().instances.len())
}

#[test]
fn a_fleet_deploy_costs_one_request_per_instance_plus_a_constant() {
    let (two, made_two) = deploy_bare_specs(2);
    let (ten, made_ten) = deploy_bare_specs(10);
    assert_eq!((made_two, made_ten), (2, 10));
    // Eight more instances cost eight more requests: their POSTs, nothing else per spec.
    assert_eq!(ten - two, 8, "2 specs: {two} requests, 10 specs: {ten}");
    // The constant: one read each of the stock, the OS images and the SSH keys.
    assert_eq!(ten, 10 + 3, "10 specs: {ten} requests");
}

/// Region names of the fleet's instances, counted.
fn regions(sim: &Simulator) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for vm in sim.world().instances.values() {
        *counts.entry(vm.region.clone()).or_default() += 1;
    }
    counts
}

#[test]
fn a_fleet_that_fills_a_region_moves_on_to_the_next() {
    // FINLAND-1 has 64 H100s: eight 8-GPU deployments fill it, the ninth goes to FINLAND-2,
    // though the stock was read once, before the first.
    let sim = Simulator::start(frozen_options()).unwrap();
    let code = format!(
        r#"let specs = []; for i in 0..9 {{ specs.push(#{{gpu: "{GPU}", gpu_count: 8}}); }}
           deploy(specs).len()"#
    );
    let made = run_code(&host(&sim, 4), &code).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(made.as_int().unwrap(), 9);
    let expected = [("FINLAND-1".to_string(), 8), ("FINLAND-2".to_string(), 1)];
    assert_eq!(regions(&sim), expected.into_iter().collect());
}

#[test]
fn a_spec_refused_before_sending_leaves_its_region_to_the_others() {
    // The first spec names a startup script there is none of: refused before any POST, it
    // must not hold 8 of FINLAND-1's 64 GPUs, so all eight others still fit there.
    let sim = Simulator::start(frozen_options()).unwrap();
    let code = format!(
        r#"let specs = [#{{gpu: "{GPU}", gpu_count: 8, startup_script: "no-such-script"}}];
           for i in 0..8 {{ specs.push(#{{gpu: "{GPU}", gpu_count: 8}}); }}
           let failure = ();
           try {{ deploy(specs); }} catch (e) {{ failure = e; }}
           [failure.failures.len(), failure.failures[0].index, failure.message]"#
    );
    let value = run_code(&host(&sim, 1), &code).unwrap_or_else(|e| panic!("{e}"));
    let items = value.into_array().unwrap();
    assert_eq!(items[0].as_int().unwrap(), 1, "{items:?}");
    assert_eq!(items[1].as_int().unwrap(), 0, "{items:?}");
    assert!(items[2].to_string().contains("no-such-script"), "{items:?}");
    let expected = [("FINLAND-1".to_string(), 8)];
    assert_eq!(regions(&sim), expected.into_iter().collect());
}

#[test]
fn a_stock_hint_spent_on_refused_deployments_is_read_again_before_refusing() {
    // 32 specs the server refuses (an SSH key it does not know) each held 8 H100s of the hint:
    // the hint says every region is empty, yet the stock is all there. The last spec must read
    // the stock again and deploy, not be refused on the stale hint.
    let sim = Simulator::start(frozen_options()).unwrap();
    let code = format!(
        r#"let specs = [];
           for i in 0..32 {{ specs.push(#{{gpu: "{GPU}", gpu_count: 8, ssh_keys: ["key-unknown"]}}); }}
           specs.push(#{{gpu: "{GPU}", gpu_count: 8}});
           let failure = ();
           try {{ deploy(specs); }} catch (e) {{ failure = e; }}
           [failure.failures.len(), failure.results[32].region]"#
    );
    let value = run_code(&host(&sim, 1), &code).unwrap_or_else(|e| panic!("{e}"));
    let items = value.into_array().unwrap();
    assert_eq!(items[0].as_int().unwrap(), 32, "{items:?}");
    assert_eq!(items[1].to_string(), "FINLAND-1", "{items:?}");
}

// ---- fleet progress: one line per object, in server time, off a terminal ----

#[test]
fn a_fleet_wait_off_a_terminal_prints_one_line_per_object_in_server_time() {
    let out = Test::run(
        r#"
        let vms = deploy([#{gpu: "L40", region: "CANADA-1", name: "w-1"},
                          #{gpu: "L40", region: "CANADA-1", name: "w-2"},
                          #{gpu: "L40", region: "CANADA-1", name: "w-3"}]);
        wait_active(vms);
        "#,
    )
    .success();
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("is ACTIVE after"))
        .collect();
    assert_eq!(lines.len(), 3, "{}", out.stderr);
    for name in ["w-1", "w-2", "w-3"] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("({name}) is ACTIVE"))),
            "{}",
            out.stderr
        );
    }
    // Deploys take 2–5 minutes of the simulator's time (a fraction of a second of ours): the
    // lines report the server's minutes, not the wall clock's.
    for line in &lines {
        let took = line.rsplit("after ").next().unwrap();
        let took = humantime::parse_duration(took).unwrap();
        assert!(took.as_secs() >= 120, "{line}");
    }
    for debris in ['\r', '\x1b', '⠁', '⠋'] {
        assert!(!out.stderr.contains(debris), "{:?}", out.stderr);
    }
}

#[test]
fn a_fleet_action_on_one_object_says_object() {
    Test::run(
        r#"
        let vm = deploy(#{gpu: "L40", region: "CANADA-1"});
        wait_active(vm);
        hibernate([vm]);
        "#,
    )
    .stderr_has("hibernate on 1 object: 1 done, 0 failed")
    .stderr_lacks("1 objects")
    .success();
}
