//! Shared helpers of the core tests: an in-process simulator and a real HTTP client for it,
//! calls by operation name, waits that move the simulated clock (never the wall clock), raw HTTP
//! for what the client hides (status, headers, exact bodies). The built binary runs through the
//! `Test` builder (tests/test.rs), never from here.
#![allow(dead_code)]

pub mod garbage;
pub mod tiny;

use barrack::api::{catalog, ApiError, Args, Client, ClientSettings, RetryPolicy};
use barrack::secret::ApiKey;
use barrack::sim::{SimOptions, Simulator};
use serde_json::{json, Value};

use std::time::Duration;

/// The key the test clients send; the simulator accepts any non-empty key unless told otherwise.
pub const KEY: &str = "test-key";
/// The advanced-tier region and GPU the tests deploy by default.
pub const REGION: &str = "FINLAND-1";
pub const GPU: &str = "H100-SXM5-80GB";
/// A legacy-tier region and a GPU it offers.
pub const LEGACY_REGION: &str = "CANADA-1";
pub const LEGACY_GPU: &str = "L40";
pub const OS_IMAGE: &str = "ubuntu-22.04-cuda-12.4";

/// Options of a simulator whose clock moves only when a test advances it: the wall-clock share
/// of its time is a billionth, so no transition can happen behind a test's back.
pub fn frozen_options() -> SimOptions {
    SimOptions {
        speed: 1e-9,
        ..SimOptions::fast()
    }
}

/// A simulator with a frozen clock and a client for it (see [`frozen_options`]).
pub fn sim() -> (Simulator, Client) {
    sim_with(frozen_options())
}

/// The `--sim` simulator as users get it: a clock 1000× faster than the wall clock.
pub fn fast_sim() -> (Simulator, Client) {
    sim_with(SimOptions::fast())
}

pub fn sim_with(options: SimOptions) -> (Simulator, Client) {
    let sim = Simulator::start(options).expect("the simulator starts");
    let client = client_for(&sim, Some(KEY));
    (sim, client)
}

/// A client for `sim`, with `key` (or none), retrying quickly so fault tests stay fast.
pub fn client_for(sim: &Simulator, key: Option<&str>) -> Client {
    let mut settings = ClientSettings::new(sim.base_url(), key.and_then(ApiKey::new));
    settings.retry = RetryPolicy {
        max_tries: Some(3),
        base: Duration::from_millis(5),
        cap: Duration::from_millis(50),
        ..RetryPolicy::default()
    };
    settings.timeout = Duration::from_secs(20);
    Client::new(settings).expect("the client builds")
}

/// Call an operation by its catalog name with a JSON object of arguments.
#[track_caller]
// ApiError is the crate's error type, as `Client::call` returns it.
#[allow(clippy::result_large_err)]
pub fn call(client: &Client, op: &str, args: Value) -> Result<Value, ApiError> {
    let op = catalog::find(op).unwrap_or_else(|| panic!("no operation named {op}"));
    let args: Args = match args {
        Value::Object(map) => map,
        Value::Null => Args::new(),
        other => panic!("arguments must be a JSON object, not {other}"),
    };
    client.call(op, &args)
}

/// Call and expect success.
#[track_caller]
pub fn ok(client: &Client, op: &str, args: Value) -> Value {
    match call(client, op, args) {
        Ok(value) => value,
        Err(e) => panic!("{op} failed: {e}"),
    }
}

/// Call and expect an error answer from the server.
#[track_caller]
pub fn fail(client: &Client, op: &str, args: Value) -> ApiError {
    match call(client, op, args) {
        Ok(value) => panic!("{op} succeeded but should have failed; it returned {value}"),
        Err(e) => e,
    }
}

/// Assert an error's status and code, and that its message (or a field message) says `says`.
#[track_caller]
pub fn assert_refused(err: &ApiError, status: u16, code: &str, says: &str) {
    assert_eq!(err.status, status, "status of: {err}");
    assert_eq!(err.code, code, "code of: {err}");
    assert!(
        err.request_id.as_deref().is_some_and(|r| !r.is_empty()),
        "no request_id in: {err}"
    );
    let text = std::iter::once(err.message.as_str())
        .chain(err.errors.values().flatten().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" | ");
    assert!(text.contains(says), "expected {says:?} in: {err}");
}

/// Assert a 400 VALIDATION_ERROR naming `field` with a message that contains `says`.
#[track_caller]
pub fn assert_invalid(err: &ApiError, field: &str, says: &str) {
    assert_eq!(err.status, 400, "status of: {err}");
    assert_eq!(err.code, "VALIDATION_ERROR", "code of: {err}");
    assert_eq!(err.message, "Invalid request data", "message of: {err}");
    let messages = err
        .errors
        .get(field)
        .unwrap_or_else(|| panic!("no errors.{field} in: {err}"));
    assert!(
        messages.iter().any(|m| m.contains(says)),
        "expected {says:?} under errors.{field} in: {err}"
    );
}

/// The id of the SSH key every seeded world has.
pub fn default_key(sim: &Simulator) -> String {
    sim.world()
        .ssh_keys
        .keys()
        .next()
        .cloned()
        .expect("the seeded world has an SSH key")
}

/// A valid DeploymentRequest for `region` (an OS-image boot with the default key); `extra` fields
/// are merged over it (a `null` removes a field).
pub fn deploy_spec(sim: &Simulator, region: &str, extra: Value) -> Value {
    let gpu = if barrack::sim::world::is_advanced(region) {
        GPU
    } else {
        LEGACY_GPU
    };
    let mut spec = json!({
        "gpu_model": gpu,
        "gpu_count": 1,
        "region": region,
        "os_image_id": OS_IMAGE,
        "ssh_key_ids": [default_key(sim)],
    });
    merge(&mut spec, extra);
    spec
}

/// Merge the fields of `extra` into `base`; a `null` in `extra` removes the field.
pub fn merge(base: &mut Value, extra: Value) {
    let (Some(map), Value::Object(extra)) = (base.as_object_mut(), extra) else {
        return;
    };
    for (k, v) in extra {
        if v.is_null() {
            map.remove(&k);
        } else {
            map.insert(k, v);
        }
    }
}

/// Deploy and return the new instance's id (still CREATING).
#[track_caller]
pub fn deploy(sim: &Simulator, client: &Client, region: &str, extra: Value) -> String {
    let vm = ok(client, "deploy", deploy_spec(sim, region, extra));
    vm["id"].as_str().expect("deploy answers an id").to_string()
}

/// Deploy and wait (on the simulated clock) until the instance is ACTIVE.
#[track_caller]
pub fn active_instance(sim: &Simulator, client: &Client, region: &str, extra: Value) -> String {
    let id = deploy(sim, client, region, extra);
    wait_status(sim, client, &id, "ACTIVE");
    id
}

/// Simulated seconds moved per poll, and the most a wait may move the clock.
const STEP: Duration = Duration::from_secs(15);
const WAIT_LIMIT: Duration = Duration::from_secs(2 * 3600);

/// Poll `GET /instances/{id}/` through the client, advancing the simulated clock between polls,
/// until the instance has `status`. Panics (naming the last status) after two simulated hours or
/// if the instance reaches ERROR or disappears.
#[track_caller]
pub fn wait_status(sim: &Simulator, client: &Client, id: &str, status: &str) -> Value {
    wait_for(sim, || {
        let vm = ok(client, "instance", json!({"id": id}));
        let now = vm["status"].as_str().unwrap_or("").to_string();
        if now == status {
            return Some(Ok(vm));
        }
        if now == "ERROR" {
            return Some(Err(format!("{id} reached ERROR waiting for {status}")));
        }
        None
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Wait until `GET /instances/{id}/` answers 404.
#[track_caller]
pub fn wait_gone(sim: &Simulator, client: &Client, id: &str) {
    wait_for(sim, || match call(client, "instance", json!({"id": id})) {
        Err(e) if e.status == 404 => Some(Ok(Value::Null)),
        Err(e) => Some(Err(format!("waiting for {id} to go: {e}"))),
        Ok(_) => None,
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

/// Wait for any object through `poll` (`None` = not yet).
#[track_caller]
pub fn wait_for(
    sim: &Simulator,
    mut poll: impl FnMut() -> Option<Result<Value, String>>,
) -> Result<Value, String> {
    let mut moved = Duration::ZERO;
    loop {
        if let Some(done) = poll() {
            return done;
        }
        if moved >= WAIT_LIMIT {
            return Err(format!(
                "gave up after {} simulated seconds",
                moved.as_secs()
            ));
        }
        sim.advance(STEP);
        moved += STEP;
    }
}

/// Wait until the object at `op` (a get-by-id operation) has `status`.
#[track_caller]
pub fn wait_object(sim: &Simulator, client: &Client, op: &str, id: &str, status: &str) -> Value {
    wait_for(sim, || {
        let obj = ok(client, op, json!({"id": id}));
        (obj["status"] == status).then_some(Ok(obj))
    })
    .unwrap_or_else(|e| panic!("{op} {id} never became {status}: {e}"))
}

/// Free GPUs of a model in a region, as the world holds them.
pub fn stock(sim: &Simulator, region: &str, model: &str) -> i64 {
    sim.world().free_gpus(region, model)
}

/// What a raw HTTP exchange gave back, untouched by the client.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Raw {
    /// The body as JSON (panics if it is not).
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One raw request to the simulator with the test key (and `headers`), body sent as is.
pub fn raw(
    sim: &Simulator,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<Raw, reqwest::Error> {
    raw_to(&sim.base_url(), method, path, body, headers)
}

pub fn raw_to(
    base_url: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<Raw, reqwest::Error> {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()?;
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut request = http
        .request(method, format!("{base_url}{path}"))
        .header("Authorization", format!("Bearer {KEY}"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = request.send()?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text()?;
    Ok(Raw {
        status,
        headers,
        text,
    })
}

/// The message of a caught panic (`assert!` and `panic!` give a `String` or a `&str`).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panicked".into())
}

/// `BRK-` + six digits + `suffix` (`VM` for a deployment, `D` for a restored snapshot).
pub fn is_instance_id(id: &str, suffix: &str) -> bool {
    id.strip_prefix("BRK-")
        .and_then(|rest| rest.strip_suffix(suffix))
        .is_some_and(|digits| digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// The `id` of an answer (panics naming the answer if it has none).
#[track_caller]
pub fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

/// `n` simulated seconds.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The status of an instance, through the client.
pub fn status_of(client: &Client, id: &str) -> String {
    ok(client, "instance", json!({"id": id}))["status"]
        .as_str()
        .unwrap_or_else(|| panic!("{id} has no status"))
        .to_string()
}

/// A loopback port that was free a moment ago: bound, noted, closed. For a server a test starts
/// itself, or for an address nothing listens on.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// An API URL nothing listens on.
pub fn unreachable_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// Requests the simulator has answered (or dropped) so far.
pub fn requests(sim: &Simulator) -> u64 {
    sim.stats()["requests"]
        .as_u64()
        .expect("the simulator counts requests")
}

/// A script host for `sim` with the test key and default limits.
pub fn host(sim: &Simulator) -> barrack::script::Host {
    barrack::script::Host::builder(client_for(sim, Some(KEY))).build()
}

/// Run `code` as a snippet on `host`.
pub fn run_code(
    host: &barrack::script::Host,
    code: &str,
) -> Result<rhai::Dynamic, barrack::error::Error> {
    host.run(&barrack::script::Source::snippet("<test>", code))
}
