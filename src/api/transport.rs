//! The one HTTP transport: reqwest's async client, driven from the calling thread.
//!
//! Every request, plain `http://` or TLS, takes this path, the one real users take. Nothing is
//! set up before the first request needs it: the tokio runtime, the connection pool and the TLS
//! configuration are built on first use, once per client (its clones share them), so commands
//! that never call the API pay nothing, and keep-alive connections last across a script.
//!
//! Choice the reference does not make: a current-thread tokio runtime owned by the client, each
//! exchange run with `block_on` on the caller's thread, instead of `reqwest::blocking`, which
//! hands every request to a runtime thread and back (two thread wake-ups per call). Fleet
//! threads call `block_on` concurrently; tokio lets one of them drive the shared I/O at a time.

use super::catalog::Method;
use super::trust::{self, MachineRoots};
use rustls::pki_types::CertificateDer;
use serde_json::Value;
use std::sync::OnceLock;
use std::time::Duration;

/// Larger answers are refused rather than read into memory.
pub const MAX_BODY: u64 = 64 << 20;

/// Reading answers: what one exchange gave back.
pub(crate) struct Reply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    /// `X-Sim-Speed` and `X-Sim-Time`, when the caller reads them.
    pub sim_speed: Option<f64>,
    pub sim_time: Option<f64>,
    pub body: Vec<u8>,
}

/// Why an exchange produced no answer.
#[derive(Debug)]
pub(crate) enum Trouble {
    /// The time given to the exchange ran out (the request may have been sent).
    Timeout,
    /// No answer. `connect`: the connection was never made, so nothing was sent.
    Transport { connect: bool, cause: String },
    /// The server's certificate is not trusted.
    Untrusted(String),
    /// The answer is larger than [`MAX_BODY`] (or says it will be).
    TooLarge(u64),
    /// The HTTP client could not be built.
    Setup(String),
}

impl Trouble {
    /// Nothing of the request reached the server.
    pub fn nothing_sent(&self) -> bool {
        matches!(
            self,
            Trouble::Transport { connect: true, .. } | Trouble::Untrusted(_) | Trouble::Setup(_)
        )
    }

    fn from_reqwest(err: &reqwest::Error) -> Trouble {
        // A connect that timed out sent nothing: it is a connect failure, not a lost answer.
        if err.is_timeout() && !err.is_connect() {
            return Trouble::Timeout;
        }
        let mut cause: &dyn std::error::Error = err;
        let mut chain = err.to_string();
        while let Some(next) = cause.source() {
            cause = next;
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
        }
        let root = cause.to_string();
        // rustls says "invalid peer certificate: UnknownIssuer" (or NotValidForName, Expired…).
        if chain.contains("invalid peer certificate") {
            return Trouble::Untrusted(root);
        }
        Trouble::Transport {
            connect: err.is_connect(),
            cause: root,
        }
    }
}

/// What the client is built from; cheap to hold until the first request.
pub(crate) struct Transport {
    headers: reqwest::header::HeaderMap,
    connect_timeout: Duration,
    explicit_roots: Vec<CertificateDer<'static>>,
    machine_roots: MachineRoots,
    built: OnceLock<Result<Built, String>>,
}

struct Built {
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
    http: reqwest::Client,
}

impl Drop for Built {
    fn drop(&mut self) {
        // A plain drop waits for blocking work still running, such as a DNS lookup cut short by
        // the deadline; the run is over, so let it finish (or not) in the background.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

const USER_AGENT: &str = concat!("barrack/", env!("CARGO_PKG_VERSION"));

impl Transport {
    pub fn new(
        headers: reqwest::header::HeaderMap,
        connect_timeout: Duration,
        explicit_roots: Vec<CertificateDer<'static>>,
        machine_roots: MachineRoots,
    ) -> Transport {
        Transport {
            headers,
            connect_timeout,
            explicit_roots,
            machine_roots,
            built: OnceLock::new(),
        }
    }

    fn get(&self) -> Result<&Built, Trouble> {
        self.built
            .get_or_init(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("the HTTP runtime could not start: {e}"))?;
                // The bundled webpki roots, the user's (--ca-cert, ca_cert, --sim-tls), then the
                // machine's (SSL_CERT_FILE/DIR) when needed: see `trust`. HTTPS_PROXY/NO_PROXY
                // are read by reqwest.
                let tls =
                    trust::client_config(self.explicit_roots.clone(), self.machine_roots.clone())?;
                let builder = reqwest::Client::builder()
                    .default_headers(self.headers.clone())
                    .connect_timeout(self.connect_timeout)
                    // Under common server idle timeouts (the simulator's is 60 s, many load
                    // balancers' too): a connection is dropped by us before the server closes it.
                    .pool_idle_timeout(std::time::Duration::from_secs(50))
                    .user_agent(USER_AGENT)
                    .use_preconfigured_tls(tls);
                // Building the client inside the runtime: hyper's pool timers need one.
                let _entered = runtime.enter();
                let http = builder.build().map_err(|e| e.to_string())?;
                drop(_entered);
                Ok(Built {
                    runtime: Some(runtime),
                    http,
                })
            })
            .as_ref()
            .map_err(|why| Trouble::Setup(why.clone()))
    }

    /// One exchange, bounded by `limit` from start to the last byte of the answer.
    pub fn exchange(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
        limit: Duration,
        sim_headers: bool,
    ) -> Result<Reply, Trouble> {
        let built = self.get()?;
        let Some(runtime) = &built.runtime else {
            return Err(Trouble::Setup("the HTTP runtime has shut down".into()));
        };
        let mut request = built.http.request(
            match method {
                Method::Get => reqwest::Method::GET,
                Method::Post => reqwest::Method::POST,
                Method::Put => reqwest::Method::PUT,
                Method::Delete => reqwest::Method::DELETE,
            },
            url,
        );
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let exchange = async move {
            let mut response = request
                .send()
                .await
                .map_err(|e| Trouble::from_reqwest(&e))?;
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let number = |text: Option<String>| text.and_then(|t| t.trim().parse::<f64>().ok());
            let (sim_speed, sim_time) = if sim_headers {
                (number(header("x-sim-speed")), number(header("x-sim-time")))
            } else {
                (None, None)
            };
            let retry_after =
                header("retry-after").and_then(|t| super::retry::parse_retry_after(&t));
            let status = response.status().as_u16();
            // A declared length past the cap is refused before a byte of it is read; a body that
            // grows past it (chunked, or lying about its length) is cut off at the cap.
            if let Some(len) = response.content_length().filter(|len| *len > MAX_BODY) {
                return Err(Trouble::TooLarge(len));
            }
            let mut body =
                Vec::with_capacity(response.content_length().unwrap_or(0).min(64 << 10) as usize);
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| Trouble::from_reqwest(&e))?
            {
                if (body.len() + chunk.len()) as u64 > MAX_BODY {
                    return Err(Trouble::TooLarge((body.len() + chunk.len()) as u64));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Reply {
                status,
                retry_after,
                sim_speed,
                sim_time,
                body,
            })
        };
        runtime.block_on(async move {
            // Between calls nothing drives the runtime, so a connection the server closed while
            // idle still looks open to the pool. Two yields let the runtime read pending socket
            // events and run the connection tasks that see the close before a connection is
            // picked (the first polls the I/O driver, the second runs the woken tasks).
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            match tokio::time::timeout(limit, exchange).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Trouble::Timeout),
            }
        })
    }
}
