//! Tar archives: an index of an archive's regular files (so the core reads
//! members in place, by offset) and byte-range reads. (Archives the core
//! writes come as `write-stream` pieces, headers made by the core.)
//! Blocking work runs on tokio's blocking pool.

use std::io::{Read, Seek, SeekFrom};

use super::failed;
use crate::runtime::wit::{FileRange, IoErrorKind, Reply, TarMember};

fn io_failure(what: &str, e: std::io::Error) -> Reply {
    failed(super::error::of_io(&e), format!("{what}: {e}"))
}

async fn blocking(f: impl FnOnce() -> Reply + Send + 'static) -> Reply {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| failed(IoErrorKind::Other, format!("archive task failed: {e}")))
}

/// The regular files of an uncompressed tar, with where their bytes start.
pub async fn index(path: String) -> Reply {
    blocking(move || {
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => return io_failure(&path, e),
        };
        let mut magic = [0u8; 2];
        if file.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b] {
            return failed(IoErrorKind::Other, format!("{path} is gzip-compressed; an oci-archive is a plain tar"));
        }
        if let Err(e) = file.seek(SeekFrom::Start(0)) {
            return io_failure(&path, e);
        }
        let mut archive = tar::Archive::new(file);
        let entries = match archive.entries_with_seek() {
            Ok(e) => e,
            Err(e) => return io_failure(&path, e),
        };
        let mut members = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => return failed(IoErrorKind::Other, format!("{path}: not a valid tar archive: {e}")),
            };
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let Ok(name) = entry.path().map(|p| p.to_string_lossy().into_owned()) else { continue };
            members.push(TarMember { name, offset: entry.raw_file_position(), size: entry.size() });
        }
        Reply::Members(members)
    })
    .await
}

/// `length` bytes at `offset`.
pub async fn read_range(r: FileRange) -> Reply {
    blocking(move || {
        let mut file = match std::fs::File::open(&r.path) {
            Ok(f) => f,
            Err(e) => return io_failure(&r.path, e),
        };
        let mut data = vec![0; usize::try_from(r.length).unwrap_or(0)];
        match file.seek(SeekFrom::Start(r.offset)).and_then(|_| file.read_exact(&mut data)) {
            Ok(()) => Reply::Data(data),
            Err(e) => io_failure(&r.path, e),
        }
    })
    .await
}
