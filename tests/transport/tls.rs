//! TLS end to end through the one transport: a server with a self-signed certificate (made with
//! rcgen, served with rustls) is refused until the user trusts its CA — `--ca-cert FILE`,
//! `ca_cert` in a profile, `SSL_CERT_FILE` or `SSL_CERT_DIR` — and then works, directly or
//! through a TLS-intercepting corporate proxy reached by `HTTPS_PROXY`.

use crate::support::tiny::{self, answer, each_request, Tiny};
use crate::test::Test;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A self-signed certificate for 127.0.0.1 and localhost, PEM.
struct Cert {
    pem: String,
    config: Arc<rustls::ServerConfig>,
}

fn cert() -> Cert {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("a certificate");
    let der = rustls::pki_types::CertificateDer::from(made.cert.der().to_vec());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        made.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(vec![der], key)
    .expect("a server config");
    Cert {
        pem: made.cert.pem(),
        config: Arc::new(config),
    }
}

/// An HTTPS server answering every request with a balance; `https://127.0.0.1:PORT`.
fn https_server(cert: &Cert) -> (Tiny, String) {
    let config = cert.config.clone();
    let server = tiny::serve(
        move |tcp| {
            let connection = rustls::ServerConnection::new(config.clone()).ok()?;
            Some(rustls::StreamOwned::new(connection, tcp))
        },
        |stream| {
            each_request(stream, |_| {
                answer(
                    200,
                    r#"{"success":true,"data":{"balance":42,"currency":"USD"}}"#,
                )
            })
        },
    );
    let url = format!("https://127.0.0.1:{}", server.port);
    (server, url)
}

fn call_balance(url: &str) -> Test {
    Test::new()
        .args(["call", "balance", "--api-url", url])
        .env("BARRACK_API_KEY", "sk-test-SECRET")
}

#[test]
fn an_untrusted_certificate_is_refused_with_the_fix() {
    let cert = cert();
    let (_server, url) = https_server(&cert);
    call_balance(&url)
        .stderr_has("does not trust")
        .stderr_has("--ca-cert FILE")
        .stderr_has(&url)
        .stderr_lacks("SECRET")
        .status(78);
}

#[test]
fn a_ca_given_by_flag_profile_or_environment_is_trusted() {
    let cert = cert();
    let (_server, url) = https_server(&cert);
    // --ca-cert, in a file holding another certificate first (several per file are fine).
    let other = rcgen::generate_simple_self_signed(vec!["example.org".into()])
        .expect("a certificate")
        .cert
        .pem();
    let test = call_balance(&url).file("bundle.pem", &format!("{other}{}", cert.pem));
    let bundle = test.path().join("bundle.pem");
    test.args(["--ca-cert", bundle.to_str().expect("a path")])
        .stdout_has("42")
        .success();
    // SSL_CERT_FILE, as curl and OpenSSL read it.
    let test = call_balance(&url).file("ca.pem", &cert.pem);
    let file = test.path().join("ca.pem");
    test.env("SSL_CERT_FILE", file.to_str().expect("a path"))
        .stdout_has("42")
        .success();
    // SSL_CERT_DIR: a directory that also holds files that are not certificates.
    let test = call_balance(&url)
        .file("certs/ca.pem", &cert.pem)
        .file("certs/README", "not a certificate");
    let dir = test.path().join("certs");
    test.env("SSL_CERT_DIR", dir.to_str().expect("a path"))
        .stdout_has("42")
        .success();
    // ca_cert in the selected profile.
    let test = Test::new().file("ca.pem", &cert.pem);
    let file = test.path().join("ca.pem");
    let config = format!(
        "[profiles.office]\napi_url = \"{url}\"\napi_key_command = \"echo sk-test-SECRET\"\nca_cert = \"{}\"\n",
        file.display()
    );
    test.file("home/.config/barrack/config.toml", &config)
        .args(["call", "balance", "--profile", "office"])
        .stdout_has("42")
        .success();
}

#[test]
fn a_ca_file_that_cannot_be_used_is_a_configuration_error_naming_it() {
    call_balance("https://127.0.0.1:9")
        .file("not.pem", "hello")
        .args(["--ca-cert", "not.pem"])
        .stderr_has("not.pem (from flag --ca-cert)")
        .status(78);
    call_balance("https://127.0.0.1:9")
        .args(["--ca-cert", "missing.pem"])
        .stderr_has("missing.pem (from flag --ca-cert) cannot be read")
        .status(78);
}

/// The machine's roots (SSL_CERT_FILE, SSL_CERT_DIR) are read only when a server's issuer is
/// not among the bundled and explicit roots; then a file that cannot be used is named.
#[test]
fn the_machines_roots_are_read_when_needed_and_a_broken_one_is_named() {
    let cert = cert();
    let (_server, url) = https_server(&cert);
    let test = call_balance(&url)
        .file("ca.pem", &cert.pem)
        .file("machine.pem", "not a certificate");
    let (ca, machine) = (test.path().join("ca.pem"), test.path().join("machine.pem"));
    test.args(["--ca-cert", ca.to_str().expect("a path")])
        .env("SSL_CERT_FILE", machine.to_str().expect("a path"))
        .stdout_has("42")
        .success();
    let test = call_balance(&url).file("machine.pem", "not a certificate");
    let machine = test.path().join("machine.pem");
    test.env("SSL_CERT_FILE", machine.to_str().expect("a path"))
        .stderr_has("does not trust")
        .stderr_has("machine.pem holds no PEM certificate")
        .stderr_lacks("SECRET")
        .status(78);
    call_balance(&url)
        .env("SSL_CERT_FILE", "/nonexistent/machine.pem")
        .stderr_has("/nonexistent/machine.pem (from environment SSL_CERT_FILE) cannot be read")
        .status(78);
}

/// A corporate TLS-intercepting proxy: HTTPS_PROXY names it, the client tunnels through it with
/// CONNECT, and the certificate it presents is trusted through --ca-cert.
#[test]
fn a_tls_intercepting_proxy_works_with_its_ca() {
    let cert = cert();
    let (_server, url) = https_server(&cert);
    let tunnels = Arc::new(AtomicUsize::new(0));
    let seen = tunnels.clone();
    let proxy = tiny::http(move |client| {
        let mut reader = BufReader::new(client.try_clone().expect("a clone"));
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || !line.starts_with("CONNECT ") {
            return;
        }
        let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                break;
            }
        }
        let Ok(upstream) = TcpStream::connect(&target) else {
            return;
        };
        seen.fetch_add(1, Ordering::SeqCst);
        let mut client = client;
        let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
        let (mut up_read, mut up_write) = (upstream.try_clone().expect("a clone"), upstream);
        let mut down = client.try_clone().expect("a clone");
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut up_read, &mut down);
        });
        // The reader hands over what it buffered first, then the rest as it comes.
        let _ = std::io::copy(&mut reader, &mut up_write);
    });
    let test = call_balance(&url).file("ca.pem", &cert.pem);
    let file = test.path().join("ca.pem");
    test.args(["--ca-cert", file.to_str().expect("a path")])
        .env("HTTPS_PROXY", &proxy.url)
        .env("NO_PROXY", "")
        .stdout_has("42")
        .success();
    assert_eq!(
        tunnels.load(Ordering::SeqCst),
        1,
        "the request went through the proxy"
    );
}
