//! A registry client written against [`Io`]: every protocol decision (ping
//! and HTTP fallback, auth challenges and token exchange, redirects and
//! whether credentials may follow them, retries, pagination, digest checks)
//! is made here; the host only moves bytes.
//!
//! - [`request`]: the one pipeline every registry request goes through
//!   (authorization, retries, redirects, a fresh token after a 401), the
//!   rule for where credentials go, and the registry's URLs;
//! - [`authorize`]: which `Authorization` a scope needs, bearer tokens;
//! - [`retry`]: which outcomes are tried again, and after how long;
//! - [`pull`] and [`push`]: the operations; [`chunked`]: chunked uploads;
//! - [`error`]: statuses and error bodies as errors;
//! - [`survey`]: a destination repository's tags, listed once per run.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

mod authorize;
mod chunked;
mod error;
mod pull;
mod push;
mod request;
mod retry;
mod survey;

pub use error::{RegistryErrors, sanitize};
pub use push::BlobPush;
pub use survey::Surveyed;

use super::auth::{self, Challenge, Credentials, Token};
use super::{RegistryOptions, url};
use crate::engine::{HttpRequest, HttpResponse, Io};
use crate::error::{Error, Result};
use error::{describe_body, io_error};
use request::MAX_SMALL_BODY;
use retry::RetryPolicy;
use url::Url;

/// A client for one registry, with the credentials chosen for one repository.
/// Its methods take `&self` so that several transfers can share it; the
/// session state is borrowed only between awaits.
pub struct RegistryClient {
    io: Io,
    /// The registry as named in references (`docker.io`, `localhost:5000`).
    registry: String,
    opts: RegistryOptions,
    credentials: Option<Credentials>,
    /// Shared by every client of this operation for the same registry,
    /// access and credentials (the images of a sync ping and log in once).
    session: Rc<RefCell<Session>>,
    session_key: String,
}

/// What the client learns while talking to the registry.
#[derive(Default)]
struct Session {
    /// `scheme://host[:port]/` once the `/v2/` ping has succeeded.
    base: Option<Url>,
    challenges: Vec<Challenge>,
    /// Bearer tokens by scope.
    tokens: HashMap<String, Token>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient").field("registry", &self.registry).finish()
    }
}

/// What makes two clients' sessions interchangeable: the registry, how it
/// is reached and who asks.
fn session_key(registry: &str, opts: &RegistryOptions, credentials: Option<&Credentials>) -> String {
    let who = credentials.map(|c| format!("{}:{}", c.username, c.password));
    format!(
        "registry-session {registry} {:?} {:?} {:?} {who:?} {:?} {:?}",
        opts.tls_verify, opts.tls, opts.proxy, opts.registry_token, opts.identity_token
    )
}

/// Scope for pulling from a repository.
pub fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

/// Scope for pushing to a repository.
pub fn push_scope(repository: &str) -> String {
    format!("repository:{repository}:pull,push")
}

/// Scope for deleting from a repository.
fn delete_scope(repository: &str) -> String {
    format!("repository:{repository}:*")
}

impl RegistryClient {
    /// A client for `registry`; the credentials in `opts` were found for
    /// the repository before (`transport::resolve_registry`).
    pub fn new(io: Io, registry: &str, opts: RegistryOptions) -> Result<Self> {
        let credentials = if opts.no_creds { None } else { opts.credentials.clone() };
        let session_key = session_key(registry, &opts, credentials.as_ref());
        let session = io.shared::<RefCell<Session>>(&session_key);
        Ok(RegistryClient { io, registry: registry.to_owned(), opts, credentials, session, session_key })
    }

    /// `--retry-times` and `--retry-delay`.
    fn retry(&self) -> RetryPolicy {
        RetryPolicy { times: self.opts.retry_times, delay_ms: self.opts.retry_delay_ms }
    }

    /// A GET this client's TLS settings apply to.
    fn get(&self, url: &Url, mut headers: Vec<(String, String)>, max_body: u64) -> HttpRequest {
        headers.push(super::user_agent(&self.opts));
        HttpRequest {
            method: "GET".to_owned(),
            url: url.as_str().to_owned(),
            headers,
            body: None,
            max_body,
            tls: self.opts.tls.clone(),
            proxy: self.opts.proxy.for_url(url.as_str()),
            timeouts: self.opts.timeouts.resolve(),
        }
    }

    /// The host that serves the registry's API (Docker Hub's differs from its name).
    fn api_host(&self) -> &str {
        if self.registry == "docker.io" { "registry-1.docker.io" } else { &self.registry }
    }

    /// Pings `/v2/` over HTTPS, and over plain HTTP when `--tls-verify=false`
    /// allows it, remembering the scheme and the auth challenges.
    async fn ensure_base(&self) -> Result<Url> {
        // One ping per registry and access for the whole operation.
        let _turn = self.io.lock(format!("ping {}", self.session_key)).await;
        if let Some(b) = self.session.borrow().base.clone() {
            return Ok(b);
        }
        let ping = |base: &Url| self.get(&request::api_url(base, "/v2/"), vec![], MAX_SMALL_BODY);
        let (base, resp) = self.reach(ping, |resp| resp.status == 200 || resp.status == 401).await?;
        let mut session = self.session.borrow_mut();
        session.challenges = auth::parse_challenges(resp.headers_named("www-authenticate"));
        session.base = Some(base.clone());
        Ok(base)
    }

    /// The answer to `call` sent as this session's first request, standing
    /// in for the ping: None when the session has met the registry already,
    /// or `call` may not stand in, or its answer is not the last word (a
    /// bearer challenge, which is remembered so the call goes again with a
    /// token; a redirect, followed when it goes again).
    ///
    /// Only a client that sends no credentials does this (a ping first
    /// learns how the registry wants them, before any is sent), and only
    /// with a GET or HEAD of a path on the registry's root, without a body
    /// (safe to send to a server not yet known to be a registry). It saves
    /// the ping's round trip for every registry that needs no token. Where
    /// plain HTTP is allowed, the call goes over both schemes at once, as
    /// the ping would, so it names the repository over plain HTTP even when
    /// HTTPS answers.
    async fn first_contact(&self, call: &request::Call<'_>) -> Result<Option<HttpResponse>> {
        let anonymous =
            self.credentials.is_none() && self.opts.registry_token.is_none() && self.opts.identity_token.is_none();
        let on_root = matches!(call.target, request::Target::Path(_));
        let met = || self.session.borrow().base.is_some();
        if !anonymous || !on_root || !matches!(call.method, "GET" | "HEAD") || call.body.is_some() || met() {
            return Ok(None);
        }
        // Checked again under the lock: another call may have met it meanwhile.
        let _turn = self.io.lock(format!("ping {}", self.session_key)).await;
        if met() {
            return Ok(None);
        }
        let (base, resp) =
            self.reach(|base| self.build(&request::Home::new(base.clone(), None), call), |_| true).await?;
        let mut session = self.session.borrow_mut();
        session.base = Some(base);
        if resp.status == 401 {
            session.challenges = auth::parse_challenges(resp.headers_named("www-authenticate"));
            // An anonymous token may open it; nothing else this client has would.
            if session.challenges.iter().any(|c| c.scheme == "bearer") {
                return Ok(None);
            }
        }
        Ok((!request::is_redirect(resp.status)).then_some(resp))
    }

    /// Sends `request_for(base)` to the registry's API root over HTTPS, and
    /// over plain HTTP too when `--tls-verify=false` allows it; returns the
    /// root whose answer is `good` and that answer. HTTPS is preferred:
    /// both are asked at once so a plain registry costs no extra round
    /// trip, and the HTTP answer is used only if HTTPS fails (then waited
    /// for). A failure is reported as a failed ping, as skopeo does.
    async fn reach(
        &self,
        request_for: impl Fn(&Url) -> HttpRequest,
        good: impl Fn(&HttpResponse) -> bool,
    ) -> Result<(Url, HttpResponse)> {
        let schemes: &[&str] = if self.opts.tls_verify == Some(false) { &["https", "http"] } else { &["https"] };
        let mut bases = Vec::new();
        for scheme in schemes {
            let base = url::parse(&format!("{scheme}://{}/", self.api_host()))
                .filter(|b| b.path() == "/" && b.query().is_none())
                .ok_or_else(|| Error::invalid(format!("invalid registry name {:?}", self.registry)))?;
            bases.push(base);
        }
        let send = |base: &Url| self.send_direct(request_for(base));
        let answers = match bases.as_slice() {
            [https, http] => {
                let (first, second) =
                    crate::engine::prefer_first(send(https), send(http), |r| r.as_ref().is_ok_and(&good)).await;
                vec![Some(first), second]
            }
            [only] => vec![Some(send(only).await)],
            _ => Vec::new(),
        };
        let mut last = None;
        for (base, answer) in bases.iter().zip(answers) {
            let Some(answer) = answer else { break };
            match answer {
                Ok(resp) if good(&resp) => return Ok((base.clone(), resp)),
                Ok(resp) => {
                    last = Some(Error::other(format!(
                        "pinging container registry {}: unexpected status {}{}",
                        self.registry,
                        resp.status,
                        describe_body(&resp)
                    )))
                }
                Err(e) => {
                    let tls = e.kind == crate::engine::IoErrorKind::Tls;
                    let mut err = io_error(e).context(format!("pinging container registry {}", self.registry));
                    if tls && base.scheme() == "https" {
                        err.message.push_str(&format!(
                            ". To trust this registry, put its CA certificate in /etc/containers/certs.d/{}/ca.crt \
                             (or ~/.config/containers/certs.d/{0}/ca.crt) or pass its directory with --cert-dir; \
                             --tls-verify=false turns the checks off",
                            self.registry
                        ));
                    }
                    last = Some(err);
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::other("no scheme to try")))
    }
}
