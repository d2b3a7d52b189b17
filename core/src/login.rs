//! `login` and `logout`: credentials for a registry (or a namespace in it)
//! stored in, or removed from, the auth file as containers/common does it.
//! A login is checked against the registry before anything is written.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::Environment;
use crate::config::auth_files::{self, AuthFile};
use crate::engine::Io;
use crate::error::{Error, ErrorKind, Result};
use crate::reference::DockerReference;
use crate::registry::auth::lookup_credentials;
use crate::registry::{RegistryClient, RegistryOptions};
use crate::transport::resolve_registry;

/// `skopeo login REGISTRY`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginJob {
    /// `host[:port]`, optionally with a namespace (`host/ns/repo`).
    pub registry: String,
    /// `--get-login`: print the stored username instead of logging in.
    #[serde(default)]
    pub get_login: bool,
    /// `-u`, `-p` (or what the host read from `--password-stdin` or a prompt).
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// `--tls-verify`, `--cert-dir`, `--authfile` (or `--compat-auth-file`).
    #[serde(default)]
    pub access: RegistryOptions,
}

/// `skopeo logout REGISTRY` or `logout --all`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutJob {
    #[serde(default)]
    pub registry: Option<String>,
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub authfile: Option<String>,
}

/// The auth file key for `arg` and the registry it is on: URLs' schemes
/// and a trailing slash dropped, Docker Hub's names folded into
/// `docker.io`; a tag or digest is refused (a key names a repository at most).
fn credentials_key(arg: &str) -> Result<(String, String)> {
    let trimmed = arg.strip_prefix("https://").or_else(|| arg.strip_prefix("http://")).unwrap_or(arg);
    let trimmed = trimmed.trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(Error::invalid("a registry to log into is needed"));
    }
    let (host, rest) = match trimmed.split_once('/') {
        Some((h, r)) => (h, Some(r)),
        None => (trimmed, None),
    };
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        h => h,
    };
    let Some(rest) = rest else { return Ok((host.to_owned(), host.to_owned())) };
    // Check the repository part as an image name would be (lowercase, no tag).
    let r = DockerReference::parse_normalized(&format!("{host}/{rest}"))
        .map_err(|e| e.context(format!("{arg:?} is not a registry or repository")))?;
    if r.tag.is_some() || r.digest.is_some() {
        return Err(Error::invalid(format!("{arg:?}: a credentials key names a registry or repository, not an image")));
    }
    Ok((format!("{host}/{rest}"), host.to_owned()))
}

pub async fn login(io: Io, mut job: LoginJob, env: Environment) -> Result<Vec<u8>> {
    let (key, registry) = credentials_key(&job.registry)?;
    let path = auth_files::writable_path(&env, job.access.authfile.as_deref());
    if job.get_login {
        let contents = serde_json::to_string(&Value::Object(auth_files::read_object(&io, &path).await?))?;
        let files = [AuthFile { path: path.clone(), contents }];
        let (repo_registry, repository) = key.split_once('/').unwrap_or((key.as_str(), ""));
        let found = lookup_credentials(&files, repo_registry, repository)?;
        return match found {
            Some(c) => Ok(format!("{}\n", c.username).into_bytes()),
            None => Err(Error::new(ErrorKind::NotFound, format!("not logged into {key}"))),
        };
    }
    let (Some(username), Some(password)) = (job.username.take(), job.password.take()) else {
        return Err(Error::invalid("a username and a password are needed (-u, -p or --password-stdin)"));
    };
    if username.is_empty() {
        return Err(Error::invalid("the username must not be empty"));
    }
    let mut opts = job.access;
    opts.credentials =
        Some(crate::registry::auth::Credentials { username: username.clone(), password: password.clone() });
    resolve_registry(&io, &env, &mut opts, &registry, "").await?;
    let client = RegistryClient::new(io.clone(), &registry, opts)?;
    client.check_auth().await.map_err(|e| e.context(format!("authenticating creds for {key:?}")))?;
    let mut object = auth_files::read_object(&io, &path).await?;
    let auths = object.entry("auths").or_insert_with(|| json!({}));
    let Some(auths) = auths.as_object_mut() else {
        return Err(Error::invalid(format!("auth file {path}: \"auths\" is not a JSON object")));
    };
    auths.insert(key, json!({ "auth": STANDARD.encode(format!("{username}:{password}")) }));
    auth_files::write_object(&io, &path, &object).await?;
    Ok(b"Login Succeeded!\n".to_vec())
}

pub async fn logout(io: Io, job: LogoutJob, env: Environment) -> Result<Vec<u8>> {
    let path = auth_files::writable_path(&env, job.authfile.as_deref());
    let mut object = auth_files::read_object(&io, &path).await?;
    if job.all {
        if job.registry.is_some() {
            return Err(Error::invalid("--all takes no registry"));
        }
        object.insert("auths".to_owned(), json!({}));
        auth_files::write_object(&io, &path, &object).await?;
        return Ok(b"Removed login credentials for all registries\n".to_vec());
    }
    let arg = job.registry.ok_or_else(|| Error::invalid("a registry to log out of is needed (or --all)"))?;
    let (key, _) = credentials_key(&arg)?;
    let removed = object.get_mut("auths").and_then(Value::as_object_mut).and_then(|a| a.remove(&key)).is_some();
    if !removed {
        return Err(Error::new(ErrorKind::NotFound, format!("not logged into {key}")));
    }
    auth_files::write_object(&io, &path, &object).await?;
    Ok(format!("Removed login credentials for {key}\n").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_as_containers_auth_json_names_them() {
        let k = |a: &str| credentials_key(a).map_err(|e| e.message);
        assert_eq!(k("localhost:5000").unwrap(), ("localhost:5000".into(), "localhost:5000".into()));
        assert_eq!(k("https://quay.io/").unwrap(), ("quay.io".into(), "quay.io".into()));
        assert_eq!(k("index.docker.io").unwrap(), ("docker.io".into(), "docker.io".into()));
        assert_eq!(k("quay.io/team/app").unwrap(), ("quay.io/team/app".into(), "quay.io".into()));
        assert!(k("quay.io/team/app:1").is_err());
        assert!(k("quay.io/Team").is_err());
        assert!(k("").is_err());
    }
}
