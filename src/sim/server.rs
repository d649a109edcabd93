//! A small HTTP/1.1 server on std::net: one thread per connection, keep-alive, and full control
//! of the socket, so a handler can answer by closing the connection (a lost response).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY: usize = 4 << 20;
const MAX_HEAD: usize = 64 << 10;

pub struct HttpRequest {
    pub method: String,
    /// Path without the query string, percent-decoded per segment.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub enum Action {
    Respond(HttpResponse),
    /// Close the connection without answering.
    Drop,
}

pub type Handler = Arc<dyn Fn(HttpRequest) -> Action + Send + Sync>;

/// Accept connections until `stop` is set (the caller then connects once to wake `accept`).
pub fn serve(listener: TcpListener, handler: Handler, stop: Arc<AtomicBool>) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let handler = handler.clone();
        let stop = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("sim-conn".into())
            .spawn(move || {
                let _ = connection(stream, &handler, &stop);
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
            Action::Respond(response) => write_response(&mut writer, &response, close)?,
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

fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Option<HttpRequest>, RequestError> {
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
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(RequestError::Bad(400, "malformed request")),
    }
    let method = parsed.method.unwrap_or("GET").to_string();
    let target = parsed.path.unwrap_or("/");
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.trim().parse::<usize>())
        .transpose()
        .map_err(|_| RequestError::Bad(400, "bad Content-Length"))?
        .unwrap_or(0);
    if headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && !v.eq_ignore_ascii_case("identity")
    }) {
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
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, parse_query(q)),
        None => (target, Vec::new()),
    };
    Ok(Some(HttpRequest {
        method,
        path: percent_decode(path),
        query,
        headers,
        body,
    }))
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

fn write_response(writer: &mut TcpStream, response: &HttpResponse, close: bool) -> io::Result<()> {
    let mut out = Vec::with_capacity(response.body.len() + 256);
    write!(
        out,
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    )?;
    for (k, v) in &response.headers {
        write!(out, "{k}: {v}\r\n")?;
    }
    if !response.body.is_empty() {
        out.extend_from_slice(b"Content-Type: application/json\r\n");
    }
    write!(out, "Content-Length: {}\r\n", response.body.len())?;
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&response.body);
    writer.write_all(&out)?;
    writer.flush()
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
