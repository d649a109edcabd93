//! Baselines and load for `benches/compare.sh`, on std alone (so the script can also build it
//! with a bare `rustc -O`, in a second, whatever the release profile is):
//!
//! - `loadgen raw ADDR N [KEY]`: one keep-alive connection, N sequential `GET /balance/`; prints
//!   the wall time in milliseconds. This is the floor a client can reach: it writes a fixed
//!   request and reads `Content-Length` bytes, with no JSON decoding at all.
//! - `loadgen mixed ADDR CONNS SECONDS [KEY]`: CONNS keep-alive connections, each a thread,
//!   sending a mix of reads and writes (balance, lists, one object, deploy, hibernate, an unknown
//!   route, a validation error) for SECONDS; prints `requests=… errors=… rps=…` and every
//!   error kind. An error is a failed connect/read/write, a malformed answer, a 5xx, or a
//!   status the request cannot legitimately get (each request names the statuses it accepts).
//!
//! - `loadgen get ADDR CONNS SECONDS [KEY] [PATH]`: like `mixed`, only `GET PATH` (default
//!   `/balance/`; the throughput measure when wrk is not installed).
//! - `loadgen post ADDR CONNS SECONDS KEY PATH`: like `get`, only `POST PATH` with `{}`, each
//!   answer a 2xx: a stream of changes (`compare.sh` toggles one instance's public IP).
//! - `loadgen alternate RUNS WARMUP CMD_A… ::: CMD_B…`: run two commands in turn, RUNS times each
//!   after WARMUP rounds, output discarded, each timed from spawn to exit; prints the medians, the
//!   minima and the maxima in milliseconds (`a_median=… b_median=… …`). Spawning from here costs
//!   both sides the same few tens of microseconds, far less than a shell's fork would.
//!
//! Every loop is bounded in count and time, and only loopback addresses are accepted.
//! Run by `cargo bench` (which passes `--bench`), it only says how to use it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: loadgen raw ADDR N [KEY] | loadgen mixed ADDR CONNS SECONDS [KEY] | \
                     loadgen get ADDR CONNS SECONDS [KEY] [PATH] | \
                     loadgen post ADDR CONNS SECONDS KEY PATH | loadgen alternate RUNS WARMUP CMD… ::: CMD…";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` adds `--bench`.
    let words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--bench")
        .collect();
    let code = match words.as_slice() {
        ["raw", addr, n, rest @ ..] => raw(addr, n, rest.first().copied()),
        ["mixed", addr, conns, secs, rest @ ..] => {
            mixed(addr, conns, secs, rest.first().copied(), None)
        }
        ["get", addr, conns, secs, rest @ ..] => {
            let path = rest.get(1).copied().unwrap_or("/balance/");
            mixed(
                addr,
                conns,
                secs,
                rest.first().copied(),
                Some(Only::Get(path)),
            )
        }
        ["post", addr, conns, secs, key, path] => {
            mixed(addr, conns, secs, Some(key), Some(Only::Post(path)))
        }
        ["alternate", runs, warmup, rest @ ..] => alternate(runs, warmup, rest),
        _ => {
            // `cargo bench` runs every bench target; this one needs a server, so it only explains.
            println!("loadgen: {USAGE} (used by benches/compare.sh)");
            Ok(())
        }
    };
    if let Err(why) = code {
        eprintln!("loadgen: {why}");
        std::process::exit(1);
    }
}

fn loopback(addr: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = addr
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| format!("{addr}: {e}"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("{addr} is not a loopback address"));
    }
    Ok(addr)
}

/// One keep-alive connection with a buffered reader.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    head: String,
}

impl Conn {
    fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            head: String::with_capacity(256),
        })
    }

    /// Send one request, read its answer: (status, body).
    fn exchange(&mut self, request: &[u8], body: &mut Vec<u8>) -> Result<u16, String> {
        self.writer
            .write_all(request)
            .map_err(|e| format!("write: {e}"))?;
        let mut status = 0;
        let mut length = 0usize;
        loop {
            self.head.clear();
            let n = self
                .reader
                .read_line(&mut self.head)
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("read: connection closed".into());
            }
            let line = self.head.trim_end();
            if line.is_empty() {
                break;
            }
            if status == 0 {
                status = line
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| format!("malformed status line {line:?}"))?;
            } else if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().map_err(|_| "malformed Content-Length")?;
                }
            }
        }
        body.resize(length, 0);
        self.reader
            .read_exact(body)
            .map_err(|e| format!("read body: {e}"))?;
        Ok(status)
    }
}

fn get(path: &str, key: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: loopback\r\nAuthorization: Bearer {key}\r\n\r\n")
        .into_bytes()
}

fn post(path: &str, key: &str, body: &str, idempotency: Option<u64>) -> Vec<u8> {
    let extra = idempotency
        .map(|n| format!("Idempotency-Key: loadgen-{n}\r\n"))
        .unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nHost: loopback\r\nAuthorization: Bearer {key}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn raw(addr: &str, n: &str, key: Option<&str>) -> Result<(), String> {
    let addr = loopback(addr)?;
    let n: u32 = n.parse().map_err(|_| format!("N must be a count: {n}"))?;
    let n = n.min(1_000_000);
    let request = get("/balance/", key.unwrap_or("k"));
    let mut body = Vec::new();
    let started = Instant::now();
    let mut conn = Conn::open(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    for _ in 0..n {
        let status = conn.exchange(&request, &mut body)?;
        if status != 200 {
            return Err(format!("GET /balance/ answered {status}"));
        }
    }
    println!("{:.3}", started.elapsed().as_secs_f64() * 1000.0);
    Ok(())
}

/// What the mixed workload sends, and the statuses each request may legitimately get.
fn workload(key: &str, id: Option<&str>, n: u64) -> (Vec<u8>, &'static [u16]) {
    match n % 10 {
        0..=3 => (get("/balance/", key), &[200]),
        4 => (get("/instances/?page=1&per_page=20", key), &[200]),
        5 => match id {
            Some(id) => (get(&format!("/instances/{id}/"), key), &[200]),
            None => (get("/regions/", key), &[200, 404]),
        },
        6 => (get("/no/such/route/", key), &[404]),
        7 => (
            // A deploy the documented validation refuses (count 3 is not an allowed count).
            post(
                "/instances/",
                key,
                r#"{"gpu_model":"H100-SXM5-80GB","gpu_count":3,"region":"FINLAND-1","name":"bad"}"#,
                None,
            ),
            &[400, 404, 422],
        ),
        8 => match id {
            // Hibernating something already hibernating or hibernated is a conflict, not an error.
            Some(id) => (
                post(&format!("/instances/{id}/hibernate/"), key, "{}", Some(n)),
                &[200, 201, 202, 400, 409],
            ),
            None => (get("/balance/", key), &[200]),
        },
        _ => (get("/instances/hibernated/count/", key), &[200]),
    }
}

/// One request repeated instead of the mixed workload.
#[derive(Clone, Copy)]
enum Only<'a> {
    Get(&'a str),
    Post(&'a str),
}

fn mixed(
    addr: &str,
    conns: &str,
    secs: &str,
    key: Option<&str>,
    only: Option<Only<'_>>,
) -> Result<(), String> {
    let only = only.map(|o| match o {
        Only::Get(path) => (false, path.to_string()),
        Only::Post(path) => (true, path.to_string()),
    });
    let addr = loopback(addr)?;
    let conns: usize = conns.parse().map_err(|_| "CONNS must be a count")?;
    let secs: f64 = secs.parse().map_err(|_| "SECONDS must be a number")?;
    let conns = conns.clamp(1, 1024);
    let duration = Duration::from_secs_f64(secs.clamp(0.1, 120.0));
    let key = key.unwrap_or("k").to_string();
    // One instance to read and hibernate, found through the API (none is fine too).
    let id = {
        let mut conn = Conn::open(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        let mut body = Vec::new();
        conn.exchange(&get("/instances/?page=1&per_page=1", &key), &mut body)?;
        let text = String::from_utf8_lossy(&body);
        text.split("\"id\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(str::to_string)
    };
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicU64::new(0));
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let started = Instant::now();
    let threads: Vec<_> = (0..conns)
        .map(|t| {
            let (stop, requests, errors) = (stop.clone(), requests.clone(), errors.clone());
            let key = key.clone();
            let id = id.clone();
            let only = only.clone();
            std::thread::spawn(move || {
                let fail = |why: String| errors.lock().unwrap_or_else(|e| e.into_inner()).push(why);
                let mut conn = match Conn::open(addr) {
                    Ok(c) => c,
                    Err(e) => return fail(format!("connect: {e}")),
                };
                let mut body = Vec::new();
                let mut n = t as u64;
                // Bounded by time and by count.
                while !stop.load(Ordering::Relaxed) && n < 50_000_000 {
                    let (request, accepted) = if let Some((is_post, path)) = &only {
                        if *is_post {
                            (post(path, &key, "{}", None), &[200, 201, 202][..])
                        } else {
                            (get(path, &key), &[200][..])
                        }
                    } else {
                        workload(&key, id.as_deref(), n)
                    };
                    match conn.exchange(&request, &mut body) {
                        Ok(status) if accepted.contains(&status) => {}
                        Ok(status) => fail(format!(
                            "{} answered {status}: {}",
                            String::from_utf8_lossy(&request[..request.len().min(40)])
                                .lines()
                                .next()
                                .unwrap_or(""),
                            String::from_utf8_lossy(&body[..body.len().min(200)])
                        )),
                        Err(why) => return fail(why),
                    }
                    requests.fetch_add(1, Ordering::Relaxed);
                    n += conns as u64;
                }
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = requests.load(Ordering::Relaxed);
    let errors = errors.lock().unwrap_or_else(|e| e.into_inner());
    println!(
        "requests={total} errors={} rps={:.0} connections={conns}",
        errors.len(),
        total as f64 / elapsed
    );
    let mut kinds: Vec<&String> = errors.iter().collect();
    kinds.sort();
    kinds.dedup();
    for kind in kinds.iter().take(10) {
        println!("  error: {kind}");
    }
    Ok(())
}

fn alternate(runs: &str, warmup: &str, words: &[&str]) -> Result<(), String> {
    let runs: usize = runs
        .parse()
        .map_err(|_| format!("RUNS must be a count: {runs}"))?;
    let runs = runs.clamp(1, 10_000);
    let warmup: usize = warmup
        .parse()
        .map_err(|_| format!("WARMUP must be a count: {warmup}"))?;
    let split = words
        .iter()
        .position(|w| *w == ":::")
        .ok_or("alternate: separate the two commands with :::")?;
    let (a, b) = (&words[..split], &words[split + 1..]);
    if a.is_empty() || b.is_empty() {
        return Err("alternate: two commands are needed".into());
    }
    let time = |cmd: &[&str]| -> Result<f64, String> {
        let started = Instant::now();
        let status = Command::new(cmd[0])
            .args(&cmd[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("{}: {e}", cmd[0]))?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if !status.success() {
            return Err(format!("{} exited with {status}", cmd.join(" ")));
        }
        Ok(ms)
    };
    for _ in 0..warmup.min(100) {
        time(a)?;
        time(b)?;
    }
    let (mut ta, mut tb) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        ta.push(time(a)?);
        tb.push(time(b)?);
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let median = if v.len() % 2 == 1 {
            v[v.len() / 2]
        } else {
            (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
        };
        (median, v[0], v[v.len() - 1])
    };
    let (am, amin, amax) = stats(&mut ta);
    let (bm, bmin, bmax) = stats(&mut tb);
    println!(
        "a_median={am:.3} b_median={bm:.3} a_min={amin:.3} b_min={bmin:.3} a_max={amax:.3} b_max={bmax:.3} runs={runs}"
    );
    Ok(())
}
