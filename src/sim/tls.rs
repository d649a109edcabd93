//! HTTPS for the simulator: a self-signed certificate for `127.0.0.1` and `localhost`, made at
//! start, served through rustls with the ring provider (the one reqwest already uses).

use std::sync::Arc;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// The names the certificate is valid for: the loopback addresses a local client dials.
const NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

pub struct Tls {
    /// The certificate as PEM: what a client adds to its trusted roots.
    pub cert_pem: String,
    pub acceptor: TlsAcceptor,
}

/// A fresh key pair and certificate; the private key never leaves memory.
pub fn self_signed() -> Result<Tls, String> {
    let names: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot make a TLS certificate: {e}"))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .map_err(|e| format!("cannot use the TLS certificate: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        cert_pem: certified.cert.pem(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    })
}
