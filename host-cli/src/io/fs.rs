//! File-system requests of the core: bounded reads, writes, renames,
//! directories, `stat`, and streamed writes of pieces (archives).
//!
//! Requests on small things (a manifest, a directory listing, a rename)
//! are done right away on the calling thread: handing each to tokio's
//! blocking pool costs more than the work, and most commands make a handful
//! (the configuration files the core looks for). Writes of whole archives
//! and removing trees go to the blocking pool.

use std::io::{Read as _, Write as _};

use super::error::of_io;
use super::failed;
use crate::runtime::wit::{FileInfo, FileKind, Reply, Request, StreamPiece, WriteStream};

fn io_failed(what: &str, e: &std::io::Error) -> Reply {
    failed(of_io(e), format!("{what}: {e}"))
}

pub async fn read_file(path: &str, max: u64) -> Reply {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return io_failed(&format!("open {path}"), &e),
    };
    // Sized from the file up front: from empty, reading grows the buffer from
    // 32 bytes, one system call per doubling.
    let size = file.metadata().map_or(0, |m| m.len()).min(max.saturating_add(1));
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // Read one byte past the limit to tell "exactly max" from "too long".
    match file.take(max.saturating_add(1)).read_to_end(&mut data) {
        Ok(_) if data.len() as u64 > max => {
            failed(crate::runtime::wit::IoErrorKind::TooLarge, format!("{path} is larger than {max} bytes"))
        }
        Ok(_) => Reply::Data(data),
        Err(e) => io_failed(&format!("read {path}"), &e),
    }
}

/// Carries out a file-system request from the core, replying `done`.
/// `from` renamed to `to` so that a power cut leaves the old state or the
/// new one: the data reaches the disk before the new name does, and the
/// directory holding the name after it.
fn durable_rename(from: &str, to: &str) -> std::io::Result<()> {
    std::fs::File::open(from)?.sync_all()?;
    std::fs::rename(from, to)?;
    let parent = std::path::Path::new(to).parent().filter(|p| !p.as_os_str().is_empty());
    std::fs::File::open(parent.unwrap_or(std::path::Path::new(".")))?.sync_all()
}

pub async fn apply(request: Request) -> Reply {
    let (what, result) = match request {
        Request::WriteFile(w) => (format!("write {}", w.path), std::fs::write(&w.path, &w.data)),
        Request::WritePrivateFile(w) => (format!("write {}", w.path), write_private(&w.path, &w.data)),
        Request::Rename(r) => (format!("rename {} to {}", r.from, r.to), durable_rename(&r.from, &r.to)),
        Request::CreateDir(p) => (format!("create directory {p}"), std::fs::create_dir_all(&p)),
        Request::Symlink(l) => (format!("symlink {}", l.path), std::os::unix::fs::symlink(&l.target, &l.path)),
        Request::RemoveFile(p) => (format!("remove {p}"), std::fs::remove_file(&p)),
        Request::RemoveDir(p) => (format!("remove {p}"), tokio::fs::remove_dir_all(&p).await),
        Request::ListDir(p) => return list_dir(&p).await,
        _ => return failed(crate::runtime::wit::IoErrorKind::Other, "not a file-system request"),
    };
    match result {
        Ok(()) => Reply::Done,
        Err(e) => io_failed(&what, &e),
    }
}

/// Creates or truncates `path`, readable by its owner only, with missing
/// parent directories (0700).
fn write_private(path: &str, data: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    // An existing file keeps its mode on open: set it.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(data)?;
    f.flush()
}

async fn list_dir(path: &str) -> Reply {
    let dir = match std::fs::read_dir(path) {
        Ok(d) => d,
        Err(e) => return io_failed(path, &e),
    };
    let mut names = Vec::new();
    for entry in dir {
        match entry {
            Ok(e) => names.push(e.file_name().to_string_lossy().into_owned()),
            Err(e) => return io_failed(path, &e),
        }
    }
    Reply::Entries(names)
}

fn kind_of(t: std::fs::FileType) -> FileKind {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        FileKind::Symlink
    } else if t.is_file() {
        FileKind::Regular
    } else if t.is_dir() {
        FileKind::Directory
    } else if t.is_fifo() {
        FileKind::Fifo
    } else if t.is_char_device() {
        FileKind::CharDevice
    } else if t.is_block_device() {
        FileKind::BlockDevice
    } else if t.is_socket() {
        FileKind::Socket
    } else {
        FileKind::Other
    }
}

/// `lstat`, and `stat` through a symlink; a missing path is `absent`.
pub async fn stat(path: String) -> Reply {
    use std::os::unix::fs::PermissionsExt as _;
    let absent = FileInfo { kind: FileKind::Absent, target: FileKind::Absent, size: 0, modified_ns: 0, mode: 0 };
    let mode = |m: &std::fs::Metadata| m.permissions().mode() & 0o7777;
    let modified = |m: &std::fs::Metadata| {
        m.modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    };
    let link = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Reply::FileInfo(absent),
        Err(e) => return io_failed(&path, &e),
    };
    let kind = kind_of(link.file_type());
    if kind != FileKind::Symlink {
        let (size, modified_ns, mode) = (link.len(), modified(&link), mode(&link));
        return Reply::FileInfo(FileInfo { kind, target: kind, size, modified_ns, mode });
    }
    match std::fs::metadata(&path) {
        Ok(m) => {
            let (target, size, modified_ns, mode) = (kind_of(m.file_type()), m.len(), modified(&m), mode(&m));
            Reply::FileInfo(FileInfo { kind, target, size, modified_ns, mode })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Reply::FileInfo(FileInfo { kind, target: FileKind::Absent, size: 0, modified_ns: 0, mode: 0 })
        }
        Err(e) => io_failed(&path, &e),
    }
}

/// Writes the pieces in order: created if absent, truncated if a regular
/// file, written through otherwise (a pipe, a device, a symlink to one).
pub async fn write_stream(w: WriteStream) -> Reply {
    tokio::task::spawn_blocking(move || {
        let result = (|| -> Result<(), Reply> {
            let what = format!("write {}", w.path);
            let regular = std::fs::metadata(&w.path).map(|m| m.is_file()).unwrap_or(true);
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(regular)
                .open(&w.path)
                .map_err(|e| io_failed(&what, &e))?;
            let mut out = std::io::BufWriter::with_capacity(256 << 10, file);
            for piece in &w.pieces {
                match piece {
                    StreamPiece::Bytes(b) => out.write_all(b).map_err(|e| io_failed(&what, &e))?,
                    StreamPiece::File(f) => {
                        let mut input = std::fs::File::open(&f.path).map_err(|e| io_failed(&f.path, &e))?;
                        let copied = std::io::copy(&mut (&mut input).take(f.size), &mut out)
                            .map_err(|e| io_failed(&what, &e))?;
                        let longer = input.read(&mut [0u8; 1]).map_err(|e| io_failed(&f.path, &e))? > 0;
                        if copied != f.size || longer {
                            return Err(failed(
                                crate::runtime::wit::IoErrorKind::Other,
                                format!("{} is not {} bytes long", f.path, f.size),
                            ));
                        }
                    }
                }
            }
            out.flush().map_err(|e| io_failed(&what, &e))
        })();
        result.err().unwrap_or(Reply::Done)
    })
    .await
    .unwrap_or_else(|e| failed(crate::runtime::wit::IoErrorKind::Other, format!("write task failed: {e}")))
}
