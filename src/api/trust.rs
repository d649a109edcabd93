//! Which servers the client trusts: the bundled webpki roots, the roots a user gave explicitly
//! (`--ca-cert`, `ca_cert`, `--sim-tls`), and the machine's own roots (`SSL_CERT_FILE`,
//! `SSL_CERT_DIR`, the conventions curl and OpenSSL read).
//!
//! Choice the reference does not make: the machine's roots are read only when a server presents
//! a certificate whose issuer the bundled and explicit roots do not know (a corporate
//! TLS-intercepting proxy, a private CA), and then once per client. A distribution's
//! `SSL_CERT_DIR` holds hundreds of files (each certificate twice, beside the bundle in
//! `SSL_CERT_FILE`): reading and parsing them all before every run cost more than the whole
//! rest of a one-call run. They only ever add trust, so consulting them last changes no verdict.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// Where the machine keeps the roots it trusts: PEM bundles (`SSL_CERT_FILE`) and directories of
/// PEM files (`SSL_CERT_DIR`). Read lazily: see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct MachineRoots {
    /// PEM files, each holding one or more certificates.
    pub files: Vec<PathBuf>,
    /// Directories whose PEM files are roots; other files in them are skipped.
    pub dirs: Vec<PathBuf>,
}

impl MachineRoots {
    /// Nothing to read.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.dirs.is_empty()
    }

    /// Every distinct certificate, each parsed once however many files repeat it. A file that
    /// cannot be read or holds no certificate is an error naming it; in a directory, files that
    /// are not PEM certificates are skipped (such directories hold other things too).
    fn load(&self) -> Result<Vec<CertificateDer<'static>>, String> {
        let mut seen = HashSet::new();
        let mut certs = Vec::new();
        let mut keep = |found: Vec<CertificateDer<'static>>| {
            for cert in found {
                if seen.insert(cert.as_ref().to_vec()) {
                    certs.push(cert);
                }
            }
        };
        for file in &self.files {
            let pem = std::fs::read(file)
                .map_err(|e| format!("trusted roots {} cannot be read: {e}", file.display()))?;
            keep(pem_certificates(&pem).map_err(|why| format!("{} {why}", file.display()))?);
        }
        for dir in &self.dirs {
            let entries = std::fs::read_dir(dir).map_err(|e| {
                format!(
                    "certificate directory {} cannot be read: {e}",
                    dir.display()
                )
            })?;
            let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            files.sort();
            for path in files.iter().filter(|p| p.is_file()) {
                if let Some(found) = std::fs::read(path)
                    .ok()
                    .and_then(|pem| pem_certificates(&pem).ok())
                {
                    keep(found);
                }
            }
        }
        Ok(certs)
    }
}

/// The certificates in PEM text (several per file are fine); an error says what is wrong.
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("is not PEM certificates ({e})"))?;
    if certs.is_empty() {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

/// The TLS configuration of a client: ring, the safe default protocol versions, and the
/// verifier that trusts `explicit` roots on top of the bundled ones, then `machine`'s.
pub(crate) fn client_config(
    explicit: Vec<CertificateDer<'static>>,
    machine: MachineRoots,
) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let first = verifier(explicit.clone(), &provider)?;
    let verifier = LayeredVerifier {
        first,
        explicit,
        machine,
        provider: provider.clone(),
        widened: OnceLock::new(),
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

fn verifier(
    extra: Vec<CertificateDer<'static>>,
    provider: &Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // A certificate webpki cannot use as a root is skipped, as OpenSSL skips it.
    roots.add_parsable_certificates(extra);
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| e.to_string())
}

/// webpki's verification against the bundled and explicit roots; when that finds no known
/// issuer, once more with the machine's roots added (read on that first need, then kept).
#[derive(Debug)]
struct LayeredVerifier {
    first: Arc<WebPkiServerVerifier>,
    explicit: Vec<CertificateDer<'static>>,
    machine: MachineRoots,
    provider: Arc<rustls::crypto::CryptoProvider>,
    widened: OnceLock<Result<Arc<WebPkiServerVerifier>, String>>,
}

impl LayeredVerifier {
    fn widened(&self) -> Result<&Arc<WebPkiServerVerifier>, rustls::Error> {
        self.widened
            .get_or_init(|| {
                let mut all = self.explicit.clone();
                all.extend(self.machine.load()?);
                verifier(all, &self.provider)
            })
            .as_ref()
            // Reported as an untrusted certificate whose cause names the unreadable file.
            .map_err(|why| {
                let why: Box<dyn std::error::Error + Send + Sync> = why.clone().into();
                rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
                    why.into(),
                )))
            })
    }
}

impl ServerCertVerifier for LayeredVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.first.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verdict {
            Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer))
                if !self.machine.is_empty() =>
            {
                self.widened()?.verify_server_cert(
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    now,
                )
            }
            verdict => verdict,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.first.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.first.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.first.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_repeated_across_the_machines_files_is_kept_once() {
        let pem = rcgen::generate_simple_self_signed(vec!["localhost".into()])
            .expect("a certificate")
            .cert
            .pem();
        let dir = tempfile::tempdir().expect("a directory");
        std::fs::write(dir.path().join("bundle.crt"), &pem).expect("written");
        let certs = dir.path().join("certs");
        std::fs::create_dir(&certs).expect("a directory");
        std::fs::write(certs.join("a.0"), &pem).expect("written");
        std::fs::write(certs.join("a.pem"), &pem).expect("written");
        std::fs::write(certs.join("README"), "not a certificate").expect("written");
        let machine = MachineRoots {
            files: vec![dir.path().join("bundle.crt")],
            dirs: vec![certs],
        };
        assert_eq!(machine.load().expect("loaded").len(), 1);
    }
}
