//! A registry client written against [`Io`]: every protocol decision (ping
//! and HTTP fallback, auth challenges and token exchange, redirects and
//! whether credentials may follow them, retries, pagination, digest checks)
//! is made here; the host only moves bytes.

use std::cell::RefCell;
use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

mod chunked;

use super::auth::{self, Challenge, Credentials};
use super::error_body::{RegistryErrors, sanitize};
use super::{RegistryOptions, link, url};
use crate::digest::Digest;
use crate::engine::{BlobSink, BlobSource, HttpRequest, HttpResponse, Io, IoError, IoErrorKind, Transfer, Transferred};
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::Descriptor;
use crate::manifest::{self, MAX_MANIFEST_SIZE};
use crate::media_type;

/// Token responses and error bodies: never more than this.
const MAX_SMALL_BODY: u64 = 1024 * 1024;
/// One page of a tag list.
const MAX_TAGS_PAGE: u64 = 16 * 1024 * 1024;
/// Tag-list pages followed before giving up (a registry that loops).
const MAX_TAG_PAGES: usize = 1000;
const MAX_REDIRECTS: usize = 10;
/// containers/image retries 429 up to 5 times even without `--retry-times`.
const TOO_MANY_REQUESTS_TRIES: u32 = 5;
const MAX_BACKOFF_MS: u64 = 60_000;

/// A client for one registry, with the credentials chosen for one repository.
/// Its methods take `&self` so that several transfers can share it; the
/// session state is borrowed only between awaits.
pub struct RegistryClient {
    io: Io,
    /// The registry as named in references (`docker.io`, `localhost:5000`).
    registry: String,
    opts: RegistryOptions,
    credentials: Option<Credentials>,
    session: RefCell<Session>,
}

/// What the client learns while talking to the registry.
#[derive(Default)]
struct Session {
    /// `scheme://host[:port]` once the `/v2/` ping has succeeded.
    base: Option<String>,
    challenges: Vec<Challenge>,
    tokens: HashMap<String, String>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient").field("registry", &self.registry).finish()
    }
}

/// Scope for pulling from a repository.
pub fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

impl RegistryClient {
    fn get(&self, url: String, headers: Vec<(String, String)>, max_body: u64) -> HttpRequest {
        HttpRequest { method: "GET".to_owned(), url, headers, body: None, max_body, tls: self.opts.tls.clone() }
    }

    pub fn new(io: Io, registry: &str, repository: &str, opts: RegistryOptions) -> Result<Self> {
        let credentials = if opts.no_creds {
            None
        } else if let Some(c) = opts.credentials.clone() {
            Some(c)
        } else {
            auth::lookup_credentials(&opts.auth_files, registry, repository)?
        };
        Ok(RegistryClient { io, registry: registry.to_owned(), opts, credentials, session: RefCell::default() })
    }

    /// The host that serves the registry's API (Docker Hub's differs from its name).
    fn api_host(&self) -> &str {
        if self.registry == "docker.io" { "registry-1.docker.io" } else { &self.registry }
    }

    /// Pings `/v2/` over HTTPS, and over plain HTTP when `--tls-verify=false`
    /// allows it, remembering the scheme and the auth challenges.
    async fn ensure_base(&self) -> Result<String> {
        if let Some(b) = self.session.borrow().base.clone() {
            return Ok(b);
        }
        let schemes: &[&str] = if self.opts.tls_verify == Some(false) { &["https", "http"] } else { &["https"] };
        let mut last = None;
        for scheme in schemes {
            let base = format!("{scheme}://{}", self.api_host());
            let req = self.get(format!("{base}/v2/"), vec![], MAX_SMALL_BODY);
            match self.with_retries(req).await {
                Ok(resp) if resp.status == 200 || resp.status == 401 => {
                    let mut session = self.session.borrow_mut();
                    session.challenges = auth::parse_challenges(resp.headers_named("www-authenticate"));
                    session.base = Some(base.clone());
                    return Ok(base);
                }
                Ok(resp) => {
                    last = Some(Error::other(format!(
                        "pinging container registry {}: unexpected status {}{}",
                        self.registry,
                        resp.status,
                        describe_body(&resp)
                    )))
                }
                Err(e) => last = Some(io_error(e).context(format!("pinging container registry {}", self.registry))),
            }
        }
        Err(last.unwrap_or_else(|| Error::other("no scheme to try")))
    }

    /// Sends `req` again after transient failures, as `--retry-times` allows
    /// (and 429 a few times regardless), waiting as the registry asks.
    async fn with_retries(&self, req: HttpRequest) -> std::result::Result<HttpResponse, IoError> {
        let mut attempt = 0u32;
        loop {
            let result = self.io.http(req.clone()).await;
            let outcome = match &result {
                Ok(r) => Attempt::Answer(r),
                Err(e) => Attempt::Failed(e),
            };
            let Some(delay) = self.retry_delay(attempt, outcome) else { return result };
            self.io.sleep(delay).await;
            attempt += 1;
        }
    }

    /// The wait before retry `attempt + 1`: what the registry asked, else
    /// `--retry-delay`, else 1 s, 2 s, 4 s… (at most a minute).
    fn backoff_ms(&self, attempt: u32, retry_after: Option<u64>) -> u64 {
        retry_after.or(self.opts.retry_delay_ms).unwrap_or(1000u64 << attempt.min(6)).min(MAX_BACKOFF_MS)
    }

    /// How long to wait before trying again after `outcome`, if at all:
    /// `--retry-times` for transient failures (connection errors, 502–504),
    /// 429 a few times regardless, as the registry's Retry-After asks.
    fn retry_delay(&self, attempt: u32, outcome: Attempt<'_>) -> Option<u64> {
        let (retryable, retry_after) = match outcome {
            Attempt::Answer(r) if r.status == 429 => {
                (attempt + 1 < TOO_MANY_REQUESTS_TRIES.max(self.opts.retry_times + 1), retry_after_ms(r))
            }
            Attempt::Answer(r) if matches!(r.status, 502..=504) => (attempt < self.opts.retry_times, None),
            Attempt::Answer(_) => (false, None),
            // A TLS failure or an oversized body will not go away by asking again.
            Attempt::Failed(e) => {
                (!matches!(e.kind, IoErrorKind::TooLarge | IoErrorKind::Tls) && attempt < self.opts.retry_times, None)
            }
        };
        retryable.then(|| self.backoff_ms(attempt, retry_after))
    }

    /// The `Authorization` header for `scope`, if the registry asks for one.
    async fn authorization(&self, scope: &str) -> Result<Option<String>> {
        let (bearer, basic_challenge) = {
            let session = self.session.borrow();
            let bearer = session.challenges.iter().find(|c| c.scheme == "bearer").cloned();
            (bearer, session.challenges.iter().any(|c| c.scheme == "basic"))
        };
        if let Some(ch) = bearer {
            return Ok(Some(format!("Bearer {}", self.bearer_token(&ch, scope).await?)));
        }
        if basic_challenge {
            return Ok(self.credentials.as_ref().map(basic));
        }
        Ok(None)
    }

    async fn bearer_token(&self, ch: &Challenge, scope: &str) -> Result<String> {
        if let Some(t) = &self.opts.registry_token {
            return Ok(t.clone());
        }
        if let Some(t) = self.session.borrow().tokens.get(scope).cloned() {
            return Ok(t);
        }
        let realm = ch.params.get("realm").cloned().unwrap_or_default();
        let realm_origin = url::origin(&realm).ok_or_else(|| {
            Error::other(format!("registry {} gave an invalid token realm {:?}", self.registry, sanitize(&realm)))
        })?;
        let mut query = Vec::new();
        if let Some(service) = ch.params.get("service") {
            query.push(format!("service={}", url::encode(service)));
        }
        query.push(format!("scope={}", url::encode(scope)));
        let mut headers = Vec::new();
        if let Some(c) = &self.credentials {
            // Credentials go to the realm only over HTTPS or to the registry's own host.
            let base = self.session.borrow().base.clone();
            if !realm_origin.starts_with("https://") && url::host(&realm_origin) != base.as_deref().and_then(url::host)
            {
                return Err(Error::new(
                    ErrorKind::Unauthorized,
                    format!(
                        "refusing to send credentials for {} to token realm {realm_origin} over plain HTTP",
                        self.registry
                    ),
                ));
            }
            query.push(format!("account={}", url::encode(&c.username)));
            headers.push(("Authorization".to_owned(), basic(c)));
        }
        let sep = if realm.contains('?') { '&' } else { '?' };
        let token_url = format!("{realm}{sep}{}", query.join("&"));
        let resp = self
            .with_retries(self.get(token_url, headers, MAX_SMALL_BODY))
            .await
            .map_err(|e| io_error(e).context(format!("requesting bearer token from {realm_origin}")))?;
        match resp.status {
            200 => {}
            401 | 403 => {
                return Err(Error::new(
                    ErrorKind::Unauthorized,
                    format!("unable to retrieve auth token: invalid username/password{}", describe_body(&resp)),
                ));
            }
            s => {
                return Err(Error::other(format!(
                    "requesting bearer token: unexpected status {s}{}",
                    describe_body(&resp)
                )));
            }
        }
        let token = auth::parse_token_response(&resp.body)?;
        self.session.borrow_mut().tokens.insert(scope.to_owned(), token.clone());
        Ok(token)
    }

    /// Sends a request to the registry with authentication, following
    /// redirects (credentials only ever go to the registry's own origin).
    async fn send(
        &self,
        method: &str,
        path: &str,
        mut headers: Vec<(String, String)>,
        scope: &str,
        max_body: u64,
    ) -> Result<HttpResponse> {
        let base = self.ensure_base().await?;
        let mut auth_retried = false;
        'auth: loop {
            let authz = self.authorization(scope).await?;
            let mut target = format!("{base}{path}");
            for _ in 0..=MAX_REDIRECTS {
                let mut h = headers.clone();
                if url::origin(&target).as_deref() == Some(base.as_str())
                    && let Some(a) = &authz
                {
                    h.push(("Authorization".to_owned(), a.clone()));
                }
                let req = HttpRequest {
                    method: method.to_owned(),
                    url: target.clone(),
                    headers: h,
                    body: None,
                    max_body,
                    tls: self.opts.tls.clone(),
                };
                // The host's message already names the request.
                let resp = self.with_retries(req).await.map_err(io_error)?;
                if matches!(resp.status, 301 | 302 | 303 | 307 | 308) {
                    let loc = resp.header("location").unwrap_or("");
                    target = url::resolve(&target, loc).ok_or_else(|| {
                        Error::other(format!("registry redirected to an invalid location {:?}", sanitize(loc)))
                    })?;
                    continue;
                }
                if resp.status == 401 && !auth_retried && self.opts.registry_token.is_none() {
                    // A cached token may have expired: fetch a fresh one, once.
                    let challenges = auth::parse_challenges(resp.headers_named("www-authenticate"));
                    let mut session = self.session.borrow_mut();
                    if !challenges.is_empty() {
                        session.challenges = challenges;
                    }
                    if session.tokens.remove(scope).is_some() {
                        auth_retried = true;
                        continue 'auth;
                    }
                }
                return Ok(resp);
            }
            headers.clear();
            return Err(Error::other(format!("too many redirects for {path}")));
        }
    }

    /// The raw manifest and its `Content-Type`. A manifest fetched by digest
    /// is checked against it; one fetched by tag against `Docker-Content-Digest`.
    pub async fn get_manifest(&self, repository: &str, reference: &str) -> Result<(Vec<u8>, Option<String>)> {
        let accept = media_type::MANIFEST_ACCEPT.join(", ");
        let path = format!("/v2/{repository}/manifests/{reference}");
        let resp = self
            .send("GET", &path, vec![("Accept".to_owned(), accept)], &pull_scope(repository), MAX_MANIFEST_SIZE)
            .await
            .map_err(|e| too_large(e, "manifest"))?;
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
        let accept = media_type::MANIFEST_ACCEPT.join(", ");
        let path = format!("/v2/{repository}/manifests/{reference}");
        let headers = vec![("Accept".to_owned(), accept)];
        let resp = self.send("HEAD", &path, headers, &push_scope(repository), 0).await.ok()?;
        let header = resp.header("docker-content-digest").filter(|_| resp.status == 200)?;
        Digest::parse(header.trim()).ok()
    }

    /// A small blob (a config), verified against its digest.
    pub async fn get_blob(&self, repository: &str, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        let path = format!("/v2/{repository}/blobs/{digest}");
        let resp =
            self.send("GET", &path, vec![], &pull_scope(repository), max).await.map_err(|e| too_large(e, "blob"))?;
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
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let base = self.ensure_base().await?;
        let mut path = format!("/v2/{repository}/tags/list");
        let mut tags = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_TAG_PAGES {
            let resp = self.send("GET", &path, vec![], &pull_scope(repository), MAX_TAGS_PAGE).await?;
            let what = format!("fetching tags list for {}/{repository}", self.registry);
            if resp.status != 200 {
                return Err(status_error(&what, &resp));
            }
            let page: Page = serde_json::from_slice(&resp.body)
                .map_err(|e| Error::other(format!("{what}: invalid tag list: {e}")))?;
            tags.extend(page.tags.unwrap_or_default());
            let Some(next) = link::next_link(resp.headers_named("link")) else {
                return Ok(tags);
            };
            let next = url::resolve(&format!("{base}{path}"), &next)
                .filter(|u| url::origin(u).as_deref() == Some(base.as_str()))
                .ok_or_else(|| {
                    Error::other(format!("{what}: pagination link leaves the registry: {:?}", sanitize(&next)))
                })?;
            path = next[base.len()..].to_owned();
            if !seen.insert(path.clone()) {
                return Err(Error::other(format!("{what}: pagination links loop")));
            }
        }
        Err(Error::other(format!("tag list of {}/{repository} has more than {MAX_TAG_PAGES} pages", self.registry)))
    }

    /// Deletes the manifest `digest` (and so every tag pointing at it).
    pub async fn delete_manifest(&self, repository: &str, digest: &Digest) -> Result<()> {
        let path = format!("/v2/{repository}/manifests/{digest}");
        let scope = format!("repository:{repository}:*");
        let resp = self.send("DELETE", &path, vec![], &scope, MAX_SMALL_BODY).await?;
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

fn basic(c: &Credentials) -> String {
    format!("Basic {}", STANDARD.encode(format!("{}:{}", c.username, c.password)))
}

fn retry_after_ms(r: &HttpResponse) -> Option<u64> {
    r.header("retry-after")?.trim().parse::<u64>().ok().map(|s| s.saturating_mul(1000))
}

fn io_error(e: IoError) -> Error {
    let kind = match e.kind {
        IoErrorKind::TooLarge => ErrorKind::Integrity,
        _ => ErrorKind::Io,
    };
    Error::new(kind, e.message)
}

fn too_large(e: Error, what: &str) -> Error {
    if e.kind == ErrorKind::Integrity { e.context(format!("{what} is too large")) } else { e }
}

fn describe_body(resp: &HttpResponse) -> String {
    RegistryErrors::parse(&resp.body).describe().map(|d| format!(": {d}")).unwrap_or_default()
}

/// Turns a non-success status into an error of the right kind.
fn status_error(what: &str, resp: &HttpResponse) -> Error {
    let errors = RegistryErrors::parse(&resp.body);
    let detail = errors.describe().unwrap_or_else(|| match resp.status {
        401 => "authentication required".to_owned(),
        403 => "access denied".to_owned(),
        404 => "not found".to_owned(),
        s => format!("unexpected status {s}"),
    });
    let kind = match resp.status {
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Unauthorized,
        404 => ErrorKind::NotFound,
        _ if errors.has_code("DENIED") || errors.has_code("UNAUTHORIZED") => ErrorKind::Unauthorized,
        _ => ErrorKind::Other,
    };
    Error::new(kind, format!("{what}: {detail}"))
}

/// Scope for pushing to a repository.
pub fn push_scope(repository: &str) -> String {
    format!("repository:{repository}:pull,push")
}

/// What happened to a blob on its way into a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobPush {
    /// The registry already had it.
    Exists,
    /// Mounted from another repository of the same registry.
    Mounted,
    Uploaded,
}

/// GET `request` sent where `resp` (a redirect) points. Its Authorization
/// goes no further than the origin it was meant for.
fn redirected(request: &HttpRequest, resp: &HttpResponse) -> Result<HttpRequest> {
    let loc = resp.header("location").unwrap_or("");
    let url = url::resolve(&request.url, loc)
        .ok_or_else(|| Error::other(format!("redirected to an invalid location {:?}", sanitize(loc))))?;
    let mut next = HttpRequest { url, ..request.clone() };
    if url::origin(&next.url) != url::origin(&request.url) {
        next.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
    }
    Ok(next)
}

impl RegistryClient {
    /// Streams blob `d` of `repository` into `sink`, following redirects
    /// (credentials only to the registry's origin) and checking the digest and
    /// size the host measured.
    pub async fn pull_blob(&self, repository: &str, d: &Descriptor, sink: BlobSink) -> Result<()> {
        let base = self.ensure_base().await?;
        let authz = self.authorization(&pull_scope(repository)).await?;
        let mut target = format!("{base}/v2/{repository}/blobs/{}", d.digest);
        let what = format!("fetching blob {} from {}/{repository}", d.digest, self.registry);
        for _ in 0..=MAX_REDIRECTS {
            let mut headers = Vec::new();
            if let Some(a) = authz.as_ref().filter(|_| url::origin(&target).as_deref() == Some(base.as_str())) {
                headers.push(("Authorization".to_owned(), a.clone()));
            }
            let transfer = Transfer {
                source: BlobSource::get(self.get(target.clone(), headers, MAX_SMALL_BODY)),
                sink: sink.clone(),
                algorithm: d.digest.algorithm(),
                expected_size: d.expected_size(),
                label: format!("blob {}", d.digest),
            };
            let mut attempt = 0;
            let result = loop {
                let result = self.io.transfer(transfer.clone()).await;
                let outcome = match &result {
                    Ok(Transferred::Refused(r)) => Attempt::Answer(r),
                    Ok(Transferred::Moved { .. }) => break result,
                    Err(e) => Attempt::Failed(e),
                };
                let Some(delay) = self.retry_delay(attempt, outcome) else { break result };
                self.io.sleep(delay).await;
                attempt += 1;
            };
            match result.map_err(|e| io_error(e).context(&what))? {
                Transferred::Moved { digest, size, .. } => return d.check_transfer(&digest, size),
                Transferred::Refused(resp) if matches!(resp.status, 301 | 302 | 303 | 307 | 308) => {
                    let loc = resp.header("location").unwrap_or("");
                    target = url::resolve(&target, loc).ok_or_else(|| {
                        Error::other(format!("{what}: redirected to an invalid location {:?}", sanitize(loc)))
                    })?;
                }
                Transferred::Refused(resp) => return Err(status_error(&what, &resp)),
            }
        }
        Err(Error::other(format!("{what}: too many redirects")))
    }

    /// Checks for blob `d` in `repository`, tries to mount it from
    /// `mount_from`, else starts an upload session.
    async fn start_upload(&self, repository: &str, d: &Descriptor, mount_from: Option<&str>) -> Result<UploadStart> {
        let scope = push_scope(repository);
        let what = format!("writing blob {} to {}/{repository}", d.digest, self.registry);
        let head = self.send("HEAD", &format!("/v2/{repository}/blobs/{}", d.digest), vec![], &scope, 0).await?;
        if head.status == 200 {
            return Ok(UploadStart::Done(BlobPush::Exists));
        }
        let uploads = format!("/v2/{repository}/blobs/uploads/");
        let mut start = None;
        if let Some(from) = mount_from {
            let path = format!("{uploads}?mount={}&from={}", url::encode(&d.digest.to_string()), url::encode(from));
            let resp = self.send("POST", &path, vec![], &scope, MAX_SMALL_BODY).await?;
            match resp.status {
                201 => return Ok(UploadStart::Done(BlobPush::Mounted)),
                // Not allowed to read the other repository: upload instead.
                401 | 403 => {}
                _ => start = Some(resp),
            }
        }
        let start = match start {
            Some(s) => s,
            None => self.send("POST", &uploads, vec![], &scope, MAX_SMALL_BODY).await?,
        };
        if start.status != 202 {
            return Err(status_error(&format!("{what}: starting upload"), &start));
        }
        let base = self.ensure_base().await?;
        let session = self.follow_upload(&base, &format!("{base}{uploads}"), &start, repository, &what).await?;
        Ok(UploadStart::Session(session))
    }

    /// The upload session an answer's `Location` names (relative to `from`),
    /// with credentials only if it stays on the registry's origin.
    async fn follow_upload(
        &self,
        base: &str,
        from: &str,
        answer: &HttpResponse,
        repository: &str,
        what: &str,
    ) -> Result<UploadSession> {
        let loc = answer.header("location").unwrap_or("");
        let location = url::resolve(from, loc)
            .ok_or_else(|| Error::other(format!("{what}: invalid upload location {:?}", sanitize(loc))))?;
        let mut headers = vec![("Content-Type".to_owned(), "application/octet-stream".to_owned())];
        if url::origin(&location).as_deref() == Some(base)
            && let Some(a) = self.authorization(&push_scope(repository)).await?
        {
            headers.push(("Authorization".to_owned(), a));
        }
        Ok(UploadSession { location, headers, tls: self.opts.tls.clone() })
    }

    /// Sends a PUT that must answer 201 Created.
    async fn put_created(&self, req: HttpRequest, what: &str) -> Result<HttpResponse> {
        let resp = self.with_retries(req).await.map_err(|e| io_error(e).context(what))?;
        if resp.status != 201 {
            return Err(status_error(what, &resp));
        }
        Ok(resp)
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
        // An upload session does not survive a failure: retry from the start.
        let mut attempt = 0;
        loop {
            let result = self.push_blob_once(repository, d, source.clone(), mount_from).await;
            match &result {
                Err(e) if e.kind == ErrorKind::Io && attempt < self.opts.retry_times => {
                    self.io.sleep(self.backoff_ms(attempt, None)).await;
                    attempt += 1;
                }
                _ => return result,
            }
        }
    }

    async fn push_blob_once(
        &self,
        repository: &str,
        d: &Descriptor,
        source: BlobSource,
        mount_from: Option<&str>,
    ) -> Result<BlobPush> {
        let mut put = match self.start_upload(repository, d, mount_from).await? {
            UploadStart::Done(outcome) => return Ok(outcome),
            UploadStart::Session(s) => s.put(&d.digest),
        };
        if d.size >= 0 {
            put.headers.push(("Content-Length".to_owned(), d.size.to_string()));
        }
        let what = format!("writing blob {} to {}/{repository}", d.digest, self.registry);
        // A registry source may redirect its blob (to a CDN): follow it with
        // the same upload, which has not started while the source refuses.
        let mut from = source.clone();
        for _ in 0..=MAX_REDIRECTS {
            let transfer = Transfer {
                source: from.clone(),
                sink: BlobSink::Http(put.clone()),
                algorithm: d.digest.algorithm(),
                expected_size: d.expected_size(),
                label: format!("blob {}", d.digest),
            };
            let (moved, resp) = match self.io.transfer(transfer).await.map_err(|e| io_error(e).context(&what))? {
                Transferred::Moved { digest, size, response } => {
                    let resp = response.ok_or_else(|| Error::other(format!("{what}: no answer to the upload")))?;
                    (Some((digest, size)), resp)
                }
                Transferred::Refused(resp) => (None, resp),
            };
            match (resp.status, moved, &from) {
                (201, Some((digest, size)), _) => {
                    d.check_transfer(&digest, size)?;
                    return Ok(BlobPush::Uploaded);
                }
                (301 | 302 | 303 | 307 | 308, None, BlobSource::Http { request, accept }) => {
                    let request = redirected(request, &resp).map_err(|e| e.context(&what))?;
                    from = BlobSource::Http { request, accept: accept.clone() };
                }
                // Too large for one request (a proxy's body limit): send the blob in chunks.
                (413, _, _) => return self.push_chunked(repository, d, &from).await,
                _ => return Err(status_error(&what, &resp)),
            }
        }
        Err(Error::other(format!("{what}: too many redirects")))
    }

    /// An authorized GET of a blob (the first hop; used as a transfer source;
    /// see [`redirected`] for the next).
    pub async fn blob_request(&self, repository: &str, digest: &Digest) -> Result<HttpRequest> {
        let base = self.ensure_base().await?;
        let mut headers = Vec::new();
        if let Some(a) = self.authorization(&pull_scope(repository)).await? {
            headers.push(("Authorization".to_owned(), a));
        }
        Ok(self.get(format!("{base}/v2/{repository}/blobs/{digest}"), headers, MAX_SMALL_BODY))
    }

    /// Puts a small blob the core made (a converted config) into `repository`.
    pub async fn push_blob_bytes(&self, repository: &str, d: &Descriptor, bytes: &[u8]) -> Result<BlobPush> {
        let mut put = match self.start_upload(repository, d, None).await? {
            UploadStart::Done(outcome) => return Ok(outcome),
            UploadStart::Session(s) => s.put(&d.digest),
        };
        put.body = Some(bytes.to_vec());
        self.put_created(put, &format!("writing blob {} to {}/{repository}", d.digest, self.registry)).await?;
        Ok(BlobPush::Uploaded)
    }

    /// Stores a manifest under `reference` (a tag or its digest).
    pub async fn put_manifest(&self, repository: &str, reference: &str, bytes: &[u8], media_type: &str) -> Result<()> {
        let base = self.ensure_base().await?;
        let scope = push_scope(repository);
        let what = format!("writing manifest {reference} to {}/{repository}", self.registry);
        let mut headers = vec![("Content-Type".to_owned(), media_type.to_owned())];
        if let Some(a) = self.authorization(&scope).await? {
            headers.push(("Authorization".to_owned(), a));
        }
        let req = HttpRequest {
            method: "PUT".to_owned(),
            url: format!("{base}/v2/{repository}/manifests/{reference}"),
            headers,
            body: Some(bytes.to_vec()),
            max_body: MAX_SMALL_BODY,
            tls: self.opts.tls.clone(),
        };
        let resp = self.put_created(req, &what).await?;
        if let Some(d) = resp.header("docker-content-digest").and_then(|h| Digest::parse(h.trim()).ok()) {
            manifest::verify_manifest_digest(bytes, &d)
                .map_err(|e| e.context(format!("{what}: the registry stored other bytes")))?;
        }
        Ok(())
    }
}

/// What a request attempt came to, for the retry decision.
enum Attempt<'a> {
    Answer(&'a HttpResponse),
    Failed(&'a IoError),
}

/// How an upload begins.
enum UploadStart {
    /// Nothing to send: the blob is there already, or was mounted.
    Done(BlobPush),
    Session(UploadSession),
}

/// An upload in progress: where the next request goes, and its headers.
struct UploadSession {
    location: String,
    headers: Vec<(String, String)>,
    tls: crate::engine::TlsConfig,
}

impl UploadSession {
    /// A request to the session's location (`query` appended).
    fn request(&self, method: &str, query: &str) -> HttpRequest {
        let sep = if self.location.contains('?') { '&' } else { '?' };
        let url = if query.is_empty() { self.location.clone() } else { format!("{}{sep}{query}", self.location) };
        HttpRequest {
            method: method.to_owned(),
            url,
            headers: self.headers.clone(),
            body: None,
            max_body: MAX_SMALL_BODY,
            tls: self.tls.clone(),
        }
    }

    /// The PUT that completes the upload as blob `digest`.
    fn put(&self, digest: &Digest) -> HttpRequest {
        self.request("PUT", &format!("digest={}", url::encode(&digest.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirected_downloads_keep_credentials_at_home() {
        let get = HttpRequest {
            method: "GET".to_owned(),
            url: "https://reg.example/v2/app/blobs/sha256:ab".to_owned(),
            headers: vec![("Authorization".to_owned(), "Bearer t".to_owned()), ("Accept".to_owned(), "*/*".to_owned())],
            body: None,
            max_body: 1,
            tls: Default::default(),
        };
        let answer = |loc: &str| HttpResponse {
            status: 307,
            headers: vec![("Location".to_owned(), loc.to_owned())],
            body: Vec::new(),
        };
        let same = redirected(&get, &answer("/v2/other/blobs/sha256:ab")).unwrap();
        assert_eq!(same.url, "https://reg.example/v2/other/blobs/sha256:ab");
        assert_eq!(same.headers.len(), 2, "same origin: credentials kept");
        let cdn = redirected(&get, &answer("https://cdn.example/x?sig=1")).unwrap();
        assert_eq!(cdn.url, "https://cdn.example/x?sig=1");
        assert!(cdn.headers.iter().all(|(k, _)| k != "Authorization"), "another origin: no credentials");
        assert_eq!(cdn.headers.len(), 1);
        assert!(redirected(&get, &answer("ftp://x/y")).is_err());
    }
}
