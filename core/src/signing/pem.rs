//! PEM as Go's `encoding/pem` reads it, which is laxer than RFC 7468:
//! text before a block is skipped, headers are allowed, and what follows
//! a block's END line is the rest. Sigstore's files and annotations are
//! made by Go tools, and containers/image's checks (a certificate
//! annotation with "trailing data") are defined by this decoder.

use base64::Engine as _;

/// One decoded block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub label: String,
    /// True when the block had `Key: value` headers (Go's `Headers`).
    pub has_headers: bool,
    pub bytes: Vec<u8>,
}

/// The first block in `data` and the bytes after it (Go's `pem.Decode`);
/// None when no well-formed block is found.
pub fn decode(data: &[u8]) -> Option<(Block, &[u8])> {
    let mut rest = data;
    loop {
        let start = find(rest, b"-----BEGIN ")?;
        let after = &rest[start + b"-----BEGIN ".len()..];
        match decode_at(after) {
            Some(found) => return Some(found),
            // Go goes on looking after a malformed BEGIN line.
            None => rest = after,
        }
    }
}

fn decode_at(after_begin: &[u8]) -> Option<(Block, &[u8])> {
    let line_end = after_begin.iter().position(|&b| b == b'\n').unwrap_or(after_begin.len());
    let line = trim_end(&after_begin[..line_end]);
    let label = std::str::from_utf8(line.strip_suffix(b"-----")?).ok()?.to_owned();
    let body_start = (line_end + 1).min(after_begin.len());
    let body = &after_begin[body_start..];
    let end_marker = format!("-----END {label}-----");
    let end = find(body, end_marker.as_bytes())?;
    let (inside, after_end) = (&body[..end], &body[end + end_marker.len()..]);
    // The END line must end there (spaces allowed), then one newline goes with it.
    let eol = after_end.iter().position(|&b| b == b'\n').unwrap_or(after_end.len());
    if !after_end[..eol].iter().all(|b| b" \t\r".contains(b)) {
        return None;
    }
    let rest = &after_end[(eol + 1).min(after_end.len())..];
    let text = std::str::from_utf8(inside).ok()?;
    let mut has_headers = false;
    let mut b64 = String::new();
    for l in text.lines() {
        if l.contains(':') {
            has_headers = true;
        } else {
            b64.extend(l.chars().filter(|c| !c.is_ascii_whitespace()));
        }
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some((Block { label, has_headers, bytes }, rest))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn trim_end(b: &[u8]) -> &[u8] {
    let n = b.iter().rposition(|c| !b" \t\r".contains(c)).map_or(0, |i| i + 1);
    &b[..n]
}

/// Every block of `data`, each one required (sigstore's strict
/// `UnmarshalCertificatesFromPEM`: surrounding whitespace only).
pub fn decode_all_strict(data: &[u8]) -> Result<Vec<Block>, String> {
    let mut rest = data.trim_ascii();
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (block, after) = decode(rest).ok_or_else(|| "error during PEM decoding".to_owned())?;
        out.push(block);
        rest = after.trim_ascii();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_found_as_go_finds_them() {
        let data = b"junk\n-----BEGIN X-----\nProc-Type: 4\n\naGk=\n-----END X-----\nafter";
        let (block, rest) = decode(data).unwrap();
        assert_eq!(block, Block { label: "X".to_owned(), has_headers: true, bytes: b"hi".to_vec() });
        assert_eq!(rest, b"after");
        assert!(decode(b"-----BEGIN X-----\naGk=\n-----END Y-----\n").is_none());
        assert!(decode(b"no pem here").is_none());
        let two = b"-----BEGIN A-----\naGk=\n-----END A-----\n\n-----BEGIN B-----\naGk=\n-----END B-----";
        assert_eq!(decode_all_strict(two).unwrap().len(), 2);
        assert!(decode_all_strict(b"-----BEGIN A-----\naGk=\n-----END A-----\nstray").is_err());
    }
}
