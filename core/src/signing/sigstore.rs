//! Sigstore signatures (cosign's): a payload — cosign's simple signing
//! JSON — with, in annotations, an ECDSA signature over it and, for the
//! keyless kind, a Fulcio certificate, its chain and a Rekor SET. Verified
//! as containers/image's `sigstoreSigned` verifies them, offline; signed
//! with a private key as its sigstore signer signs.

use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;

use super::payload::{self, Payload};
use super::public_key::PublicKey;
use super::{rekor, x509};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::signature::{Signature, SigstoreParts};

/// The payload's media type.
pub const PAYLOAD_MIME_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation holding the signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
pub const SET_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// Fulcio's OIDC issuer extensions: v1 holds the bare text, v2 a DER string.
const ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
const ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";

fn rejected(message: impl Into<String>) -> Error {
    Error::integrity(message.into())
}

/// What a signature must chain to (a policy's `sigstoreSigned` source).
#[derive(Debug)]
pub enum Trust {
    /// Public keys; with Rekor keys, the signature must also have been logged.
    Keys { keys: Vec<PublicKey>, rekor: Option<Vec<PublicKey>> },
    /// A Fulcio certificate for this OIDC identity, logged in Rekor.
    Fulcio { roots: Vec<x509::Cert>, rekor: Vec<PublicKey>, oidc_issuer: String, subject_email: String },
    /// A certificate from the user's own CA, valid now (Unix seconds).
    Pki {
        roots: Vec<x509::Cert>,
        intermediates: Vec<x509::Cert>,
        subject_email: Option<String>,
        subject_hostname: Option<String>,
        now: u64,
    },
}

/// The key as the PEM Rekor records (`MarshalPublicKeyToPEM`).
fn key_pem(key: &PublicKey) -> String {
    p256::pkcs8::der::pem::encode_string("PUBLIC KEY", p256::pkcs8::LineEnding::LF, &key.to_spki_der())
        .expect("PEM of an in-memory key")
}

/// Verifies a sigstore signature; the payload's claims once it holds.
pub fn verify(parts: &SigstoreParts, trust: &Trust) -> Result<Payload> {
    if parts.mime_type != PAYLOAD_MIME_TYPE {
        return Err(rejected(format!("Unsupported sigstore signature MIME type {:?}", parts.mime_type)));
    }
    let signature = parts
        .annotation(SIGNATURE_ANNOTATION)
        .ok_or_else(|| rejected(format!("missing {SIGNATURE_ANNOTATION} annotation")))?;
    let annotation = |name: &str| parts.annotation(name).ok_or_else(|| rejected(format!("missing {name} annotation")));
    let keys = match trust {
        Trust::Keys { keys, rekor: None } => keys.clone(),
        Trust::Keys { keys, rekor: Some(rekor_keys) } => {
            let set = annotation(SET_ANNOTATION)?;
            let mut reasons = Vec::new();
            let logged = keys.iter().find(|k| {
                match rekor::verify(rekor_keys, set.as_bytes(), key_pem(k).as_bytes(), signature, &parts.payload) {
                    Ok(_) => true,
                    Err(e) => {
                        reasons.push(e);
                        false
                    }
                }
            });
            match logged {
                Some(k) => vec![k.clone()],
                None => {
                    return Err(rejected(format!(
                        "No public key verified against the RekorSET: {}",
                        reasons.join(", ")
                    )));
                }
            }
        }
        Trust::Fulcio { roots, rekor: rekor_keys, oidc_issuer, subject_email } => {
            let set = annotation(SET_ANNOTATION)?;
            let certificate = annotation(CERTIFICATE_ANNOTATION)?;
            let logged_at =
                rekor::verify(rekor_keys, set.as_bytes(), certificate.as_bytes(), signature, &parts.payload)
                    .map_err(rejected)?;
            let leaf = leaf_and_chain(parts, certificate, &[], roots, u64::try_from(logged_at).unwrap_or(0), true)?;
            let issuer = oidc_issuer_of(&leaf).map_err(rejected)?;
            if issuer != *oidc_issuer {
                return Err(rejected(format!("Unexpected Fulcio OIDC issuer {issuer:?}")));
            }
            required_email(&leaf, subject_email)?;
            vec![leaf.public_key().map_err(rejected)?]
        }
        Trust::Pki { roots, intermediates, subject_email, subject_hostname, now } => {
            let certificate = annotation(CERTIFICATE_ANNOTATION)?;
            let leaf = leaf_and_chain(parts, certificate, intermediates, roots, *now, false)?;
            if let Some(email) = subject_email {
                required_email(&leaf, email)?;
            }
            if let Some(host) = subject_hostname {
                hostname_matches(&leaf, host)?;
            }
            vec![leaf.public_key().map_err(rejected)?]
        }
    };
    let der = crate::go::base64::decode_std(signature).map_err(|e| rejected(format!("base64 decoding: {e}")))?;
    if !keys.iter().any(|k| k.verifies_sha256(&parts.payload, &der)) {
        return Err(rejected(
            "cryptographic signature verification failed: invalid signature when validating ASN.1 encoded signature",
        ));
    }
    // Only now is the payload trusted enough to read.
    payload::parse_typed(&parts.payload, payload::SIGSTORE_TYPE)
}

/// The signature's leaf certificate, verified up to `roots` at `at` through
/// the trusted `intermediates` and the chain annotation's (all but its last
/// certificate, which is the root and never trusted from there).
fn leaf_and_chain(
    parts: &SigstoreParts,
    certificate: &str,
    intermediates: &[x509::Cert],
    roots: &[x509::Cert],
    at: u64,
    fulcio: bool,
) -> Result<x509::Cert> {
    let mut pool = intermediates.to_vec();
    if let Some(chain) = parts.annotation(CHAIN_ANNOTATION).filter(|c| !c.is_empty()) {
        let mut chain = x509::parse_all_strict(chain.as_bytes())
            .map_err(|e| rejected(format!("loading certificate chain: {e}")))?;
        chain.pop();
        pool.extend(chain);
    }
    let mut leaves = x509::parse_all_strict(certificate.as_bytes())
        .map_err(|e| rejected(format!("parsing leaf certificate: {e}")))?;
    let leaf = match leaves.len() {
        0 => return Err(rejected("no certificate found in signature certificate data")),
        1 => leaves.remove(0),
        _ => return Err(rejected("unexpected multiple certificates present in signature certificate data")),
    };
    let opts = x509::Verify { roots, intermediates: &pool, at, ignore_critical_san: fulcio };
    x509::verify(&leaf, opts).map_err(|e| rejected(format!("veryfing leaf certificate failed: {e}")))?;
    Ok(leaf)
}

/// The OIDC issuer Fulcio recorded; both extensions must agree.
fn oidc_issuer_of(leaf: &x509::Cert) -> std::result::Result<String, String> {
    use x509_cert::der::Decode as _;
    let v1 = leaf.extension(ISSUER_V1).map(|b| String::from_utf8_lossy(b).into_owned());
    let v2 = match leaf.extension(ISSUER_V2) {
        None => None,
        Some(der) => {
            let text = x509_cert::der::asn1::Utf8StringRef::from_der(der)
                .map(|s| s.as_str().to_owned())
                .or_else(|_| x509_cert::der::asn1::Ia5StringRef::from_der(der).map(|s| s.as_str().to_owned()))
                .or_else(|_| x509_cert::der::asn1::PrintableStringRef::from_der(der).map(|s| s.as_str().to_owned()))
                .map_err(|e| format!("invalid ASN.1 in OIDC issuer v2 extension: {e}"))?;
            Some(text)
        }
    };
    match (v1, v2) {
        (Some(a), Some(b)) if a != b => Err(format!("inconsistent OIDC issuer extension values: v1 {a:?}, v2 {b:?}")),
        (Some(a), _) | (None, Some(a)) => Ok(a),
        (None, None) => Err("Fulcio certificate is missing the issuer extension".to_owned()),
    }
}

fn required_email(leaf: &x509::Cert, email: &str) -> Result<()> {
    let emails = leaf.emails();
    if !emails.iter().any(|e| e == email) {
        return Err(rejected(format!("Required email {email:?} not found (got {emails:?})")));
    }
    Ok(())
}

/// Go's `VerifyHostname`: an IP matches the IP names, a host name the DNS
/// names case-insensitively, `*.` standing for one leftmost label.
fn hostname_matches(leaf: &x509::Cert, host: &str) -> Result<()> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        if leaf.ip_addresses().contains(&ip) {
            return Ok(());
        }
        return Err(rejected(format!(
            "Unexpected subject hostname: x509: certificate is not valid for the IP address {host}"
        )));
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let names = leaf.dns_names();
    let matches = |pattern: &str| {
        let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
        match pattern.strip_prefix("*.") {
            Some(rest) => host.split_once('.').is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
            None => pattern == host,
        }
    };
    if names.iter().any(|n| matches(n)) {
        return Ok(());
    }
    Err(rejected(match names.is_empty() {
        true => format!(
            "Unexpected subject hostname: x509: certificate is not valid for any names, but wanted to match {host}"
        ),
        false => {
            format!("Unexpected subject hostname: x509: certificate is valid for {}, not {host}", names.join(", "))
        }
    }))
}

/// A sigstore signature of the manifest whose digest is `digest`, claiming
/// `identity`, made with `key` as containers/image's signer makes one.
pub fn sign(key: &p256::ecdsa::SigningKey, digest: &Digest, identity: &str, timestamp: i64) -> Result<Signature> {
    let payload = payload::build_typed(digest, identity, timestamp, payload::SIGSTORE_TYPE);
    let signature: p256::ecdsa::Signature = key.sign(&payload);
    let b64 = base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes());
    Signature::sigstore(&SigstoreParts {
        mime_type: PAYLOAD_MIME_TYPE.to_owned(),
        payload,
        annotations: Some([(SIGNATURE_ANNOTATION.to_owned(), b64)].into_iter().collect()),
    })
}
