//! A small HTTP/1.1 server on std::net: one thread per connection (threads are reused for later
//! connections), keep-alive, and full control of the socket, so a handler can answer by closing
//! the connection (a lost response).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY: usize = 4 << 20;
const MAX_HEAD: usize = 64 << 10;

pub struct HttpRequest {
    pub method: String,
    /// Path without the query string, percent-decoded per segment.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Every header as `name:value\n` (neither holds a newline; names hold no colon): one
    /// allocation per request instead of two per header.
    headers: String,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A request as the server would parse it (the in-process entry point uses this).
    pub fn new(method: &str, target: &str, headers: &[(&str, &str)], body: Vec<u8>) -> HttpRequest {
        let mut text = String::new();
        for (name, value) in headers {
            push_header(&mut text, name, value);
        }
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, parse_query(q)),
            None => (target, Vec::new()),
        };
        HttpRequest {
            method: method.to_string(),
            path: percent_decode(path),
            query,
            headers: text,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then_some(v)
        })
    }
}

fn push_header(text: &mut String, name: &str, value: &str) {
    text.push_str(name);
    text.push(':');
    if value.contains(['\r', '\n']) {
        // A value with a line break cannot be stored on one line; httparse never yields one.
        text.push_str(&value.replace(['\r', '\n'], " "));
    } else {
        text.push_str(value);
    }
    text.push('\n');
}

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

pub enum Action {
    Respond(HttpResponse),
    /// Close the connection without answering.
    Drop,
}

pub type Handler = Arc<dyn Fn(HttpRequest) -> Action + Send + Sync>;

/// Connections waiting for a worker thread, and how many workers wait for one.
struct Workers {
    queue: Mutex<Receiver<TcpStream>>,
    idle: AtomicUsize,
}

/// Accept connections until `stop` is set (the caller then connects once to wake `accept`).
/// Each connection gets a thread of its own, as before; a thread whose connection ended waits
/// for the next one instead of exiting, so a new connection usually skips the thread start.
pub fn serve(listener: TcpListener, handler: Handler, stop: Arc<AtomicBool>) {
    let (sender, receiver) = mpsc::channel::<TcpStream>();
    let workers = Arc::new(Workers {
        queue: Mutex::new(receiver),
        idle: AtomicUsize::new(0),
    });
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        // Claim a waiting worker, if there is one: it is (or soon will be) blocked on the queue.
        let claimed = workers
            .idle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if claimed {
            // A send fails only once every worker is gone, which the accept loop outlives.
            let _ = sender.send(stream);
            continue;
        }
        let handler = handler.clone();
        let stop = stop.clone();
        let workers = workers.clone();
        let spawned = std::thread::Builder::new()
            .name("sim-conn".into())
            .spawn(move || {
                let mut next = Some(stream);
                while let Some(stream) = next.take() {
                    let _ = connection(stream, &handler, &stop);
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    workers.idle.fetch_add(1, Ordering::SeqCst);
                    let queue = workers.queue.lock().unwrap_or_else(|e| e.into_inner());
                    // Err: the server stopped and dropped the sender.
                    next = queue.recv().ok();
                }
            });
        if spawned.is_err() {
            // Out of threads: refuse this connection and keep serving the others.
            continue;
        }
    }
}

fn connection(stream: TcpStream, handler: &Handler, stop: &AtomicBool) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut out = Vec::with_capacity(1024);
    loop {
        let request = match read_request(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(()),
            Err(RequestError::Io(e)) => return Err(e),
            Err(RequestError::Bad(status, why)) => {
                let body = format!(
                    "{{\"success\":false,\"message\":\"{why}\",\"code\":\"BAD_REQUEST\",\"request_id\":\"-\",\"tier\":\"advanced\"}}"
                );
                write_response(
                    &mut writer,
                    &mut out,
                    &HttpResponse {
                        status,
                        headers: vec![],
                        body: body.into_bytes(),
                    },
                    true,
                )?;
                return Ok(());
            }
        };
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        match handler(request) {
            Action::Respond(response) => write_response(&mut writer, &mut out, &response, close)?,
            Action::Drop => {
                let _ = writer.shutdown(Shutdown::Both);
                return Ok(());
            }
        }
        if close || stop.load(Ordering::SeqCst) {
            return Ok(());
        }
    }
}

enum RequestError {
    Io(io::Error),
    Bad(u16, &'static str),
}

impl From<io::Error> for RequestError {
    fn from(e: io::Error) -> Self {
        RequestError::Io(e)
    }
}

/// What the head of a request says.
struct Head {
    method: String,
    target: String,
    headers: String,
    content_length: Option<Result<usize, ()>>,
    chunked: bool,
}

fn parse_head(parsed: &httparse::Request) -> Head {
    let mut headers = String::with_capacity(256);
    let mut content_length = None;
    let mut chunked = false;
    for h in parsed.headers.iter() {
        let value = String::from_utf8_lossy(h.value);
        if content_length.is_none() && h.name.eq_ignore_ascii_case("content-length") {
            content_length = Some(value.trim().parse::<usize>().map_err(|_| ()));
        }
        if h.name.eq_ignore_ascii_case("transfer-encoding")
            && !value.eq_ignore_ascii_case("identity")
        {
            chunked = true;
        }
        push_header(&mut headers, h.name, &value);
    }
    Head {
        method: parsed.method.unwrap_or("GET").to_string(),
        target: parsed.path.unwrap_or("/").to_string(),
        headers,
        content_length,
        chunked,
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Option<HttpRequest>, RequestError> {
    // The usual case: the whole head is in the buffer after one read; parse it in place.
    let buffered = reader.fill_buf()?;
    if buffered.is_empty() {
        return Ok(None);
    }
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut fields);
    let head = match parsed.parse(buffered) {
        Ok(httparse::Status::Complete(len)) => {
            let head = parse_head(&parsed);
            reader.consume(len);
            head
        }
        _ => match read_head_by_lines(reader)? {
            Some(head) => head,
            None => return Ok(None),
        },
    };
    let length = match head.content_length {
        Some(Ok(n)) => n,
        Some(Err(())) => return Err(RequestError::Bad(400, "bad Content-Length")),
        None => 0,
    };
    if head.chunked {
        return Err(RequestError::Bad(
            411,
            "chunked bodies are not supported; send Content-Length",
        ));
    }
    if length > MAX_BODY {
        return Err(RequestError::Bad(413, "request body too large"));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let (path, query) = match head.target.split_once('?') {
        Some((p, q)) => (p, parse_query(q)),
        None => (head.target.as_str(), Vec::new()),
    };
    Ok(Some(HttpRequest {
        method: head.method,
        path: percent_decode(path),
        query,
        headers: head.headers,
        body,
    }))
}

/// A head that did not arrive in one piece (or is malformed): gather it line by line.
fn read_head_by_lines(reader: &mut BufReader<TcpStream>) -> Result<Option<Head>, RequestError> {
    let mut head = Vec::with_capacity(512);
    loop {
        let before = head.len();
        let n = reader.read_until(b'\n', &mut head)?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(RequestError::Bad(400, "truncated request"))
            };
        }
        if head.len() > MAX_HEAD {
            return Err(RequestError::Bad(431, "request head too large"));
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            if before == 0 {
                head.clear(); // stray blank line between keep-alive requests
                continue;
            }
            break;
        }
    }
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut fields);
    match parsed.parse(&head) {
        Ok(httparse::Status::Complete(_)) => Ok(Some(parse_head(&parsed))),
        _ => Err(RequestError::Bad(400, "malformed request")),
    }
}

pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn write_response(
    writer: &mut TcpStream,
    out: &mut Vec<u8>,
    response: &HttpResponse,
    close: bool,
) -> io::Result<()> {
    out.clear();
    out.reserve(response.body.len() + 256);
    out.extend_from_slice(b"HTTP/1.1 ");
    push_number(out, response.status as usize);
    out.push(b' ');
    out.extend_from_slice(reason(response.status).as_bytes());
    out.extend_from_slice(b"\r\n");
    for (k, v) in &response.headers {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !response.body.is_empty() {
        out.extend_from_slice(b"Content-Type: application/json\r\n");
    }
    out.extend_from_slice(b"Content-Length: ");
    push_number(out, response.body.len());
    out.extend_from_slice(b"\r\n");
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&response.body);
    writer.write_all(out)?;
    writer.flush()
}

fn push_number(out: &mut Vec<u8>, n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("/a%20b/%2F/"), "/a b///");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(
            parse_query("status=ACTIVE&name=train-%2A&x"),
            vec![
                ("status".into(), "ACTIVE".into()),
                ("name".into(), "train-*".into()),
                ("x".into(), "".into())
            ]
        );
    }
}
