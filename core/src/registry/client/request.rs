//! The one way a request reaches a registry ([`RegistryClient::send_with`]):
//! the ping first (or the session's first anonymous GET in its place,
//! [`RegistryClient::first_contact`]), the `Authorization` the scope
//! needs, retries, redirects, and a fresh token once after a 401. Credentials follow one rule
//! ([`Home::authorize`]): they go to the registry's own origin (scheme, host
//! and port) and nowhere else — a redirect to a CDN goes without them, and
//! one that comes back to the registry gets them again. Also the registry's
//! URLs, built in one place each.

use std::future::Future;

use super::error::{io_error, sanitize};
use super::retry::Attempt;
use super::{RegistryClient, url};
use crate::digest::Digest;
use crate::engine::{HttpRequest, HttpResponse, IoError};
use crate::error::{Error, Result};
use crate::media_type;
use url::Url;

/// Token responses, error bodies, upload answers: never more than this.
pub(super) const MAX_SMALL_BODY: u64 = 1024 * 1024;
/// Redirects followed from one request before giving up (a registry that loops).
pub(super) const MAX_REDIRECTS: usize = 10;

/// `/v2/<repository>/blobs/<digest>`.
pub(super) fn blob_path(repository: &str, digest: &Digest) -> String {
    format!("/v2/{repository}/blobs/{digest}")
}

/// `/v2/<repository>/blobs/uploads/`, where uploads start.
pub(super) fn uploads_path(repository: &str) -> String {
    format!("/v2/{repository}/blobs/uploads/")
}

/// `/v2/<repository>/manifests/<tag or digest>`.
pub(super) fn manifest_path(repository: &str, reference: &str) -> String {
    format!("/v2/{repository}/manifests/{reference}")
}

/// `/v2/<repository>/tags/list`.
pub(super) fn tags_path(repository: &str) -> String {
    format!("/v2/{repository}/tags/list")
}

/// `path` (one of the above) on the registry whose API root is `base`.
pub(super) fn api_url(base: &Url, path: &str) -> Url {
    // Repository names, tags and digests are validated: nothing to escape.
    url::join(base, path).unwrap_or_else(|| base.clone())
}

/// The `Accept` header of manifest requests: every format we can read.
pub(super) fn manifest_accept() -> (String, String) {
    ("Accept".to_owned(), media_type::MANIFEST_ACCEPT.join(", "))
}

/// Where a request goes.
pub(super) enum Target {
    /// A path on the registry (`/v2/…`).
    Path(String),
    /// An absolute URL the registry gave (an upload session, a next page).
    Url(Url),
}

/// A request to the registry, before authorization.
pub(super) struct Call<'a> {
    pub method: &'static str,
    pub target: Target,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub max_body: u64,
    /// The token scope the request needs.
    pub scope: &'a str,
}

impl<'a> Call<'a> {
    pub fn new(method: &'static str, target: Target, scope: &'a str, max_body: u64) -> Self {
        Call { method, target, headers: Vec::new(), body: None, max_body, scope }
    }
    pub fn path(method: &'static str, path: String, scope: &'a str, max_body: u64) -> Self {
        Self::new(method, Target::Path(path), scope, max_body)
    }
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }
}

/// What became of a request: the server's answer, or, for a transfer whose
/// source the request is, what moved.
pub(super) enum Reached<T> {
    Answer(HttpResponse),
    Moved(T),
}

/// A registry's origin and the `Authorization` that may go there.
#[derive(Debug, Clone)]
pub(super) struct Home {
    /// The registry's API root (`https://host[:port]/`) or, for a request
    /// another client authorized, that request's URL.
    base: Url,
    authorization: Option<String>,
}

impl Home {
    /// `base`'s origin, where `authorization` (if any) may go.
    pub fn new(base: Url, authorization: Option<String>) -> Home {
        Home { base, authorization }
    }

    /// The home of a request another client made (a source registry's blob
    /// GET, see [`RegistryClient::blob_request`]): its origin and its credentials.
    pub fn of(request: &HttpRequest) -> Option<Home> {
        let base = url::parse(&request.url)?;
        let authorization =
            request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.clone());
        Some(Home { base, authorization })
    }

    /// The one place `Authorization` is set: to ours when `request` goes to
    /// the home origin, to nothing anywhere else.
    pub fn authorize(&self, request: &mut HttpRequest) {
        request.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
        if let Some(a) = &self.authorization
            && url::parse(&request.url).is_some_and(|u| url::same_origin(&u, &self.base))
        {
            request.headers.push(("Authorization".to_owned(), a.clone()));
        }
    }
}

/// The answer of a plain exchange.
fn answer(reached: Reached<()>) -> Result<HttpResponse> {
    match reached {
        Reached::Answer(resp) => Ok(resp),
        Reached::Moved(()) => unreachable!("a plain exchange moves nothing"),
    }
}

/// Whether `status` is a redirect to follow.
pub(super) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Where the redirect `resp` to a request for `from` points.
fn redirect_target(from: &Url, resp: &HttpResponse) -> Result<Url> {
    let loc = resp.header("location").ok_or_else(|| Error::other("redirected without a Location"))?;
    url::join(from, loc.trim())
        .ok_or_else(|| Error::other(format!("redirected to an invalid location {:?}", sanitize(loc))))
}

/// Whether `request` may be sent again as it was after the connection
/// closed under it (Go's `isReplayable`: GET and HEAD).
fn replayable(request: &HttpRequest) -> bool {
    matches!(request.method.as_str(), "GET" | "HEAD")
}

/// Whether `request` sends a body (given, or streamed by a transfer):
/// containers/image never repeats such a request on a 429.
fn carries_body(request: &HttpRequest) -> bool {
    request.body.as_ref().is_some_and(|b| !b.is_empty()) || matches!(request.method.as_str(), "PUT" | "PATCH")
}

/// `url` without its query (which may hold a CDN's signature), for messages.
fn shown(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    sanitize(u.as_str())
}

impl RegistryClient {
    /// `request` exactly as given (no credentials added, no redirects
    /// followed), retried as the policy allows: the ping.
    pub(super) async fn send_direct(&self, request: HttpRequest) -> Result<HttpResponse, IoError> {
        let replayable = replayable(&request);
        self.retrying(
            || self.io.http(request.clone()),
            |r| {
                Some(match r {
                    Ok(resp) => Attempt::Answer(resp),
                    Err(error) => Attempt::Failed { error, replayable },
                })
            },
        )
        .await
    }

    /// The registry's API root and the credentials `scope` needs there.
    pub(super) async fn home(&self, scope: &str) -> Result<Home> {
        let base = self.ensure_base().await?;
        Ok(Home { base, authorization: self.authorization(scope).await? })
    }

    /// `call` as the host would send it, authorized (a transfer's sink).
    pub(super) async fn request(&self, call: Call<'_>) -> Result<HttpRequest> {
        let home = self.home(call.scope).await?;
        Ok(self.build(&home, &call))
    }

    pub(super) fn build(&self, home: &Home, call: &Call<'_>) -> HttpRequest {
        let url = match &call.target {
            Target::Path(p) => api_url(&home.base, p),
            Target::Url(u) => u.clone(),
        };
        let mut headers = call.headers.clone();
        headers.push(super::super::user_agent(&self.opts));
        let mut request = HttpRequest {
            method: call.method.to_owned(),
            url: url.as_str().to_owned(),
            headers,
            body: call.body.clone(),
            max_body: call.max_body,
            tls: self.opts.tls.clone(),
            proxy: self.opts.proxy.for_url(url.as_str()),
            timeouts: self.opts.timeouts.resolve(),
        };
        home.authorize(&mut request);
        request
    }

    /// Sends `call` to the registry and returns its answer (the session's
    /// first call may stand in for the ping).
    pub(super) async fn send(&self, call: Call<'_>) -> Result<HttpResponse> {
        if let Some(resp) = self.first_contact(&call).await? {
            return Ok(resp);
        }
        answer(self.send_with(call, |request| self.exchange(request)).await?)
    }

    /// Sends `request` to another origin (a token endpoint), with `home`'s
    /// credentials only there: retried, redirects followed.
    pub(super) async fn send_elsewhere(&self, home: &Home, request: HttpRequest) -> Result<HttpResponse> {
        answer(self.deliver(home, request, &|request| self.exchange(request), true).await?)
    }

    /// A plain HTTP exchange, as a carrier for [`Self::deliver`].
    async fn exchange(&self, request: HttpRequest) -> Result<Reached<()>, IoError> {
        self.io.http(request).await.map(Reached::Answer)
    }

    /// Sends `call` to the registry, carried by `carry` (a plain exchange,
    /// or a transfer whose source it is): authorized for its scope,
    /// retried, redirects followed, and once more with a fresh token if the
    /// registry refuses the one it had.
    pub(super) async fn send_with<T, F, Fut>(&self, call: Call<'_>, carry: F) -> Result<Reached<T>>
    where
        F: Fn(HttpRequest) -> Fut,
        Fut: Future<Output = Result<Reached<T>, IoError>>,
    {
        let mut refreshed = false;
        loop {
            let home = self.home(call.scope).await?;
            let reached = self.deliver(&home, self.build(&home, &call), &carry, true).await?;
            if let Reached::Answer(resp) = &reached
                && resp.status == 401
                && !refreshed
                && self.retry_after_401(call.scope, resp)
            {
                refreshed = true;
                continue;
            }
            return Ok(reached);
        }
    }

    /// Carries `request` with retries (of host failures too, if
    /// `retry_failures`), following redirects with credentials as `home`
    /// allows them.
    pub(super) async fn deliver<T, F, Fut>(
        &self,
        home: &Home,
        mut request: HttpRequest,
        carry: &F,
        retry_failures: bool,
    ) -> Result<Reached<T>>
    where
        F: Fn(HttpRequest) -> Fut,
        Fut: Future<Output = Result<Reached<T>, IoError>>,
    {
        let first = url::parse(&request.url)
            .ok_or_else(|| Error::other(format!("invalid request URL {:?}", sanitize(&request.url))))?;
        let mut at = first.clone();
        for _ in 0..=MAX_REDIRECTS {
            home.authorize(&mut request);
            let replayable = replayable(&request);
            let with_body = carries_body(&request);
            let reached = self
                .retrying(
                    || carry(request.clone()),
                    |r| match r {
                        // Answered as it is: a body is not sent twice on a 429.
                        Ok(Reached::Answer(resp)) if with_body && resp.status == 429 => None,
                        Ok(Reached::Answer(resp)) => Some(Attempt::Answer(resp)),
                        Ok(Reached::Moved(_)) => None,
                        Err(error) => retry_failures.then_some(Attempt::Failed { error, replayable }),
                    },
                )
                .await;
            // The host's message already names the request.
            match reached.map_err(io_error)? {
                Reached::Answer(resp) if is_redirect(resp.status) => {
                    at = redirect_target(&at, &resp).map_err(|e| e.context(shown(&first)))?;
                    request.url = at.as_str().to_owned();
                }
                reached => return Ok(reached),
            }
        }
        Err(Error::other(format!("{}: too many redirects", shown(&first))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(url: &str, headers: &[(&str, &str)]) -> HttpRequest {
        HttpRequest {
            method: "GET".to_owned(),
            url: url.to_owned(),
            headers: headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            body: None,
            max_body: 1,
            tls: Default::default(),
            proxy: None,
            timeouts: Default::default(),
        }
    }

    #[test]
    fn credentials_only_go_home() {
        let home =
            Home::of(&get("https://reg.example/v2/app/blobs/sha256:ab", &[("Authorization", "Bearer t")])).unwrap();
        let authorized = |url: &str| {
            let mut r = get(url, &[("authorization", "Bearer stale"), ("Accept", "*/*")]);
            home.authorize(&mut r);
            assert!(r.headers.iter().any(|(k, _)| k == "Accept"), "other headers are kept");
            r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.clone())
        };
        assert_eq!(authorized("https://reg.example/v2/other/blobs/sha256:ab").as_deref(), Some("Bearer t"));
        assert_eq!(authorized("https://REG.example:443/x").as_deref(), Some("Bearer t"));
        assert_eq!(authorized("https://cdn.example/x?sig=1"), None);
        assert_eq!(authorized("http://reg.example/x"), None, "another scheme is another origin");
        assert_eq!(authorized("https://reg.example:8443/x"), None, "another port too");
        assert_eq!(authorized("not a url"), None);
    }

    #[test]
    fn redirect_targets() {
        let from = url::parse("https://reg.example/v2/app/blobs/sha256:ab").unwrap();
        let answer = |loc: Option<&str>| HttpResponse {
            status: 307,
            headers: loc.map(|l| ("Location".to_owned(), l.to_owned())).into_iter().collect(),
            body: Vec::new(),
        };
        assert_eq!(
            redirect_target(&from, &answer(Some("/v2/other/blobs/sha256:ab"))).unwrap().as_str(),
            "https://reg.example/v2/other/blobs/sha256:ab"
        );
        assert_eq!(redirect_target(&from, &answer(Some("https://cdn/x?s=1"))).unwrap().as_str(), "https://cdn/x?s=1");
        assert!(redirect_target(&from, &answer(Some("ftp://x/y"))).is_err());
        assert!(redirect_target(&from, &answer(None)).is_err());
    }
}
