#!/usr/bin/env bash
# `barrack test` speed (issue 16): a suite of 100 tests, each making ~50 API calls and moving the
# clock across simulated days, against the same 100 scripts run one by one with
# `barrack run --sim`. Also what one test's simulator costs to start.
#
#   benches/test_suite.sh                build release, then measure
#   SKIP_BUILD=1 benches/test_suite.sh   measure target/release/barrack (or $BIN) as it is
#   JOBS=2 TESTS=100 DAYS=3              the defaults
#
# Nothing here runs under `cargo test`; only loopback simulators in-process, all bounded.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=${BIN:-$ROOT/target/release/barrack}
JOBS=${JOBS:-2}
TESTS=${TESTS:-100}
DAYS=${DAYS:-3}
# The fastest clock `run --sim` can use here: a simulated day in 86 ms. (At the default
# --sim speed of 1000 one script would sleep 4.3 minutes per simulated 3 days.)
BASE_SPEED=${BASE_SPEED:-1000000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/barrack-test-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
unset http_proxy HTTP_PROXY all_proxy ALL_PROXY

if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release --locked --quiet
fi

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# The workload: deploy, wait, then each simulated day a snapshot confirmed AVAILABLE, a day of
# sleep and two reads; finally hibernate and wait. About 50 requests.
WORKLOAD="
fn workload(name) {
    let vm = deploy(#{gpu: \"L40\", region: \"CANADA-1\", name: name});
    wait_active(vm);
    for day in 1..=$DAYS {
        let s = snapshot(vm, \`\${name}-day-\${day}\`);
        wait_status(s, \"AVAILABLE\");
        sleep(\"1d\");
        balance();
        instances();
    }
    vm.hibernate();
    wait_status(vm, \"HIBERNATED\");
    snapshots().len()
}
"

mkdir -p "$WORK/suite" "$WORK/scripts"
per_file=10
files=$(((TESTS + per_file - 1) / per_file))
n=0
for f in $(seq 1 "$files"); do
    {
        printf '%s\n' "$WORKLOAD"
        for t in $(seq 1 "$per_file"); do
            n=$((n + 1))
            [ "$n" -le "$TESTS" ] || break
            printf 'fn test_w%03d() { assert_eq(workload("bench-%03d"), %d); print(sim::requests().len()); }\n' "$n" "$n" "$DAYS"
        done
    } >"$WORK/suite/f${f}_test.rhai"
done
for i in $(seq 1 "$TESTS"); do
    printf '%s\nworkload("bench-%03d");\n' "$WORKLOAD" "$i" >"$WORK/scripts/s$i.rhai"
done

echo "== $TESTS tests, $DAYS simulated days each, --jobs $JOBS ($(nproc) cores)"
t0=$(now)
"$BIN" test "$WORK/suite" --jobs "$JOBS" --seed 1 -o json >"$WORK/suite.json"
t1=$(now)
suite=$(secs "$t0" "$t1")
calls=$(awk -F'"output": "' '/"output"/ { split($2, a, "\\\\n"); s += a[1]; c++ } END { if (c) printf "%.0f", s / c }' "$WORK/suite.json")
passed=$(sed -n 's/^  "passed": \([0-9]*\),/\1/p' "$WORK/suite.json")
echo "barrack test:          ${suite} s   ($passed passed, ~$calls requests per test)"

# On a loaded machine a wall-clock simulator this fast can time a wait out (a poll delayed by
# 1.2 ms is 20 simulated minutes): such runs are counted, not fatal.
failed=0
t0=$(now)
for i in $(seq 1 "$TESTS"); do
    "$BIN" run --sim --speed "$BASE_SPEED" -q "$WORK/scripts/s$i.rhai" >/dev/null 2>&1 || failed=$((failed + 1))
done
t1=$(now)
one_by_one=$(secs "$t0" "$t1")
echo "run --sim one by one:  ${one_by_one} s   (--speed $BASE_SPEED; $failed of $TESTS failed on timing)"
awk -v a="$one_by_one" -v b="$suite" 'BEGIN { printf "ratio:                 %.1f× faster (target: suite < 2 s: %s)\n", a / b, (b < 2 ? "PASS" : "FAIL") }'

# What one test's simulator costs: 200 empty tests on one job, against 200 that do nothing
# but are run in one test (so the difference is the per-test set-up: simulator + engine).
mkdir -p "$WORK/empty" "$WORK/one"
{ for i in $(seq 1 200); do printf 'fn test_e%03d() { }\n' "$i"; done; } >"$WORK/empty/e_test.rhai"
printf 'fn test_once() { }\n' >"$WORK/one/o_test.rhai"
t0=$(now); "$BIN" test "$WORK/one" --jobs 1 >/dev/null; t1=$(now)
one=$(secs "$t0" "$t1")
t0=$(now); "$BIN" test "$WORK/empty" --jobs 1 >/dev/null; t1=$(now)
many=$(secs "$t0" "$t1")
awk -v a="$one" -v b="$many" 'BEGIN { printf "per-test set-up:       %.2f ms (simulator start + engine + teardown; 200 empty tests %.3f s, 1 test %.3f s)\n", (b - a) * 1000 / 199, b, a }'

# Threads and memory while one test runs (a CPU-bound loop keeps it alive to be sampled).
printf 'fn test_spin() { balance(); let x = 0; for i in 0..20000000 { x += i; } }\n' >"$WORK/one/o_test.rhai"
"$BIN" test "$WORK/one" --jobs 1 >/dev/null &
pid=$!
sleep 0.5
threads=$(awk '/^Threads/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo "?")
rss=$(awk '/^VmRSS/ { print $2 " " $3 }' "/proc/$pid/status" 2>/dev/null || echo "?")
wait "$pid" || true
BARRACK_API_KEY=unused "$BIN" eval --api-url http://127.0.0.1:9 'let x = 0; for i in 0..20000000 { x += i; }' >/dev/null &
pid=$!
sleep 0.5
base_threads=$(awk '/^Threads/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo "?")
base_rss=$(awk '/^VmRSS/ { print $2 " " $3 }' "/proc/$pid/status" 2>/dev/null || echo "?")
wait "$pid" || true
echo "one running test:      $threads threads, RSS $rss (barrack eval with no simulator: $base_threads threads, RSS $base_rss)"
