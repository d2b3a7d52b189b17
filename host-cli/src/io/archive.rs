//! Tar archives: an index of an archive's regular files (so the core reads
//! members in place, by offset), byte-range reads, packing a finished
//! staging layout into a tar (`oci-archive:`), and writing a tar of given
//! entries with fixed metadata, header for header as Go's archive/tar
//! writes them (`docker-archive:`, so skiff's archives equal skopeo's).
//! Blocking work runs on tokio's blocking pool.

use std::io::{Read, Seek, SeekFrom};

use super::failed;
use crate::runtime::wit::{FileRange, IoErrorKind, PackTar, Reply, TarEntry, TarMember, WriteTar};

fn io_failure(what: &str, e: std::io::Error) -> Reply {
    let kind = if e.kind() == std::io::ErrorKind::NotFound { IoErrorKind::NotFound } else { IoErrorKind::Other };
    failed(kind, format!("{what}: {e}"))
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

/// A tar of everything below `dir`, names relative to it, in a stable order.
pub async fn pack(p: PackTar) -> Reply {
    blocking(move || {
        let file = match std::fs::File::create(&p.archive) {
            Ok(f) => f,
            Err(e) => return io_failure(&p.archive, e),
        };
        let mut builder = tar::Builder::new(std::io::BufWriter::new(file));
        builder.follow_symlinks(false);
        let result = builder.append_dir_all(".", &p.dir).and_then(|_| builder.into_inner()).and_then(|mut w| {
            use std::io::Write;
            w.flush()
        });
        match result {
            Ok(()) => Reply::Done,
            Err(e) => io_failure(&p.archive, e),
        }
    })
    .await
}

/// A USTAR header as Go's `archive/tar` writes one for containers/image's
/// docker-archive entries: owner 0, time 0, device numbers written as
/// zeros, and the checksum as six octal digits, NUL, space.
fn go_header(
    name: &str,
    kind: tar::EntryType,
    mode: u32,
    size: u64,
    link: Option<&str>,
) -> std::io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name)?;
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(size);
    h.set_mtime(0);
    h.set_device_major(0)?;
    h.set_device_minor(0)?;
    if let Some(target) = link {
        h.set_link_name(target)?;
    }
    h.set_cksum();
    let sum = h.cksum()?;
    h.as_old_mut().cksum = {
        let mut field = [0u8; 8];
        field[..6].copy_from_slice(format!("{sum:06o}").as_bytes());
        field[7] = b' ';
        field
    };
    Ok(h)
}

/// Writes `w.entries` into `w.archive`, in order.
pub async fn write(w: WriteTar) -> Reply {
    blocking(move || {
        let result = (|| -> std::io::Result<()> {
            let file = std::fs::File::create(&w.archive)?;
            let mut builder = tar::Builder::new(std::io::BufWriter::new(file));
            for entry in &w.entries {
                match entry {
                    TarEntry::File((name, path)) => {
                        let mut f = std::fs::File::open(path)?;
                        let size = f.metadata()?.len();
                        let header = go_header(name, tar::EntryType::Regular, 0o444, size, None)?;
                        builder.append(&header, &mut f)?;
                    }
                    TarEntry::Data((name, data)) => {
                        let header = go_header(name, tar::EntryType::Regular, 0o444, data.len() as u64, None)?;
                        builder.append(&header, data.as_slice())?;
                    }
                    TarEntry::Symlink((name, target)) => {
                        let header = go_header(name, tar::EntryType::Symlink, 0, 0, Some(target))?;
                        builder.append(&header, std::io::empty())?;
                    }
                }
            }
            use std::io::Write;
            builder.into_inner()?.flush()
        })();
        match result {
            Ok(()) => Reply::Done,
            Err(e) => io_failure(&w.archive, e),
        }
    })
    .await
}
