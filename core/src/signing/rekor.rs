//! Rekor's signed entry timestamps (the `dev.sigstore.cosign/bundle`
//! annotation), verified offline as containers/image verifies them: the
//! SET signs the RFC 8785 form of its payload; the payload's body must be
//! a `hashedrekord` 0.0.1 entry recording exactly this signature, this key
//! or certificate and the SHA-256 of this payload. Returns when the entry
//! was logged (the time a Fulcio certificate must be valid at).

use serde::Deserialize;
use sha2::Digest as _;

use super::pem;
use super::public_key::PublicKey;

/// The annotation's outer object: exactly these two members.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Set<'a> {
    #[serde(rename = "SignedEntryTimestamp")]
    signed_entry_timestamp: Option<String>,
    #[serde(rename = "Payload", borrow)]
    payload: &'a serde_json::value::RawValue,
}

/// The signed payload: exactly these members.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Payload {
    body: String,
    integrated_time: i64,
    #[serde(rename = "logID")]
    log_id: String,
    log_index: i64,
}

impl Payload {
    /// RFC 8785: members sorted by name, integers as written, strings with
    /// JSON's minimal escapes (which serde_json's are).
    fn canonical(&self) -> Result<String, String> {
        let s = |v: &str| serde_json::to_string(v).map_err(|e| e.to_string());
        Ok(format!(
            "{{\"body\":{},\"integratedTime\":{},\"logID\":{},\"logIndex\":{}}}",
            s(&self.body)?,
            self.integrated_time,
            s(&self.log_id)?,
            self.log_index
        ))
    }
}

/// The entry body; Go reads it leniently (unknown members ignored).
#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    spec: Option<Box<serde_json::value::RawValue>>,
}

#[derive(Deserialize)]
struct Spec {
    data: Option<Data>,
    signature: Option<SpecSignature>,
}

#[derive(Deserialize)]
struct Data {
    hash: Option<Hash>,
}

#[derive(Deserialize)]
struct Hash {
    algorithm: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct SpecSignature {
    content: Option<String>,
    #[serde(rename = "publicKey")]
    public_key: Option<SpecKey>,
}

#[derive(Deserialize)]
struct SpecKey {
    content: Option<String>,
}

fn b64(s: &str) -> Result<Vec<u8>, String> {
    crate::go::base64::decode_std(s).map_err(|e| e.to_string())
}

/// The single PEM block of `data` (junk before it allowed, nothing after).
fn single_pem(data: &[u8], whose: &str) -> Result<Vec<u8>, String> {
    let (block, rest) = pem::decode(data).ok_or_else(|| format!("{whose} is not in PEM format"))?;
    if !rest.is_empty() {
        return Err(format!("{whose} has trailing data"));
    }
    Ok(block.bytes)
}

/// Verifies `set` (the bundle annotation) with any of `rekor_keys` against
/// the signature `b64_signature` of `payload` by `key_or_cert` (PEM);
/// the entry's integrated time, in Unix seconds.
pub fn verify(
    rekor_keys: &[PublicKey],
    set: &[u8],
    key_or_cert: &[u8],
    b64_signature: &str,
    payload: &[u8],
) -> Result<i64, String> {
    let outer: Set = serde_json::from_slice(set).map_err(|e| e.to_string())?;
    let parsed: Payload =
        serde_json::from_str(outer.payload.get()).map_err(|e| format!("parsing Rekor SET payload: {e}"))?;
    let canonical = parsed.canonical().map_err(|e| format!("canonicalizing Rekor SET JSON: {e}"))?;
    let signature = b64(outer.signed_entry_timestamp.as_deref().unwrap_or(""))?;
    if !rekor_keys.iter().any(|k| k.verifies_sha256(canonical.as_bytes(), &signature)) {
        return Err("cryptographic signature verification of Rekor SET failed".to_owned());
    }
    // Only now is the payload trusted enough to look into.
    let body = b64(&parsed.body).map_err(|e| format!("decoding the body of a Rekor SET payload: {e}"))?;
    let body: Body =
        serde_json::from_slice(&body).map_err(|e| format!("decoding the body of a Rekor SET payload: {e}"))?;
    if body.kind != "hashedrekord" {
        return Err(format!("decoding the body of a Rekor SET payload: invalid kind value: {:?}", body.kind));
    }
    match body.api_version.as_deref() {
        None => return Err("missing Rekor SET Payload API version".to_owned()),
        Some("0.0.1") => {}
        Some(v) => return Err(format!("unsupported Rekor SET Payload hashedrekord version {v:?}")),
    }
    let spec = body.spec.as_deref().map_or("null", |s| s.get());
    let spec: Spec = serde_json::from_str(spec).map_err(|e| format!("decoding hashedrekod spec: {e}"))?;

    let recorded = spec.signature.ok_or("Missing \"signature\" field in hashedrekord")?;
    let recorded_key = recorded.public_key.ok_or("Missing \"signature.publicKey\" field in hashedrekord")?;
    let recorded_key =
        b64(recorded_key.content.as_deref().unwrap_or("")).map_err(|e| format!("decoding hashedrekod spec: {e}"))?;
    let recorded_key = single_pem(&recorded_key, "publicKey in Rekor SET")?;
    let ours = single_pem(key_or_cert, "public key or cert to be matched against publicKey in Rekor SET")?;
    if recorded_key != ours {
        return Err("publicKey in Rekor SET does not match".to_owned());
    }
    let signature = b64(b64_signature).map_err(|e| format!("decoding signature base64: {e}"))?;
    let recorded_signature = match recorded.content.as_deref() {
        Some(c) => Some(b64(c).map_err(|e| format!("decoding hashedrekod spec: {e}"))?),
        None => None,
    };
    if recorded_signature.as_deref() != Some(signature.as_slice()) {
        return Err("signature in Rekor SET does not match".to_owned());
    }
    let hash = spec.data.ok_or("Missing \"data\" field in hashedrekord")?;
    let hash = hash.hash.ok_or("Missing \"data.hash\" field in hashedrekord")?;
    let algorithm = hash.algorithm.ok_or("Missing \"data.hash.algorithm\" field in hashedrekord")?;
    if algorithm != "sha256" {
        return Err(format!("Unexpected \"data.hash.algorithm\" value {algorithm:?}"));
    }
    let value = hash.value.ok_or("Missing \"data.hash.value\" field in hashedrekord")?;
    let value = data_encoding::HEXLOWER_PERMISSIVE
        .decode(value.as_bytes())
        .map_err(|e| format!("Invalid \"data.hash.value\" field in hashedrekord: {e}"))?;
    if value != sha2::Sha256::digest(payload).as_slice() {
        return Err("payload in Rekor SET does not match".to_owned());
    }
    Ok(parsed.integrated_time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{Signature, SigstoreParts};

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/sigstore/");

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}{name}")).unwrap()
    }

    fn parts(dir: &str) -> SigstoreParts {
        Signature::from_blob(fixture(&format!("{dir}/signature-1"))).unwrap().sigstore_parts().unwrap()
    }

    fn check(p: &SigstoreParts, key_or_cert: &[u8], rekor: &[PublicKey]) -> Result<i64, String> {
        let set = p.annotation("dev.sigstore.cosign/bundle").unwrap().as_bytes();
        let sig = p.annotation("dev.cosignproject.cosign/signature").unwrap();
        verify(rekor, set, key_or_cert, sig, &p.payload)
    }

    #[test]
    fn the_fixtures_sets_verify_and_say_when_they_were_logged() {
        let rekor = [crate::signing::public_key::from_pem(&fixture("rekor.pub")).unwrap()];
        let key = parts("dir-img-cosign-key-rekor-valid");
        assert_eq!(check(&key, &fixture("cosign2.pub"), &rekor), Ok(1674251859));
        let fulcio = parts("dir-img-cosign-fulcio-rekor-valid");
        let cert = fulcio.annotation("dev.sigstore.cosign/certificate").unwrap().as_bytes().to_vec();
        assert_eq!(check(&fulcio, &cert, &rekor), Ok(1674247893));
    }

    #[test]
    fn a_set_for_something_else_is_refused() {
        let rekor = [crate::signing::public_key::from_pem(&fixture("rekor.pub")).unwrap()];
        let key = parts("dir-img-cosign-key-rekor-valid");
        assert_eq!(check(&key, &fixture("cosign.pub"), &rekor).unwrap_err(), "publicKey in Rekor SET does not match");
        let other = [crate::signing::public_key::from_pem(&fixture("cosign.pub")).unwrap()];
        let e = check(&key, &fixture("cosign2.pub"), &other).unwrap_err();
        assert_eq!(e, "cryptographic signature verification of Rekor SET failed");
        let mut changed = key.clone();
        changed.payload.push(b' ');
        assert_eq!(
            check(&changed, &fixture("cosign2.pub"), &rekor).unwrap_err(),
            "payload in Rekor SET does not match"
        );
        // One changed member of the signed payload breaks the SET's signature.
        let set =
            key.annotation("dev.sigstore.cosign/bundle").unwrap().replace("\"logIndex\":11608800", "\"logIndex\":1");
        let sig = key.annotation("dev.cosignproject.cosign/signature").unwrap();
        let e = verify(&rekor, set.as_bytes(), &fixture("cosign2.pub"), sig, &key.payload).unwrap_err();
        assert_eq!(e, "cryptographic signature verification of Rekor SET failed");
        let extra = key.annotation("dev.sigstore.cosign/bundle").unwrap().replacen('{', "{\"x\":1,", 1);
        assert!(
            verify(&rekor, extra.as_bytes(), &fixture("cosign2.pub"), sig, &key.payload)
                .unwrap_err()
                .contains("unknown field")
        );
    }
}
