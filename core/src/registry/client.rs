//! A registry client written against [`Io`]: every protocol decision (ping
//! and HTTP fallback, auth challenges and token exchange, redirects and
//! whether credentials may follow them, retries, pagination, digest checks)
//! is made here; the host only moves bytes.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::auth::{self, Challenge, Credentials};
use super::error_body::{RegistryErrors, sanitize};
use super::{RegistryOptions, link, url};
use crate::digest::Digest;
use crate::engine::{HttpRequest, HttpResponse, Io, IoError, IoErrorKind};
use crate::error::{Error, ErrorKind, Result};
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
pub struct RegistryClient {
    io: Io,
    /// The registry as named in references (`docker.io`, `localhost:5000`).
    registry: String,
    opts: RegistryOptions,
    credentials: Option<Credentials>,
    /// `scheme://host[:port]` once the `/v2/` ping has succeeded.
    base: Option<String>,
    challenges: Vec<Challenge>,
    tokens: HashMap<String, String>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient").field("registry", &self.registry).field("base", &self.base).finish()
    }
}

/// Scope for pulling from a repository.
pub fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

impl RegistryClient {
    pub fn new(io: Io, registry: &str, repository: &str, opts: RegistryOptions) -> Result<Self> {
        let credentials = if opts.no_creds {
            None
        } else if let Some(c) = opts.credentials.clone() {
            Some(c)
        } else {
            auth::lookup_credentials(&opts.auth_files, registry, repository)?
        };
        Ok(RegistryClient {
            io,
            registry: registry.to_owned(),
            opts,
            credentials,
            base: None,
            challenges: Vec::new(),
            tokens: HashMap::new(),
        })
    }

    /// The host that serves the registry's API (Docker Hub's differs from its name).
    fn api_host(&self) -> &str {
        if self.registry == "docker.io" { "registry-1.docker.io" } else { &self.registry }
    }

    /// Pings `/v2/` over HTTPS, and over plain HTTP when `--tls-verify=false`
    /// allows it, remembering the scheme and the auth challenges.
    async fn ensure_base(&mut self) -> Result<String> {
        if let Some(b) = &self.base {
            return Ok(b.clone());
        }
        let schemes: &[&str] = if self.opts.tls_verify == Some(false) { &["https", "http"] } else { &["https"] };
        let mut last = None;
        for scheme in schemes {
            let base = format!("{scheme}://{}", self.api_host());
            let req = get(format!("{base}/v2/"), vec![], MAX_SMALL_BODY);
            match self.with_retries(req).await {
                Ok(resp) if resp.status == 200 || resp.status == 401 => {
                    self.challenges = auth::parse_challenges(resp.headers_named("www-authenticate"));
                    self.base = Some(base.clone());
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
    async fn with_retries(&mut self, req: HttpRequest) -> std::result::Result<HttpResponse, IoError> {
        let mut attempt = 0u32;
        loop {
            let result = self.io.http(req.clone()).await;
            let (retryable, retry_after) = match &result {
                Ok(r) if r.status == 429 => {
                    (attempt + 1 < TOO_MANY_REQUESTS_TRIES.max(self.opts.retry_times + 1), retry_after_ms(r))
                }
                Ok(r) if matches!(r.status, 502..=504) => (attempt < self.opts.retry_times, None),
                Ok(_) => (false, None),
                // A TLS failure or an oversized body will not go away by asking again.
                Err(e) => (
                    !matches!(e.kind, IoErrorKind::TooLarge | IoErrorKind::Tls) && attempt < self.opts.retry_times,
                    None,
                ),
            };
            if !retryable {
                return result;
            }
            let delay =
                retry_after.or(self.opts.retry_delay_ms).unwrap_or(1000u64 << attempt.min(6)).min(MAX_BACKOFF_MS);
            self.io.sleep(delay).await;
            attempt += 1;
        }
    }

    /// The `Authorization` header for `scope`, if the registry asks for one.
    async fn authorization(&mut self, scope: &str) -> Result<Option<String>> {
        let bearer = self.challenges.iter().find(|c| c.scheme == "bearer").cloned();
        if let Some(ch) = bearer {
            return Ok(Some(format!("Bearer {}", self.bearer_token(&ch, scope).await?)));
        }
        if self.challenges.iter().any(|c| c.scheme == "basic") {
            return Ok(self.credentials.as_ref().map(basic));
        }
        Ok(None)
    }

    async fn bearer_token(&mut self, ch: &Challenge, scope: &str) -> Result<String> {
        if let Some(t) = &self.opts.registry_token {
            return Ok(t.clone());
        }
        if let Some(t) = self.tokens.get(scope) {
            return Ok(t.clone());
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
            let registry_host = self.base.as_deref().and_then(url::host);
            if !realm_origin.starts_with("https://") && url::host(&realm_origin) != registry_host {
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
            .with_retries(get(token_url, headers, MAX_SMALL_BODY))
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
        self.tokens.insert(scope.to_owned(), token.clone());
        Ok(token)
    }

    /// Sends a request to the registry with authentication, following
    /// redirects (credentials only ever go to the registry's own origin).
    async fn send(
        &mut self,
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
                let req =
                    HttpRequest { method: method.to_owned(), url: target.clone(), headers: h, body: None, max_body };
                let resp = self
                    .with_retries(req)
                    .await
                    .map_err(|e| io_error(e).context(format!("{method} {}", redact(&target))))?;
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
                    if !challenges.is_empty() {
                        self.challenges = challenges;
                    }
                    if self.tokens.remove(scope).is_some() {
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
    pub async fn get_manifest(&mut self, repository: &str, reference: &str) -> Result<(Vec<u8>, Option<String>)> {
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

    /// A small blob (a config), verified against its digest.
    pub async fn get_blob(&mut self, repository: &str, digest: &Digest, max: u64) -> Result<Vec<u8>> {
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
    pub async fn list_tags(&mut self, repository: &str) -> Result<Vec<String>> {
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
    pub async fn delete_manifest(&mut self, repository: &str, digest: &Digest) -> Result<()> {
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

fn get(url: String, headers: Vec<(String, String)>, max_body: u64) -> HttpRequest {
    HttpRequest { method: "GET".to_owned(), url, headers, body: None, max_body }
}

fn basic(c: &Credentials) -> String {
    format!("Basic {}", STANDARD.encode(format!("{}:{}", c.username, c.password)))
}

fn retry_after_ms(r: &HttpResponse) -> Option<u64> {
    r.header("retry-after")?.trim().parse::<u64>().ok().map(|s| s.saturating_mul(1000))
}

/// Drops the query (it may carry signed tokens) from a URL shown to people.
fn redact(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
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
