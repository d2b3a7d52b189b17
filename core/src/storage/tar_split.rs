//! A layer's tar as containers/storage re-exports it: its
//! `<layer>.tar-split.gz` (gzip over JSON lines, vbatts/tar-split) holds
//! every byte of the original tar except file contents — type 2 entries
//! are raw segments (headers, padding, the end), type 1 entries name a
//! file of the layer directory whose bytes go there. The result is a list
//! of pieces for the host's `write-stream`, byte for byte the tar whose
//! digest is the layer's diff ID (checked when the blob is copied).

use std::io::{BufRead as _, Read as _};

use base64::Engine as _;
use serde::Deserialize;

use super::location::Store;
use crate::engine::{Io, Request, StreamPiece};
use crate::error::{Error, ErrorKind, Result};

/// The most a layer's tar-split may hold (compressed).
const MAX_TAR_SPLIT: u64 = 64 << 20;

/// The most a tar-split may hold once inflated (metadata, not contents).
const MAX_INFLATED: u64 = 256 << 20;

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    name_raw: Option<String>,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    payload: Option<String>,
}

/// The pieces of the tar `gz` (a tar-split) describes, file contents read
/// from under `root`; a name that would leave `root` is refused.
pub fn pieces(gz: &[u8], root: &str) -> Result<Vec<StreamPiece>> {
    let bad = |why: String| Error::integrity(format!("invalid tar-split: {why}"));
    let mut inflated = Vec::new();
    flate2::read::MultiGzDecoder::new(gz)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| bad(e.to_string()))?;
    if inflated.len() as u64 > MAX_INFLATED {
        return Err(bad(format!("more than {MAX_INFLATED} bytes")));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out: Vec<StreamPiece> = Vec::new();
    for line in inflated.lines() {
        let line = line.map_err(|e| bad(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        match entry.kind {
            2 => {
                let bytes = b64.decode(entry.payload.unwrap_or_default()).map_err(|e| bad(e.to_string()))?;
                match out.last_mut() {
                    Some(StreamPiece::Bytes(b)) => b.extend_from_slice(&bytes),
                    _ => out.push(StreamPiece::Bytes(bytes)),
                }
            }
            1 if entry.size == 0 => {}
            1 => {
                let name = match (entry.name, entry.name_raw) {
                    (Some(n), _) => n,
                    (None, Some(raw)) => String::from_utf8(b64.decode(raw).map_err(|e| bad(e.to_string()))?)
                        .map_err(|_| bad("a file name that is not UTF-8 (not supported by skiff)".to_owned()))?,
                    (None, None) => return Err(bad("a file entry without a name".to_owned())),
                };
                let clean = name.trim_start_matches("./");
                if clean.starts_with('/') || clean.split('/').any(|c| c == "..") {
                    return Err(bad(format!("file name {} leaves the layer", crate::error::sanitize(&name))));
                }
                out.push(StreamPiece::File { path: format!("{root}/{clean}"), size: entry.size });
            }
            other => return Err(bad(format!("unknown entry type {other}"))),
        }
    }
    Ok(out)
}

/// Puts the tar of layer `id` of `store` together into the file `path`
/// (created or truncated): its tar-split with the layer directory's files.
pub async fn reassemble(io: &Io, store: &Store, id: &str, path: &str) -> Result<()> {
    let split_path = format!("{}/{id}.tar-split.gz", store.layers_dir());
    let split = io
        .read_file(split_path.clone(), MAX_TAR_SPLIT)
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("reading {split_path}: {}", e.message)))?;
    let pieces = pieces(&split, &store.layer_root(id)).map_err(|e| e.context(&split_path))?;
    io.fs(Request::WriteStream { path: path.to_owned(), pieces })
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("re-assembling layer {id} of the store: {}", e.message)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn gz(lines: &[&str]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(lines.join("\n").as_bytes()).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn segments_and_files_become_pieces() {
        let split = gz(&[
            r#"{"type":2,"payload":"aGVhZA==","position":0}"#,
            r#"{"type":2,"payload":"ZXI=","position":1}"#,
            r#"{"type":1,"name":"./usr/bin/x","size":18,"payload":"98Q4Uosc0Tw=","position":2}"#,
            r#"{"type":1,"name":"empty","size":0,"position":3}"#,
            r#"{"type":2,"payload":"AAAA","position":4}"#,
        ]);
        let p = pieces(&split, "/l").unwrap();
        assert_eq!(
            p,
            vec![
                StreamPiece::Bytes(b"header".to_vec()),
                StreamPiece::File { path: "/l/usr/bin/x".into(), size: 18 },
                StreamPiece::Bytes(vec![0, 0, 0]),
            ]
        );
    }

    #[test]
    fn names_that_leave_the_layer_are_refused() {
        for name in ["../etc/passwd", "/etc/passwd", "a/../../b"] {
            let split = gz(&[&format!(r#"{{"type":1,"name":"{name}","size":1}}"#)]);
            assert!(pieces(&split, "/l").unwrap_err().message.contains("leaves the layer"), "{name}");
        }
        assert!(pieces(b"not gzip", "/l").is_err());
    }
}
