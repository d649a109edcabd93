//! The simulator as a server others can lean on: the HTTP stack's limits (head size, idle
//! connections, conflicting lengths), lost answers, where faults meet the idempotency replay,
//! TLS (`barrack sim --tls`, trusted by curl and by `--ca-cert`), the admin routes (behind
//! `--require-key`, documented in `barrack sim --help`, moving the clock), the fast clock, and
//! `Allow` on a 405. Raw sockets where the client would hide what the server did.

use crate::support::*;
use crate::test::Test;
use barrack::api::catalog::OPS;
use barrack::sim::{FaultPoint, Faults, SimOptions, Simulator};
use serde_json::{json, Value};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Long enough that only a hung server reaches it; no test expects to wait this long.
const HUNG: Duration = Duration::from_secs(20);

fn connect(sim: &Simulator) -> TcpStream {
    let stream = TcpStream::connect(sim.addr()).expect("the simulator accepts");
    stream.set_read_timeout(Some(HUNG)).unwrap();
    stream
}

/// Everything the server sends until it closes the connection (or resets it).
fn read_all(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                panic!(
                    "the server neither answered nor closed within {HUNG:?}; got {:?}",
                    String::from_utf8_lossy(&out)
                )
            }
            // A reset is a close too (the server closed with our bytes still unread).
            Err(_) => return out,
        }
    }
}

/// The status line of a raw answer, or "" when nothing came.
fn status_line(answer: &[u8]) -> String {
    String::from_utf8_lossy(answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

fn deploy_body(sim: &Simulator) -> String {
    deploy_spec(sim, REGION, json!({})).to_string()
}

fn instances(sim: &Simulator) -> usize {
    sim.world().instances.len()
}

#[test]
fn a_head_line_that_never_ends_is_refused_and_memory_stays_bounded() {
    let (sim, _) = sim();
    let mut stream = connect(&sim);
    let mut writer = stream.try_clone().unwrap();
    // The old server buffered such a line without limit (1 GiB on one connection). Offer 256 MiB
    // and count what the server takes before it refuses: only its head limit plus socket buffers.
    let offered: usize = 256 << 20;
    let sender = std::thread::spawn(move || {
        let chunk = vec![b'a'; 64 << 10];
        let mut sent = 0usize;
        if writer
            .write_all(b"GET /balance/ HTTP/1.1\r\nHost: x\r\nX-Long: ")
            .is_err()
        {
            return sent;
        }
        while sent < offered {
            match writer.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        sent
    });
    let answer = read_all(&mut stream);
    let sent = sender.join().unwrap();
    let status = status_line(&answer);
    assert!(
        status.is_empty() || status.contains(" 431 "),
        "expected 431 or a closed connection, got {status:?}"
    );
    assert!(
        sent < 32 << 20,
        "the server took {sent} bytes of one unterminated header line"
    );
    // Nothing else was hurt: a new client is served.
    let balance = raw(&sim, "GET", "/balance/", None, &[]).unwrap();
    assert_eq!(balance.status, 200);
}

/// Threads of this process, from /proc (Linux); None elsewhere.
fn threads() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// How many idle connections this process can hold (each costs two descriptors here: the
/// client's and the in-process server's), at most 2,000.
fn idle_connections() -> usize {
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse::<usize>().ok()
        })
        .unwrap_or(1024);
    // Leave room for the other tests running meanwhile.
    (soft_limit.saturating_sub(512) / 2).clamp(100, 2000)
}

#[test]
fn two_thousand_idle_connections_cost_no_thread_each_and_a_new_client_is_served() {
    let (sim, _) = sim();
    let before = threads();
    let n = idle_connections();
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        idle.push(TcpStream::connect(sim.addr()).expect("an idle connection is accepted"));
    }
    // One request on the last idle connection: every connection before it has been accepted.
    let mut last = idle.pop().unwrap();
    last.set_read_timeout(Some(HUNG)).unwrap();
    last.write_all(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert!(status_line(&read_all(&mut last)).contains(" 200 "));
    // Other tests start up to a few hundred threads meanwhile; a thread per connection would add
    // n. (With a small descriptor limit the two cannot be told apart, so only the serving counts.)
    if let (Some(before), Some(after), true) = (before, threads(), n >= 1000) {
        assert!(
            after < before + n / 2,
            "threads went from {before} to {after} for {n} idle connections"
        );
    }
    let balance = raw(&sim, "GET", "/balance/", None, &[]).unwrap();
    assert_eq!(balance.status, 200, "a new client is served");
    drop(idle);
}

#[test]
fn an_idle_or_stalled_connection_is_closed_after_the_idle_timeout() {
    let sim = Simulator::start(SimOptions {
        idle_timeout: Duration::from_millis(200),
        ..frozen_options()
    })
    .unwrap();
    // Connected, silent: the old server kept a thread on it forever.
    let mut silent = connect(&sim);
    assert_eq!(read_all(&mut silent), b"", "closed without an answer");
    // Half a head, then nothing (slowloris).
    let mut stalled = connect(&sim);
    stalled.write_all(b"GET /balance/ HTTP/1.1\r\nHo").unwrap();
    let answer = read_all(&mut stalled);
    assert!(
        answer.is_empty() || status_line(&answer).contains(" 408 "),
        "got {:?}",
        String::from_utf8_lossy(&answer)
    );
    // A kept-alive connection that answered once is closed once it idles.
    let mut kept = connect(&sim);
    kept.write_all(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let answer = read_all(&mut kept);
    assert!(status_line(&answer).contains(" 200 "));
}

#[test]
fn conflicting_content_lengths_get_400_and_a_chunked_body_is_read() {
    let (sim, _) = sim();
    // The old server believed the first length and waited forever for 60 bytes.
    let mut stream = connect(&sim);
    stream
        .write_all(
            b"POST /pricing/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n\
              Content-Length: 60\r\nContent-Length: 2\r\n\r\n{}",
        )
        .unwrap();
    let status = status_line(&read_all(&mut stream));
    assert!(status.contains(" 400 "), "got {status:?}");
    // A chunked body (which the old server refused with 411) reaches the handler.
    let body = deploy_body(&sim);
    let mut stream = connect(&sim);
    let request = format!(
        "POST /instances/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let status = status_line(&read_all(&mut stream));
    assert!(
        status.contains(" 201 ") || status.contains(" 200 "),
        "got {status:?}"
    );
    assert_eq!(instances(&sim), 1);
}

#[test]
fn a_body_over_the_limit_gets_413_with_the_clock() {
    let (sim, _) = sim();
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(5 << 20));
    let answer = raw(&sim, "POST", "/pricing/", Some(&big), &[]).unwrap();
    assert_eq!(answer.status, 413);
    assert_eq!(answer.json()["code"], "PAYLOAD_TOO_LARGE");
    assert!(answer.header("x-sim-speed").is_some());
}

#[test]
fn a_dropped_answer_closes_the_connection_without_a_byte_after_applying_the_change() {
    let (sim, client) = sim();
    sim.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    let body = deploy_body(&sim);
    let mut stream = connect(&sim);
    let request = format!(
        "POST /instances/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    assert_eq!(read_all(&mut stream), b"", "no byte of an answer");
    sim.set_faults(Faults::default());
    let listed = ok(&client, "instances", json!({}));
    let listed = listed.as_array().expect("a list of instances");
    assert_eq!(listed.len(), 1, "the deploy was applied: {listed:?}");
    assert_eq!(sim.stats()["responses_dropped"], 1);
}

/// A raw deploy with an Idempotency-Key; `Err` when the connection closed without an answer.
fn keyed_deploy(sim: &Simulator, key: &str) -> Result<Raw, reqwest::Error> {
    raw(
        sim,
        "POST",
        "/instances/",
        Some(&deploy_body(sim)),
        &[("Idempotency-Key", key)],
    )
}

/// A keyed deploy that the simulator applies and then answers with nothing (`--drop-rate 1`).
#[track_caller]
fn keyed_deploy_losing_its_answer(sim: &Simulator, key: &str) {
    sim.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    assert!(keyed_deploy(sim, key).is_err(), "the first answer is lost");
}

fn failing(point: FaultPoint) -> Faults {
    Faults {
        fault_rate: 1.0,
        fault_status: vec![503],
        point,
        ..Faults::default()
    }
}

#[test]
fn at_the_edge_a_fault_comes_before_the_replay_and_a_later_retry_reaches_it() {
    let (sim, _) = sim();
    keyed_deploy_losing_its_answer(&sim, "k-1");
    assert_eq!(instances(&sim), 1, "but the deploy was applied");
    // The load balancer fails the retry before the service sees it.
    sim.set_faults(failing(FaultPoint::Edge));
    let failed = keyed_deploy(&sim, "k-1").unwrap();
    assert_eq!(failed.status, 503);
    assert!(failed.json()["message"]
        .as_str()
        .unwrap()
        .contains("Injected fault"));
    assert_eq!(failed.header("idempotent-replayed"), None);
    // The next retry gets through and is answered with the first answer: one instance.
    sim.set_faults(Faults::default());
    let replayed = keyed_deploy(&sim, "k-1").unwrap();
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    let id = replayed.json()["data"]["id"].as_str().unwrap().to_string();
    let world = sim.world();
    assert_eq!(world.instances.len(), 1);
    assert!(world.instances.contains_key(&id), "the replay names {id}");
}

#[test]
fn in_the_app_a_retry_of_an_applied_request_always_gets_the_replay() {
    let (sim, _) = sim();
    keyed_deploy_losing_its_answer(&sim, "k-1");
    sim.set_faults(failing(FaultPoint::App));
    // Every request fails, except a retry the service has already answered.
    let replayed = keyed_deploy(&sim, "k-1").unwrap();
    assert_eq!(replayed.status, 201, "{}", replayed.text);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    let fresh = keyed_deploy(&sim, "k-2").unwrap();
    assert_eq!(fresh.status, 503);
    let read = raw(&sim, "GET", "/balance/", None, &[]).unwrap();
    assert_eq!(read.status, 503);
    assert_eq!(
        instances(&sim),
        1,
        "the failed fresh deploy changed nothing"
    );
}

#[test]
fn a_huge_latency_is_refused_and_a_slow_answer_does_not_hold_up_others() {
    let (sim, _) = sim();
    // Through the admin route: refused, naming the setting and its limit; nothing changed.
    let refused = raw(
        &sim,
        "POST",
        "/_sim/faults",
        Some(r#"{"latency_ms": 100000000000}"#),
        &[],
    )
    .unwrap();
    assert_eq!(refused.status, 400);
    assert!(
        refused.text.contains("latency_ms must be at most 600000"),
        "{}",
        refused.text
    );
    let set = raw(
        &sim,
        "POST",
        "/_sim/faults",
        Some(r#"{"latency_ms": 600000}"#),
        &[],
    )
    .unwrap();
    assert_eq!(set.status, 200);
    // One request waits its ten minutes; meanwhile other connections are served.
    let mut slow = connect(&sim);
    slow.write_all(b"GET /balance/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n\r\n")
        .unwrap();
    let openapi = raw(&sim, "GET", "/openapi.json", None, &[]).unwrap();
    assert_eq!(openapi.status, 200);
    let stats = raw(&sim, "GET", "/_sim/stats", None, &[]).unwrap();
    assert_eq!(stats.status, 200);
    slow.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let pending = slow.read(&mut byte);
    assert!(
        matches!(&pending, Err(e) if e.kind() == ErrorKind::WouldBlock),
        "the slow request is still waiting: {pending:?}"
    );
    // Dropping the simulator does not wait for it: the port is closed when drop returns, and
    // the waiting connection is closed without an answer.
    let addr = sim.addr();
    drop(sim);
    assert!(
        TcpStream::connect(addr).is_err(),
        "a stopped simulator refuses connections"
    );
    slow.set_nonblocking(false).unwrap();
    assert_eq!(read_all(&mut slow), b"");
}

#[test]
fn barrack_sim_refuses_bad_flags_clearly() {
    // Relative to the run's own directory, where no such directory exists.
    let unwritable = "no-such-dir/sim.pem";
    let cases: [(&[&str], i32, &str); 4] = [
        (
            &["--latency-ms", "100000000000"],
            2,
            "--latency-ms must be at most 600000",
        ),
        (&["--fault-point", "middle"], 2, "edge"),
        (&["--tls"], 2, "--tls-cert"),
        (&["--tls", "--tls-cert", unwritable], 78, "no-such-dir"),
    ];
    for (args, code, says) in cases {
        Test::new()
            .args(["sim", "--listen", "127.0.0.1:0"])
            .args(args.iter().copied())
            .stderr_has(says)
            .status(code);
    }
}

/// A request with exactly these headers (no default key).
fn bare(sim: &Simulator, method: &str, path: &str, body: Option<&str>, key: Option<&str>) -> Raw {
    let http = reqwest::blocking::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http.request(method, format!("{}{path}", sim.base_url()));
    if let Some(key) = key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request.send().unwrap();
    Raw {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().unwrap(),
    }
}

#[test]
fn require_key_guards_the_admin_routes_too() {
    let sim = Simulator::start(SimOptions {
        api_key: Some("sk-right".into()),
        ..frozen_options()
    })
    .unwrap();
    let balance = sim.world().balance;
    for key in [None, Some("sk-wrong")] {
        let refused = bare(
            &sim,
            "POST",
            "/_sim/balance",
            Some(r#"{"balance": 1e9}"#),
            key,
        );
        assert_eq!(refused.status, 401, "{key:?}: {}", refused.text);
        assert_eq!(refused.json()["code"], "UNAUTHORIZED");
        let state = bare(&sim, "GET", "/_sim/state", None, key);
        assert_eq!(state.status, 401);
    }
    assert_eq!(sim.world().balance, balance, "nothing changed");
    let set = bare(
        &sim,
        "POST",
        "/_sim/balance",
        Some(r#"{"balance": 1e9}"#),
        Some("sk-right"),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(sim.world().balance, 1e9);
    // Without --require-key, the admin routes stay open as before.
    let (open, _) = crate::support::sim();
    assert_eq!(bare(&open, "GET", "/_sim/stats", None, None).status, 200);
}

#[test]
fn a_405_lists_the_methods_the_path_takes() {
    let (sim, _) = sim();
    let answer = raw(&sim, "PUT", "/balance/", None, &[]).unwrap();
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("GET"));
    let answer = raw(&sim, "PATCH", "/instances/", None, &[]).unwrap();
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("GET, POST"));
    assert_eq!(answer.json()["code"], "METHOD_NOT_ALLOWED");
    // Every operation's method is in the Allow of its path.
    let mut wrong = Vec::new();
    for op in OPS {
        let path = op.path.replace("{id}", "x1").replace("{rule_id}", "r1");
        let answer = raw(&sim, "PATCH", &path, None, &[]).unwrap();
        let allow = answer.header("allow").unwrap_or("");
        if answer.status != 405 || !allow.split(", ").any(|m| m == op.method.as_str()) {
            wrong.push(format!(
                "{} {path}: {} Allow {allow:?}",
                op.name, answer.status
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    let unknown = raw(&sim, "PATCH", "/nope/", None, &[]).unwrap();
    assert_eq!(unknown.status, 404);
}

#[test]
fn every_answer_announces_the_clock() {
    let (sim, _) = sim();
    let body = deploy_body(&sim);
    let answers = [
        raw(&sim, "GET", "/balance/", None, &[]).unwrap(),
        raw(&sim, "GET", "/nope/", None, &[]).unwrap(),
        raw(&sim, "PUT", "/balance/", None, &[]).unwrap(),
        raw(&sim, "GET", "/openapi.json", None, &[]).unwrap(),
        raw(&sim, "GET", "/_sim/stats", None, &[]).unwrap(),
        raw(
            &sim,
            "POST",
            "/instances/",
            Some(&body),
            &[("Idempotency-Key", "a")],
        )
        .unwrap(),
        raw(
            &sim,
            "POST",
            "/instances/",
            Some(&body),
            &[("Idempotency-Key", "a")],
        )
        .unwrap(),
        bare(&sim, "GET", "/balance/", None, None),
    ];
    for answer in &answers {
        assert_eq!(
            answer.header("x-sim-speed"),
            Some("0.000000001"),
            "{} {}",
            answer.status,
            answer.text
        );
    }
    assert_eq!(answers[6].header("idempotent-replayed"), Some("true"));
    assert_eq!(sim.stats()["idempotent_replays"], 1);
}

fn tls_sim() -> Simulator {
    Simulator::start(SimOptions {
        tls: true,
        ..frozen_options()
    })
    .expect("the TLS simulator starts")
}

#[test]
fn over_tls_a_client_that_trusts_the_certificate_is_served_and_others_are_refused() {
    let sim = tls_sim();
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let pem = sim
        .ca_cert_pem()
        .expect("a TLS simulator has a certificate");
    let root = reqwest::Certificate::from_pem(pem.as_bytes()).unwrap();
    let trusting = reqwest::blocking::Client::builder()
        .add_root_certificate(root)
        .build()
        .unwrap();
    for base in [
        sim.base_url(),
        format!("https://localhost:{}", sim.addr().port()),
    ] {
        let answer = trusting
            .get(format!("{base}/balance/"))
            .bearer_auth(KEY)
            .send()
            .unwrap();
        assert_eq!(answer.status(), 200, "{base}");
        let body: Value = answer.json().unwrap();
        assert!(body["data"]["balance"].is_number(), "{body}");
    }
    let untrusting = reqwest::blocking::Client::new();
    let refused = untrusting
        .get(format!("{}/balance/", sim.base_url()))
        .bearer_auth(KEY)
        .send();
    let err = refused.expect_err("an unknown certificate is refused");
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    assert_eq!(
        sim.stats()["requests"],
        2,
        "the refused request never arrived"
    );
    // Plain HTTP to the TLS port gets no API answer.
    let plain = raw_to(
        &format!("http://{}", sim.addr()),
        "GET",
        "/balance/",
        None,
        &[],
    );
    assert!(plain.map(|r| r.status != 200).unwrap_or(true));
}

#[test]
fn barrack_sim_tls_writes_its_certificate_and_curl_trusts_it() {
    let mut sim = Test::new()
        .args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--tls",
            "--tls-cert",
            "sim.pem",
        ])
        .spawn();
    let cert = sim.path().join("sim.pem");
    let first = sim.stderr_line();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap_or_else(|| panic!("no https URL in {first:?}"))
        .to_string();
    let pem = std::fs::read_to_string(&cert).expect("the certificate is written before serving");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cert).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }
    // The same certificate through reqwest.
    let root = reqwest::Certificate::from_pem(pem.as_bytes()).unwrap();
    let http = reqwest::blocking::Client::builder()
        .add_root_certificate(root)
        .build()
        .unwrap();
    let answer = http
        .get(format!("{url}/balance/"))
        .bearer_auth(KEY)
        .send()
        .unwrap();
    assert_eq!(answer.status(), 200);
    // And through curl, when it is installed.
    let curl = |trust: bool| {
        let mut cmd = std::process::Command::new("curl");
        cmd.args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "20",
        ])
        .args(["-H", &format!("Authorization: Bearer {KEY}")]);
        if trust {
            cmd.arg("--cacert").arg(&cert);
        }
        cmd.arg(format!("{url}/balance/")).output()
    };
    let Ok(trusted) = curl(true) else {
        eprintln!("curl is not installed: skipping the curl half");
        return;
    };
    assert_eq!(String::from_utf8_lossy(&trusted.stdout), "200");
    let untrusted = curl(false).unwrap();
    assert!(
        !untrusted.status.success(),
        "curl without --cacert is refused"
    );
    sim.kill();
}

#[test]
fn barrack_sim_help_documents_the_admin_routes_and_the_new_flags() {
    let mut help = Test::new().args(["sim", "--help"]);
    for part in [
        "--tls",
        "--tls-cert",
        "--fault-point",
        "edge",
        "/_sim/faults",
        "/_sim/advance",
        "--require-key",
    ] {
        help = help.stdout_has(part);
    }
    help.output();
}

#[test]
fn barrack_refuses_a_tls_simulator_it_was_not_told_to_trust() {
    let sim = tls_sim();
    // 78: trusting a server is configuration (--ca-cert), not something a retry fixes.
    Test::new()
        .env("BARRACK_API_KEY", KEY)
        .args([
            "call",
            "balance",
            "--retries",
            "1",
            "--api-url",
            &sim.base_url(),
        ])
        .stderr_has("certificate")
        .stderr_has("--ca-cert")
        .status(78);
    assert_eq!(sim.stats()["requests"], 0, "nothing reached the API");

    // The same call, told to trust the simulator's certificate, goes through.
    let pem = sim
        .ca_cert_pem()
        .expect("a TLS simulator has a certificate");
    Test::new()
        .file("sim.pem", pem)
        .env("BARRACK_API_KEY", KEY)
        .args(["call", "balance", "--api-url", &sim.base_url()])
        .args(["--ca-cert", "sim.pem"])
        .stdout_has("balance")
        .success();
}

// ---- the admin routes are documented ----

#[test]
fn sim_help_documents_the_admin_routes_and_their_bodies() {
    Test::new()
        .args(["sim", "--help"])
        .stdout_has("POST /_sim/advance   {\"seconds\": N}")
        .stdout_has("POST /_sim/faults")
        .stdout_has("POST /_sim/error")
        .stdout_has("GET  /_sim/state")
        .success();
}

// ---- the clock and the admin routes ----

#[test]
fn the_fast_clock_runs_a_documented_deploy_in_simulated_minutes() {
    let (sim, client) = fast_sim();
    let vm = deploy(&sim, &client, REGION, json!({}));
    assert_eq!(client.speed(), 1000.0, "the client read X-Sim-Speed");
    // Poll (at most 500 times) until ACTIVE; every status seen before is CREATING.
    let mut active = None;
    for _ in 0..500 {
        let answer = ok(&client, "instance", json!({"id": vm}));
        if answer["status"] == "ACTIVE" {
            active = Some(answer);
            break;
        }
        assert_eq!(answer["status"], "CREATING");
        std::thread::sleep(Duration::from_millis(20));
    }
    let active = active.expect("the deploy became ACTIVE");
    // The deploy took the documented 2–5 minutes, on the server's clock: the transition is
    // timed by the simulated clock, not instant (speed is measured in benches, not here).
    let at = |field: &str| -> i64 {
        active[field]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_second())
            .unwrap_or_else(|| panic!("{field} is a time in {active}"))
    };
    let took = at("updated_at") - at("created_at");
    assert!(
        (120..=300).contains(&took),
        "deploy took {took} simulated seconds"
    );
    let answer = raw(&sim, "GET", "/balance/", None, &[]).unwrap();
    assert_eq!(answer.header("x-sim-speed"), Some("1000"));
}

#[test]
fn admin_routes_move_the_clock_and_set_the_world() {
    let (sim, client) = sim();
    let vm = deploy(&sim, &client, REGION, json!({}));
    let post = |route: &str, body: Value| {
        // Admin routes need no key.
        let http = reqwest::blocking::Client::new();
        let response = http
            .post(format!("{}/_sim/{route}", sim.base_url()))
            .body(body.to_string())
            .send()
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().unwrap(),
        )
    };
    let (status, _) = post("advance", json!({"seconds": 300}));
    assert_eq!(status, 200);
    assert_eq!(status_of(&client, &vm), "ACTIVE");
    assert_eq!(post("advance", json!({"seconds": -1})).0, 400);

    post(
        "stock",
        json!({"region": REGION, "gpu_model": GPU, "available": 0}),
    );
    let err = fail(&client, "deploy", deploy_spec(&sim, REGION, json!({})));
    assert_refused(&err, 409, "OUT_OF_STOCK", "0 GPUs available");

    post("balance", json!({"balance": 0.25}));
    assert_eq!(ok(&client, "balance", json!({}))["balance"], 0.25);
    post("profile", json!({"complete": false}));
    assert!(!sim.world().profile_complete);

    let state = raw(&sim, "GET", "/_sim/state", None, &[]).unwrap().json();
    assert!(state["instances"][&vm].is_object());
    let stats = raw(&sim, "GET", "/_sim/stats", None, &[]).unwrap().json();
    assert!(stats["requests"].as_u64().unwrap() >= 3, "{stats}");

    // The OpenAPI document describes every operation at its catalog route.
    let doc = raw(&sim, "GET", "/openapi.json", None, &[]).unwrap().json();
    for op in barrack::api::OPS {
        let method = op.method.as_str().to_ascii_lowercase();
        assert_eq!(
            doc["paths"][op.path][&method]["operationId"], op.name,
            "{} {}",
            op.method, op.path
        );
    }
}
