//! The simulator on hyper: HTTP/1.1 with keep-alive, a bounded request head, a timeout for a
//! head that does not arrive (which also closes idle keep-alive connections), one cheap task per
//! connection instead of a thread, and optional TLS. A lost answer (`--drop-rate`) is a service
//! that fails: hyper then closes the connection without writing a byte.

use super::app::{self, Shared};
use super::http::{Action, HttpRequest, HttpResponse, MAX_BODY};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// Largest request head (request line and headers); a larger one gets 431. hyper's floor is 8 KiB.
const MAX_HEAD: usize = 64 << 10;

/// How long a stop waits for handlers in flight before it leaves them behind.
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

/// A running server: its runtime, and the task that accepts connections.
pub struct Server {
    runtime: Option<Runtime>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Serve `listener` on a runtime of two worker threads: a handler runs on one while the other
    /// keeps accepting and reading (handlers are short and synchronous behind the world's lock;
    /// latency injection is an async sleep that holds no thread).
    pub fn start(
        listener: std::net::TcpListener,
        tls: Option<TlsAcceptor>,
        shared: Arc<Shared>,
        idle_timeout: Duration,
    ) -> io::Result<Server> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("barrack-sim")
            .enable_io()
            .enable_time()
            .build()?;
        listener.set_nonblocking(true)?;
        let listener = {
            let _inside = runtime.enter();
            TcpListener::from_std(listener)?
        };
        let accept = runtime.spawn(accept_loop(listener, tls, shared, idle_timeout));
        Ok(Server {
            runtime: Some(runtime),
            accept: Some(accept),
        })
    }

    /// Block until the server stops (`barrack sim` runs until interrupted).
    pub fn wait(&mut self) {
        if let (Some(runtime), Some(accept)) = (&self.runtime, self.accept.take()) {
            let _ = runtime.block_on(accept);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Dropping the tasks closes the listener and every connection.
            runtime.shutdown_timeout(STOP_GRACE);
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    idle_timeout: Duration,
) {
    loop {
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
        tokio::spawn(connection(
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
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Ok(too_large()),
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
    match app::dispatch(&shared, request) {
        Action::Respond(response) => Ok(into_hyper(response)),
        Action::Drop => Err(LostAnswer),
    }
}

fn too_large() -> Response<Full<Bytes>> {
    let body = format!(
        "{{\"success\":false,\"message\":\"The request body is larger than {MAX_BODY} bytes\",\
         \"code\":\"PAYLOAD_TOO_LARGE\",\"request_id\":\"-\",\"tier\":\"advanced\"}}"
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // The rest of the body is not read: the connection cannot carry another request.
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
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
