//! One request and its answer as the simulator's layers see them, independent of the transport:
//! the hyper server builds them from the wire, [`super::Simulator::answer`] from its arguments.

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY: usize = 4 << 20;

pub struct HttpRequest {
    pub method: String,
    /// Path without the query string, percent-decoded.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpRequest {
    /// A request from its target (`/path?query`), as the server would parse it.
    pub fn new(method: &str, target: &str, headers: HeaderMap, body: Bytes) -> HttpRequest {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, parse_query(q)),
            None => (target, Vec::new()),
        };
        HttpRequest {
            method: method.to_string(),
            path: percent_decode(path),
            query,
            headers,
            body,
        }
    }

    /// A request from plain pairs; a header that is not valid HTTP is left out, as a server
    /// would never have let it through.
    pub fn from_pairs(
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpRequest {
        let mut map = HeaderMap::with_capacity(headers.len());
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                map.append(name, value);
            }
        }
        HttpRequest::new(method, target, map, Bytes::copy_from_slice(body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An answer of the simulator, before the transport writes it.
pub struct HttpResponse {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: Vec<(&'static str, String)>,
    /// JSON, or empty (no body at all).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A header's value by name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub enum Action {
    Respond(HttpResponse),
    /// Close the connection without answering (a lost response).
    Drop,
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

    #[test]
    fn headers_that_are_not_http_are_left_out() {
        let req = HttpRequest::from_pairs("GET", "/x", &[("ok", "1"), ("bad\n", "2")], b"");
        assert_eq!(req.header("OK"), Some("1"));
        assert_eq!(req.headers.len(), 1);
    }
}
