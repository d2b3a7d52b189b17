//! The throwaway JWS signature a schema 1 manifest carries, as libtrust's
//! `JSONSignature` writes it ("pretty signature": the payload's closing
//! brace replaced by a `signatures` member). Registries insist on a
//! signature but trust none of them, so containers/image signs with a fresh
//! key; skiff derives the key from the payload (the core has no randomness)
//! and signs deterministically (RFC 6979).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

#[derive(Serialize)]
struct Protected<'a> {
    #[serde(rename = "formatLength")]
    format_length: usize,
    #[serde(rename = "formatTail")]
    format_tail: &'a str,
    time: &'a str,
}

/// libtrust's JWK of an EC public key (its fields in sorted order).
#[derive(Serialize)]
struct Jwk {
    crv: &'static str,
    kid: String,
    kty: &'static str,
    x: String,
    y: String,
}

#[derive(Serialize)]
struct Header {
    jwk: Jwk,
    alg: &'static str,
}

#[derive(Serialize)]
struct JwsSignature {
    header: Header,
    signature: String,
    protected: String,
}

/// A signing time as the protected header gives it: RFC 3339, UTC, seconds.
pub fn signing_time(unix_ms: u64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp((unix_ms / 1000) as i64).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// libtrust's key ID: the first 240 bits of the SHA-256 of the DER public
/// key, in base32, as 12 groups of 4 joined by colons.
fn key_id(key: &SigningKey) -> Result<String> {
    let der = p256::PublicKey::from(key.verifying_key())
        .to_public_key_der()
        .map_err(|e| Error::other(format!("encoding a key: {e}")))?;
    let hash = Sha256::digest(der.as_bytes());
    let b32 = data_encoding::BASE32_NOPAD.encode(&hash[..30]);
    Ok(b32.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(":"))
}

/// Signs compact JSON `payload` (an object, no trailing whitespace) at
/// `time` (RFC 3339, UTC) and returns the manifest with its signature.
pub fn sign(payload: &[u8], time: &str) -> Result<Vec<u8>> {
    let close = payload.len().checked_sub(1).filter(|&i| payload[i] == b'}');
    let Some(format_length) = close else {
        return Err(Error::other("a schema 1 payload must be a JSON object"));
    };
    let seed = Sha256::new().chain_update(b"skiff schema 1 throwaway key\0").chain_update(payload).finalize();
    let key = SigningKey::from_slice(&seed).map_err(|e| Error::other(format!("deriving a signing key: {e}")))?;
    let tail = URL_SAFE_NO_PAD.encode(&payload[format_length..]);
    let protected = serde_json::to_vec(&Protected { format_length, format_tail: &tail, time })?;
    let protected = URL_SAFE_NO_PAD.encode(protected);
    let signed_bytes = format!("{protected}.{}", URL_SAFE_NO_PAD.encode(payload));
    let signature: Signature = key.sign(signed_bytes.as_bytes());
    let point = key.verifying_key().to_encoded_point(false);
    let (x, y) = (point.x().expect("uncompressed point"), point.y().expect("uncompressed point"));
    let jws = JwsSignature {
        header: Header {
            jwk: Jwk {
                crv: "P-256",
                kid: key_id(&key)?,
                kty: "EC",
                x: URL_SAFE_NO_PAD.encode(x),
                y: URL_SAFE_NO_PAD.encode(y),
            },
            alg: "ES256",
        },
        signature: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        protected,
    };
    let mut out = payload[..format_length].to_vec();
    out.extend_from_slice(b",\"signatures\":");
    out.extend_from_slice(&serde_json::to_vec(&[jws])?);
    out.push(b'}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;

    #[test]
    fn signatures_verify_and_strip_back_to_the_payload() {
        let payload = br#"{"name":"","schemaVersion":1}"#;
        let signed = sign(payload, "2026-11-22T18:37:32Z").unwrap();
        // Removing the signature (as digests are computed) gives the payload back.
        assert_eq!(super::super::schema1::jws_payload(&signed).unwrap(), payload);
        let v: serde_json::Value = serde_json::from_slice(&signed).unwrap();
        let s = &v["signatures"][0];
        assert_eq!(s["header"]["alg"], "ES256");
        let kid = s["header"]["jwk"]["kid"].as_str().unwrap();
        assert_eq!((kid.len(), kid.matches(':').count()), (59, 11));
        let protected = URL_SAFE_NO_PAD.decode(s["protected"].as_str().unwrap()).unwrap();
        assert_eq!(protected, br#"{"formatLength":28,"formatTail":"fQ","time":"2026-11-22T18:37:32Z"}"#);
        // The signature checks out against the key in the header.
        let coord = |c: &str| URL_SAFE_NO_PAD.decode(s["header"]["jwk"][c].as_str().unwrap()).unwrap();
        let point = [vec![4u8], coord("x"), coord("y")].concat();
        let key = VerifyingKey::from_sec1_bytes(&point).unwrap();
        let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(s["signature"].as_str().unwrap()).unwrap()).unwrap();
        let signed_bytes = format!("{}.{}", s["protected"].as_str().unwrap(), URL_SAFE_NO_PAD.encode(payload));
        key.verify(signed_bytes.as_bytes(), &sig).unwrap();
        assert!(sign(b"[1]", "t").is_err());
        assert_eq!(signing_time(1_795_372_652_999), "2026-11-22T18:37:32Z");
    }
}
