//! Sigstore signatures made with a key (cosign's): the `\0sigstore-json`
//! blob holds the payload and, in an annotation, an ECDSA P-256 signature
//! over it; the payload is cosign's simple signing JSON. Verified as
//! containers/image verifies them with `keyPath`/`keyData`; Rekor and
//! Fulcio are another matter (not here).

use base64::Engine as _;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;

use super::payload::{self, Payload};
use crate::error::{Error, Result};

/// The payload's media type.
pub const PAYLOAD_MIME_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation holding the signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Stored {
    mime_type: String,
    /// base64 (Go's `[]byte` in JSON).
    payload: String,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

fn rejected(message: impl Into<String>) -> Error {
    Error::integrity(message.into())
}

/// The public keys in `pem` (one or more `PUBLIC KEY` blocks).
pub fn public_keys(pem: &[u8]) -> Result<Vec<VerifyingKey>> {
    let text = std::str::from_utf8(pem).map_err(|_| Error::invalid("the public key file is not PEM text"))?;
    let mut keys = Vec::new();
    for block in text.split("-----END PUBLIC KEY-----") {
        let Some(start) = block.find("-----BEGIN PUBLIC KEY-----") else { continue };
        let one = format!("{}-----END PUBLIC KEY-----\n", &block[start..]);
        let key = VerifyingKey::from_public_key_pem(&one)
            .map_err(|e| Error::invalid(format!("invalid ECDSA P-256 public key: {e}")))?;
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(Error::invalid("no public key found"));
    }
    Ok(keys)
}

/// Verifies a stored sigstore signature (`\0sigstore-json\n{…}`) with any of
/// `keys`; the payload's claims, once its signature holds.
pub fn verify(blob: &[u8], keys: &[VerifyingKey]) -> Result<Payload> {
    let json =
        blob.strip_prefix(b"\0sigstore-json\n".as_slice()).ok_or_else(|| rejected("not a sigstore signature"))?;
    let stored: Stored =
        serde_json::from_slice(json).map_err(|e| rejected(format!("invalid sigstore signature: {e}")))?;
    if stored.mime_type != PAYLOAD_MIME_TYPE {
        return Err(rejected(format!("Unsupported sigstore signature MIME type {:?}", stored.mime_type)));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64.decode(&stored.payload).map_err(|e| rejected(format!("invalid sigstore payload: {e}")))?;
    let signature = stored
        .annotations
        .get(SIGNATURE_ANNOTATION)
        .ok_or_else(|| rejected(format!("missing {SIGNATURE_ANNOTATION} annotation")))?;
    let der = b64.decode(signature).map_err(|e| rejected(format!("invalid signature annotation: {e}")))?;
    let signature = Signature::from_der(&der).map_err(|e| rejected(format!("invalid ECDSA signature: {e}")))?;
    if !keys.iter().any(|k| k.verify(&payload, &signature).is_ok()) {
        return Err(rejected("cryptographic signature verification failed: invalid signature"));
    }
    // Only now is the payload trusted enough to read.
    payload::parse_typed(&payload, payload::SIGSTORE_TYPE)
}
