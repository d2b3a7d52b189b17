//! Image signatures as containers/image stores them: opaque blobs whose
//! format is told by their first byte. skiff copies them unchanged; it
//! only checks that each is a format a verifier could read, as skopeo does
//! before it stores one.

use crate::error::{Error, Result};

/// The largest signature read (containers/image's `MaxSignatureBodySize`).
pub const MAX_SIGNATURE_SIZE: u64 = 4 << 20;

/// The formats containers/image knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An OpenPGP message (atomic container signature, "simple signing").
    SimpleSigning,
    /// A sigstore payload with its signature, as JSON.
    Sigstore,
}

/// The format of a stored signature: raw OpenPGP, or a zero byte, the
/// format's name and a newline before the data.
pub fn format_of(blob: &[u8]) -> Result<Format> {
    match blob.first() {
        None => Err(Error::invalid("empty signature blob")),
        // OpenPGP compressed data, one-pass signature or signature packets,
        // old and new packet formats (containers/image's list).
        Some(0xA0..=0xA3 | 0xC8 | 0x90..=0x93 | 0xC4 | 0x88..=0x8B | 0xC2) => Ok(Format::SimpleSigning),
        Some(0x00) => {
            let rest = &blob[1..];
            let newline = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or_else(|| Error::invalid("invalid signature format, missing newline"))?;
            let name = &rest[..newline];
            if let Some(b) = name.iter().find(|&&b| !(32..0x7F).contains(&b)) {
                return Err(Error::invalid(format!("invalid signature format, non-ASCII byte {b:#x}")));
            }
            match name {
                b"simple-signing" => Ok(Format::SimpleSigning),
                b"sigstore-json" => {
                    serde_json::from_slice::<serde_json::Value>(&rest[newline + 1..])
                        .map_err(|e| Error::invalid(format!("invalid sigstore signature: {e}")))?;
                    Ok(Format::Sigstore)
                }
                other => {
                    Err(Error::invalid(format!("unrecognized signature format {:?}", String::from_utf8_lossy(other))))
                }
            }
        }
        Some(b) => Err(Error::invalid(format!("unrecognized signature format, starting with binary {b:#x}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_their_first_bytes() {
        assert_eq!(format_of(b"\xa3\x01rest").unwrap(), Format::SimpleSigning);
        assert_eq!(format_of(b"\x89\x02").unwrap(), Format::SimpleSigning);
        assert_eq!(format_of(b"\x00simple-signing\n\xa3").unwrap(), Format::SimpleSigning);
        assert_eq!(format_of(b"\x00sigstore-json\n{\"mimeType\":\"x\"}").unwrap(), Format::Sigstore);
        let err = |b: &[u8]| format_of(b).unwrap_err().to_string();
        assert!(err(b"second").contains("starting with binary 0x73"));
        assert!(err(b"").contains("empty"));
        assert!(err(b"\x00sigstore-json").contains("missing newline"));
        assert!(err(b"\x00sigstore-json\nnot json").contains("invalid sigstore"));
        assert!(err(b"\x00odd\x01\n").contains("non-ASCII byte 0x1"));
        assert!(err(b"\x00cosign\n{}").contains("\"cosign\""));
    }
}
