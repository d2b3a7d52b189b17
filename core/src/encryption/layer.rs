//! What an encrypted layer carries, as ocicrypt writes it: its media type
//! with `+encrypted`, and two annotations — `enc.keys.jwe` (the standard
//! base64 of a JWE, several joined by commas, holding the private options:
//! the symmetric key, the CTR nonce and the plain blob's digest) and
//! `enc.pubopts` (the base64 of the public options: the cipher and the
//! HMAC-SHA256 of the ciphertext). The JSON is byte for byte what Go's
//! `encoding/json` makes of ocicrypt's structs.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Deserialize;

use crate::digest::Digest;
use crate::media_type as mt;

pub const KEYS_JWE: &str = "org.opencontainers.image.enc.keys.jwe";
pub const PUBOPTS: &str = "org.opencontainers.image.enc.pubopts";
/// Every annotation of ocicrypt's starts with this.
const PREFIX: &str = "org.opencontainers.image.enc";
/// The one layer cipher ocicrypt has.
pub const CIPHER: &str = "AES_256_CTR_HMAC_SHA256";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A layer's symmetric key and CTR nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerKey {
    pub symkey: Vec<u8>,
    pub nonce: Vec<u8>,
}

/// `PrivateLayerBlockCipherOptions` as Go marshals it.
pub fn private_options(key: &LayerKey, plain: &Digest) -> Vec<u8> {
    format!(
        r#"{{"symkey":"{}","digest":"{plain}","cipheroptions":{{"nonce":"{}"}}}}"#,
        B64.encode(&key.symkey),
        B64.encode(&key.nonce)
    )
    .into_bytes()
}

/// `PublicLayerBlockCipherOptions` as Go marshals it.
pub fn public_options(hmac: &[u8]) -> Vec<u8> {
    format!(r#"{{"cipher":"{CIPHER}","hmac":"{}","cipheroptions":{{}}}}"#, B64.encode(hmac)).into_bytes()
}

#[derive(Deserialize)]
struct PrivateJson {
    #[serde(default)]
    symkey: Option<String>,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    cipheroptions: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Deserialize)]
struct PublicJson {
    #[serde(default)]
    cipher: Option<String>,
    #[serde(default)]
    hmac: Option<String>,
}

fn b64(field: &str, v: Option<&str>) -> Result<Vec<u8>, String> {
    B64.decode(v.unwrap_or_default()).map_err(|_| format!("the layer's {field} is not base64"))
}

/// The key, nonce and plain digest of the private options a JWE held.
pub fn read_private(json: &[u8]) -> Result<(LayerKey, Digest), String> {
    let p: PrivateJson =
        serde_json::from_slice(json).map_err(|e| format!("the layer's private options are not valid JSON: {e}"))?;
    let symkey = b64("symmetric key", p.symkey.as_deref())?;
    let nonce = b64("nonce", p.cipheroptions.as_ref().and_then(|o| o.get("nonce")?.as_deref()))?;
    if symkey.len() != 32 || nonce.len() != 16 {
        return Err(format!(
            "the layer's key is {} bytes and its nonce {} (AES-256-CTR needs 32 and 16)",
            symkey.len(),
            nonce.len()
        ));
    }
    let digest = Digest::parse(p.digest.as_deref().unwrap_or_default())
        .map_err(|e| format!("the layer's private options name no valid digest: {}", e.message))?;
    Ok((LayerKey { symkey, nonce }, digest))
}

/// The HMAC the public options (annotation `pubopts`) record; another
/// cipher is an error.
pub fn read_public(annotation: Option<&str>) -> Result<Vec<u8>, String> {
    let json = b64("public options", annotation)?;
    let p: PublicJson = match json.is_empty() {
        true => PublicJson { cipher: None, hmac: None },
        false => {
            serde_json::from_slice(&json).map_err(|e| format!("the layer's public options are not valid JSON: {e}"))?
        }
    };
    match p.cipher.as_deref() {
        Some(CIPHER) => {}
        other => {
            return Err(format!("unsupported cipher type {:?}", crate::error::sanitize(other.unwrap_or_default())));
        }
    }
    let hmac = b64("HMAC", p.hmac.as_deref())?;
    if hmac.len() != 32 {
        return Err("the layer's public options carry no HMAC-SHA256".to_owned());
    }
    Ok(hmac)
}

/// The base64 JWEs of an `enc.keys.jwe` annotation.
pub fn jwes(annotation: &str) -> Result<Vec<Vec<u8>>, String> {
    annotation
        .split(',')
        .map(|a| B64.decode(a).map_err(|_| "could not base64 decode the annotation".to_owned()))
        .collect()
}

/// The annotations of an encrypted layer: its own, then each key
/// wrapper's (annotation name, what it wrapped), then the public options.
pub fn annotate(
    own: Option<&BTreeMap<String, String>>,
    wrapped: &[(String, Vec<u8>)],
    public: &[u8],
) -> BTreeMap<String, String> {
    let mut a = own.cloned().unwrap_or_default();
    for (name, bytes) in wrapped {
        a.insert(name.clone(), B64.encode(bytes));
    }
    a.insert(PUBOPTS.to_owned(), B64.encode(public));
    a
}

/// A decrypted layer's annotations: ocicrypt's removed, none left → none
/// (so the manifest is the one that was encrypted, byte for byte).
pub fn strip(own: Option<&BTreeMap<String, String>>) -> Option<BTreeMap<String, String>> {
    let a: BTreeMap<String, String> = own
        .into_iter()
        .flatten()
        .filter(|(k, _)| !k.starts_with(PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!a.is_empty()).then_some(a)
}

/// Whether a layer's media type says it is encrypted.
pub fn is_encrypted(media_type: &str) -> bool {
    media_type.ends_with("+encrypted")
}

/// containers/image's `getEncryptedMediaType`: only layer types encrypt.
pub fn encrypted_media_type(media_type: &str) -> Result<String, String> {
    let mut parts = media_type.split('+');
    let base = parts.next().unwrap_or_default();
    if parts.any(|p| p == "encrypted") {
        return Err(format!("unsupported mediaType: {media_type:?} already encrypted"));
    }
    match base {
        mt::OCI_LAYER | mt::DOCKER_LAYER_GZIP | mt::OCI_LAYER_NONDISTRIBUTABLE => Ok(format!("{media_type}+encrypted")),
        _ => Err(format!("unsupported mediaType to encrypt: {media_type:?}")),
    }
}

/// An encrypted layer's media type without `+encrypted`.
pub fn decrypted_media_type(media_type: &str) -> Option<&str> {
    media_type.strip_suffix("+encrypted")
}

/// Which annotation-named key wrappers a layer was encrypted for, other
/// than JWE and key providers (for the message when none can be used).
pub fn other_wrappers(own: Option<&BTreeMap<String, String>>) -> Vec<String> {
    let prefix = format!("{PREFIX}.keys.");
    own.into_iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix(&prefix))
        .filter(|s| *s != "jwe" && !s.starts_with("provider."))
        .map(crate::error::sanitize)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_what_go_marshals() {
        let key = LayerKey { symkey: vec![1; 32], nonce: vec![2; 16] };
        let d = Digest::sha256(b"layer");
        let json = private_options(&key, &d);
        assert_eq!(
            String::from_utf8(json.clone()).unwrap(),
            format!(
                r#"{{"symkey":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=","digest":"{d}","cipheroptions":{{"nonce":"AgICAgICAgICAgICAgICAg=="}}}}"#
            )
        );
        assert_eq!(read_private(&json).unwrap(), (key, d));
        let public = public_options(&[3; 32]);
        assert_eq!(read_public(Some(&B64.encode(&public))).unwrap(), vec![3; 32]);
        assert!(read_public(None).unwrap_err().contains("unsupported cipher"));
        let other = B64.encode(br#"{"cipher":"ROT13","hmac":""}"#);
        assert!(read_public(Some(&other)).unwrap_err().contains("ROT13"));
        assert!(read_private(br#"{"symkey":"AQ==","digest":"sha256:00"}"#).is_err());
    }

    #[test]
    fn media_types_and_annotations() {
        assert_eq!(encrypted_media_type(mt::OCI_LAYER_GZIP).unwrap(), format!("{}+encrypted", mt::OCI_LAYER_GZIP));
        assert!(encrypted_media_type(&format!("{}+encrypted", mt::OCI_LAYER_GZIP)).is_err());
        assert!(encrypted_media_type(mt::OCI_CONFIG).is_err());
        let own = BTreeMap::from([("a".to_owned(), "b".to_owned())]);
        let a = annotate(Some(&own), &[(KEYS_JWE.to_owned(), b"{}".to_vec())], b"{}");
        assert_eq!(a.len(), 3);
        assert_eq!(strip(Some(&a)), Some(own));
        assert_eq!(strip(Some(&annotate(None, &[], b"{}"))), None);
        let pgp = BTreeMap::from([(format!("{PREFIX}.keys.pgp"), String::new())]);
        assert_eq!(other_wrappers(Some(&pgp)), vec!["pgp"]);
    }
}
