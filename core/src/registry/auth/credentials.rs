//! Credentials, and their lookup in containers-auth.json(5) files and
//! Docker's `config.json`: in each file, in order, a `credHelpers` entry for
//! the registry first, then the most specific `auths` key (`host/ns/repo`
//! before `host`), then the file's `credsStore`; the first file that has
//! one wins.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use std::collections::BTreeMap;

use crate::error::{Error, Result};

#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    // Never print a password, even in a debug log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

pub use crate::config::auth_files::AuthFile;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Wire {
    #[serde(default)]
    auths: BTreeMap<String, Entry>,
    /// Registry → the helper (`docker-credential-<name>`) that holds its credentials.
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    /// Docker's default helper for registries without an entry.
    #[serde(default)]
    creds_store: Option<String>,
}

/// Where a registry's credentials are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Stored in an auth file.
    Entry(Credentials),
    /// Held by this credential helper (`docker-credential-<name>`).
    Helper(String),
    /// A bearer token for the registry itself (Docker's `registrytoken`).
    RegistryToken(String),
    /// An OAuth2 refresh token for the registry's token service (`identitytoken`).
    IdentityToken(String),
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    /// Docker's `registrytoken`: a bearer token sent to the registry as it is.
    #[serde(default)]
    registrytoken: Option<String>,
    /// An OAuth2 refresh token, traded for access tokens (`identitytoken`).
    #[serde(default)]
    identitytoken: Option<String>,
}

/// Credentials stored for `registry`/`repository` in `files` (helpers aside).
pub fn lookup_credentials(files: &[AuthFile], registry: &str, repository: &str) -> Result<Option<Credentials>> {
    Ok(match lookup(files, registry, repository)? {
        Some(Source::Entry(c)) => Some(c),
        _ => None,
    })
}

/// Where the credentials for `registry`/`repository` are, from `files` in order.
pub fn lookup(files: &[AuthFile], registry: &str, repository: &str) -> Result<Option<Source>> {
    let mut keys = Vec::new();
    let mut scope = format!("{registry}/{repository}");
    loop {
        keys.push(scope.clone());
        match scope.rfind('/') {
            Some(i) => scope.truncate(i),
            None => break,
        }
    }
    for file in files {
        let bad = |e: serde_json::Error| Error::invalid(format!("reading JSON file {:?}: {e}", file.path));
        let wire: Wire = match file.is_legacy() {
            true => Wire { auths: serde_json::from_str(&file.contents).map_err(bad)?, ..Wire::default() },
            false => serde_json::from_str(&file.contents).map_err(bad)?,
        };
        if let Some(helper) = wire.cred_helpers.iter().find(|(k, _)| normalize_key(k) == registry).map(|(_, h)| h) {
            return Ok(Some(Source::Helper(helper.clone())));
        }
        // Docker's config.json keys may be URLs (https://index.docker.io/v1/).
        let normalized: BTreeMap<String, &Entry> = wire.auths.iter().map(|(k, v)| (normalize_key(k), v)).collect();
        for key in &keys {
            if let Some(entry) = normalized.get(key) {
                // Docker leaves empty entries behind for what its store holds.
                let empty = entry.auth.as_deref().is_none_or(str::is_empty) && entry.username.is_none();
                if let Some(t) = entry.registrytoken.as_deref().filter(|t| !t.is_empty()) {
                    return Ok(Some(Source::RegistryToken(t.to_owned())));
                }
                if let Some(t) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
                    return Ok(Some(Source::IdentityToken(t.to_owned())));
                }
                if !(empty && wire.creds_store.is_some()) {
                    return decode(entry, &file.path).map(|c| Some(Source::Entry(c)));
                }
            }
        }
        if let Some(store) = wire.creds_store.filter(|s| !s.is_empty()) {
            return Ok(Some(Source::Helper(store)));
        }
    }
    Ok(None)
}

fn normalize_key(key: &str) -> String {
    let stripped = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://"));
    let k = match stripped {
        // A URL-shaped key names only a host.
        Some(rest) => rest.split('/').next().unwrap_or(rest),
        None => key,
    };
    match k {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        other => other.to_owned(),
    }
}

fn decode(entry: &Entry, path: &str) -> Result<Credentials> {
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let raw = STANDARD
            .decode(auth.trim())
            .map_err(|_| Error::invalid(format!("invalid auth entry in {path:?}: not base64")))?;
        let s =
            String::from_utf8(raw).map_err(|_| Error::invalid(format!("invalid auth entry in {path:?}: not UTF-8")))?;
        let (u, p) = s
            .split_once(':')
            .ok_or_else(|| Error::invalid(format!("invalid auth entry in {path:?}: expected user:password")))?;
        return Ok(Credentials { username: u.to_owned(), password: p.to_owned() });
    }
    Ok(Credentials {
        username: entry.username.clone().unwrap_or_default(),
        password: entry.password.clone().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(json: &str) -> AuthFile {
        AuthFile { path: "auth.json".into(), contents: json.into() }
    }

    #[test]
    fn most_specific_key_of_first_file_wins() {
        let a = STANDARD.encode("alice:pw1");
        let b = STANDARD.encode("bob:pw2");
        let files = [
            file(&format!(r#"{{"auths":{{"r.io":{{"auth":"{a}"}},"r.io/team":{{"auth":"{b}"}}}}}}"#)),
            file(&format!(r#"{{"auths":{{"other.io":{{"auth":"{a}"}}}}}}"#)),
        ];
        assert_eq!(lookup_credentials(&files, "r.io", "team/app").unwrap().unwrap().username, "bob");
        assert_eq!(lookup_credentials(&files, "r.io", "solo").unwrap().unwrap().username, "alice");
        assert_eq!(lookup_credentials(&files, "other.io", "x").unwrap().unwrap().password, "pw1");
        assert!(lookup_credentials(&files, "none.io", "x").unwrap().is_none());
    }

    #[test]
    fn docker_config_url_keys() {
        let a = STANDARD.encode("u:p:with:colons");
        let files = [file(&format!(r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{a}"}}}}}}"#))];
        let c = lookup_credentials(&files, "docker.io", "library/x").unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p:with:colons"));
    }

    #[test]
    fn helpers_come_first_and_the_store_last() {
        let a = STANDARD.encode("alice:pw1");
        let files = [
            file(&format!(
                r#"{{"auths":{{"r.io":{{"auth":"{a}"}},"docker.io":{{}}}},"credHelpers":{{"r.io":"pass"}},"credsStore":"desktop"}}"#
            )),
            file(&format!(r#"{{"auths":{{"s.io":{{"auth":"{a}"}}}}}}"#)),
        ];
        assert_eq!(lookup(&files, "r.io", "x").unwrap(), Some(Source::Helper("pass".into())));
        // Docker's empty placeholder means "in the store".
        assert_eq!(lookup(&files, "docker.io", "library/x").unwrap(), Some(Source::Helper("desktop".into())));
        // The first file's store answers for any registry it has no entry for.
        assert_eq!(lookup(&files, "s.io", "x").unwrap(), Some(Source::Helper("desktop".into())));
        let token = [file(r#"{"auths":{"t.io":{"registrytoken":"abc"}}}"#)];
        assert_eq!(lookup(&token, "t.io", "x").unwrap(), Some(Source::RegistryToken("abc".into())));
        let identity = [file(r#"{"auths":{"t.io":{"identitytoken":"refresh-me"}}}"#)];
        assert_eq!(lookup(&identity, "t.io", "x").unwrap(), Some(Source::IdentityToken("refresh-me".into())));
        let plain = [file(&format!(r#"{{"auths":{{"s.io":{{"auth":"{a}"}}}}}}"#))];
        assert!(matches!(lookup(&plain, "s.io", "x").unwrap(), Some(Source::Entry(c)) if c.username == "alice"));
    }

    #[test]
    fn dockercfg_has_no_auths_wrapper() {
        let a = STANDARD.encode("old:pw");
        let legacy = AuthFile {
            path: "/h/.dockercfg".into(),
            contents: format!(r#"{{"https://index.docker.io/v1/":{{"auth":"{a}","email":"x@y"}}}}"#),
        };
        let c = lookup_credentials(&[legacy], "docker.io", "library/x").unwrap().unwrap();
        assert_eq!(c.username, "old");
    }

    #[test]
    fn bad_files_are_errors() {
        assert!(lookup_credentials(&[file("{")], "r", "x").is_err());
        assert!(lookup_credentials(&[file(r#"{"auths":{"r":{"auth":"!!"}}}"#)], "r", "x").is_err());
    }
}
