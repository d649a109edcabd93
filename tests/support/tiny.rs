//! Tiny misbehaving servers on loopback, std only: each connection is handed to a closure on
//! its own thread. For what the simulator never does: hang, echo the key, send garbage, close
//! idle connections, serve TLS with a self-signed certificate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub struct Tiny {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub port: u16,
    connections: Arc<AtomicUsize>,
}

impl Tiny {
    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Serve every connection with `handler` on its own thread, for the life of the test process.
pub fn serve<S, F>(
    wrap: impl Fn(TcpStream) -> Option<S> + Send + Sync + 'static,
    handler: F,
) -> Tiny
where
    S: Read + Write + Send + 'static,
    F: Fn(S) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("an address").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    let handler = Arc::new(handler);
    let wrap = Arc::new(wrap);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            counter.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            let wrap = wrap.clone();
            std::thread::spawn(move || {
                if let Some(stream) = wrap(stream) {
                    handler(stream)
                }
            });
        }
    });
    Tiny {
        url: format!("http://127.0.0.1:{port}"),
        port,
        connections,
    }
}

/// A plain HTTP server.
pub fn http(handler: impl Fn(TcpStream) + Send + Sync + 'static) -> Tiny {
    serve(Some, handler)
}

/// One request: its head (request line and headers, lower-cased names kept as sent) and body.
pub struct Request {
    pub head: String,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Read one request (`None` when the client closed the connection).
pub fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let request = Request {
        head,
        body: Vec::new(),
    };
    let len: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request { body, ..request })
}

/// An HTTP/1.1 answer with a JSON body and a Content-Length.
pub fn answer(status: u16, json: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
        json.len()
    )
}

/// Answer every request of a keep-alive connection with `respond`.
pub fn each_request<S: Read + Write>(stream: S, respond: impl Fn(&Request) -> String) {
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let text = respond(&request);
        if reader.get_mut().write_all(text.as_bytes()).is_err() {
            return;
        }
        let _ = reader.get_mut().flush();
    }
}
