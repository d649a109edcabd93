//! A garbage server: a tiny HTTP server on a loopback port that answers every request the same
//! way (truncated JSON, HTML, a huge body, silence), for what the simulator never does. Used by the
//! bad-input corpus and the property tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the garbage server answers.
#[derive(Clone)]
pub enum Answer {
    /// These bytes, then close.
    Raw(Vec<u8>),
    /// A 200 whose JSON body is `size` bytes long, streamed.
    Huge(usize),
    /// Read the request, then close without a word.
    Close,
    /// Read the request, then say nothing until the client gives up.
    Hang,
}

/// A tiny HTTP server on a loopback port that answers every request the same way (the answer
/// can be changed between requests).
pub struct Garbage {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    answer: Arc<Mutex<Answer>>,
}

impl Garbage {
    pub fn start(answer: Answer) -> Garbage {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let stop = Arc::new(AtomicBool::new(false));
        let answer = Arc::new(Mutex::new(answer));
        let (flag, shared) = (stop.clone(), answer.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let answer = shared.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let flag = flag.clone();
                std::thread::spawn(move || serve(stream, &answer, &flag));
            }
        });
        Garbage { addr, stop, answer }
    }

    pub fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap_or_else(|e| e.into_inner()) = answer;
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Garbage {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn serve(stream: TcpStream, answer: &Answer, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    let _ = reader.read_exact(&mut body);
    let mut out = &stream;
    match answer {
        Answer::Raw(bytes) => {
            let _ = out.write_all(bytes);
        }
        Answer::Huge(size) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
            );
            let _ = out.write_all(head.as_bytes());
            let _ = out.write_all(b"\"");
            let chunk = vec![b'a'; 1 << 16];
            let mut left = size - 2;
            while left > 0 {
                let n = left.min(chunk.len());
                if out.write_all(&chunk[..n]).is_err() {
                    return;
                }
                left -= n;
            }
            let _ = out.write_all(b"\"");
        }
        Answer::Close => {}
        Answer::Hang => {
            let until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    let _ = out.flush();
}

/// A whole HTTP/1.1 response with a correct Content-Length.
pub fn http(status: &str, headers: &[&str], body: &[u8]) -> Answer {
    let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    Answer::Raw(bytes)
}
