//! The registry side of the distribution spec: the client state machine and
//! the pieces of protocol it is made of.

pub mod attachments;
pub mod auth;
mod client;
mod link;
pub mod lookaside;
pub(crate) mod url;

pub use client::{BlobPush, RegistryClient, RegistryErrors, sanitize};

/// skiff's `User-Agent`, as skopeo's is `skopeo/<version>`.
pub const USER_AGENT: &str = concat!("skiff/", env!("CARGO_PKG_VERSION"));

/// The `User-Agent` header for requests made with `opts`.
pub fn user_agent(opts: &RegistryOptions) -> (String, String) {
    let value = match opts.user_agent_prefix.as_deref().filter(|p| !p.is_empty()) {
        Some(prefix) => format!("{prefix} {USER_AGENT}"),
        None => USER_AGENT.to_owned(),
    };
    ("User-Agent".to_owned(), value)
}

use serde::Deserialize;

/// How to talk to a registry, as the host's flags and config describe it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryOptions {
    /// `--tls-verify`: `false` also allows falling back to plain HTTP.
    #[serde(default)]
    pub tls_verify: Option<bool>,
    /// `--creds` or `--username`/`--password`.
    #[serde(default)]
    pub credentials: Option<auth::Credentials>,
    /// `--registry-token`: a bearer token used as is.
    #[serde(default)]
    pub registry_token: Option<String>,
    /// `--no-creds`: access the registry anonymously.
    #[serde(default)]
    pub no_creds: bool,
    /// `--authfile`: instead of the auth file chain.
    #[serde(default)]
    pub authfile: Option<String>,
    /// `--cert-dir`: instead of the certs.d directories.
    #[serde(default)]
    pub cert_dir: Option<String>,
    /// `--retry-times`: how often a request that failed in a transient way is tried again.
    #[serde(default)]
    pub retry_times: u32,
    /// `--registries-conf`: instead of the registries.conf files.
    #[serde(default)]
    pub registries_conf: Option<String>,
    /// An OAuth2 refresh token from the auth file (`identitytoken`), found
    /// with the credentials.
    #[serde(skip)]
    pub identity_token: Option<String>,
    /// `--user-agent-prefix`: put before skiff's own `User-Agent`.
    #[serde(default)]
    pub user_agent_prefix: Option<String>,
    /// `--retry-delay` in milliseconds; exponential back-off (1 s, 2 s, 4 s…) when unset.
    #[serde(default)]
    pub retry_delay_ms: Option<u64>,
    /// How the host checks the registry's TLS server (decided by the core
    /// from `tls_verify`, `cert_dir` and certs.d before the client is made).
    #[serde(skip)]
    pub tls: crate::engine::TlsConfig,
    /// The proxies of the user's environment (found with `tls`).
    #[serde(skip)]
    pub proxy: crate::config::proxy::ProxyConfig,
}
