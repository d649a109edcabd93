//! Any status, headers and body as the server's answer, over real HTTP on loopback: the client
//! and the Rhai layer above it return `Ok` or `Err`, never panic; the error parser likewise.
#![no_main]

use arbitrary::Arbitrary;
use barrack::api::{catalog, ApiError, Args, Client, ClientSettings, RetryPolicy};
use barrack::script::{Host, Runtime, Source};
use barrack::secret::ApiKey;
use libfuzzer_sys::fuzz_target;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

#[derive(Arbitrary, Debug)]
struct Answer {
    status: u16,
    headers: Vec<(u8, String)>,
    body: Vec<u8>,
    op: u8,
}

/// The bytes the server sends for the current input.
static NEXT: Mutex<Vec<u8>> = Mutex::new(Vec::new());

fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length.min(1 << 20)];
                let _ = reader.read_exact(&mut body);
                let bytes = NEXT.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let _ = (&stream).write_all(&bytes);
            }
        });
        addr
    })
}

const HEADERS: [&str; 5] = [
    "Retry-After",
    "X-Sim-Speed",
    "X-Sim-Time",
    "Content-Type",
    "X-Request-Id",
];
const OPS: [&str; 4] = ["balance", "instance", "instances", "deploy"];

fuzz_target!(|answer: Answer| {
    let status = 100 + answer.status % 900;
    let _ = ApiError::from_response("balance", "GET /balance/".into(), status, &answer.body)
        .to_string();
    let mut head = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
    for (which, value) in &answer.headers {
        let name = HEADERS[*which as usize % HEADERS.len()];
        // Known: a numeric Retry-After beyond 2^64 seconds panics in client::parse_retry_after
        // (reported in issue 7); keep the fuzzer on new ground.
        if name == "Retry-After" && value.trim().parse::<f64>().is_ok_and(|f| f >= 1.8e19) {
            continue;
        }
        if value.chars().any(|c| c.is_control()) {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", answer.body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&answer.body);
    *NEXT.lock().unwrap_or_else(|e| e.into_inner()) = bytes;

    let mut settings = ClientSettings::new(format!("http://{}", server()), ApiKey::new("fuzz-key"));
    settings.retry = RetryPolicy {
        attempts: 1,
        ..RetryPolicy::default()
    };
    settings.timeout = Duration::from_secs(2);
    let Ok(client) = Client::new(settings) else {
        return;
    };
    let op = catalog::find(OPS[answer.op as usize % OPS.len()]).expect("a catalog operation");
    let mut args = Args::new();
    args.insert("id".into(), "BRK-000001VM".into());
    let _ = client.call(op, &args);

    let mut runtime = Runtime::new(client);
    runtime.quiet = true;
    runtime.deadline = Some(Instant::now() + Duration::from_millis(500));
    let host = Host::new(runtime);
    let _ = host.run(&Source::snippet(
        "<fuzz>",
        r#"let vm = instance("BRK-000001VM"); let t = `${vm}`; let r = vm.raw; let j = to_json(vm);
           for v in instances() { t += `${v}`; }
           wait_active(vm, #{timeout: 0, interval: 0})"#,
    ));
});
