//! `barrack test` as a user runs it: the recipes' own specification, the `sim` module, the
//! assertions, `run_script`, the reports and the exit codes (0 passed, 1 failed, 65 broken).

use crate::test::Test;
use serde_json::Value;
use std::path::Path;

fn repo(dir: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(dir)
        .to_string_lossy()
        .into_owned()
}

/// The `N passed, M failed` line, alone on its line as CI reads it.
#[track_caller]
fn counts(stdout: &str) -> (usize, usize) {
    let line = stdout
        .lines()
        .find(|l| l.ends_with(" failed") && l.contains(" passed, "))
        .unwrap_or_else(|| panic!("no summary line in:\n{stdout}"));
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(
        numbers.len(),
        2,
        "the summary line is only the counts: {line:?}"
    );
    (numbers[0], numbers[1])
}

#[test]
fn the_recipes_are_specified_as_barrack_tests_and_pass() {
    let out = Test::new()
        .args(["test", &repo("stdlib/tests")])
        .stdout_has("ok    ")
        .stdout_has("rotation_test.rhai test_ten_nights_keep_exactly_keep_last")
        .stdout_has("hibernation_test.rhai test_a_weekend_and_the_dst_change")
        .stdout_lacks("FAIL")
        .success();
    let (passed, failed) = counts(&out.stdout);
    assert_eq!(failed, 0);
    assert!(
        passed >= 20,
        "the recipe specification has its tests: {passed}"
    );
    for recipe in [
        "rotation",
        "hibernation",
        "budget",
        "reaper",
        "cleanup",
        "restore",
        "first_available",
    ] {
        assert!(
            out.stdout.contains(&format!("{recipe}_test.rhai")),
            "{recipe} is specified"
        );
    }
}

#[test]
fn the_example_workflow_test_passes() {
    let out = Test::new()
        .args(["test", &repo("scripts"), "--jobs", "1"])
        .stdout_has("nightly_test.rhai test_two_weeks_of_nights_keep_a_week_of_snapshots")
        .success();
    assert_eq!(counts(&out.stdout), (2, 0));
}

#[test]
fn a_failing_test_exits_1_with_file_line_message_and_what_the_script_did() {
    let out = Test::new()
        .file(
            "fleet_test.rhai",
            r#"
            fn test_passes() { assert(true, "fine"); }

            fn test_counts_wrong() {
                deploy(#{gpu: "L40", region: "CANADA-1", name: "worker-1"});
                log("deployed worker-1");
                assert_eq(instances().len(), 3);
            }
            "#,
        )
        .args(["test"])
        .stdout_has("ok    fleet_test.rhai test_passes (")
        .stdout_has("FAIL  fleet_test.rhai test_counts_wrong (")
        .stdout_has("fleet_test.rhai:6:")
        .stdout_has("printed and logged:")
        .stdout_has("2026-01-01T00:00:00Z  deployed worker-1")
        .stdout_has("assert_eq failed")
        .stdout_has("actual:   1")
        .stdout_has("expected: 3")
        .stdout_has("POST /instances/ → 201 (deploy)")
        .stdout_has("GET /instances/ → 200 (instances)")
        .status(1);
    assert_eq!(counts(&out.stdout), (1, 1));
}

#[test]
fn a_file_that_does_not_compile_exits_65_and_runs_nothing() {
    Test::new()
        .file("ok_test.rhai", "fn test_a() { assert(true); }\n")
        .file("broken_test.rhai", "fn test_b() {\n    let x = ;\n}\n")
        .args(["test", "."])
        .stderr_has("broken_test.rhai:2:")
        .stdout_lacks("passed")
        .status(65);
}

#[test]
fn no_test_files_or_no_matching_test_is_a_usage_error() {
    Test::new()
        .file("job.rhai", "print(1);\n")
        .args(["test"])
        .stderr_has("no test files (*_test.rhai)")
        .status(2);
    Test::new()
        .file("a_test.rhai", "fn test_a() {}\n")
        .args(["test", "--filter", "nothing-like-it"])
        .stderr_has("no test matches --filter \"nothing-like-it\"")
        .status(2);
    // A missing path is an input error (1 today; 66 where the exit table maps missing files).
    let out = Test::new()
        .args(["test", "missing_dir"])
        .stderr_has("missing_dir")
        .output();
    assert!([1, 66].contains(&out.status), "exit {}", out.status);
}

/// Every knob of the `sim` module and every assertion, as passing tests.
#[test]
fn the_sim_module_the_clock_and_the_assertions_work_inside_tests() {
    let out = Test::new()
        .file(
            "job.rhai",
            r#"
            print(`hello ${params.who}`);
            log("working");
            deploy(#{gpu: "L40", region: "CANADA-1", name: params.who});
            instances().len()
            "#,
        )
        .file(
            "features_test.rhai",
            r#"
            fn l40(name) { deploy(#{gpu: "L40", region: "CANADA-1", name: name}) }

            fn test_the_clock_starts_at_a_fixed_time() {
                assert_eq(now().to_string(), "2026-01-01T00:00:00Z");
            }

            fn test_sleep_moves_the_simulated_clock_instead_of_waiting() {
                let t = now();
                sleep("5h");
                sleep(90);
                assert_eq(now() - t, 5 * 3600 + 90);
            }

            fn test_a_wait_polls_on_the_simulated_clock() {
                let vm = l40("wait-1");
                let t = now();
                wait_active(vm);
                let waited = now() - t;
                assert(waited >= 120 && waited <= 315, `a deploy takes 2-5 minutes, not ${waited} s`);
                assert_eq(waited % 15, 0, "one poll every 15 s of server time");
            }

            fn test_lifecycles_and_billing_follow_set_time_and_advance() {
                let vm = l40("life-1");
                sim::set_time("2026-03-27T18:55:00+02:00");
                assert_eq(now().to_string(), "2026-03-27T16:55:00Z");
                assert_eq(instance(vm.id).status, "ACTIVE");
                let before = balance().balance;
                sim::advance("10h");
                let spent = before - balance().balance;
                assert(spent > 5.0 && spent < 20.0, `ten hours of an L40 cost ${spent}`);
            }

            fn test_the_clock_never_goes_back() {
                sim::advance("1d");
                let e = assert_throws(|| sim::set_time("2026-01-01T12:00:00Z"));
                assert(e.message.contains("only moves forward"), e.message);
                assert(e.message.contains("2026-01-02T00:00:00Z"), e.message);
            }

            fn test_faults_at_rate_one_end_in_a_throw_with_every_try_logged() {
                sim::faults(#{rate: 1.0, statuses: [429]});
                let before = now();
                let e = assert_throws(|| balance());
                assert_eq(e.status, 429);
                // The default retry budget (2m) is spent on the simulated clock, at once.
                let tries = sim::requests().len();
                assert(tries > 3, `${tries} tries`);
                assert(e.message.contains(`after ${tries} tries`), e.message);
                let spent = now() - before;
                assert(spent >= 100 && spent <= 140, `the clock moved ${spent} s`);
                sim::faults(#{});
                assert_eq(balance().currency, "USD");
            }

            fn test_a_lost_answer_is_retried_into_one_instance() {
                sim::faults(#{drop: 1.0});
                let vm = l40("drop-1");
                sim::faults(#{});
                assert_eq(instances().map(|i| i.id), [vm.id]);
                assert_eq(sim::requests().filter(|r| r.op == "deploy").map(|r| r.status), [0, 201]);
            }

            fn test_unknown_fault_options_are_named() {
                let e = assert_throws(|| sim::faults(#{rat: 0.5}));
                assert(e.message.contains("unknown option \"rat\""), e.message);
                assert(e.message.contains("rate, statuses, drop, latency_ms"), e.message);
                let e = assert_throws(|| sim::faults(#{rate: 2.0}));
                assert(e.message.contains("between 0 and 1"), e.message);
            }

            fn test_stock_balance_and_profile_knobs() {
                sim::stock("CANADA-1", "L40", 0);
                assert_eq(assert_throws(|| l40("stock-1")).code, "OUT_OF_STOCK");
                let e = assert_throws(|| sim::stock("MARS-1", "L40", 1));
                assert(e.message.contains("unknown region \"MARS-1\""), e.message);
                sim::stock("CANADA-1", "L40", 8);
                sim::balance(0.5);
                assert_eq(balance().balance, 0.5);
                assert_eq(assert_throws(|| l40("poor-1")).status, 402);
                sim::balance(1000);
                sim::profile_complete(false);
                assert_eq(assert_throws(|| l40("anon-1")).code, "PROFILE_INCOMPLETE");
                sim::profile_complete(true);
                assert_eq(wait_active(l40("fine-1")).status, "ACTIVE");
            }

            fn test_fail_puts_an_instance_in_error() {
                let vm = l40("doomed-1");
                sim::fail(vm);
                let e = assert_throws(|| wait_active(vm));
                assert(e.message.contains("ERROR"), e.message);
                assert_eq(sim::state().instances[vm.id].status, "ERROR");
                assert(assert_throws(|| sim::fail("BRK-000000VM")).message.contains("no instance"));
            }

            fn test_requests_and_state_show_what_happened() {
                balance();
                l40("seen-1");
                let r = sim::requests();
                assert_eq(r[0], #{time: "2026-01-01T00:00:00Z", method: "GET", path: "/balance/", op: "balance", status: 200, mutates: false});
                assert_eq(r.filter(|x| x.mutates).map(|x| x.op), ["deploy"]);
                let state = sim::state();
                assert_eq(state.time, "2026-01-01T00:00:00Z");
                assert_eq(state.instances.values().map(|i| i.name), ["seen-1"]);
            }

            fn test_every_test_has_its_own_world_a() { l40("same-1"); assert_eq(instances().len(), 1); }
            fn test_every_test_has_its_own_world_b() { l40("same-1"); assert_eq(instances().len(), 1); }

            fn test_run_script_returns_result_output_and_mutations() {
                let run = run_script("job.rhai", #{who: "bob-1"});
                assert_eq(run.result, 1);
                assert_eq(run.output, "hello bob-1\n2026-01-01T00:00:00Z  working\n");
                assert_eq(run.mutations.map(|m| [m.method, m.op, m.status]), [["POST", "deploy", 201]]);
                assert_eq(instances()[0].name, "bob-1", "the script ran against this test's simulator");
            }

            fn test_assert_throws_returns_what_was_thrown() {
                assert_eq(assert_throws(|| throw #{code: "MINE", n: 1}), #{code: "MINE", n: 1});
                assert(assert_throws(|| throw "plain").message.contains("plain"));
                assert_eq([1, #{a: 2}], [1.0, #{a: 2.0}], "numbers compare by value");
            }
            "#,
        )
        .args(["test", "--seed", "11"])
        .stdout_lacks("FAIL")
        .success();
    assert_eq!(counts(&out.stdout), (15, 0));
}

#[test]
fn assertion_failures_say_what_differs() {
    Test::new()
        .file(
            "asserts_test.rhai",
            r#"
            fn test_plain() { assert(1 > 2, "one is not above two"); }
            fn test_not_bool() { assert("yes"); }
            fn test_maps() { assert_eq(#{kept: [1, 2], name: "a"}, #{kept: [1, 2, 3], name: "b"}); }
            fn test_nothing_thrown() { assert_throws(|| 40 + 2); }
            fn test_with_args(x) { }
            "#,
        )
        .args(["test"])
        .stdout_has("assertion failed: one is not above two")
        .stdout_has("assert: the condition is the string \"yes\", not true or false")
        .stdout_has(".kept: 2 items, expected 3")
        .stdout_has(".kept[2]: missing, expected 3")
        .stdout_has(".name: \"a\" ≠ expected \"b\"")
        .stdout_has("assert_throws: nothing was thrown; the function returned 42")
        .stdout_has("test_with_args takes 1 parameter(s); a test function takes none")
        .stdout_has("0 passed, 5 failed")
        .status(1);
}

const TWO: &str = r#"fn test_one() { print("deployed " + deploy(#{gpu: "L40", region: "CANADA-1", name: "one-1"}).id); }
fn test_two() { assert_eq(1, 2); }
"#;

#[test]
fn test_reports_come_as_tap_junit_and_json() {
    Test::new()
        .file("two_test.rhai", TWO)
        .args(["test", "--format", "tap", "--jobs", "1"])
        .stdout_has("TAP version 13\n1..2\n")
        .stdout_has("ok 1 - two_test.rhai test_one # time=")
        .stdout_has("not ok 2 - two_test.rhai test_two # time=")
        .stdout_has("  at: \"two_test.rhai:2\"")
        .stdout_has("# 1 passed, 1 failed")
        .status(1);
    Test::new()
        .file("two_test.rhai", TWO)
        .args(["test", "--format", "junit"])
        .stdout_has("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        .stdout_has("<testsuites name=\"barrack test\" tests=\"2\" failures=\"1\"")
        .stdout_has("<testsuite name=\"two_test.rhai\" tests=\"2\" failures=\"1\"")
        .stdout_has("<testcase name=\"test_two\" classname=\"two_test.rhai\"")
        .stdout_has("<failure message=\"two_test.rhai:2:")
        .stdout_has("<system-out>deployed BRK-")
        .status(1);
    let out = Test::new()
        .file("two_test.rhai", TWO)
        .args(["test", "-o", "json", "--seed", "5"])
        .status(1);
    let doc = out.json();
    assert_eq!(
        (doc["passed"].as_u64(), doc["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(doc["seed"], 5);
    let tests = doc["tests"].as_array().unwrap();
    assert_eq!(tests[1]["name"], "test_two");
    assert_eq!(tests[1]["passed"], false);
    assert_eq!(tests[1]["location"], "two_test.rhai:2");
    assert!(tests[0]["output"]
        .as_str()
        .unwrap()
        .starts_with("deployed BRK-"));
}

#[test]
fn a_seed_reproduces_the_same_worlds_and_filter_picks_tests() {
    let ids = |seed: &str| -> Value {
        let out = Test::new()
            .file("two_test.rhai", TWO)
            .args(["test", "-o", "json", "--filter", "one", "--seed", seed])
            .success();
        let doc = out.json();
        assert_eq!(
            doc["tests"].as_array().map(Vec::len),
            Some(1),
            "--filter one"
        );
        doc["tests"][0]["output"].clone()
    };
    assert_eq!(ids("77"), ids("77"));
}

#[test]
fn the_sim_module_is_in_the_repl_with_sim_and_only_there() {
    Test::new()
        .args(["repl", "--sim"])
        .stdin(
            r#"
            let t = now();
            sim::advance("2d");
            now() - t >= 172800
            sim::stock("CANADA-1", "L40", 0);
            sim::state().stock["CANADA-1/L40"]
            let b = balance();
            sim::requests().map(|r| r.op)
            "#,
        )
        .stdout("true\n0\n[\n  \"balance\"\n]\n")
        .success();
    Test::eval(r#"sim::advance("1d")"#)
        .stderr_has("the sim module exists only under `barrack test` and `barrack repl --sim`")
        .status(1);
}
