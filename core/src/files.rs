//! Files through the host: reads that map failures to errors, writes that
//! land atomically (a temporary name, then a rename), path joining. Shared by
//! the transports and the registry's lookaside storage.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::engine::{FileKind, Io, IoError, IoErrorKind, Request, StreamPiece};
use crate::error::{Error, ErrorKind, Result};

/// Reads a local file through the host, mapping failures to errors.
pub(crate) async fn read_local(io: &Io, path: String, max: u64) -> Result<Vec<u8>> {
    io.read_file(path.clone(), max).await.map_err(|e| file_error(&path, e))
}

pub(crate) fn file_error(path: &str, e: IoError) -> Error {
    let kind = match e.kind {
        IoErrorKind::TooLarge => ErrorKind::Integrity,
        _ => ErrorKind::Io,
    };
    Error::new(kind, format!("reading {path}: {}", e.message))
}

/// Maps a failed file-system request about `what` to an error.
pub(crate) fn fs_error(what: String) -> impl FnOnce(IoError) -> Error {
    move |e| Error::new(ErrorKind::Io, format!("{what}: {}", e.message))
}

/// This process's id, as the host said it (0: unknown).
static PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Records the process id the host gave, which names temporary files.
pub(crate) fn set_pid(pid: u32) {
    PID.store(pid, Ordering::Relaxed);
}

/// A temporary name beside `path`, unique within this process (images
/// copied at once into one layout write the same blobs and `index.json`)
/// and naming it (`<path>.<pid>-<n>.skiff-tmp`), so that a later run can
/// tell one left by a process that was killed.
pub(crate) fn temporary_name(path: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{path}.{}-{}.skiff-tmp", PID.load(Ordering::Relaxed), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Removes from `dir` the temporary files of skiff processes that no
/// longer run (`/proc/<pid>` is gone); those of live ones, and of unknown
/// owners, stay. An interrupted copy's partial blobs do not pile up. With
/// `of`, only the temporaries of that file name (an archive's, beside it
/// in a directory that holds other things).
pub(crate) async fn sweep_dead_temporaries(io: &Io, dir: &str, of: Option<&str>) {
    let Ok(names) = io.list_dir(dir.to_owned()).await else { return };
    let own = PID.load(Ordering::Relaxed);
    for name in names {
        if of.is_some_and(|file| !name.strip_prefix(file).is_some_and(|rest| rest.starts_with('.'))) {
            continue;
        }
        let Some(stem) = name.strip_suffix(".skiff-tmp") else { continue };
        let Some(pid) =
            stem.rsplit('.').next().and_then(|t| t.split_once('-')).and_then(|(p, _)| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == 0 || pid == own {
            continue;
        }
        let alive = io.stat(format!("/proc/{pid}")).await.map(|i| i.kind != FileKind::Absent);
        if alive == Ok(false) {
            let _ = io.fs(Request::RemoveFile { path: join(dir, &name) }).await;
        }
    }
}

/// Runs `work` holding the exclusive lock on directory `dir`, released
/// whatever `work` returns. Writers of one OCI layout take turns at its
/// `index.json` (each re-reads it under the lock), so two copies at once
/// both end up in it, and a delete never removes blobs under a commit.
pub(crate) async fn locked<T>(io: &Io, dir: &str, work: impl Future<Output = Result<T>>) -> Result<T> {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    io.fs(Request::Lock { id, path: dir.to_owned() }).await.map_err(fs_error(format!("locking {dir}")))?;
    let result = work.await;
    // The change is made (or not) by now: a release that reports an error
    // (the descriptor is closed, and the lock with it, all the same) is
    // worth a warning, not a failure of what was done.
    if let Err(e) = io.fs(Request::Unlock { id }).await {
        io.warn(format!("unlocking {dir}: {}", e.message));
    }
    result
}

/// Writes `path` through a temporary name and a rename.
pub(crate) async fn write_atomically(io: &Io, path: &str, data: &[u8]) -> Result<()> {
    let tmp = temporary_name(path);
    io.fs(Request::WriteFile { path: tmp.clone(), data: data.to_vec() })
        .await
        .map_err(fs_error(format!("writing {tmp}")))?;
    io.fs(Request::Rename { from: tmp, to: path.to_owned() }).await.map_err(fs_error(format!("writing {path}")))
}

/// `root/name`, without doubling a trailing slash.
pub(crate) fn join(root: &str, name: &str) -> String {
    if root.ends_with('/') { format!("{root}{name}") } else { format!("{root}/{name}") }
}

/// How an archive reaches its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArchiveOutput {
    /// Written under a temporary name and renamed into place, so a killed
    /// copy never leaves something that looks complete.
    Atomic,
    /// Written through as it is: a pipe, a terminal or other device, or a
    /// symlink, which a rename would replace.
    InPlace,
}

/// How to write an archive to `path`, from what is there now. Nothing but
/// an absent path or a regular file is ever renamed over; `existing`, when
/// given, is the error for a regular file that already has contents (as
/// `docker-archive:` refuses to modify existing images).
pub(crate) async fn archive_output(io: &Io, path: &str, existing: Option<&str>) -> Result<ArchiveOutput> {
    let info = io.stat(path.to_owned()).await.map_err(fs_error(format!("reading {path}")))?;
    let refuse_contents = |size: u64| match existing {
        Some(message) if size > 0 => Err(Error::invalid(message.to_owned())),
        _ => Ok(()),
    };
    match (info.kind, info.target) {
        (FileKind::Absent, _) => Ok(ArchiveOutput::Atomic),
        (FileKind::Regular, _) => refuse_contents(info.size).map(|_| ArchiveOutput::Atomic),
        (FileKind::Symlink, FileKind::Regular) => refuse_contents(info.size).map(|_| ArchiveOutput::InPlace),
        (FileKind::Symlink, FileKind::Absent | FileKind::Fifo | FileKind::CharDevice)
        | (FileKind::Fifo | FileKind::CharDevice, _) => Ok(ArchiveOutput::InPlace),
        (FileKind::Directory, _) | (FileKind::Symlink, FileKind::Directory) => {
            Err(Error::invalid(format!("{path} is a directory, not an archive file")))
        }
        _ => Err(Error::invalid(format!("{path} is not a regular file, a pipe or a character device"))),
    }
}

/// Writes `pieces` to `path` the way `output` says.
pub(crate) async fn write_archive(io: &Io, path: &str, output: ArchiveOutput, pieces: Vec<StreamPiece>) -> Result<()> {
    let target = match output {
        ArchiveOutput::Atomic => {
            // What a killed run left while writing this archive.
            let (dir, file) = match path.rsplit_once('/') {
                Some(("", file)) => ("/", file),
                Some(split) => split,
                None => (".", path),
            };
            sweep_dead_temporaries(io, dir, Some(file)).await;
            temporary_name(path)
        }
        ArchiveOutput::InPlace => path.to_owned(),
    };
    io.fs(Request::WriteStream { path: target.clone(), pieces })
        .await
        .map_err(fs_error(format!("writing {target}")))?;
    if output == ArchiveOutput::Atomic {
        io.fs(Request::Rename { from: target, to: path.to_owned() })
            .await
            .map_err(fs_error(format!("writing {path}")))?;
    }
    Ok(())
}
