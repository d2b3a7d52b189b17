//! The auth file chain of containers-auth.json(5): which files are
//! consulted, in which order. What an entry means is `registry::auth`'s.

use super::Environment;
use crate::engine::{Io, IoErrorKind, join_all};
use crate::error::{Error, Result};

/// An auth file that exists, with its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFile {
    pub path: String,
    pub contents: String,
}

impl AuthFile {
    /// Docker's old `~/.dockercfg`: registry → entry, without `auths`.
    pub fn is_legacy(&self) -> bool {
        self.path.ends_with("/.dockercfg")
    }
}

/// Auth files are small; a bigger one is not an auth file.
const MAX_AUTH_FILE: u64 = 1 << 20;

/// The files to consult, in order: `--authfile` (else `$REGISTRY_AUTH_FILE`)
/// if given, else `$XDG_RUNTIME_DIR/containers/auth.json` and
/// `$XDG_CONFIG_HOME/containers/auth.json` (`~/.config`); then Docker's
/// `$DOCKER_CONFIG/config.json` (`~/.docker/config.json`), and Docker's
/// old `~/.dockercfg`.
pub fn chain(env: &Environment, authfile: Option<&str>) -> Vec<String> {
    let mut paths = Vec::new();
    match authfile.or(env.var("REGISTRY_AUTH_FILE")) {
        Some(p) => paths.push(p.to_owned()),
        None => {
            if let Some(rt) = env.var("XDG_RUNTIME_DIR") {
                paths.push(format!("{rt}/containers/auth.json"));
            }
            if let Some(c) = env.config_home() {
                paths.push(format!("{c}/containers/auth.json"));
            }
        }
    }
    match env.var("DOCKER_CONFIG") {
        Some(d) => paths.push(format!("{d}/config.json")),
        None => {
            if let Some(h) = env.home() {
                paths.push(format!("{h}/.docker/config.json"));
            }
        }
    }
    if let Some(h) = env.home() {
        paths.push(format!("{h}/.dockercfg"));
    }
    paths
}

/// The files of the chain that exist, read. Missing files are skipped, as
/// containers/image skips them; any other failure is an error.
pub async fn read(io: &Io, env: &Environment, authfile: Option<&str>) -> Result<Vec<AuthFile>> {
    let paths = chain(env, authfile);
    // All asked for at once; judged in the chain's order.
    let reads = join_all(paths.iter().map(|p| io.read_file(p.clone(), MAX_AUTH_FILE)).collect()).await;
    let mut out = Vec::new();
    for (path, read) in paths.into_iter().zip(reads) {
        match read {
            Ok(bytes) => {
                let contents = String::from_utf8(bytes)
                    .map_err(|_| Error::invalid(format!("auth file {path} is not UTF-8 text")))?;
                warn_if_others_can_read(io, &path, &contents).await;
                out.push(AuthFile { path, contents });
            }
            Err(e) if e.kind == IoErrorKind::NotFound => {}
            Err(e) => return Err(Error::invalid(format!("reading auth file {path}: {}", e.message))),
        }
    }
    Ok(out)
}

/// Warns, once per file and run, of an auth file holding secrets that
/// other users may read (item 34; containers/image says nothing): it was
/// written by hand or by a tool that did not make it private (0600).
async fn warn_if_others_can_read(io: &Io, path: &str, contents: &str) {
    static WARNED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let secret = |v: &serde_json::Value| {
        ["auth", "identitytoken", "registrytoken"].iter().any(|k| v[*k].as_str().is_some_and(|s| !s.is_empty()))
    };
    let holds_secrets = serde_json::from_str::<serde_json::Value>(contents)
        .ok()
        .and_then(|v| v.get("auths").and_then(|a| a.as_object()).map(|a| a.values().any(secret)))
        .unwrap_or(false);
    if !holds_secrets {
        return;
    }
    let Ok(info) = io.stat(path.to_owned()).await else { return };
    if info.mode & 0o077 == 0 {
        return;
    }
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if !warned.iter().any(|p| p == path) {
        warned.push(path.to_owned());
        io.warn(format!(
            "{path} holds credentials and other users can read it (mode {:04o}): make it private with chmod 600",
            info.mode
        ));
    }
}

/// Where `login` stores credentials and `logout` removes them, as
/// containers/image picks it: `--authfile` (or `--compat-auth-file`), else
/// `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`, else
/// `/run/containers/<uid>/auth.json`.
pub fn writable_path(env: &Environment, authfile: Option<&str>) -> String {
    if let Some(p) = authfile.or(env.var("REGISTRY_AUTH_FILE")) {
        return p.to_owned();
    }
    match env.var("XDG_RUNTIME_DIR") {
        Some(rt) => format!("{rt}/containers/auth.json"),
        None => format!("/run/containers/{}/auth.json", env.uid),
    }
}

/// The file's JSON object (an absent file is an empty one), so that an
/// edit keeps every other entry and key as it was.
pub async fn read_object(io: &Io, path: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
    match io.read_file(path.to_owned(), MAX_AUTH_FILE).await {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            Ok(_) => Err(Error::invalid(format!("auth file {path} does not hold a JSON object"))),
            Err(e) => Err(Error::invalid(format!("auth file {path} is not valid JSON: {e}"))),
        },
        Err(e) if e.kind == IoErrorKind::NotFound => Ok(serde_json::Map::new()),
        Err(e) => Err(Error::invalid(format!("reading auth file {path}: {}", e.message))),
    }
}

/// Writes the auth file readable by its owner only (0600, directories
/// 0700), through a temporary name and a rename.
pub async fn write_object(io: &Io, path: &str, object: &serde_json::Map<String, serde_json::Value>) -> Result<()> {
    let mut data = serde_json::to_vec_pretty(object)?;
    data.push(b'\n');
    let tmp = crate::files::temporary_name(path);
    let fail =
        |what: &str, e: crate::engine::IoError| Error::invalid(format!("{what} auth file {path}: {}", e.message));
    io.fs(crate::engine::Request::WritePrivateFile { path: tmp.clone(), data })
        .await
        .map_err(|e| fail("writing", e))?;
    io.fs(crate::engine::Request::Rename { from: tmp, to: path.to_owned() }).await.map_err(|e| fail("writing", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment {
            variables: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Environment::default()
        }
    }

    #[test]
    fn the_chain_follows_containers_auth_json() {
        let e = env(&[("HOME", "/h"), ("XDG_RUNTIME_DIR", "/run/user/1")]);
        assert_eq!(
            chain(&e, None),
            [
                "/run/user/1/containers/auth.json",
                "/h/.config/containers/auth.json",
                "/h/.docker/config.json",
                "/h/.dockercfg"
            ]
        );
        assert_eq!(chain(&e, Some("/a.json")), ["/a.json", "/h/.docker/config.json", "/h/.dockercfg"]);
        let e = env(&[("HOME", "/h"), ("REGISTRY_AUTH_FILE", "/r.json"), ("DOCKER_CONFIG", "/d")]);
        assert_eq!(chain(&e, None), ["/r.json", "/d/config.json", "/h/.dockercfg"]);
        let e = env(&[("HOME", "/h"), ("XDG_CONFIG_HOME", "/c"), ("XDG_RUNTIME_DIR", "")]);
        assert_eq!(chain(&e, None), ["/c/containers/auth.json", "/h/.docker/config.json", "/h/.dockercfg"]);
    }
}
