//! The registry side of the distribution spec: the client state machine and
//! the pieces of protocol it is made of.

pub mod attachments;
pub mod auth;
mod client;
mod link;
pub mod lookaside;
pub(crate) mod url;

pub use client::{BlobPush, RegistryClient, RegistryErrors, Surveyed, sanitize};

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
/// The user's timeouts, in milliseconds (None: the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutOptions {
    #[serde(default)]
    pub connect_ms: Option<u64>,
    #[serde(default)]
    pub response_ms: Option<u64>,
    #[serde(default)]
    pub idle_ms: Option<u64>,
    #[serde(default)]
    pub total_ms: Option<u64>,
}

impl TimeoutOptions {
    /// What the host is told: the user's values over the defaults (0: none
    /// for the whole answer; the others are always bounded).
    pub fn resolve(&self) -> crate::engine::Timeouts {
        let d = crate::engine::Timeouts::default();
        crate::engine::Timeouts {
            connect_ms: self.connect_ms.filter(|&v| v > 0).unwrap_or(d.connect_ms),
            response_ms: self.response_ms.filter(|&v| v > 0).unwrap_or(d.response_ms),
            idle_ms: self.idle_ms.filter(|&v| v > 0).unwrap_or(d.idle_ms),
            total_ms: match self.total_ms {
                Some(0) => None,
                Some(v) => Some(v),
                None => d.total_ms,
            },
        }
    }
}

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
    /// `--tls-details`: a containers-tls-details.yaml(5) file.
    #[serde(default)]
    pub tls_details: Option<String>,
    /// `--allow-token-host HOST` (skiff's): token services on another
    /// domain than the registry's that may receive its credentials.
    #[serde(default)]
    pub token_hosts: Vec<String>,
    /// `--connect-timeout`, `--response-timeout`, `--idle-timeout`,
    /// `--request-timeout` (skiff's), each instead of its default.
    #[serde(default)]
    pub timeouts: TimeoutOptions,
    /// How the host checks the registry's TLS server (decided by the core
    /// from `tls_verify`, `cert_dir` and certs.d before the client is made).
    #[serde(skip)]
    pub tls: crate::engine::TlsConfig,
    /// The proxies of the user's environment (found with `tls`).
    #[serde(skip)]
    pub proxy: crate::config::proxy::ProxyConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_default_and_overridden() {
        let d = TimeoutOptions::default().resolve();
        assert_eq!(d, crate::engine::Timeouts::default());
        assert_eq!((d.connect_ms, d.response_ms, d.idle_ms, d.total_ms), (30_000, 60_000, 60_000, Some(300_000)));
        let t =
            TimeoutOptions { connect_ms: Some(1500), response_ms: Some(0), idle_ms: None, total_ms: Some(0) }.resolve();
        assert_eq!(t.connect_ms, 1500);
        assert_eq!(t.response_ms, 60_000, "0 is not \"never\" for a wait that must end");
        assert_eq!(t.total_ms, None, "0: no bound on a whole answer");
    }
}
