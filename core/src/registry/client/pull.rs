//! Reading from a registry: manifests (checked against their digest),
//! small blobs, streamed blobs, tag lists (paginated).

use super::error::{sanitize, status_error, too_large};
use super::request::{
    Call, MAX_SMALL_BODY, Reached, Target, api_url, blob_path, manifest_accept, manifest_path, tags_path,
};
use super::{RegistryClient, pull_scope, push_scope, url};
use crate::digest::Digest;
use crate::engine::{BlobSink, BlobSource, FileKind, HttpRequest, Transfer, Transferred};
use crate::error::{Error, Result};
use crate::manifest::{self, Descriptor, MAX_MANIFEST_SIZE};
use crate::registry::link;

/// One page of a tag list.
const MAX_TAGS_PAGE: u64 = 16 * 1024 * 1024;
/// Tag-list pages followed before giving up (a registry that loops).
const MAX_TAG_PAGES: usize = 1000;

impl RegistryClient {
    /// The raw manifest and its `Content-Type`. A manifest fetched by digest
    /// is checked against it; one fetched by tag against `Docker-Content-Digest`.
    pub async fn get_manifest(&self, repository: &str, reference: &str) -> Result<(Vec<u8>, Option<String>)> {
        let scope = pull_scope(repository);
        let (k, v) = manifest_accept();
        let call = Call::path("GET", manifest_path(repository, reference), &scope, MAX_MANIFEST_SIZE).header(&k, v);
        let resp = self.send(call).await.map_err(|e| too_large(e, "manifest"))?;
        let what = format!("reading manifest {reference} in {}/{repository}", self.registry);
        if resp.status != 200 {
            return Err(status_error(&what, &resp));
        }
        if let Ok(d) = Digest::parse(reference) {
            manifest::verify_manifest_digest(&resp.body, &d).map_err(|e| e.context(&what))?;
        } else if let Some(d) = resp.header("docker-content-digest").and_then(|h| Digest::parse(h.trim()).ok()) {
            manifest::verify_manifest_digest(&resp.body, &d).map_err(|e| {
                e.context(format!("{what}: registry's Docker-Content-Digest does not match the manifest"))
            })?;
        }
        let ct = resp.header("content-type").map(str::to_owned);
        Ok((resp.body, ct))
    }

    /// The digest of the manifest `reference` names, if the registry says
    /// (HEAD, `Docker-Content-Digest`); None when it is absent or unknown.
    pub async fn manifest_digest_at(&self, repository: &str, reference: &str) -> Option<Digest> {
        let scope = push_scope(repository);
        let (k, v) = manifest_accept();
        let resp = self.send(Call::path("HEAD", manifest_path(repository, reference), &scope, 0).header(&k, v)).await;
        let resp = resp.ok()?;
        let header = resp.header("docker-content-digest").filter(|_| resp.status == 200)?;
        Digest::parse(header.trim()).ok()
    }

    /// The size of a blob the registry holds (HEAD, `Content-Length`; None
    /// when it does not say); a missing blob is an error.
    pub async fn blob_size(&self, repository: &str, digest: &Digest) -> Result<Option<u64>> {
        let scope = pull_scope(repository);
        let resp = self.send(Call::path("HEAD", blob_path(repository, digest), &scope, 0)).await?;
        if resp.status != 200 {
            let what = format!("fetching blob {digest} from {}/{repository}", self.registry);
            return Err(status_error(&what, &resp));
        }
        Ok(resp.header("content-length").and_then(|v| v.trim().parse().ok()))
    }

    /// A small blob (a config), verified against its digest.
    pub async fn get_blob(&self, repository: &str, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        let scope = pull_scope(repository);
        let resp = self
            .send(Call::path("GET", blob_path(repository, digest), &scope, max))
            .await
            .map_err(|e| too_large(e, "blob"))?;
        let what = format!("fetching blob {digest} from {}/{repository}", self.registry);
        if resp.status != 200 {
            return Err(status_error(&what, &resp));
        }
        digest.verify(&resp.body, &format!("blob {digest}"))?;
        Ok(resp.body)
    }

    /// Every tag, following `Link` pagination within the registry's origin.
    pub async fn list_tags(&self, repository: &str) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Page {
            // A null element is "" as Go's encoding/json reads it (and
            // then not a tag a sync copies).
            #[serde(default)]
            tags: Option<Vec<Option<String>>>,
        }
        let scope = pull_scope(repository);
        let what = format!("fetching tags list for {}/{repository}", self.registry);
        // The first page goes to the registry's own root (it may stand in
        // for the ping); the others where the one before links.
        let mut page_url: Option<url::Url> = None;
        let mut tags = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_TAG_PAGES {
            let target = match &page_url {
                Some(u) => Target::Url(u.clone()),
                None => Target::Path(tags_path(repository)),
            };
            let resp = self.send(Call::new("GET", target, &scope, MAX_TAGS_PAGE)).await?;
            if resp.status != 200 {
                return Err(status_error(&what, &resp));
            }
            let page: Page = serde_json::from_slice(&resp.body)
                .map_err(|e| Error::other(format!("{what}: invalid tag list: {e}")))?;
            tags.extend(page.tags.unwrap_or_default().into_iter().map(Option::unwrap_or_default));
            let Some(next) = link::next_link(resp.headers_named("link")) else {
                return Ok(tags);
            };
            let base = self.ensure_base().await?;
            let at = page_url.unwrap_or_else(|| api_url(&base, &tags_path(repository)));
            let next_url = url::join(&at, &next).filter(|u| url::same_origin(u, &base)).ok_or_else(|| {
                Error::other(format!("{what}: pagination link leaves the registry: {:?}", sanitize(&next)))
            })?;
            if !seen.insert(next_url.clone()) {
                return Err(Error::other(format!("{what}: pagination links loop")));
            }
            page_url = Some(next_url);
        }
        Err(Error::other(format!("tag list of {}/{repository} has more than {MAX_TAG_PAGES} pages", self.registry)))
    }

    /// Streams blob `d` of `repository` into `sink`, following redirects
    /// (credentials only to the registry's origin) and checking the digest and
    /// size the host measured.
    pub async fn pull_blob(&self, repository: &str, d: &Descriptor, sink: BlobSink) -> Result<()> {
        let (digest, size) = self.pull_blob_measured(repository, d, sink).await?;
        d.check_transfer(&digest, size)
    }

    /// The same, returning the digest and size that arrived unchecked (the
    /// image proxy reports a mismatch in skopeo's own words).
    pub async fn pull_blob_measured(&self, repository: &str, d: &Descriptor, sink: BlobSink) -> Result<(String, u64)> {
        let scope = pull_scope(repository);
        let what = format!("fetching blob {} from {}/{repository}", d.digest, self.registry);
        // Attempts so far, and where the last one resumed (if it did).
        let (attempts, resumed_at) = (std::cell::Cell::new(0u32), std::cell::Cell::new(None));
        let carry = |request: HttpRequest| {
            let attempt = attempts.replace(attempts.get() + 1);
            let sink = sink.clone();
            let resumed_at = &resumed_at;
            async move {
                // A retry after a download broke off carries on from where
                // the file ends, if the server answers exactly that range.
                let from = match attempt {
                    0 => None,
                    _ => self.resume_point(d, &sink).await,
                };
                resumed_at.set(from);
                let transfer = match from {
                    Some(offset) => resumed(request, d, &sink, offset),
                    None => Transfer {
                        source: BlobSource::get(request),
                        sink,
                        algorithm: d.digest.algorithm(),
                        expected_size: d.expected_size(),
                        label: format!("blob {}", d.digest),
                    },
                };
                Ok(match self.io.transfer(transfer).await? {
                    Transferred::Moved { digest, size, .. } => Reached::Moved((digest, size)),
                    Transferred::Refused(resp) => Reached::Answer(resp),
                })
            }
        };
        let call = Call::path("GET", blob_path(repository, &d.digest), &scope, MAX_SMALL_BODY);
        match self.send_with(call, carry).await.map_err(|e| e.context(&what))? {
            Reached::Moved(moved) => Ok(moved),
            Reached::Answer(resp) => match resumed_at.get() {
                Some(offset) => Err(Error::other(format!(
                    "{what}: the download broke off and could not be resumed at byte {offset}: the server answered {}{}",
                    resp.status,
                    resp.header("content-range")
                        .map(|r| format!(" with Content-Range {:?}", sanitize(r)))
                        .unwrap_or_default()
                ))),
                None => Err(status_error(&what, &resp)),
            },
        }
    }

    /// Where a retried download of `d` into `sink` can carry on: the end of
    /// what the file already holds, when that is part of the blob.
    async fn resume_point(&self, d: &Descriptor, sink: &BlobSink) -> Option<u64> {
        let path = match sink {
            BlobSink::File { path } | BlobSink::FileFrom { path, .. } => path.clone(),
            _ => return None,
        };
        let size = d.expected_size().filter(|&s| s > 0)?;
        let info = self.io.stat(path).await.ok()?;
        (info.kind == FileKind::Regular && info.size > 0 && info.size < size).then_some(info.size)
    }

    /// An authorized GET of a blob, for another client to use as a transfer
    /// source (which follows its redirects itself, with these credentials only as far as
    /// this registry's origin).
    pub async fn blob_request(&self, repository: &str, digest: &Digest) -> Result<HttpRequest> {
        let scope = pull_scope(repository);
        self.request(Call::path("GET", blob_path(repository, digest), &scope, MAX_SMALL_BODY)).await
    }
}

/// The rest of blob `d` from byte `offset` into the file `sink` names: a
/// `Range` request whose only acceptable answer is a 206 carrying exactly
/// that range of exactly that blob; the kept bytes are hashed again, so the
/// digest still covers the whole blob.
fn resumed(mut request: HttpRequest, d: &Descriptor, sink: &BlobSink, offset: u64) -> Transfer {
    let size = d.expected_size().unwrap_or_default();
    let path = match sink {
        BlobSink::File { path } | BlobSink::FileFrom { path, .. } => path.clone(),
        _ => unreachable!("resume_point only resumes into files"),
    };
    request.headers.push(("Range".to_owned(), format!("bytes={offset}-")));
    Transfer {
        source: BlobSource::Http {
            request,
            accept: vec![206],
            expect: vec![("Content-Range".to_owned(), format!("bytes {offset}-{}/{size}", size - 1))],
        },
        sink: BlobSink::FileFrom { path, offset },
        algorithm: d.digest.algorithm(),
        expected_size: Some(size),
        label: format!("blob {}", d.digest),
    }
}
