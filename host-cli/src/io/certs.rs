//! TLS settings for a client, from the files the core named (it found them
//! in `--cert-dir` or certs.d): extra CAs and a client identity.
//!
//! A registry set up as Docker's documentation shows serves a self-signed
//! certificate with `CA:TRUE` and users trust it by copying that same file
//! into certs.d. Go accepts such a server; rustls's verifier refuses a CA
//! certificate as the server's own (`CaUsedAsEndEntity`). So a server
//! certificate that is byte for byte one of the configured trusted
//! certificates is accepted here, after checking its name and validity
//! period; every other certificate goes through rustls's checks unchanged.

use std::sync::Arc;

use reqwest::ClientBuilder;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::runtime::wit::TlsConfig;

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("reading {path}: {e}"))
}

/// The certificates of a PEM file.
fn certificates(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(&read(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{path} is not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{path} holds no PEM certificate"));
    }
    Ok(certs)
}

/// Sets the client up for `tls`: the platform's defaults when nothing is
/// configured, otherwise a rustls configuration of our own.
pub fn configure(b: ClientBuilder, tls: &TlsConfig) -> Result<ClientBuilder, String> {
    let details = tls.min_tls13 || tls.cipher_suites.is_some() || tls.named_groups.is_some();
    if tls.insecure || (tls.ca_files.is_empty() && tls.client_identity.is_none() && !details) {
        return Ok(b);
    }
    Ok(b.use_preconfigured_tls(client_config(tls)?))
}

/// ring's suites and groups, narrowed as `--tls-details` asks (the core
/// checked every name; TLS 1.3 suites stay, as Go keeps them).
fn provider(tls: &TlsConfig) -> rustls::crypto::CryptoProvider {
    let mut p = rustls::crypto::ring::default_provider();
    if let Some(allowed) = &tls.cipher_suites {
        p.cipher_suites.retain(|s| {
            s.version() == &rustls::version::TLS13 || allowed.iter().any(|a| iana(s.suite()) == Some(a.as_str()))
        });
    }
    if let Some(groups) = &tls.named_groups {
        p.kx_groups.retain(|g| {
            let name = match g.name() {
                rustls::NamedGroup::X25519 => "x25519",
                rustls::NamedGroup::secp256r1 => "secp256r1",
                rustls::NamedGroup::secp384r1 => "secp384r1",
                _ => "",
            };
            groups.iter().any(|n| n == name)
        });
    }
    p
}

/// The IANA name of a TLS 1.2 suite rustls has.
fn iana(s: rustls::CipherSuite) -> Option<&'static str> {
    use rustls::CipherSuite as C;
    Some(match s {
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        _ => return None,
    })
}

fn client_config(tls: &TlsConfig) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(provider(tls));
    let mut roots = RootCertStore::empty();
    // The system's roots, as without certs.d (unreadable ones are skipped, as Go skips them).
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let mut pinned = Vec::new();
    for path in &tls.ca_files {
        for cert in certificates(path)? {
            roots.add(cert.clone()).map_err(|e| format!("{path}: not a usable CA certificate: {e}"))?;
            pinned.push(cert);
        }
    }
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("setting up certificate checks: {e}"))?;
    let verifier = Arc::new(TrustedOrConfigured { inner, pinned });
    let versions: &[&rustls::SupportedProtocolVersion] = match tls.min_tls13 {
        true => &[&rustls::version::TLS13],
        false => rustls::DEFAULT_VERSIONS,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| format!("setting up TLS as --tls-details asks: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &tls.client_identity {
        Some(id) => {
            let chain = certificates(&id.certificate)?;
            let key = PrivateKeyDer::from_pem_slice(&read(&id.key)?)
                .map_err(|e| format!("{} is not a PEM private key: {e}", id.key))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate {}: {e}", id.certificate))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// rustls's checks, plus servers whose certificate is one of the configured ones.
#[derive(Debug)]
struct TrustedOrConfigured {
    inner: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for TrustedOrConfigured {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let checked = self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        match checked {
            Err(_) if self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) => {
                configured_certificate_is_valid(end_entity, server_name, now)
            }
            other => other,
        }
    }

    // The handshake's own signatures are checked against the presented
    // certificate's key as always.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A configured certificate presented as the server's: its name must match
/// and `now` must be within its validity period.
fn configured_certificate_is_valid(
    cert: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<ServerCertVerified, rustls::Error> {
    let bad = |e: CertificateError| rustls::Error::InvalidCertificate(e);
    let ee = webpki::EndEntityCert::try_from(cert).map_err(|_| bad(CertificateError::BadEncoding))?;
    ee.verify_is_valid_for_subject_name(server_name).map_err(|_| bad(CertificateError::NotValidForName))?;
    use x509_cert::der::Decode as _;
    let parsed = x509_cert::Certificate::from_der(cert.as_ref()).map_err(|_| bad(CertificateError::BadEncoding))?;
    let validity = &parsed.tbs_certificate.validity;
    let now = std::time::Duration::from_secs(now.as_secs());
    if now < validity.not_before.to_unix_duration() {
        return Err(bad(CertificateError::NotValidYet));
    }
    if now > validity.not_after.to_unix_duration() {
        return Err(bad(CertificateError::Expired));
    }
    Ok(ServerCertVerified::assertion())
}
