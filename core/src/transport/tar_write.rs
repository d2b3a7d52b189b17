//! Tar archives the core writes (`docker-archive:`, `oci-archive:`): every
//! header byte is made here and the host only concatenates the pieces, so
//! every host writes the same archive.
//!
//! Hand-written rather than with the `tar` crate because the bytes must be
//! those of Go's `archive/tar` as containers/image uses it (so skiff's
//! docker-archive equals skopeo's): USTAR headers, owner 0, time 0, device
//! numbers written as zeros, the checksum as six octal digits, NUL, space;
//! a name that does not fit USTAR's name/prefix split goes in a PAX record.

use crate::engine::{FileKind, Io, StreamPiece};
use crate::error::{Error, Result};
use crate::files::{fs_error, join};

const BLOCK: usize = 512;

/// One entry of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarEntry {
    /// `name` holding the `size` bytes of the file at `path`.
    File { name: String, path: String, size: u64, mode: u32 },
    /// `name` holding `data`.
    Data { name: String, data: Vec<u8>, mode: u32 },
    /// A symbolic link `name` → `target`.
    Symlink { name: String, target: String },
    /// A directory (`name` ends with `/`).
    Dir { name: String, mode: u32 },
}

/// Writes `value` as zero-padded octal filling `field` but its last byte (NUL).
fn octal(field: &mut [u8], value: u64) -> Result<()> {
    let digits = format!("{value:0width$o}", width = field.len() - 1);
    if digits.len() > field.len() - 1 {
        return Err(Error::invalid(format!("{value} does not fit a tar header field")));
    }
    field[..digits.len()].copy_from_slice(digits.as_bytes());
    field[digits.len()] = 0;
    Ok(())
}

/// USTAR's split of a long name into prefix (≤ 155) and name (≤ 100) at a `/`.
fn split_name(name: &str) -> Option<(&str, &str)> {
    if name.len() <= 100 {
        return Some(("", name));
    }
    let bytes = name.as_bytes();
    (0..bytes.len()).rev().filter(|&i| bytes[i] == b'/').find_map(|i| {
        let (prefix, rest) = (&name[..i], &name[i + 1..]);
        (prefix.len() <= 155 && rest.len() <= 100 && !rest.is_empty()).then_some((prefix, rest))
    })
}

/// One 512-byte header.
fn header(name: &str, kind: u8, mode: u32, size: u64, link: &str) -> Result<[u8; BLOCK]> {
    let mut h = [0u8; BLOCK];
    let (prefix, short) = split_name(name).unwrap_or(("", ""));
    let short = if short.is_empty() { &name[..name.floor_char_boundary(100)] } else { short };
    h[..short.len()].copy_from_slice(short.as_bytes());
    octal(&mut h[100..108], u64::from(mode))?;
    octal(&mut h[108..116], 0)?; // uid
    octal(&mut h[116..124], 0)?; // gid
    octal(&mut h[124..136], size)?;
    octal(&mut h[136..148], 0)?; // mtime
    h[156] = kind;
    if link.len() > 100 {
        return Err(Error::invalid(format!("link target {link} is too long for a tar header")));
    }
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], 0)?; // devmajor
    octal(&mut h[337..345], 0)?; // devminor
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    // The checksum is computed with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..154].copy_from_slice(format!("{sum:06o}").as_bytes());
    h[154] = 0;
    h[155] = b' ';
    Ok(h)
}

/// A PAX extended header carrying `path` for a name USTAR cannot hold.
fn pax_path(name: &str) -> Result<Vec<u8>> {
    // Each record is "<len> path=<name>\n", its length counting itself.
    let body_len = " path=".len() + name.len() + 1;
    let mut len = body_len + 1;
    while len != body_len + len.to_string().len() {
        len = body_len + len.to_string().len();
    }
    let record = format!("{len} path={name}\n");
    let mut out = header("PaxHeaders.0/path", b'x', 0o644, record.len() as u64, "")?.to_vec();
    out.extend_from_slice(record.as_bytes());
    out.resize(out.len().next_multiple_of(BLOCK), 0);
    Ok(out)
}

fn padding(size: u64) -> usize {
    (BLOCK - (size % BLOCK as u64) as usize) % BLOCK
}

/// The archive of `entries`, in order, as pieces for a `write-stream`.
pub fn encode(entries: &[TarEntry]) -> Result<Vec<StreamPiece>> {
    let mut pieces = Vec::new();
    let mut bytes: Vec<u8> = Vec::new();
    for e in entries {
        let (name, kind, mode, size, link) = match e {
            TarEntry::File { name, size, mode, .. } => (name, b'0', *mode, *size, ""),
            TarEntry::Data { name, data, mode } => (name, b'0', *mode, data.len() as u64, ""),
            TarEntry::Symlink { name, target } => (name, b'2', 0, 0, target.as_str()),
            TarEntry::Dir { name, mode } => (name, b'5', *mode, 0, ""),
        };
        if split_name(name).is_none() {
            bytes.extend(pax_path(name)?);
        }
        bytes.extend_from_slice(&header(name, kind, mode, size, link)?);
        match e {
            TarEntry::File { path, size, .. } => {
                pieces.push(StreamPiece::Bytes(std::mem::take(&mut bytes)));
                pieces.push(StreamPiece::File { path: path.clone(), size: *size });
            }
            TarEntry::Data { data, .. } => bytes.extend_from_slice(data),
            _ => {}
        }
        bytes.resize(bytes.len() + padding(size), 0);
    }
    // Two zero blocks end the archive.
    bytes.resize(bytes.len() + 2 * BLOCK, 0);
    pieces.push(StreamPiece::Bytes(bytes));
    pieces.retain(|p| !matches!(p, StreamPiece::Bytes(b) if b.is_empty()));
    Ok(pieces)
}

/// Every directory and regular file below `dir` (a layout the core wrote),
/// names relative to it, directories first and each level sorted, as
/// entries with fixed metadata.
pub async fn directory_entries(io: &Io, dir: &str) -> Result<Vec<TarEntry>> {
    let mut entries = Vec::new();
    let mut pending = vec![String::new()];
    while let Some(rel) = pending.pop() {
        let here = if rel.is_empty() { dir.to_owned() } else { join(dir, &rel) };
        let mut names = io.list_dir(here.clone()).await.map_err(fs_error(format!("reading {here}")))?;
        names.sort();
        let mut subdirs = Vec::new();
        for n in names {
            let name = format!("{rel}{n}");
            let path = join(dir, &name);
            let info = io.stat(path.clone()).await.map_err(fs_error(format!("reading {path}")))?;
            match info.kind {
                FileKind::Regular => entries.push(TarEntry::File { name, path, size: info.size, mode: 0o644 }),
                FileKind::Directory => {
                    entries.push(TarEntry::Dir { name: format!("{name}/"), mode: 0o755 });
                    subdirs.push(format!("{name}/"));
                }
                _ => return Err(Error::invalid(format!("{path} is neither a file nor a directory"))),
            }
        }
        // Depth first, in name order.
        pending.extend(subdirs.into_iter().rev());
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(h: &[u8], r: std::ops::Range<usize>) -> String {
        String::from_utf8_lossy(&h[r]).trim_end_matches('\0').to_owned()
    }

    #[test]
    fn headers_are_go_ustar() {
        let h = header("abc/VERSION", b'0', 0o444, 3, "").unwrap();
        assert_eq!(field(&h, 0..100), "abc/VERSION");
        assert_eq!(&h[100..108], b"0000444\0");
        assert_eq!(&h[124..136], b"00000000003\0");
        assert_eq!(&h[136..148], b"00000000000\0");
        assert_eq!(&h[257..265], b"ustar\x0000");
        assert_eq!(&h[329..345], b"0000000\x000000000\0");
        // Checksum: six octal digits, NUL, space; and it checks out.
        assert_eq!(h[154], 0);
        assert_eq!(h[155], b' ');
        let mut spaced = h;
        spaced[148..156].copy_from_slice(b"        ");
        let sum: u32 = spaced.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(field(&h, 148..154), format!("{sum:06o}"));
    }

    #[test]
    fn long_names_split_or_go_to_pax() {
        let name = format!("blobs/sha256/{}", "a".repeat(90));
        let h = header(&name, b'0', 0o644, 0, "").unwrap();
        assert_eq!(field(&h, 345..500), "blobs/sha256");
        assert_eq!(field(&h, 0..100), "a".repeat(90));
        let long = format!("blobs/sha512/{}", "b".repeat(128));
        assert!(split_name(&long).is_none());
        let pieces = encode(&[TarEntry::Data { name: long.clone(), data: b"x".to_vec(), mode: 0o644 }]).unwrap();
        let StreamPiece::Bytes(b) = &pieces[0] else { panic!() };
        assert_eq!(b[156], b'x');
        let record = String::from_utf8_lossy(&b[512..1024]);
        let line = record.trim_end_matches('\0');
        let (len, rest) = line.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), line.len(), "a PAX record's length counts itself");
        assert_eq!(rest, format!("path={long}\n"));
    }

    #[test]
    fn files_are_pieces_between_headers_and_padding() {
        let entries = [
            TarEntry::File { name: "a.tar".into(), path: "/s/a".into(), size: 700, mode: 0o444 },
            TarEntry::Symlink { name: "x/layer.tar".into(), target: "../a.tar".into() },
            TarEntry::Data { name: "m".into(), data: b"{}".to_vec(), mode: 0o444 },
        ];
        let pieces = encode(&entries).unwrap();
        assert_eq!(pieces.len(), 3);
        let StreamPiece::Bytes(first) = &pieces[0] else { panic!() };
        assert_eq!(first.len(), 512);
        assert_eq!(pieces[1], StreamPiece::File { path: "/s/a".into(), size: 700 });
        let StreamPiece::Bytes(rest) = &pieces[2] else { panic!() };
        // 324 bytes of padding after 700, two headers, 512 for "{}", and the end.
        assert_eq!(rest.len(), 324 + 512 + 512 + 512 + 1024);
        assert_eq!(rest[324 + 156], b'2');
        assert_eq!(field(rest, 324 + 157..324 + 257), "../a.tar");
        let total = 512 + 700 + rest.len();
        assert_eq!(total % 512, 0);
    }
}
