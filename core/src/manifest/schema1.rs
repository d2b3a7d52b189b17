//! Docker v2 schema 1 manifests (deprecated; read only), including the JWS
//! "pretty signature" whose removal gives the bytes the digest is taken over.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::digest::Digest;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct Schema1Manifest {
    pub name: String,
    pub tag: String,
    pub architecture: String,
    /// Layer digests, base layer first (the document lists them top first).
    pub layers: Vec<Digest>,
    /// `history[0].v1Compatibility`: the top layer's config, as a JSON string.
    pub top_v1_compatibility: String,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "schemaVersion")]
    schema_version: i64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    architecture: String,
    #[serde(rename = "fsLayers")]
    fs_layers: Vec<FsLayer>,
    history: Vec<History>,
}

#[derive(Deserialize)]
struct FsLayer {
    #[serde(rename = "blobSum")]
    blob_sum: Digest,
}

#[derive(Deserialize)]
struct History {
    #[serde(rename = "v1Compatibility")]
    v1_compatibility: String,
}

impl Schema1Manifest {
    pub(super) fn parse(bytes: &[u8]) -> Result<Self> {
        let w: Wire =
            serde_json::from_slice(bytes).map_err(|e| Error::invalid(format!("invalid schema 1 manifest: {e}")))?;
        if w.schema_version != 1 {
            return Err(Error::invalid("schema 1 manifest without schemaVersion 1"));
        }
        if w.fs_layers.len() != w.history.len() || w.history.is_empty() {
            return Err(Error::invalid(
                "schema 1 manifest: fsLayers and history must be non-empty and of equal length",
            ));
        }
        Ok(Schema1Manifest {
            name: w.name,
            tag: w.tag,
            architecture: w.architecture,
            layers: w.fs_layers.into_iter().rev().map(|l| l.blob_sum).collect(),
            top_v1_compatibility: w.history.into_iter().next().map(|h| h.v1_compatibility).unwrap_or_default(),
        })
    }
}

#[derive(Deserialize)]
struct Signature {
    protected: String,
}

#[derive(Deserialize)]
struct Signed {
    signatures: Vec<Signature>,
}

#[derive(Deserialize)]
struct Protected {
    #[serde(rename = "formatLength")]
    format_length: usize,
    #[serde(rename = "formatTail")]
    format_tail: String,
}

/// The signed payload of a JWS-signed schema 1 manifest: the first
/// `formatLength` bytes followed by the decoded `formatTail`.
pub(super) fn jws_payload(bytes: &[u8]) -> Result<Vec<u8>> {
    let bad = |why: &str| Error::integrity(format!("invalid schema 1 signature: {why}"));
    let signed: Signed = serde_json::from_slice(bytes).map_err(|_| bad("no signatures"))?;
    let first = signed.signatures.first().ok_or_else(|| bad("empty signatures"))?;
    let header = URL_SAFE_NO_PAD
        .decode(first.protected.trim_end_matches('='))
        .map_err(|_| bad("protected header is not base64url"))?;
    let p: Protected = serde_json::from_slice(&header).map_err(|_| bad("protected header"))?;
    let tail =
        URL_SAFE_NO_PAD.decode(p.format_tail.trim_end_matches('=')).map_err(|_| bad("formatTail is not base64url"))?;
    if p.format_length > bytes.len() {
        return Err(bad("formatLength is past the end of the manifest"));
    }
    let mut payload = bytes[..p.format_length].to_vec();
    payload.extend_from_slice(&tail);
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_jws_signature() {
        let body = r#"{"schemaVersion":1,"fsLayers":[],"history":[]"#;
        let tail = "\n}";
        let protected = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"formatLength":{},"formatTail":"{}"}}"#,
            body.len(),
            URL_SAFE_NO_PAD.encode(tail)
        ));
        let signed = format!(r#"{body},"signatures":[{{"protected":"{protected}","signature":"x"}}]}}"#);
        let payload = jws_payload(signed.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(payload).unwrap(), format!("{body}{tail}"));
        let d = super::super::manifest_digest(signed.as_bytes()).unwrap();
        assert_eq!(d, Digest::sha256(format!("{body}{tail}").as_bytes()));
    }

    #[test]
    fn orders_layers_base_first() {
        let a = "sha256:".to_owned() + &"a".repeat(64);
        let b = "sha256:".to_owned() + &"b".repeat(64);
        let m = format!(
            r#"{{"schemaVersion":1,"tag":"t","fsLayers":[{{"blobSum":"{a}"}},{{"blobSum":"{b}"}}],"history":[{{"v1Compatibility":"{{}}"}},{{"v1Compatibility":"{{}}"}}]}}"#
        );
        let s = Schema1Manifest::parse(m.as_bytes()).unwrap();
        assert_eq!(s.layers[0].to_string(), b);
        assert_eq!(s.tag, "t");
    }
}
