#!/usr/bin/env bash
# Issue 9's performance targets, measured side by side against named baselines on this machine.
#
#   benches/compare.sh                 build release, start `barrack sim`, measure, report
#   RUNS=40 benches/compare.sh         alternating runs for target 1 (default 30; target 2: RUNS/2)
#   CLEAN_BUILD=1 benches/compare.sh   also time a clean release build in a scratch directory
#                                      (minutes on 2 cores; otherwise the build is incremental)
#   SKIP_BUILD=1 benches/compare.sh    measure target/release/barrack (or $BIN) as it is
#   TARGETS="1 2" benches/compare.sh   only these targets (default: all)
#   TARGETS=7 SKIP_BUILD=1 benches/compare.sh   issue 18: the simulator at 0 / 1,000 / 10,000
#                                      instances (needs python3 to write the worlds); the three
#                                      worlds serve together and are measured in turn, ROUNDS7
#                                      rounds (default 3), each figure the median of its rounds
#   TARGETS=8 SKIP_BUILD=1 benches/compare.sh   issue 18: a fleet of 1,000 end to end at 50 ms
#                                      latency, default --parallel vs --parallel 1 (minutes)
#   TARGETS=7d SKIP_BUILD=1 BIN=… benches/compare.sh   issue 18: a 10,000-instance world with
#                                      --state on vs off (changes/s, GET /balance/ req/s)
#
# Every target prints one line: the measured ratio (or number), the target, PASS/FAIL, and the
# baseline command it was measured against. Timings come from `loadgen alternate` (a std-only
# helper built from benches/loadgen.rs with rustc), which spawns the two commands in turn and
# reports medians, so both sides pay the same process-spawn cost and share the same noise.
# Only loopback addresses are used, every loop is bounded, and the simulators stop on exit.
# Nothing here runs under `cargo test`.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-30}
RUNS2=$(((RUNS + 1) / 2))
WORK=$(mktemp -d "${TMPDIR:-/tmp}/barrack-compare.XXXXXX")
PIDS=()
KEY=compare-key
export BARRACK_API_KEY=$KEY
# A user's proxy must not carry loopback benchmark traffic.
unset http_proxy HTTP_PROXY all_proxy ALL_PROXY

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

TARGETS=${TARGETS:-1 2 3 4 5 6 7 7d 8}
say() { printf '%s\n' "$*"; }
# wanted N: true when target N is to be measured
wanted() { [[ " $TARGETS " == *" $1 "* ]]; }
note() { printf '   %s\n' "$*"; }

# ratio VALUE OP LIMIT → "PASS"/"FAIL" (OP is <= or >=)
verdict() {
    awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
        ok = (op == "<=") ? (v <= l) : (v >= l); print (ok ? "PASS" : "FAIL") }'
}
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.2f", a / b }'; }
# median N…: the middle of the numbers given
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# Install a Debian package if a tool is missing and we may (root with apt-get); never fatal.
want() {
    local tool=$1 package=$2
    command -v "$tool" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        note "installing $package for $tool"
        { apt-get install -y -qq "$package" || { apt-get update -qq && apt-get install -y -qq "$package"; }; } \
            >"$WORK/apt-$package.log" 2>&1 || true
    fi
    command -v "$tool" >/dev/null 2>&1
}

# start_sim NAME ARGS… → sets SIM_URL and SIM_PID; waits for the listening line.
start_sim() {
    local name=$1
    shift
    # Made before the simulator starts: the background child opens it later, and a `sed` of a
    # file not there yet would end the script under `set -e`.
    : >"$WORK/$name.log"
    "$BIN" sim --listen 127.0.0.1:0 "$@" 2>"$WORK/$name.log" &
    SIM_PID=$!
    PIDS+=("$SIM_PID")
    SIM_URL=
    # Up to 20 s: a --state world of 10,000 instances is read and written once before serving.
    for _ in $(seq 400); do
        SIM_URL=$(sed -n 's/.*serving the Barrack API on \(https\{0,1\}:[^ ]*\).*/\1/p' "$WORK/$name.log")
        [ -n "$SIM_URL" ] && return 0
        sleep 0.05
    done
    say "barrack sim ($name) did not start:"
    cat "$WORK/$name.log"
    exit 1
}

admin() { curl -sf -X POST -H 'Content-Type: application/json' -d "$2" "$1" >/dev/null; }

# ---------------------------------------------------------------------------------------------
say "== barrack performance targets (issue 9) =="
say "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"

BIN=${BIN:-$ROOT/target/release/barrack}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    kind=incremental
    [ -d "$ROOT/target/release/deps" ] || kind="clean, in target/"
    started=$(date +%s.%N)
    cargo build --release --locked --bin barrack >"$WORK/build.log" 2>&1 || {
        cat "$WORK/build.log"
        exit 1
    }
    build_s=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    note "release build ($kind): ${build_s} s, load $(cut -d' ' -f1-3 /proc/loadavg)"
fi
[ -x "$BIN" ] || { say "no $BIN: build it first"; exit 1; }
rustc -O --edition 2021 benches/loadgen.rs -o "$WORK/loadgen"
LOADGEN=$WORK/loadgen
HAVE_CURL=1
want curl curl || HAVE_CURL=0
HAVE_TASKSET=1
command -v taskset >/dev/null 2>&1 || HAVE_TASKSET=0

# Pin every thread of a running process to a CPU list.
pin() { [ "$HAVE_TASKSET" = 1 ] && taskset -a -p -c "$2" "$1" >/dev/null 2>&1 || true; }
ALL_CPUS="0-$(($(nproc) - 1))"

start_sim main --seed 1
MAIN_URL=$SIM_URL
MAIN_PID=$SIM_PID
MAIN_ADDR=${MAIN_URL#http://}
say "simulator: $MAIN_URL (barrack sim, speed 1)"
printf 'balance();\n' >"$WORK/one-call.rhai"
printf 'for i in 0..1000 { balance(); }\n' >"$WORK/thousand.rhai"

# --- 1. one-shot run vs curl ------------------------------------------------------------------
CURL=(curl -s -H "Authorization: Bearer $KEY" "$MAIN_URL/balance/")
RUN1=("$BIN" run "$WORK/one-call.rhai" --api-url "$MAIN_URL")
RUN2=("$BIN" run "$WORK/thousand.rhai" --api-url "$MAIN_URL")
if wanted 1; then
say ""
one() {
    local label=$1 out a b r
    shift
    out=$("$@" "$LOADGEN" alternate "$RUNS" 3 "${RUN1[@]}" ::: "${CURL[@]}")
    a=$(field a_median "$out")
    b=$(field b_median "$out")
    r=$(div "$a" "$b")
    say "[1] one balance() run vs curl, $label: ${r}x (target <= 0.50x) $(verdict "$r" "<=" 0.5)"
    note "\`barrack run one-call.rhai --api-url URL\`: $a ms (min $(field a_min "$out")); baseline \`curl -s -H 'Authorization: Bearer …' URL/balance/\`: $b ms (min $(field b_min "$out"))"
}
if [ "$HAVE_CURL" = 1 ]; then
    one "free scheduling" env
    if [ "$HAVE_TASKSET" = 1 ]; then
        # Pinned, the numbers are the processes' own costs, not where the scheduler put them.
        pin "$MAIN_PID" 0
        one "client and simulator on one core" taskset -c 0
        pin "$MAIN_PID" "$ALL_CPUS"
    fi
    # The same over TLS (issue 15): a `barrack sim --tls` whose certificate both sides trust.
    start_sim tls --seed 1 --tls --tls-cert "$WORK/sim-ca.pem"
    TLS_URL=$SIM_URL
    out=$("$LOADGEN" alternate "$RUNS" 3 "$BIN" run "$WORK/one-call.rhai" --api-url "$TLS_URL" \
        --ca-cert "$WORK/sim-ca.pem" ::: curl -s --cacert "$WORK/sim-ca.pem" \
        -H "Authorization: Bearer $KEY" "$TLS_URL/balance/")
    a=$(field a_median "$out")
    b=$(field b_median "$out")
    r=$(div "$a" "$b")
    say "[1t] one balance() run vs curl over TLS (barrack sim --tls): ${r}x (target <= 0.60x) $(verdict "$r" "<=" 0.6)"
    note "\`barrack run one-call.rhai --api-url https://… --ca-cert sim-ca.pem\`: $a ms; \`curl -s --cacert sim-ca.pem …/balance/\`: $b ms"
    kill "$SIM_PID" 2>/dev/null || true
    note "medians of $RUNS alternating runs; one-call.rhai is \`balance();\`, the key comes from BARRACK_API_KEY"
else
    say "[1] one balance() run vs curl: skipped (curl is not installed and could not be installed)"
fi

fi

# --- 2. 1000 calls vs a raw keep-alive loop, and vs a Python requests.Session loop --------------
if wanted 2; then
say ""
RAW=("$LOADGEN" raw "$MAIN_ADDR" 1000 "$KEY")
two() {
    local label=$1 out a b r
    shift
    out=$("$@" "$LOADGEN" alternate "$RUNS2" 2 "${RUN2[@]}" ::: "${RAW[@]}")
    a=$(field a_median "$out")
    b=$(field b_median "$out")
    r=$(div "$a" "$b")
    say "[2] 1000 balance() calls vs raw keep-alive loop, $label: ${r}x (target <= 1.20x) $(verdict "$r" "<=" 1.2)"
    note "barrack run thousand.rhai: $a ms; baseline \`loadgen raw ADDR 1000\` (benches/loadgen.rs: one std TcpStream, fixed request bytes, no JSON decoding): $b ms"
}
if [ "$HAVE_TASKSET" = 1 ] && [ "$(nproc)" -ge 2 ]; then
    # A real server runs elsewhere: the client has its core to itself.
    pin "$MAIN_PID" 1
    two "simulator and client on separate cores" taskset -c 0
    # The strict view: the client's own CPU time competes with the simulator's.
    pin "$MAIN_PID" 0
    two "simulator and client sharing one core" taskset -c 0
    pin "$MAIN_PID" "$ALL_CPUS"
else
    two "free scheduling" env
fi
note "medians of $RUNS2 alternating whole-process runs (start-up included on both sides)"
# What a user would otherwise write: a requests.Session loop that decodes every answer.
cat >"$WORK/session.py" <<'EOF'
import sys, requests
url, key = sys.argv[1], sys.argv[2]
session = requests.Session()
session.headers["Authorization"] = "Bearer " + key
for _ in range(1000):
    answer = session.get(url + "/balance/")
    answer.raise_for_status()
    answer.json()
EOF
if python3 -c 'import requests' 2>/dev/null; then
    PY=(python3 "$WORK/session.py" "$MAIN_URL" "$KEY")
    pin "$MAIN_PID" 1
    out=$(taskset -c 0 "$LOADGEN" alternate "$RUNS2" 2 "${RUN2[@]}" ::: "${PY[@]}")
    pin "$MAIN_PID" "$ALL_CPUS"
    a=$(field a_median "$out")
    b=$(field b_median "$out")
    r=$(div "$a" "$b")
    say "[2b] 1000 balance() calls vs a Python requests.Session loop: ${r}x (target <= 0.50x) $(verdict "$r" "<=" 0.5)"
    note "barrack run thousand.rhai: $a ms; baseline \`python3 session.py URL KEY\` (requests $(python3 -c 'import requests; print(requests.__version__)'), one Session, .json() per answer): $b ms; simulator on another core"
else
    say "[2b] vs Python requests: skipped (python3 with requests is not installed; pip install requests)"
fi
fi

# --- 3. fleet: hibernate 200 at 50 ms latency, default --parallel vs --parallel 1 ---------------
if wanted 3; then
say ""
start_sim fleet --seed 3 --latency-ms 50
FLEET_URL=$SIM_URL
if [ "$HAVE_CURL" = 1 ]; then
    admin "$FLEET_URL/_sim/balance" '{"balance": 1000000000}'
    admin "$FLEET_URL/_sim/stock" '{"region": "FINLAND-2", "gpu_model": "H100-SXM5-80GB", "available": 1000}'
    cat >"$WORK/deploy.rhai" <<'EOF'
let specs = [];
for i in 0..400 {
    specs.push(#{gpu: "H100-SXM5-80GB", count: 1, region: "FINLAND-2", name: `fleet-${i}`});
}
for vm in deploy(specs) { print(vm.id); }
EOF
    "$BIN" run -q "$WORK/deploy.rhai" --api-url "$FLEET_URL" >"$WORK/ids"
    admin "$FLEET_URL/_sim/advance" '{"seconds": 900}'
    mapfile -t IDS <"$WORK/ids"
    printf 'hibernate(ARGS);\n' >"$WORK/hibernate.rhai"
    out=$("$LOADGEN" alternate 1 0 "$BIN" run -q "$WORK/hibernate.rhai" --api-url "$FLEET_URL" -- "${IDS[@]:0:200}" \
        ::: "$BIN" run -q --parallel 1 "$WORK/hibernate.rhai" --api-url "$FLEET_URL" -- "${IDS[@]:200:200}")
    fast=$(field a_median "$out")
    slow=$(field b_median "$out")
    admin "$FLEET_URL/_sim/faults" '{"latency_ms": 0}'
    admin "$FLEET_URL/_sim/advance" '{"seconds": 900}'
    hibernated=$("$BIN" eval -q --api-url "$FLEET_URL" 'instances(#{status: "HIBERNATED"}).len()')
    r=$(div "$slow" "$fast")
    ok=$(verdict "$r" ">=" 10)
    [ "$hibernated" = 400 ] || ok=FAIL
    say "[3] fleet hibernate of 200 at --latency-ms 50, default --parallel vs --parallel 1: ${r}x faster (target >= 10x) $ok"
    note "barrack run hibernate.rhai -- <200 ids>: $fast ms; baseline \`barrack run --parallel 1 hibernate.rhai -- <200 ids>\`: $slow ms"
    note "HIBERNATED afterwards: $hibernated of 400 (both runs' instances; the clock advanced 900 s)"
else
    say "[3] fleet: skipped (needs curl for the simulator's admin routes)"
fi

fi

# --- 4. waiter: requests and detection delay vs botocore's InstanceRunning waiter ---------------
if wanted 4; then
say ""
SPEED=50
start_sim waiter --seed 4 --speed "$SPEED"
WAIT_URL=$SIM_URL
cat >"$WORK/wait.rhai" <<'EOF'
let vm = deploy(#{gpu: "H100-SXM5-80GB", count: 1, region: "FINLAND-2", name: "waited"});
let created = parse_time(vm.created_at).epoch;
wait_active(vm);
let detected = now().epoch;
print(`${created} ${parse_time(vm.raw.updated_at).epoch} ${detected}`);
EOF
"$BIN" run -v "$WORK/wait.rhai" --api-url "$WAIT_URL" >"$WORK/wait.out" 2>"$WORK/wait.err"
read -r created active detected <"$WORK/wait.out"
polls=$(grep -c 'GET .*/instances/BRK-[^/]*/ ' "$WORK/wait.err" || true)
took=$((active - created))
lag=$((detected - active))
# botocore: describe at once, then every 15 s until the state matches: ceil(took / 15) + 1 calls.
boto=$(((took + 14) / 15 + 1))
ok=$(verdict "$polls" "<=" "$boto")
[ "$lag" -le 15 ] || ok=FAIL
say "[4] wait_active on a deploy that took ${took} s of simulated time: $polls requests vs $boto (target <= botocore), detected ${lag} s after the change (target <= 15 s) $ok"
note "baseline: botocore's InstanceRunning waiter (delay 15 s, first describe at once) on the same transition; simulator --speed $SPEED"

fi

# --- 5. simulator throughput and a mixed load at 64 connections --------------------------------
if wanted 5; then
say ""
if want wrk wrk; then
    out=$(wrk -t2 -c64 -d5s -H "Authorization: Bearer $KEY" "$MAIN_URL/balance/" 2>&1)
    rps=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")
    errs=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' || true)
    base="\`wrk -t2 -c64 -d5s URL/balance/\`"
else
    out=$("$LOADGEN" get "$MAIN_ADDR" 64 5 "$KEY")
    rps=$(field rps "$out")
    errs=
    base="\`loadgen get ADDR 64 5\` (wrk is not installed and could not be installed)"
fi
say "[5a] simulator GET /balance/: $rps req/s (target >= 20000) $(verdict "$rps" ">=" 20000)"
note "load generator: $base${errs:+; $errs}"
out=$("$LOADGEN" mixed "$MAIN_ADDR" 64 5 "$KEY")
errors=$(field errors "$out")
ok=PASS
[ "$errors" = 0 ] || ok=FAIL
say "[5b] mixed workload, 64 connections for 5 s: $errors errors, $(field rps "$out") req/s (target: no error) $ok"
note "\`loadgen mixed ADDR 64 5\`: balance, lists, one instance, hibernate, 404s, refused deploys"
grep 'error:' <<<"$out" | sed 's/^/   /' || true

fi

# --- 7. the simulator at scale (issue 18): worlds of 0 / 1,000 / 10,000 instances ---------------
if wanted 7; then
say ""
if ! command -v python3 >/dev/null 2>&1; then
    say "[7] skipped: python3 writes the seeded worlds and is not installed"
else
# A world of N ACTIVE instances: the seeded world (from a simulator's /_sim/state) with N
# instances added, written as a --state file.
curl -sf -H "Authorization: Bearer $KEY" "$MAIN_URL/_sim/state" >"$WORK/base.json"
world() {
    python3 - "$WORK/base.json" "$1" "$2" <<'PY'
import json, sys
world = json.load(open(sys.argv[1]))
stamp = world["clock"] if isinstance(world["clock"], str) else "2026-01-01T00:00:00Z"
for i in range(int(sys.argv[2])):
    vid = "BRK-%06dVM" % i
    world["instances"][vid] = {
        "id": vid, "name": "vm-%d" % i, "status": "ACTIVE", "region": "FINLAND-1",
        "gpu_model": "H100-SXM5-80GB", "gpu_count": 1, "vcpus": 16, "ram_gb": 128,
        "os_volume_size_gb": 100, "boot_source": {"type": "os_image", "id": "ubuntu-22.04-cuda-12.4"},
        "ssh_key_ids": [], "public_ip_enabled": False, "public_ip": None,
        "private_ip": "10.0.%d.%d" % (i // 250, i % 250 + 2), "volume_ids": [],
        "security_rules": [], "startup_script_id": None, "source_snapshot_id": None,
        "created_at": stamp, "updated_at": stamp, "holds_gpus": False, "total_cost": 0.0,
        "billed_minutes": 0, "billing_records": [], "pending": None, "partial_seconds": 0.0,
        "restoring_from": None}
json.dump(world, open(sys.argv[3], "w"))
PY
}
printf 'let all = instances(); print(all.len());\n' >"$WORK/all.rhai"
# The three worlds serve side by side and are measured in turn, ROUNDS times, each figure the
# median of its rounds: this machine's speed drifts from minute to minute, and a world
# measured a minute after another would compare the minutes, not the worlds.
ROUNDS7=${ROUNDS7:-3}
declare -A ADDR SIMPID BAL PAGE ALL SAME ONE
declare -A BAL_RUNS PAGE_RUNS SAME_RUNS
for n in 0 1000 10000; do
    world "$n" "$WORK/world-$n.json"
    start_sim "scale-$n" --state "$WORK/world-$n.json"
    ADDR[$n]=${SIM_URL#http://}
    SIMPID[$n]=$SIM_PID
done
rps() { field rps "$("$LOADGEN" get "${ADDR[$1]}" "$2" 2 "$KEY" "$3")"; }
for _ in $(seq "$ROUNDS7"); do
    for n in 0 1000 10000; do
        BAL_RUNS[$n]+=" $(rps "$n" 64 /balance/)"
        PAGE_RUNS[$n]+=" $(rps "$n" 64 '/instances/?page=1')"
    done
    # Answers of one size (~7.8 KB) from either world: the fixed GPU-stock list of the empty
    # one, a 14-instance page of the full one.
    SAME_RUNS[0]+=" $(rps 0 64 /gpu-stocks/)"
    SAME_RUNS[10000]+=" $(rps 10000 64 '/instances/?page=1&per_page=14')"
done
for n in 0 1000 10000; do
    # shellcheck disable=SC2086 # the rounds, one word each
    BAL[$n]=$(median ${BAL_RUNS[$n]})
    # shellcheck disable=SC2086
    PAGE[$n]=$(median ${PAGE_RUNS[$n]})
    ONE[$n]=$(rps "$n" 1 /balance/)
    out=$("$LOADGEN" alternate 3 1 "$BIN" run "$WORK/all.rhai" --api-url "http://${ADDR[$n]}" ::: true)
    ALL[$n]=$(field a_median "$out")
    say "[7] $n instances: GET /balance/ ${BAL[$n]} req/s (1 connection: ${ONE[$n]}), GET /instances/?page=1 ${PAGE[$n]} req/s, instances() all pages ${ALL[$n]} ms"
    note "rounds: GET /balance/${BAL_RUNS[$n]}; GET /instances/?page=1${PAGE_RUNS[$n]}"
done
for n in 0 1000 10000; do
    kill "${SIMPID[$n]}" 2>/dev/null || true
    wait "${SIMPID[$n]}" 2>/dev/null || true
done
# shellcheck disable=SC2086
SAME[0]=$(median ${SAME_RUNS[0]})
# shellcheck disable=SC2086
SAME[10000]=$(median ${SAME_RUNS[10000]})
r=$(div "${BAL[10000]}" "${BAL[0]}")
say "[7a] GET /balance/ at 10,000 vs 0 instances: ${r}x (target >= 0.70x) $(verdict "$r" ">=" 0.7)"
r=$(div "${PAGE[10000]}" "${PAGE[0]}")
say "[7b] GET /instances/?page=1 at 10,000 vs 0 instances: ${r}x (target >= 0.70x) $(verdict "$r" ">=" 0.7)"
r=$(div "${SAME[10000]}" "${SAME[0]}")
say "[7e] answers of the same size (~7.8 KB): a 14-instance page at 10,000 instances vs GET /gpu-stocks/ at 0: ${r}x (information: a page costs its size, not the world's)"
note "GET /instances/?page=1&per_page=14 at 10,000: ${SAME[10000]} req/s; GET /gpu-stocks/ at 0: ${SAME[0]} req/s"
r=$(div "${ALL[10000]}" "${ALL[1000]}")
say "[7c] instances() at 10,000 vs 1,000 instances: ${r}x (target <= 12x, linear) $(verdict "$r" "<=" 12)"
note "\`loadgen get ADDR 64 2 KEY PATH\` against \`barrack sim --state world-N.json\`, the three worlds in turn, median of $ROUNDS7 rounds; instances(): median of 3 \`barrack run all.rhai\`"
fi
fi

# --- 8. a fleet of 1,000 end to end at 50 ms latency (issue 18) ----------------------------------
if wanted 8; then
say ""
cat >"$WORK/fleet1000.rhai" <<'EOF'
let specs = [];
for i in 0..1000 {
    specs.push(#{gpu: "H100-SXM5-80GB", count: 1, region: "FINLAND-2", name: `fleet-${i}`});
}
let vms = deploy(specs);
wait_active(vms);
hibernate(vms);
wait_status(vms, "HIBERNATED");
print(instances(#{status: "HIBERNATED"}).len());
EOF
fleet_run() {
    local name=$1 started count ms
    shift
    start_sim "$name" --seed 8 --speed 1000 --latency-ms 50
    admin "$SIM_URL/_sim/balance" '{"balance": 1000000000}'
    admin "$SIM_URL/_sim/stock" '{"region": "FINLAND-2", "gpu_model": "H100-SXM5-80GB", "available": 1000}'
    started=$(date +%s%N)
    count=$("$BIN" run -q "$@" "$WORK/fleet1000.rhai" --api-url "$SIM_URL")
    ms=$(( ($(date +%s%N) - started) / 1000000 ))
    kill "$SIM_PID" 2>/dev/null || true
    wait "$SIM_PID" 2>/dev/null || true
    echo "$ms $count"
}
if [ "$HAVE_CURL" = 1 ]; then
    read -r fast fast_n <<<"$(fleet_run fleet-fast)"
    read -r slow slow_n <<<"$(fleet_run fleet-slow --parallel 1)"
    r=$(div "$slow" "$fast")
    ok=$(verdict "$r" ">=" 12)
    [ "$fast_n" = 1000 ] && [ "$slow_n" = 1000 ] || ok="FAIL (hibernated: $fast_n and $slow_n of 1000)"
    say "[8] deploy→wait→hibernate→wait of 1,000 at --latency-ms 50, default --parallel vs --parallel 1: ${r}x faster (target >= 12x) $ok"
    note "default: $fast ms; --parallel 1: $slow ms; \`barrack sim --speed 1000 --latency-ms 50\`, fleet1000.rhai"
else
    say "[8] fleet of 1,000: skipped (needs curl for the simulator's admin routes)"
fi
fi

# --- 7d. the state file (issue 18): a 10,000-instance world with --state on vs off ------------
# The world is built through the API on a simulator without a state file (N7D ACTIVE instances
# and one legacy-tier instance whose public IP can be toggled), measured, dumped, and loaded with
# --state into a second simulator that is measured the same way. A change is
# `POST /instances/ID/public-ip/` (a toggle: always accepted, the world's size unchanged).
if wanted 7d; then
say ""
if [ "$HAVE_CURL" = 1 ]; then
N7D=${N7D:-10000}
start_sim state-off --seed 7
OFF_URL=$SIM_URL
OFF_PID=$SIM_PID
admin "$OFF_URL/_sim/balance" '{"balance": 1000000000000}'
admin "$OFF_URL/_sim/stock" "{\"region\": \"FINLAND-2\", \"gpu_model\": \"H100-SXM5-80GB\", \"available\": $N7D}"
cat >"$WORK/fill.rhai" <<'RHAI'
let specs = [];
for i in 0..params.n { specs.push(#{gpu: "H100-SXM5-80GB", count: 1, region: "FINLAND-2", name: `vm-${i}`}); }
deploy(specs);
print(deploy(#{gpu: "L40", count: 1, region: "CANADA-1", name: "toggled"}).id);
RHAI
TOGGLED=$("$BIN" run -q "$WORK/fill.rhai" --api-url "$OFF_URL" --set "n=$N7D")
admin "$OFF_URL/_sim/advance" '{"seconds": 900}'
TOGGLE=/instances/$TOGGLED/public-ip/
# measure_state URL → CHG (changes/s), BALS (GET /balance/ req/s), BALW (GET /balance/ beside
# a stream of changes: what a reader waits for while saves happen)
measure_state() {
    local addr=${1#http://} writer
    CHG=$(field rps "$("$LOADGEN" post "$addr" 8 3 "$KEY" "$TOGGLE")")
    BALS=$(field rps "$("$LOADGEN" get "$addr" 64 3 "$KEY" /balance/)")
    "$LOADGEN" post "$addr" 4 3 "$KEY" "$TOGGLE" >/dev/null &
    writer=$!
    BALW=$(field rps "$("$LOADGEN" get "$addr" 60 3 "$KEY" /balance/)")
    wait "$writer" || true
}
# Both simulators hold the same world: the one without a state file, and one loaded from its dump.
curl -sf -H "Authorization: Bearer $KEY" "$OFF_URL/_sim/state" >"$WORK/world-7d.json"
bytes=$(stat -c %s "$WORK/world-7d.json")
start_sim state-on --state "$WORK/world-7d.json"
ON_URL=$SIM_URL
ON_PID=$SIM_PID
# Alternating rounds, medians: the two sides share the machine's noise.
ROUNDS7D=${ROUNDS7D:-3}
OFF_C=() OFF_B=() OFF_W=() ON_C=() ON_B=() ON_W=()
for _ in $(seq "$ROUNDS7D"); do
    measure_state "$OFF_URL"
    OFF_C+=("$CHG") OFF_B+=("$BALS") OFF_W+=("$BALW")
    measure_state "$ON_URL"
    ON_C+=("$CHG") ON_B+=("$BALS") ON_W+=("$BALW")
done
OC=$(median "${OFF_C[@]}") OB=$(median "${OFF_B[@]}") OW=$(median "${OFF_W[@]}")
NC=$(median "${ON_C[@]}") NB=$(median "${ON_B[@]}") NW=$(median "${ON_W[@]}")
saves=$(curl -sf -H "Authorization: Bearer $KEY" "$ON_URL/_sim/stats" |
    sed -n 's/.*"state_file":\({[^}]*}\).*/\1/p')
kill -TERM "$ON_PID" "$OFF_PID" 2>/dev/null || true
wait "$ON_PID" "$OFF_PID" 2>/dev/null || true
rc=$(div "$NC" "$OC")
rb=$(div "$NB" "$OB")
ok=$(verdict "$rb" ">=" 0.7)
[ "$(verdict "$rc" ">=" 0.7)" = PASS ] || ok=FAIL
say "[7d] --state at $N7D instances ($((bytes / 1024)) KiB of JSON), on vs off: changes $NC vs $OC /s (${rc}x), GET /balance/ $NB vs $OB req/s (${rb}x), GET /balance/ beside a stream of changes $NW vs $OW req/s ($(div "$NW" "$OW")x) (target: the load figures hold, >= 0.70x) $ok"
note "medians of $ROUNDS7D alternating rounds; changes/s on: ${ON_C[*]}, off: ${OFF_C[*]}; GET /balance/ on: ${ON_B[*]}, off: ${OFF_B[*]}"
note "saves while measured: ${saves:-not reported by this binary}"
note "\`loadgen post ADDR 8 3 KEY /instances/ID/public-ip/\`, \`loadgen get ADDR 64 3 KEY /balance/\`, then 60 readers beside 4 writers, against \`barrack sim\` without a state file, then with \`--state\` holding the same world"
else
    say "[7d] skipped (needs curl for the simulator's admin routes)"
fi
fi

# --- 6. peak RSS, binary size, build time -------------------------------------------------------
if wanted 6; then
say ""
if want /usr/bin/time time; then
    rss=$(/usr/bin/time -f '%M' "${RUN1[@]}" 2>&1 >/dev/null | tail -1)
    mb=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
    say "[6a] peak RSS of a one-shot run: $mb MB (target <= 15 MB) $(verdict "$mb" "<=" 15)"
    note "\`/usr/bin/time -f %M barrack run one-call.rhai\`"
else
    say "[6a] peak RSS: skipped (/usr/bin/time is not installed and could not be installed)"
fi
size=$(stat -c %s "$BIN")
mb=$(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1048576 }')
stripped=$(file "$BIN" 2>/dev/null | grep -o 'not stripped\|stripped' || echo "?")
say "[6b] release binary: $mb MiB, $stripped (target <= 15 MB) $(verdict "$size" "<=" 15000000)"
if [ "${CLEAN_BUILD:-0}" = 1 ]; then
    started=$(date +%s.%N)
    CARGO_TARGET_DIR=$WORK/target cargo build --release --locked --bin barrack >"$WORK/clean.log" 2>&1
    secs=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
    say "[6c] clean release build: $secs s (target <= 240 s) $(verdict "$secs" "<=" 240), load during it $(cut -d' ' -f1-3 /proc/loadavg)"
else
    say "[6c] clean release build: not measured (CLEAN_BUILD=1 times one in a scratch directory)"
fi
fi
