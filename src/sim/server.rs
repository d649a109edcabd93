//! The simulator on hyper: HTTP/1.1 with keep-alive, a bounded request head, a timeout for a
//! head that does not arrive (which also closes idle keep-alive connections), one cheap task per
//! connection instead of a thread, and optional TLS. A lost answer (`--drop-rate`) is a service
//! that fails: hyper then closes the connection without writing a byte.

use super::app::{self, Shared};
use super::http::{Action, HttpRequest, HttpResponse, MAX_BODY};
use super::reply::Refusal;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// Largest request head (request line and headers); a larger one gets 431. hyper's floor is 8 KiB.
const MAX_HEAD: usize = 64 << 10;

/// How long dropping a simulator waits for its listener to close.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// The error of a request whose answer is lost on purpose (or whose client left mid-body).
#[derive(Debug)]
struct LostAnswer;

impl std::fmt::Display for LostAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the simulator drops this answer")
    }
}

impl std::error::Error for LostAnswer {}

/// One runtime for every simulator of the process, made by the first: two worker threads, so a
/// handler runs on one while the other keeps accepting and reading (handlers are short and
/// synchronous behind their world's lock; latency injection is an async sleep that holds no
/// thread). Sharing it keeps `Simulator::start` to a bind and a spawn, which matters to
/// `barrack test`, which starts one simulator per test.
fn runtime() -> io::Result<&'static Runtime> {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("barrack-sim")
        .enable_io()
        .enable_time()
        .build()?;
    // Two first starts may race; the loser's runtime is dropped unused.
    Ok(RUNTIME.get_or_init(|| runtime))
}

/// A running server: the task that accepts its connections (and owns them).
pub struct Server {
    accept: JoinHandle<()>,
    /// Disconnected once the accept task has stopped: its listener is closed and each of its
    /// connections is cancelled (in a mutex only so that a `Simulator` can be shared between
    /// threads).
    stopped: Mutex<Receiver<()>>,
}

impl Server {
    pub fn start(
        listener: std::net::TcpListener,
        tls: Option<TlsAcceptor>,
        shared: Arc<Shared>,
        idle_timeout: Duration,
    ) -> io::Result<Server> {
        let runtime = runtime()?;
        listener.set_nonblocking(true)?;
        let listener = {
            let _inside = runtime.enter();
            TcpListener::from_std(listener)?
        };
        let (done, stopped) = mpsc::channel();
        let accept = runtime.spawn(accept_loop(listener, tls, shared, idle_timeout, done));
        Ok(Server {
            accept,
            stopped: Mutex::new(stopped),
        })
    }

    /// Block until the server stops (`barrack sim` runs until interrupted).
    pub fn wait(&mut self) {
        if let Ok(runtime) = runtime() {
            let _ = runtime.block_on(&mut self.accept);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.abort();
        // Wait for the port to close, so a stopped simulator refuses connections at once.
        if let Ok(stopped) = self.stopped.get_mut() {
            let _ = stopped.recv_timeout(STOP_GRACE);
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    idle_timeout: Duration,
    done: Sender<()>,
) {
    // Locals drop in reverse order: the connections are cancelled and the listener closed before
    // `done` tells the dropping thread so.
    // (Parameters drop after every local, hence the listener's move into one.)
    let _done = done;
    let listener = listener;
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors, most likely: back off instead of spinning, and keep
                // serving the connections already open (some will close and free one).
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(
            stream,
            tls.clone(),
            shared.clone(),
            idle_timeout,
        ));
    }
}

async fn connection(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    idle_timeout: Duration,
) {
    match tls {
        None => serve_http(TokioIo::new(stream), shared, idle_timeout).await,
        Some(acceptor) => {
            // A handshake that never finishes would hold the connection forever.
            let handshake = tokio::time::timeout(idle_timeout, acceptor.accept(stream)).await;
            if let Ok(Ok(stream)) = handshake {
                serve_http(TokioIo::new(stream), shared, idle_timeout).await;
            }
        }
    }
}

async fn serve_http<I>(io: I, shared: Arc<Shared>, idle_timeout: Duration)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |request| answer(shared.clone(), request));
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        // hyper starts this clock whenever it waits for a request head, so it is also the
        // idle timeout of a keep-alive connection.
        .header_read_timeout(idle_timeout)
        .max_buf_size(MAX_HEAD)
        // `printf 'GET …' | nc` closes its sending side and then waits for the answer.
        .half_close(true)
        .serve_connection(io, service)
        .await;
}

async fn answer(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, LostAnswer> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Ok(too_large(&shared)),
        // The client left in the middle of its body: nobody is there to answer.
        Err(_) => return Err(LostAnswer),
    };
    let target = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let request = HttpRequest::new(parts.method.as_str(), target, parts.headers, body);
    if let Some(delay) = shared.latency_for(&request) {
        tokio::time::sleep(delay).await;
    }
    // Inline on the worker, not on the blocking pool: measured on this machine, spawn_blocking
    // cut a single connection from ~26,000 to ~5,000 requests/s and 64 connections from ~60,000
    // to ~26,000 (the handoff costs more than the handler).
    let action = app::dispatch(&shared, request);
    match action {
        Action::Respond(response) => Ok(into_hyper(response)),
        Action::Drop => Err(LostAnswer),
    }
}

/// The 413 of a body over [`MAX_BODY`]; the rest of the body is not read, so the connection
/// cannot carry another request.
fn too_large(shared: &Shared) -> Response<Full<Bytes>> {
    let refusal = Refusal::new(
        413,
        "PAYLOAD_TOO_LARGE",
        format!("The request body is larger than {MAX_BODY} bytes"),
    );
    let mut response = into_hyper(shared.refusal(&refusal, "-"));
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

fn into_hyper(response: HttpResponse) -> Response<Full<Bytes>> {
    let has_body = !response.body.is_empty();
    let mut out = Response::new(Full::new(Bytes::from(response.body)));
    *out.status_mut() =
        StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    for (name, value) in response.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    if has_body {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    out
}
