//! Image signatures as containers/image stores them: blobs whose format is
//! told by their first byte. skiff copies them without verifying them (the
//! policy decides whether unverified images may be used at all); it checks
//! that each is a format a verifier could read, as skopeo does.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The largest signature read (containers/image's `MaxSignatureBodySize`).
pub const MAX_SIGNATURE_SIZE: u64 = 4 << 20;

/// Signatures read for one image before giving up, as containers/image does.
pub const MAX_SIGNATURES: usize = 128;

/// The error for a store that keeps offering signatures.
pub fn too_many_signatures(place: &str) -> crate::error::Error {
    crate::error::Error::integrity(format!(
        "{place} holds more than {MAX_SIGNATURES} signatures for one image, assuming that's unreasonable and an error"
    ))
}

/// A signature as containers/image holds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// An OpenPGP message (atomic container signature, "simple signing"), raw.
    SimpleSigning(Vec<u8>),
    /// A sigstore payload with its signature: the stored blob, format prefix included.
    Sigstore(Vec<u8>),
}

impl Signature {
    /// Reads a stored signature: raw OpenPGP, or a zero byte, the format's
    /// name and a newline before the data (containers/image's `FromBlob`).
    pub fn from_blob(blob: Vec<u8>) -> Result<Self> {
        match blob.first() {
            None => Err(Error::invalid("empty signature blob")),
            // OpenPGP compressed data, one-pass signature or signature packets,
            // old and new packet formats (containers/image's list).
            Some(0xA0..=0xA3 | 0xC8 | 0x90..=0x93 | 0xC4 | 0x88..=0x8B | 0xC2) => Ok(Signature::SimpleSigning(blob)),
            Some(0x00) => {
                let rest = &blob[1..];
                let newline = rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .ok_or_else(|| Error::invalid("invalid signature format, missing newline"))?;
                let (name, data) = (&rest[..newline], &rest[newline + 1..]);
                if let Some(b) = name.iter().find(|&&b| !(32..0x7F).contains(&b)) {
                    return Err(Error::invalid(format!("invalid signature format, non-ASCII byte {b:#x}")));
                }
                match name {
                    b"simple-signing" => Ok(Signature::SimpleSigning(data.to_vec())),
                    b"sigstore-json" => {
                        SigstoreParts::parse(data)?;
                        Ok(Signature::Sigstore(blob))
                    }
                    other => Err(Error::invalid(format!(
                        "unrecognized signature format {:?}",
                        String::from_utf8_lossy(other)
                    ))),
                }
            }
            Some(b) => Err(Error::invalid(format!("unrecognized signature format, starting with binary {b:#x}"))),
        }
    }

    /// The blob as `dir:` stores it: simple signing raw, other formats prefixed.
    pub fn blob(&self) -> &[u8] {
        match self {
            Signature::SimpleSigning(b) | Signature::Sigstore(b) => b,
        }
    }

    /// A sigstore signature made of its parts (an attachment layer's media
    /// type, bytes and annotations).
    pub fn sigstore(parts: &SigstoreParts) -> Result<Signature> {
        let wire = Wire {
            mime_type: parts.mime_type.clone(),
            payload: base64::engine::general_purpose::STANDARD.encode(&parts.payload),
            annotations: parts.annotations.clone(),
        };
        let json = serde_json::to_string(&wire).map_err(|e| Error::other(format!("encoding a signature: {e}")))?;
        let mut blob = SIGSTORE_PREFIX.to_vec();
        blob.extend_from_slice(crate::go::json::html_escape(&json).as_bytes());
        Ok(Signature::Sigstore(blob))
    }

    /// The parts of a sigstore signature; None for simple signing.
    pub fn sigstore_parts(&self) -> Option<SigstoreParts> {
        match self {
            Signature::Sigstore(b) => {
                Some(SigstoreParts::parse(&b[SIGSTORE_PREFIX.len()..]).expect("checked when the signature was read"))
            }
            Signature::SimpleSigning(_) => None,
        }
    }
}

/// How a sigstore signature's blob starts (containers/image's framing).
pub const SIGSTORE_PREFIX: &[u8] = b"\0sigstore-json\n";

/// A sigstore signature: the payload (unverified until a policy checks it),
/// its media type and the annotations holding the cryptographic parts.
/// `annotations` keeps Go's distinction between none (`null`) and empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigstoreParts {
    pub mime_type: String,
    pub payload: Vec<u8>,
    pub annotations: Option<BTreeMap<String, String>>,
}

/// containers/image's `sigstoreJSONRepresentation`, in its field order.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    #[serde(default)]
    mime_type: String,
    /// Go's `[]byte`: standard base64.
    #[serde(default)]
    payload: String,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

impl SigstoreParts {
    /// Reads the JSON after the framing, as leniently as Go's `json.Unmarshal`.
    fn parse(json: &[u8]) -> Result<Self> {
        let bad = |e: String| Error::invalid(format!("invalid sigstore signature: {e}"));
        let w: Wire = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
        let payload = base64::engine::general_purpose::STANDARD.decode(&w.payload).map_err(|e| bad(e.to_string()))?;
        Ok(SigstoreParts { mime_type: w.mime_type, payload, annotations: w.annotations })
    }

    /// An annotation's value, if present.
    pub fn annotation(&self, name: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> Result<Signature> {
        Signature::from_blob(b.to_vec())
    }

    #[test]
    fn formats_are_told_by_their_first_bytes() {
        assert_eq!(parse(b"\xa3\x01rest").unwrap(), Signature::SimpleSigning(b"\xa3\x01rest".to_vec()));
        assert_eq!(parse(b"\x89\x02").unwrap().blob(), b"\x89\x02");
        // A prefixed simple signature is stored raw, as containers/image stores it.
        assert_eq!(parse(b"\x00simple-signing\n\xa3").unwrap().blob(), b"\xa3");
        let sigstore = b"\x00sigstore-json\n{\"mimeType\":\"x\"}";
        assert_eq!(parse(sigstore).unwrap(), Signature::Sigstore(sigstore.to_vec()));
        let err = |b: &[u8]| parse(b).unwrap_err().to_string();
        assert!(err(b"second").contains("starting with binary 0x73"));
        assert!(err(b"").contains("empty"));
        assert!(err(b"\x00sigstore-json").contains("missing newline"));
        assert!(err(b"\x00sigstore-json\nnot json").contains("invalid sigstore"));
        assert!(err(b"\x00odd\x01\n").contains("non-ASCII byte 0x1"));
        assert!(err(b"\x00cosign\n{}").contains("\"cosign\""));
        assert!(err(b"\x00sigstore-json\n{\"payload\":\"*\"}").contains("invalid sigstore"));
    }

    #[test]
    fn sigstore_parts_round_trip_in_gos_encoding() {
        let parts = SigstoreParts {
            mime_type: "application/x<y>".to_owned(),
            payload: b"{\"a\":1}".to_vec(),
            annotations: Some([("k".to_owned(), "v&w".to_owned())].into_iter().collect()),
        };
        let s = Signature::sigstore(&parts).unwrap();
        let expected = "\0sigstore-json\n{\"mimeType\":\"application/x\\u003cy\\u003e\",\"payload\":\"eyJhIjoxfQ==\",\"annotations\":{\"k\":\"v\\u0026w\"}}";
        assert_eq!(s.blob(), expected.as_bytes());
        assert_eq!(s.sigstore_parts().unwrap(), parts);
        let none = Signature::sigstore(&SigstoreParts { annotations: None, ..parts }).unwrap();
        assert!(none.blob().ends_with(b"\"annotations\":null}"));
    }
}
