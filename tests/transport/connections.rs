//! One transport: every request, plain or TLS, goes through reqwest, with one pool per run, and
//! stays within the run's deadline, a body cap, and the key's redaction whatever a server does.
//! The quickstart also runs through a proxy setting (bypassed for loopback by NO_PROXY).

use crate::support::tiny::{self, answer, each_request};
use crate::test::Test;
use barrack::api::{catalog, Args, Client, ClientSettings, Failure, RetryPolicy};
use barrack::secret::ApiKey;
use std::io::Write;
use std::time::Duration;

fn quickstart() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/quickstart.rhai")
        .to_string_lossy()
        .into_owned()
}

/// Far beyond what any run here needs: only a hang reaches it.
const HANG: Duration = Duration::from_secs(120);

const BALANCE: &str = r#"{"success":true,"data":{"balance":5,"currency":"USD"}}"#;

/// A library client for a tiny server: one try, a short request timeout.
fn one_try_client(url: &str) -> Client {
    let mut settings = ClientSettings::new(url, ApiKey::new("sk-test-SECRET"));
    settings.retry = RetryPolicy {
        max_tries: Some(1),
        ..RetryPolicy::default()
    };
    settings.timeout = Duration::from_secs(10);
    Client::new(settings).expect("a client")
}

/// `barrack run` of `source` against a server at `url` (not the simulator).
fn run_against(url: &str, source: &str) -> Test {
    Test::new()
        .file("script.rhai", source)
        .args(["run", "script.rhai", "--api-url", url])
        .env("BARRACK_API_KEY", "sk-test-SECRET")
}

fn balance(client: &Client) -> Result<serde_json::Value, barrack::api::ApiError> {
    client.call(catalog::find("balance").expect("balance"), &Args::new())
}

#[test]
fn the_quickstart_runs_with_a_proxy_configured_and_bypassed() {
    let out = Test::new()
        .args(["run", "--sim", "-v", &quickstart()])
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdout_has("Cleaned up.")
        .success();
    assert!(
        out.stderr.contains("POST http://127.0.0.1:"),
        "the -v log shows the requests: {}",
        out.stderr
    );
}

/// `--sim-tls`: the quickstart and a fleet run over HTTPS, through the same reqwest/rustls path
/// a run against the service takes; the -v log shows https:// requests.
#[test]
fn the_quickstart_and_a_fleet_run_over_tls() {
    let out = Test::new()
        .args(["run", "--sim", "--sim-tls", "-v", &quickstart()])
        .stdout_has("Cleaned up.")
        .success();
    assert!(
        out.stderr.contains("POST https://127.0.0.1:"),
        "the requests went over TLS: {}",
        out.stderr
    );
    let fleet = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fleet.rhai");
    let out = Test::new()
        .args(["run", "--sim", "--sim-tls", "-v"])
        .arg(fleet.to_string_lossy().as_ref())
        .args(["--set", "size=4"])
        .success();
    assert!(out.stderr.contains("https://127.0.0.1:"), "{}", out.stderr);
}

#[test]
fn an_unreachable_api_reads_the_same_with_or_without_a_proxy() {
    let url = crate::support::unreachable_url();
    for proxy in [None, Some("http://127.0.0.1:9")] {
        let mut test = Test::new()
            .args(["call", "balance", "--retries", "1", "--api-url", &url])
            .env("BARRACK_API_KEY", "sk-test-SECRET")
            .env("NO_PROXY", "127.0.0.1")
            .stderr_has("could not be reached")
            .stderr_lacks("SECRET");
        if let Some(p) = proxy {
            test = test.env("HTTP_PROXY", p);
        }
        test.status(69);
    }
}

#[test]
fn connections_are_kept_alive_across_calls() {
    let server = tiny::http(|stream| each_request(stream, |_| answer(200, BALANCE)));
    let client = one_try_client(&server.url);
    for _ in 0..5 {
        assert_eq!(balance(&client).expect("an answer")["balance"], 5);
    }
    assert_eq!(server.connections(), 1, "one connection for every call");
}

/// A server that answers once and then closes the connection without saying so: the next call
/// must not fail on the dead connection (one try only, so a failure would show).
#[test]
fn a_connection_the_server_closed_is_never_reused() {
    let server = tiny::http(|stream| {
        let mut reader = std::io::BufReader::new(stream);
        if tiny::read_request(&mut reader).is_some() {
            let _ = reader.get_mut().write_all(answer(200, BALANCE).as_bytes());
        }
        // Dropped: closed, with no `Connection: close` to warn the client.
    });
    let client = one_try_client(&server.url);
    for _ in 0..5 {
        balance(&client).expect("a fresh connection answers");
        // Idle time, as a script has between calls, for the close to arrive.
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(server.connections(), 5);
}

/// `--timeout` bounds the requests too: a server that accepts and never answers ends the run at
/// the deadline with exit 75 and one line naming what was in flight (it took 190 s before).
#[test]
fn a_server_that_never_answers_stops_at_the_run_timeout() {
    let server = tiny::http(|stream| {
        std::thread::sleep(Duration::from_secs(600));
        drop(stream);
    });
    run_against(&server.url, "balance();")
        .args(["--timeout", "1s"])
        .hang_limit(HANG)
        // Either the interpreter's stop flag or the request's own deadline may say it first.
        .stderr_has("--timeout")
        .stderr_has("balance")
        .stderr_has("was in flight")
        .stderr_lacks("SECRET")
        .status(75);
}

/// Backoff never sleeps past the deadline: a `Retry-After: 3600` is not waited for.
#[test]
fn backoff_stops_at_the_run_timeout() {
    let server = tiny::http(|stream| {
        each_request(stream, |_| {
            "HTTP/1.1 503 X\r\nRetry-After: 3600\r\nContent-Length: 2\r\n\r\n{}".to_string()
        })
    });
    run_against(
        &server.url,
        r#"api("create_script", #{name: "s", script: "echo"});"#,
    )
    .args(["--timeout", "2s"])
    .hang_limit(HANG)
    .stderr_has("--timeout 2s reached while `create_script` (POST /scripts/) was in flight")
    .status(75);
}

/// What `mod plain` got wrong (an overflowing chunk size, an endless header line) and a body
/// past the cap are clear errors, never a hang or a 3 GB buffer.
#[test]
fn huge_or_garbled_answers_are_clear_errors() {
    let cases: [(&str, &'static str, &str); 3] = [
        (
            "a declared body past the cap",
            "HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n{",
            "more than the 67108864 barrack reads",
        ),
        (
            "a chunk size past u64",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n{",
            "",
        ),
        ("an endless header line", "", ""),
    ];
    for (what, head, says) in cases {
        let server = tiny::http(move |mut stream| {
            let mut reader = std::io::BufReader::new(stream.try_clone().expect("a clone"));
            if tiny::read_request(&mut reader).is_none() {
                return;
            }
            if head.is_empty() {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nX-Endless: ");
                let line = vec![b'a'; 64 << 10];
                for _ in 0..1024 {
                    if stream.write_all(&line).is_err() {
                        return;
                    }
                }
            } else {
                let _ = stream.write_all(head.as_bytes());
                std::thread::sleep(Duration::from_secs(30));
            }
        });
        let err = balance(&one_try_client(&server.url)).expect_err(what);
        assert_ne!(err.failure, Failure::Timeout, "{what}: no hang: {err}");
        assert!(err.to_string().contains(says), "{what}: {err}");
    }
    // A chunked body that never ends is cut off at the cap.
    let server = tiny::http(|mut stream| {
        let mut reader = std::io::BufReader::new(stream.try_clone().expect("a clone"));
        if tiny::read_request(&mut reader).is_none() {
            return;
        }
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        let chunk = format!("10000\r\n{}\r\n", "a".repeat(0x10000));
        while stream.write_all(chunk.as_bytes()).is_ok() {}
    });
    let err = balance(&one_try_client(&server.url)).expect_err("an endless body");
    assert_eq!(err.failure, Failure::Decode, "{err}");
    assert!(err.message.contains("barrack reads"), "{err}");
}

/// A server that echoes the Authorization header in its error: the key never reaches stderr,
/// `e.message`, `e.errors` or the audit log.
#[test]
fn a_key_a_server_echoes_back_is_redacted() {
    let server = tiny::http(|stream| {
        each_request(stream, |request| {
            let echo = request.header("authorization").unwrap_or("").to_string();
            let body = serde_json::json!({
                "success": false,
                "code": "VALIDATION_ERROR",
                "message": format!("bad header Authorization: {echo}"),
                "errors": {"authorization": [format!("got {echo}")]},
                "request_id": echo,
            });
            answer(400, &body.to_string())
        })
    });
    let test = run_against(
        &server.url,
        r#"
        try { api("create_script", #{name: "s", script: "echo"}); }
        catch (e) { print(e.message); print(to_json(e.errors)); print(e.request_id); }
        api("create_script", #{name: "s", script: "echo"});
        "#,
    );
    let audit = test.path().join("audit.jsonl");
    let out = test
        .args(["--audit-log", audit.to_str().expect("a path")])
        .stdout_has("bad header Authorization: Bearer (redacted)")
        .stdout_lacks("SECRET")
        .stderr_has("(redacted)")
        .stderr_lacks("SECRET")
        .status(1);
    let log = std::fs::read_to_string(&audit).expect("the audit log");
    assert!(
        log.contains("(redacted)") && !log.contains("SECRET"),
        "{log}"
    );
    drop(out);
}

/// Under `--sim` the script's clock is the simulator's from its first line: `sleep("10m")`
/// before any call takes simulated minutes (a real ten minutes would hit --timeout), and `now()`
/// is the simulator's time, here a world saved in 2020, before any call announced it.
#[test]
fn under_sim_the_clock_is_the_simulators_before_the_first_call() {
    Test::eval(r#"sleep("10m"); "slept""#)
        .args(["--timeout", "60s"])
        .stdout("slept\n")
        .success();
    let test = Test::new();
    let state = test.path().join("world.json");
    let mut world = barrack::sim::world::World::seeded(1, 1_600_000_000.0);
    world.clock = 1_600_000_000.0;
    std::fs::write(&state, serde_json::to_string(&world).expect("JSON")).expect("written");
    test.args(["eval", "--sim", "--state", state.to_str().expect("a path")])
        .arg("now().epoch < 1700000000")
        .stdout("true\n")
        .success();
}

/// `X-Sim-Speed` speeds up sleeps and waiters only when it comes from this machine: a server
/// reached at a non-loopback address (here 0.0.0.0, which Linux routes to this host) that
/// announces a 1000× clock does not turn `sleep("10s")` into 10 ms, so the run meets --timeout.
#[test]
fn only_a_loopback_server_may_speed_up_the_clock() {
    let server = tiny::http(|stream| {
        each_request(stream, |_| {
            format!(
                "HTTP/1.1 200 OK\r\nX-Sim-Speed: 1000\r\nContent-Length: {}\r\n\r\n{BALANCE}",
                BALANCE.len()
            )
        })
    });
    let script = r#"balance(); sleep("10s"); print("slept");"#;
    run_against(&server.url, script)
        .args(["--timeout", "5s"])
        .stdout("slept\n")
        .success();
    run_against(&format!("http://0.0.0.0:{}", server.port), script)
        .args(["--timeout", "1s"])
        .stdout_lacks("slept")
        .status(75);
}
