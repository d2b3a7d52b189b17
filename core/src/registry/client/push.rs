//! Writing to a registry: blobs (skipped when present, mounted from another
//! repository of the registry, else uploaded in one request, or in chunks
//! when that is too large), manifests, and deletion.

use super::error::{describe_body, io_error, status_error};
use super::request::{Call, Home, MAX_SMALL_BODY, Reached, Target, api_url, blob_path, manifest_path, uploads_path};
use super::retry::Attempt;
use super::{RegistryClient, delete_scope, push_scope, url};
use crate::digest::Digest;
use crate::engine::{BlobSink, BlobSource, HttpRequest, HttpResponse, Transfer, Transferred};
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{self, Descriptor};
use url::Url;

/// What happened to a blob on its way into a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobPush {
    /// The registry already had it.
    Exists,
    /// Mounted from another repository of the same registry.
    Mounted,
    Uploaded,
}

/// How an upload begins.
pub(super) enum UploadStart {
    /// Nothing to send: the blob is there already, or was mounted.
    Done(BlobPush),
    Session(UploadSession),
}

/// An upload in progress: where its next request goes.
pub(super) struct UploadSession {
    pub location: Url,
}

impl UploadSession {
    /// The session an answer's `Location` names (relative to `from`, the URL
    /// it answered).
    pub fn after(from: &Url, answer: &HttpResponse) -> Result<Self> {
        let loc = answer.header("location").unwrap_or("");
        let location = url::join(from, loc.trim())
            .ok_or_else(|| Error::other(format!("invalid upload location {:?}", super::error::sanitize(loc))))?;
        Ok(UploadSession { location })
    }

    /// A request to the session's location, `query` appended.
    pub fn call<'a>(&self, method: &'static str, query: &[String], scope: &'a str) -> Call<'a> {
        Call::new(method, Target::Url(url::with_query(&self.location, query)), scope, MAX_SMALL_BODY)
            .header("Content-Type", "application/octet-stream")
    }

    /// The PUT that completes the upload as blob `digest`.
    pub fn put<'a>(&self, digest: &Digest, scope: &'a str) -> Call<'a> {
        self.call("PUT", &[format!("digest={}", url::encode(&digest.to_string()))], scope)
    }
}

/// What streaming into an upload came to: the digest and size moved (None
/// if the source refused), and the answer (the sink's, else the source's).
pub(super) type Streamed = (Option<(String, u64)>, HttpResponse);

impl RegistryClient {
    /// Checks for blob `d` in `repository` (see [`super::survey`]), tries to mount it from
    /// `mount_from`, else starts an upload session.
    pub(super) async fn start_upload(
        &self,
        repository: &str,
        d: &Descriptor,
        mount_from: Option<&str>,
    ) -> Result<UploadStart> {
        let scope = push_scope(repository);
        let what = format!("writing blob {} to {}/{repository}", d.digest, self.registry);
        // A repository that did not exist when the run began holds only
        // what this run put there, which `push_blob` checks first.
        if !self.repository_was_absent(repository) {
            let head = self.send(Call::path("HEAD", blob_path(repository, &d.digest), &scope, 0)).await?;
            if head.status == 200 {
                return Ok(UploadStart::Done(BlobPush::Exists));
            }
        }
        let uploads = uploads_path(repository);
        let mut start = None;
        if let Some(from) = mount_from {
            let path = format!("{uploads}?mount={}&from={}", url::encode(&d.digest.to_string()), url::encode(from));
            let resp = self.send(Call::path("POST", path, &scope, MAX_SMALL_BODY)).await?;
            match resp.status {
                201 => return Ok(UploadStart::Done(BlobPush::Mounted)),
                // Not allowed to read the other repository: upload instead.
                401 | 403 => {}
                _ => start = Some(resp),
            }
        }
        let start = match start {
            Some(s) => s,
            None => self.send(Call::path("POST", uploads.clone(), &scope, MAX_SMALL_BODY)).await?,
        };
        if start.status != 202 {
            return Err(status_error(&format!("{what}: starting upload"), &start));
        }
        let base = self.ensure_base().await?;
        let session = UploadSession::after(&api_url(&base, &uploads), &start).map_err(|e| e.context(&what))?;
        Ok(UploadStart::Session(session))
    }

    /// Streams `source` into the upload request `sink` (`expected_size`
    /// bytes of blob `d`). A source on another registry is followed through
    /// its redirects, its credentials going no further than its own origin;
    /// a host failure is not retried here, as the upload session does not
    /// survive one.
    pub(super) async fn stream(
        &self,
        source: &BlobSource,
        sink: HttpRequest,
        expected_size: Option<u64>,
        d: &Descriptor,
    ) -> Result<Streamed> {
        let transfer = |source| Transfer {
            source,
            sink: BlobSink::Http(sink.clone()),
            algorithm: d.digest.algorithm(),
            expected_size,
            label: format!("blob {}", d.digest),
        };
        let carry = |t: Transfer| async move {
            Ok(match self.io.transfer(t).await? {
                Transferred::Moved { digest, size, response } => Reached::Moved((digest, size, response)),
                Transferred::Refused(resp) => Reached::Answer(resp),
            })
        };
        let reached = match source {
            BlobSource::Http { request: get, accept, expect } => {
                let home = Home::of(get).ok_or_else(|| Error::other("invalid blob source URL"))?;
                let from_source = |request| {
                    carry(transfer(BlobSource::Http { request, accept: accept.clone(), expect: expect.clone() }))
                };
                self.deliver(&home, get.clone(), &from_source, false).await?
            }
            local => carry(transfer(local.clone())).await.map_err(io_error)?,
        };
        match reached {
            Reached::Moved((digest, size, Some(resp))) => Ok((Some((digest, size)), resp)),
            Reached::Moved((_, _, None)) => Err(Error::other("no answer to the upload")),
            Reached::Answer(resp) => Ok((None, resp)),
        }
    }

    /// Sends `call`, which must answer 201 Created.
    pub(super) async fn put_created(&self, call: Call<'_>, what: &str) -> Result<HttpResponse> {
        let resp = self.send(call).await.map_err(|e| e.context(what))?;
        if resp.status != 201 {
            return Err(status_error(what, &resp));
        }
        Ok(resp)
    }

    /// One upload of a digest to this registry at a time within a run: the
    /// next one then finds it there (or mounts it) instead of racing it.
    fn upload_key(&self, d: &Descriptor) -> String {
        format!("upload {} {}", self.registry, d.digest)
    }

    /// Whether this run put `d` into `repository` already (then it is
    /// there: nothing deletes blobs during a copy), so it needs no HEAD.
    fn already_pushed(&self, repository: &str, d: &Descriptor) -> bool {
        self.pushed().borrow().contains(&self.pushed_key(repository, d))
    }

    fn remember_pushed(&self, repository: &str, d: &Descriptor) {
        let key = self.pushed_key(repository, d);
        self.pushed().borrow_mut().insert(key);
    }

    fn pushed(&self) -> std::rc::Rc<std::cell::RefCell<std::collections::HashSet<String>>> {
        self.io.shared("pushed-blobs")
    }

    fn pushed_key(&self, repository: &str, d: &Descriptor) -> String {
        format!("{} {repository} {}", self.registry, d.digest)
    }

    /// Puts blob `d` into `repository`: skipped if present, mounted from
    /// `mount_from` (a repository of this registry) if possible, else
    /// uploaded monolithically, streamed from `source`.
    pub async fn push_blob(
        &self,
        repository: &str,
        d: &Descriptor,
        source: BlobSource,
        mount_from: Option<&str>,
    ) -> Result<BlobPush> {
        let _turn = self.io.lock(self.upload_key(d)).await;
        if self.already_pushed(repository, d) {
            return Ok(BlobPush::Exists);
        }
        // An upload session does not survive a failure: retry from the start.
        let pushed = self
            .retrying(
                || self.push_blob_once(repository, d, &source, mount_from),
                |r| matches!(r, Err(e) if e.kind == ErrorKind::Io).then_some(Attempt::Transient),
            )
            .await?;
        self.remember_pushed(repository, d);
        Ok(pushed)
    }

    async fn push_blob_once(
        &self,
        repository: &str,
        d: &Descriptor,
        source: &BlobSource,
        mount_from: Option<&str>,
    ) -> Result<BlobPush> {
        let scope = push_scope(repository);
        let session = match self.start_upload(repository, d, mount_from).await? {
            UploadStart::Done(outcome) => return Ok(outcome),
            UploadStart::Session(s) => s,
        };
        let mut put = session.put(&d.digest, &scope);
        if d.size >= 0 {
            put = put.header("Content-Length", d.size.to_string());
        }
        let put = self.request(put).await?;
        let what = format!("writing blob {} to {}/{repository}", d.digest, self.registry);
        match self.stream(source, put, d.expected_size(), d).await.map_err(|e| e.context(&what))? {
            (Some((digest, size)), resp) if resp.status == 201 => {
                d.check_transfer(&digest, size)?;
                Ok(BlobPush::Uploaded)
            }
            // Too large for one request (a proxy's body limit): send the blob in chunks.
            (_, resp) if resp.status == 413 => self.push_chunked(repository, d, source).await,
            (_, resp) => Err(status_error(&what, &resp)),
        }
    }

    /// Puts a small blob the core made (a converted config) into `repository`.
    pub async fn push_blob_bytes(&self, repository: &str, d: &Descriptor, bytes: &[u8]) -> Result<BlobPush> {
        let _turn = self.io.lock(self.upload_key(d)).await;
        if self.already_pushed(repository, d) {
            return Ok(BlobPush::Exists);
        }
        let scope = push_scope(repository);
        let session = match self.start_upload(repository, d, None).await? {
            UploadStart::Done(outcome) => {
                self.remember_pushed(repository, d);
                return Ok(outcome);
            }
            UploadStart::Session(s) => s,
        };
        let what = format!("writing blob {} to {}/{repository}", d.digest, self.registry);
        self.put_created(session.put(&d.digest, &scope).body(bytes.to_vec()), &what).await?;
        self.remember_pushed(repository, d);
        Ok(BlobPush::Uploaded)
    }

    /// Stores a manifest under `reference` (a tag or its digest).
    pub async fn put_manifest(&self, repository: &str, reference: &str, bytes: &[u8], media_type: &str) -> Result<()> {
        let scope = push_scope(repository);
        let what = format!("writing manifest {reference} to {}/{repository}", self.registry);
        let call = Call::path("PUT", manifest_path(repository, reference), &scope, MAX_SMALL_BODY)
            .header("Content-Type", media_type)
            .body(bytes.to_vec());
        let resp = self.put_created(call, &what).await?;
        if let Some(d) = resp.header("docker-content-digest").and_then(|h| Digest::parse(h.trim()).ok()) {
            manifest::verify_manifest_digest(bytes, &d)
                .map_err(|e| e.context(format!("{what}: the registry stored other bytes")))?;
        }
        Ok(())
    }

    /// Deletes the manifest `digest` (and so every tag pointing at it).
    /// Whether the registry accepts the client's credentials (`login`):
    /// `GET /v2/` with them (a bearer token for no scope first, if the
    /// registry wants tokens) must answer 200, as containers/image checks.
    pub async fn check_auth(&self) -> Result<()> {
        let resp = self.send(Call::path("GET", "/v2/".to_owned(), "", MAX_SMALL_BODY)).await?;
        match resp.status {
            200 => Ok(()),
            401 | 403 => Err(Error::new(
                crate::error::ErrorKind::Unauthorized,
                format!("{}: invalid username/password{}", self.registry, describe_body(&resp)),
            )),
            _ => Err(status_error(&format!("logging into {}", self.registry), &resp)),
        }
    }

    pub async fn delete_manifest(&self, repository: &str, digest: &Digest) -> Result<()> {
        let scope = delete_scope(repository);
        let resp = self
            .send(Call::path("DELETE", manifest_path(repository, &digest.to_string()), &scope, MAX_SMALL_BODY))
            .await?;
        match resp.status {
            200 | 202 => Ok(()),
            405 => Err(Error::unsupported(format!(
                "deleting {digest} from {}/{repository}: the registry does not allow deletion{}",
                self.registry,
                describe_body(&resp)
            ))),
            _ => Err(status_error(&format!("deleting {digest} from {}/{repository}", self.registry), &resp)),
        }
    }
}
