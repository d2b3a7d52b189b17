//! containers-registries.conf(5), version 2: `[[registry]]` tables with
//! `prefix`, `location`, `insecure`, `blocked`, `mirror-by-digest-only` and
//! `[[registry.mirror]]` (`location`, `insecure`, `pull-from-mirror`), read
//! from `--registries-conf` or `$CONTAINERS_REGISTRIES_CONF`, else
//! `~/.config/containers/registries.conf` if it exists, else
//! `/etc/containers/registries.conf` with the drop-ins of
//! `registries.conf.d/` (a later file's table for a prefix replaces an
//! earlier one's). Other keys (short-name aliases, search registries) are
//! not used here and are ignored.

use serde::Deserialize;

use super::Environment;
use crate::engine::{FileKind, Io, IoErrorKind};
use crate::error::{Error, Result};
use crate::files::join;
use crate::reference::DockerReference;

const MAX_CONF: u64 = 4 << 20;

/// The `credential-helpers` entry that means the auth files.
pub const AUTH_FILES: &str = "containers-auth.json";

#[derive(Debug, Clone, Default, Deserialize)]
struct File {
    #[serde(default)]
    registry: Vec<Registry>,
    /// Where credentials are looked for, in order: `containers-auth.json`
    /// (the auth files) or a docker-credential-helpers name.
    #[serde(default, rename = "credential-helpers")]
    credential_helpers: Option<Vec<String>>,
}

/// One `[[registry]]` table.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Registry {
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub blocked: bool,
    #[serde(default)]
    pub mirror_by_digest_only: bool,
    #[serde(default)]
    pub mirror: Vec<Mirror>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Mirror {
    pub location: String,
    #[serde(default)]
    pub insecure: bool,
    /// `all` (the default), `digest-only` or `tag-only`.
    #[serde(default)]
    pub pull_from_mirror: Option<String>,
}

/// The registries.conf configuration as found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegistriesConf {
    registries: Vec<Registry>,
    credential_helpers: Option<Vec<String>>,
    /// Where it came from, for messages.
    paths: Vec<String>,
}

/// One place to pull an image from: a mirror or the registry's location.
#[derive(Debug, Clone, PartialEq)]
pub struct PullSource {
    pub reference: DockerReference,
    pub insecure: bool,
}

async fn read_file(io: &Io, path: &str) -> Result<Option<File>> {
    let bytes = match io.read_file(path.to_owned(), MAX_CONF).await {
        Ok(b) => b,
        Err(e) if e.kind == IoErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::invalid(format!("reading {path}: {}", e.message))),
    };
    let text = String::from_utf8(bytes).map_err(|_| Error::invalid(format!("{path} is not UTF-8 text")))?;
    let file: File = toml::from_str(&text).map_err(|e| Error::invalid(format!("parsing {path}: {}", e.message())))?;
    for r in &file.registry {
        if r.prefix.is_empty() && r.location.is_empty() {
            return Err(Error::invalid(format!("{path}: a [[registry]] needs a prefix or a location")));
        }
    }
    Ok(Some(file))
}

impl RegistriesConf {
    /// Finds and reads the configuration (`flag`: `--registries-conf`).
    pub async fn read(io: &Io, env: &Environment, flag: Option<&str>) -> Result<Self> {
        let mut conf = RegistriesConf::default();
        if let Some(path) = flag.or(env.var("CONTAINERS_REGISTRIES_CONF")) {
            conf.merge(path, read_file(io, path).await?.unwrap_or_default());
            return Ok(conf);
        }
        let user = env.home().map(|h| format!("{h}/.config/containers/registries.conf"));
        let (main, dropins) = match user {
            Some(u) if io.stat(u.clone()).await.is_ok_and(|i| i.target == FileKind::Regular) => {
                let d = format!("{u}.d");
                (u, d)
            }
            _ => ("/etc/containers/registries.conf".to_owned(), "/etc/containers/registries.conf.d".to_owned()),
        };
        // The file and the drop-in directory are read in one round of
        // requests, and then all the drop-ins in another; they are merged
        // in order all the same.
        let (file, listing) = crate::engine::join(read_file(io, &main), io.list_dir(dropins.clone())).await;
        if let Some(f) = file? {
            conf.merge(&main, f);
        }
        let mut names = match listing {
            Ok(n) => n,
            Err(e) if e.kind == IoErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Error::invalid(format!("reading {dropins}: {}", e.message))),
        };
        names.retain(|n| n.ends_with(".conf"));
        names.sort();
        let paths: Vec<String> = names.iter().map(|n| join(&dropins, n)).collect();
        let files = crate::engine::join_all(paths.iter().map(|p| read_file(io, p)).collect()).await;
        for (path, file) in paths.iter().zip(files) {
            if let Some(f) = file? {
                conf.merge(path, f);
            }
        }
        Ok(conf)
    }

    /// Where credentials are looked for, in order (`containers-auth.json`
    /// is the auth files), as registries.conf says, else the auth files only.
    pub fn credential_helpers(&self) -> Vec<String> {
        self.credential_helpers.clone().unwrap_or_else(|| vec![AUTH_FILES.to_owned()])
    }

    /// Adds `file`'s settings from `path`; a table for a prefix already known
    /// replaces it, a later `credential-helpers` list the earlier one.
    fn merge(&mut self, path: &str, file: File) {
        if file.credential_helpers.is_some() {
            self.credential_helpers = file.credential_helpers;
        }
        for mut r in file.registry {
            if r.prefix.is_empty() {
                r.prefix = r.location.clone();
            }
            self.registries.retain(|old| old.prefix != r.prefix);
            self.registries.push(r);
        }
        self.paths.push(path.to_owned());
    }

    /// The table whose prefix matches `image` best (the longest), if any.
    fn find(&self, image: &DockerReference) -> Option<&Registry> {
        let full = image.to_string();
        self.registries
            .iter()
            .filter(|r| prefix_matches(&r.prefix, &full, &image.registry))
            .max_by_key(|r| r.prefix.len())
    }

    fn blocked_error(&self, image: &DockerReference) -> Error {
        Error::invalid(format!(
            "registry {} is blocked in {}",
            image.registry,
            if self.paths.is_empty() { "registries.conf".to_owned() } else { self.paths.join(" or ") }
        ))
    }

    /// Whether requests to `image`'s registry skip TLS checks (`insecure`),
    /// after refusing a `blocked` one.
    pub fn check(&self, image: &DockerReference) -> Result<bool> {
        match self.find(image) {
            Some(r) if r.blocked => Err(self.blocked_error(image)),
            Some(r) => Ok(r.insecure),
            None => Ok(false),
        }
    }

    /// Where to pull `image` from, in order: the mirrors that may serve it,
    /// then the registry's `location` (the image rewritten to it).
    pub fn pull_sources(&self, image: &DockerReference) -> Result<Vec<PullSource>> {
        let Some(r) = self.find(image) else {
            return Ok(vec![PullSource { reference: image.clone(), insecure: false }]);
        };
        if r.blocked {
            return Err(self.blocked_error(image));
        }
        let by_digest = image.digest.is_some();
        let mut out = Vec::new();
        for m in &r.mirror {
            let allowed = match m.pull_from_mirror.as_deref() {
                _ if r.mirror_by_digest_only => by_digest,
                Some("digest-only") => by_digest,
                Some("tag-only") => !by_digest,
                Some("all") | None => true,
                Some(other) => {
                    return Err(Error::invalid(format!(
                        "pull-from-mirror {other:?}: use all, digest-only or tag-only"
                    )));
                }
            };
            if allowed {
                out.push(PullSource { reference: rewrite(image, &r.prefix, &m.location)?, insecure: m.insecure });
            }
        }
        let location = if r.location.is_empty() { r.prefix.as_str() } else { r.location.as_str() };
        out.push(PullSource { reference: rewrite(image, &r.prefix, location)?, insecure: r.insecure });
        Ok(out)
    }
}

/// Whether `prefix` names `full` (`host/repo:tag` or `@digest`): the same
/// text up to a boundary (`/`, `:`, `@` or the end), or `*.domain` matching
/// the registry's host.
fn prefix_matches(prefix: &str, full: &str, registry: &str) -> bool {
    if let Some(domain) = prefix.strip_prefix("*.") {
        let host = registry.split(':').next().unwrap_or("");
        return host.ends_with(&format!(".{domain}"));
    }
    full.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', ':', '@']))
}

/// `image` with its `prefix` part replaced by `location`.
fn rewrite(image: &DockerReference, prefix: &str, location: &str) -> Result<DockerReference> {
    if prefix.starts_with("*.") {
        // A wildcard table has no location of its own to rewrite to.
        return Ok(image.clone());
    }
    let full = image.to_string();
    let rest = full.strip_prefix(prefix).unwrap_or("");
    DockerReference::parse_normalized(&format!("{location}{rest}"))
        .map_err(|e| e.context(format!("rewriting {full} to {location} (registries.conf)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(text: &str) -> RegistriesConf {
        let file: File = toml::from_str(text).unwrap();
        let mut c = RegistriesConf::default();
        c.merge("test.conf", file);
        c
    }

    fn r(s: &str) -> DockerReference {
        DockerReference::parse_normalized(s).unwrap()
    }

    #[test]
    fn prefixes_rewrite_and_block() {
        assert_eq!(conf("").credential_helpers(), ["containers-auth.json"]);
        assert_eq!(
            conf(r#"credential-helpers = ["pass", "containers-auth.json"]"#).credential_helpers(),
            ["pass", "containers-auth.json"]
        );
        let c = conf(
            r#"
unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "example.com/team"
location = "internal.example:5000/mirror/team"
[[registry]]
prefix = "example.com"
insecure = true
[[registry]]
location = "bad.example"
blocked = true
[aliases]
"x" = "docker.io/library/x"
"#,
        );
        let sources = c.pull_sources(&r("example.com/team/app:1")).unwrap();
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[0].reference.to_string(), "internal.example:5000/mirror/team/app:1");
        // The longest prefix wins; a prefix ends at a boundary.
        assert!(c.check(&r("example.com/other:1")).unwrap(), "insecure");
        assert_eq!(
            c.pull_sources(&r("example.com/teamx/app:1")).unwrap()[0].reference.to_string(),
            "example.com/teamx/app:1"
        );
        assert!(!c.check(&r("example.community/x:1")).unwrap());
        let e = c.pull_sources(&r("bad.example/app:1")).unwrap_err();
        assert!(e.message.contains("bad.example is blocked in test.conf"), "{}", e.message);
        assert!(c.check(&r("bad.example/app:1")).is_err());
    }

    #[test]
    fn mirrors_by_kind_of_reference() {
        let c = conf(
            r#"
[[registry]]
location = "reg.example"
[[registry.mirror]]
location = "m1.example"
[[registry.mirror]]
location = "m2.example/cache"
pull-from-mirror = "digest-only"
"#,
        );
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let by_tag: Vec<String> =
            c.pull_sources(&r("reg.example/app:1")).unwrap().iter().map(|s| s.reference.to_string()).collect();
        assert_eq!(by_tag, ["m1.example/app:1", "reg.example/app:1"]);
        let by_digest: Vec<String> = c
            .pull_sources(&r(&format!("reg.example/app@{d}")))
            .unwrap()
            .iter()
            .map(|s| s.reference.to_string())
            .collect();
        assert_eq!(
            by_digest,
            [format!("m1.example/app@{d}"), format!("m2.example/cache/app@{d}"), format!("reg.example/app@{d}")]
        );
    }
}
