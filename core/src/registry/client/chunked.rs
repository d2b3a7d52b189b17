//! Chunked blob uploads (distribution-spec: PATCH with `Content-Range`, then
//! PUT with the digest), for registries that refuse a whole layer in one
//! request — typically a proxy in front of them with a body-size limit,
//! answering 413. Each chunk is a window of the source: of a local file, or a
//! ranged GET of another registry's blob. A refused chunk is retried at half
//! the size. The registry checks the assembled blob against the digest in the
//! final PUT, so nothing is committed unless the whole blob matches.

use super::error::status_error;
use super::push::{UploadSession, UploadStart};
use super::{BlobPush, RegistryClient, push_scope};
use crate::engine::BlobSource;
use crate::error::{Error, Result};
use crate::manifest::Descriptor;

/// The first chunk size tried, and the smallest before giving up.
const FIRST_CHUNK: u64 = 16 << 20;
const SMALLEST_CHUNK: u64 = 64 << 10;

/// `length` bytes at `offset` of the blob at `source`.
fn window(source: &BlobSource, offset: u64, length: u64) -> BlobSource {
    match source {
        BlobSource::File { path } => BlobSource::FileRange { path: path.clone(), offset, length },
        BlobSource::FileRange { path, offset: start, .. } => {
            BlobSource::FileRange { path: path.clone(), offset: start + offset, length }
        }
        BlobSource::Http { request, .. } => {
            let mut get = request.clone();
            get.headers.push(("Range".to_owned(), format!("bytes={offset}-{}", offset + length - 1)));
            // Only a partial answer is the window asked for; a 200 would be the whole blob.
            BlobSource::Http { request: get, accept: vec![206], expect: Vec::new() }
        }
    }
}

impl RegistryClient {
    /// Uploads blob `d` (at `source`) to `repository` in chunks.
    pub(super) async fn push_chunked(&self, repository: &str, d: &Descriptor, source: &BlobSource) -> Result<BlobPush> {
        let what = format!("writing blob {} to {}/{repository} in chunks", d.digest, self.registry);
        let size = u64::try_from(d.size).map_err(|_| Error::invalid(format!("{what}: the blob's size is unknown")))?;
        let scope = push_scope(repository);
        let mut session = match self.start_upload(repository, d, None).await? {
            UploadStart::Done(outcome) => return Ok(outcome),
            UploadStart::Session(s) => s,
        };
        let (mut sent, mut chunk) = (0u64, FIRST_CHUNK);
        while sent < size {
            let length = chunk.min(size - sent);
            let patch = session
                .call("PATCH", &[], &scope)
                .header("Content-Range", format!("{sent}-{}", sent + length - 1))
                .header("Content-Length", length.to_string());
            let patch = self.request(patch).await?;
            let (_, resp) = self
                .stream(&window(source, sent, length), patch, Some(length), d)
                .await
                .map_err(|e| e.context(&what))?;
            match resp.status {
                202 => {
                    sent += length;
                    session = UploadSession::after(&session.location, &resp).map_err(|e| e.context(&what))?;
                }
                413 if length / 2 >= SMALLEST_CHUNK => chunk = length / 2,
                _ => return Err(status_error(&what, &resp)),
            }
        }
        let put = session.put(&d.digest, &scope).header("Content-Length", "0").body(Vec::new());
        self.put_created(put, &what).await?;
        Ok(BlobPush::Uploaded)
    }
}
