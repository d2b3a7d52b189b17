//! Go's `base64.StdEncoding.DecodeString`, which skips `\r` and `\n`
//! (signatures and SETs made by Go tools may be wrapped).

use base64::Engine as _;

pub fn decode_std(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let clean: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    base64::engine::general_purpose::STANDARD.decode(clean)
}

#[cfg(test)]
mod tests {
    #[test]
    fn line_breaks_are_skipped() {
        assert_eq!(super::decode_std("aGVs\r\nbG8=\n").unwrap(), b"hello");
        assert!(super::decode_std("aGVs bG8=").is_err());
    }
}
