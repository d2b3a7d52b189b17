//! What the local destinations (a layout, `dir:`, a `docker save` staging
//! directory) share: each names a path per blob, and stores blobs there the
//! same way, through a temporary name renamed into place once checked.

use super::{BlobStore, LocalBoxFuture};
use crate::digest::Digest;
use crate::engine::{BlobSink, FileKind, Io, IoErrorKind, Request};
use crate::error::Result;
use crate::files::temporary_name;
use crate::manifest::Descriptor;
use crate::registry::BlobPush;
use crate::transport::{ImageSource, fs_error, join, write_atomically};

/// A destination whose blobs are files.
pub(super) trait LocalBlobs {
    /// The IO handle to write with.
    fn io(&self) -> &Io;

    /// Where blob `d` lives.
    fn blob_path(&self, d: &Digest) -> String;

    /// Where blob `d` goes, its directory made if need be (a layout, which
    /// holds `blobs/sha256` from the start, overrides this to make another
    /// algorithm's directory on first use).
    async fn blob_target(&self, d: &Digest) -> Result<String> {
        Ok(self.blob_path(d))
    }

    /// Whether the destination holds blob `d` already in another form, so
    /// it need not be copied at all (containers-storage: a layer it has).
    async fn holds_otherwise(&self, _d: &Descriptor) -> bool {
        false
    }
}

/// The local destinations store blobs alike.
impl<T: LocalBlobs> BlobStore for T {
    /// Pulled into a temporary name, then renamed into place. A blob file
    /// already there with the right size is reused, as containers/image's
    /// layout destination reuses it (a re-sync, or images sharing layers),
    /// but only once its bytes hash to its digest: a file damaged after it
    /// was written (or by hand) is replaced, never named by a new image.
    fn put_blob<'a>(&'a self, source: &'a ImageSource, d: &'a Descriptor) -> LocalBoxFuture<'a, Result<BlobPush>> {
        Box::pin(async move {
            if self.holds_otherwise(d).await {
                return Ok(BlobPush::Exists);
            }
            let final_path = self.blob_target(&d.digest).await?;
            let io = self.io();
            if let Ok(info) = io.stat(final_path.clone()).await
                && info.kind == FileKind::Regular
                && d.size >= 0
                && info.size == d.size as u64
            {
                if holds(io, &final_path, d).await {
                    return Ok(BlobPush::Exists);
                }
                io.warn(format!("{final_path} does not hold blob {}: copying it again", d.digest));
            }
            let tmp = temporary_name(&final_path);
            let pulled = source.pull_blob(d, BlobSink::File { path: tmp.clone() }).await;
            if let Err(e) = pulled {
                let _ = io.fs(Request::RemoveFile { path: tmp }).await;
                return Err(e);
            }
            io.fs(Request::Rename { from: tmp, to: final_path.clone() })
                .await
                .map_err(fs_error(format!("writing {final_path}")))?;
            Ok(BlobPush::Uploaded)
        })
    }

    fn put_blob_bytes<'a>(&'a self, d: &'a Descriptor, bytes: &'a [u8]) -> LocalBoxFuture<'a, Result<BlobPush>> {
        Box::pin(async move {
            d.digest.verify(bytes, "converted blob")?;
            let path = self.blob_target(&d.digest).await?;
            write_atomically(self.io(), &path, bytes).await?;
            Ok(BlobPush::Uploaded)
        })
    }

    /// In the blobs' directory, so a rename commits it.
    fn scratch_path(&self, _tmpdir: &str, name: &str) -> String {
        let p = self.blob_path(&Digest::sha256(b""));
        join(p.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("."), name)
    }

    /// Renamed into place.
    fn put_file_blob<'a>(&'a self, d: &'a Descriptor, path: String) -> LocalBoxFuture<'a, Result<BlobPush>> {
        Box::pin(async move {
            let final_path = self.blob_target(&d.digest).await?;
            self.io()
                .fs(Request::Rename { from: path, to: final_path.clone() })
                .await
                .map_err(fs_error(format!("writing {final_path}")))?;
            Ok(BlobPush::Uploaded)
        })
    }
}

/// Whether the file at `path` hashes to `d`'s digest.
async fn holds(io: &Io, path: &str, d: &Descriptor) -> bool {
    let measured = io.file_digest(path, d.digest.algorithm(), d.expected_size()).await;
    measured.is_ok_and(|(digest, _)| digest == d.digest.to_string())
}

/// Makes `dir` a new, empty staging directory (one an interrupted run left
/// goes first).
pub(super) async fn fresh_dir(io: &Io, dir: &str) -> Result<()> {
    match io.fs(Request::RemoveDir { path: dir.to_owned() }).await {
        Err(e) if e.kind != IoErrorKind::NotFound => return Err(fs_error(format!("removing {dir}"))(e)),
        _ => {}
    }
    io.fs(Request::CreateDir { path: dir.to_owned() }).await.map_err(fs_error(format!("creating {dir}")))
}
