//! Image signatures as containers/image stores them: blobs whose format is
//! told by their first byte. skiff copies them without verifying them (the
//! policy decides whether unverified images may be used at all); it checks
//! that each is a format a verifier could read, as skopeo does.

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
                        serde_json::from_slice::<serde_json::Value>(data)
                            .map_err(|e| Error::invalid(format!("invalid sigstore signature: {e}")))?;
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
    }
}
