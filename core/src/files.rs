//! Files through the host: reads that map failures to errors, writes that
//! land atomically (a temporary name, then a rename), path joining. Shared by
//! the transports and the registry's lookaside storage.

use crate::engine::{Io, IoError, IoErrorKind};
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

/// Writes `path` through a temporary name and a rename.
pub(crate) async fn write_atomically(io: &Io, path: &str, data: &[u8]) -> Result<()> {
    let tmp = format!("{path}.skiff-tmp");
    io.fs(crate::engine::Request::WriteFile { path: tmp.clone(), data: data.to_vec() })
        .await
        .map_err(fs_error(format!("writing {tmp}")))?;
    io.fs(crate::engine::Request::Rename { from: tmp, to: path.to_owned() })
        .await
        .map_err(fs_error(format!("writing {path}")))
}

/// `root/name`, without doubling a trailing slash.
pub(crate) fn join(root: &str, name: &str) -> String {
    if root.ends_with('/') { format!("{root}{name}") } else { format!("{root}/{name}") }
}
