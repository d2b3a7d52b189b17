//! Chunked blob uploads (distribution-spec: PATCH with `Content-Range`, then
//! PUT with the digest), for registries that refuse a whole layer in one
//! request — typically a proxy in front of them with a body-size limit,
//! answering 413. Each chunk is a window of the source: of a local file, or a
//! ranged GET of another registry's blob. A refused chunk is retried at half
//! the size. The registry checks the assembled blob against the digest in the
//! final PUT, so nothing is committed unless the whole blob matches.

use super::{BlobPush, RegistryClient, UploadStart, status_error};
use crate::engine::{BlobSink, BlobSource, Transfer, Transferred};
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
            BlobSource::Http { request: get, accept: vec![206] }
        }
    }
}

impl RegistryClient {
    /// Uploads blob `d` (at `source`) to `repository` in chunks.
    pub(super) async fn push_chunked(&self, repository: &str, d: &Descriptor, source: &BlobSource) -> Result<BlobPush> {
        let what = format!("writing blob {} to {}/{repository} in chunks", d.digest, self.registry);
        let size = u64::try_from(d.size).map_err(|_| Error::invalid(format!("{what}: the blob's size is unknown")))?;
        let mut session = match self.start_upload(repository, d, None).await? {
            UploadStart::Done(outcome) => return Ok(outcome),
            UploadStart::Session(s) => s,
        };
        let base = self.ensure_base().await?;
        let (mut sent, mut chunk) = (0u64, FIRST_CHUNK);
        while sent < size {
            let length = chunk.min(size - sent);
            let mut patch = session.request("PATCH", "");
            patch.headers.push(("Content-Range".to_owned(), format!("{sent}-{}", sent + length - 1)));
            patch.headers.push(("Content-Length".to_owned(), length.to_string()));
            let t = Transfer {
                source: window(source, sent, length),
                sink: BlobSink::Http(patch),
                algorithm: d.digest.algorithm(),
                expected_size: Some(length),
                label: format!("blob {}", d.digest),
            };
            let resp = match self.io.transfer(t).await.map_err(|e| super::io_error(e).context(&what))? {
                Transferred::Moved { size: moved, response: Some(resp), .. } if moved == length => resp,
                Transferred::Moved { response: None, .. } => return Err(Error::other(format!("{what}: no answer"))),
                Transferred::Moved { response: Some(resp), .. } | Transferred::Refused(resp) => resp,
            };
            match resp.status {
                202 => {
                    sent += length;
                    let from = session.location.clone();
                    session = self.follow_upload(&base, &from, &resp, repository, &what).await?;
                }
                413 if length / 2 >= SMALLEST_CHUNK => chunk = length / 2,
                _ => return Err(status_error(&what, &resp)),
            }
        }
        let mut put = session.put(&d.digest);
        put.headers.push(("Content-Length".to_owned(), "0".to_owned()));
        put.body = Some(Vec::new());
        self.put_created(put, &what).await?;
        Ok(BlobPush::Uploaded)
    }
}
