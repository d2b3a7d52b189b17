//! The docker reference grammar (distribution/reference), with the
//! normalisation containers/image applies to `docker://` names.
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [domain "/"] path-component ("/" path-component)*
//! domain     := host [":" port]       host: dns labels, or an [IPv6] literal
//! path-comp  := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
//! tag        := [\w][\w.-]{0,127}
//! ```

use std::fmt;

use crate::digest::Digest;
use crate::error::{Error, Result};

/// The longest a full name (domain and path) may be.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
pub const DEFAULT_TAG: &str = "latest";

/// A fully normalised docker reference: `registry/repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerReference {
    /// `host[:port]`, e.g. `docker.io` or `localhost:5000`.
    pub registry: String,
    /// The path inside the registry, e.g. `library/busybox`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl DockerReference {
    /// Parses a possibly short name (`busybox`, `user/app:1`), normalising it
    /// to `docker.io/library/busybox` as docker and skopeo do.
    pub fn parse_normalized(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid(format!("invalid reference format {s:?}: {why}"));
        if s.is_empty() {
            return Err(bad("empty reference"));
        }
        // An image ID, not a name (reference.ParseNormalizedNamed's rule).
        if s.len() == 64 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(Error::invalid(format!(
                "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
            )));
        }
        // Split off the digest first: it is the only part that may contain ':' freely.
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(Digest::parse(d).map_err(|e| bad(&e.message))?)),
            None => (s, None),
        };
        // A tag is a ':' after the last '/'.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            validate_tag(t).map_err(|e| bad(&e))?;
        }
        let (registry, repository) = split_domain(name);
        validate_domain(&registry).map_err(|e| bad(&e))?;
        validate_path(&repository, s)?;
        if registry.len() + 1 + repository.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(bad(&format!("repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")));
        }
        Ok(DockerReference { registry, repository, tag: tag.map(str::to_owned), digest })
    }

    /// `registry/repository`, e.g. `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The tag or digest used to fetch the manifest. A digest wins over a tag
    /// (the tag only names the image in that case); no tag means `latest`.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_owned(),
        }
    }

    /// Adds `latest` when neither a tag nor a digest was given (skopeo's TagNameOnly).
    /// The configuration scopes that name this image, most specific first
    /// (containers-policy.json(5), containers-registries.d(5)): the full
    /// reference, the repository and each parent namespace, the registry,
    /// then `*.domain` wildcards for the registry's parent domains.
    pub fn scopes(&self) -> Vec<String> {
        let mut out = vec![self.to_string()];
        let mut name = self.name();
        loop {
            out.push(name.clone());
            match name.rfind('/') {
                Some(i) => name.truncate(i),
                None => break,
            }
        }
        let host = self.registry.split(':').next().unwrap_or("");
        let mut rest = host;
        while let Some((_, parent)) = rest.split_once('.') {
            out.push(format!("*.{parent}"));
            rest = parent;
        }
        out
    }

    /// `reference.FamiliarString`: without `docker.io/` (and `library/`
    /// for official images), as docker and skopeo's messages name images.
    pub fn familiar(&self) -> String {
        let full = self.to_string();
        let Some(rest) = full.strip_prefix(&format!("{DEFAULT_DOMAIN}/")) else { return full };
        match rest.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(short) if !self.repository[OFFICIAL_REPO_PREFIX.len()..].contains('/') => short.to_owned(),
            _ => rest.to_owned(),
        }
    }

    pub fn with_default_tag(mut self) -> Self {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_owned());
        }
        self
    }
}

impl fmt::Display for DockerReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Splits `name` into domain and path, applying docker's defaults.
fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => (DEFAULT_DOMAIN.to_owned(), name.to_owned()),
    };
    let domain = if domain == LEGACY_DEFAULT_DOMAIN { DEFAULT_DOMAIN.to_owned() } else { domain };
    let path =
        if domain == DEFAULT_DOMAIN && !path.contains('/') { format!("{OFFICIAL_REPO_PREFIX}{path}") } else { path };
    (domain, path)
}

fn validate_tag(tag: &str) -> std::result::Result<(), String> {
    let b = tag.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    if b.is_empty() || b.len() > 128 || !word(b[0]) || !b.iter().all(|&c| word(c) || c == b'.' || c == b'-') {
        return Err(format!("invalid tag {tag:?}"));
    }
    Ok(())
}

fn validate_domain(domain: &str) -> std::result::Result<(), String> {
    let bad = || format!("invalid registry host {domain:?}");
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        // IPv6 literal: [addr] or [addr]:port
        let (addr, after) = rest.split_once(']').ok_or_else(bad)?;
        if addr.is_empty() || !addr.bytes().all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.') {
            return Err(bad());
        }
        match after {
            "" => return Ok(()),
            p => {
                return p.strip_prefix(':').filter(|p| valid_port(p)).map(|_| ()).ok_or_else(bad);
            }
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if let Some(p) = port
        && !valid_port(p)
    {
        return Err(bad());
    }
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    if host.split('.').all(label_ok) { Ok(()) } else { Err(bad()) }
}

fn valid_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|c| c.is_ascii_digit())
}

fn validate_path(path: &str, whole: &str) -> Result<()> {
    if path.is_empty() {
        return Err(Error::invalid(format!("invalid reference format {whole:?}: empty repository name")));
    }
    for component in path.split('/') {
        if !valid_component(component) {
            let why = if component.chars().any(|c| c.is_ascii_uppercase()) {
                "repository name must be lowercase".to_owned()
            } else {
                format!("invalid repository path component {component:?}")
            };
            return Err(Error::invalid(format!("invalid reference format {whole:?}: {why}")));
        }
    }
    Ok(())
}

/// `[a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*`
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        let sep_start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[sep_start..i];
        if !(sep == "." || sep == "_" || sep == "__" || (!sep.is_empty() && sep.bytes().all(|x| x == b'-'))) {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> DockerReference {
        DockerReference::parse_normalized(s).unwrap()
    }

    #[test]
    fn an_image_id_is_not_a_name() {
        let id = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let e = DockerReference::parse_normalized(id).unwrap_err();
        assert_eq!(e.message, format!("invalid repository name ({id}), cannot specify 64-byte hexadecimal strings"));
        // A name that merely contains hex, or is 63 or 65 characters of it, is one.
        assert!(DockerReference::parse_normalized(&id[1..]).is_ok());
        assert!(DockerReference::parse_normalized(&format!("{id}0")).is_ok());
        assert!(DockerReference::parse_normalized(&format!("r.io/{id}")).is_ok());
    }

    #[test]
    fn normalises_like_docker() {
        let cases = [
            ("busybox", "docker.io/library/busybox"),
            ("user/app:1.0", "docker.io/user/app:1.0"),
            ("index.docker.io/library/x", "docker.io/library/x"),
            ("localhost/app", "localhost/app"),
            ("localhost:5000/a/b:t", "localhost:5000/a/b:t"),
            ("127.0.0.1:5000/a", "127.0.0.1:5000/a"),
            ("[::1]:5000/a:v", "[::1]:5000/a:v"),
            ("Example.com/a", "Example.com/a"),
            ("a__b/c-d/e--f.g_h", "docker.io/a__b/c-d/e--f.g_h"),
        ];
        for (input, want) in cases {
            assert_eq!(p(input).to_string(), want, "{input}");
        }
    }

    #[test]
    fn tag_and_digest() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = p(&format!("host:5000/app:v1@{d}"));
        assert_eq!(r.registry, "host:5000");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.manifest_reference(), d);
        assert_eq!(p("app").manifest_reference(), "latest");
        assert_eq!(p("app").with_default_tag().tag.as_deref(), Some("latest"));
    }

    #[test]
    fn rejects_malformed() {
        let long = format!("a/{}", "b".repeat(254));
        for bad in [
            "",
            "Foo",
            "docker.io/Library/x",
            "a:b:c",
            "a@sha256:abc",
            "a:",
            "-a",
            "a/",
            "a//b",
            "a:-x",
            "a_/b",
            "a..b",
            "host:port/x",
            "a@md5:d41d8cd98f00b204e9800998ecf8427e",
            long.as_str(),
            "a:b c",
            "[::g]/x",
        ] {
            assert!(DockerReference::parse_normalized(bad).is_err(), "{bad:?} accepted");
        }
        let e = DockerReference::parse_normalized("docker.io/Foo").unwrap_err();
        assert!(e.message.contains("lowercase"), "{e}");
    }

    #[test]
    fn length_limit_counts_the_domain() {
        let name = format!("x.io/{}", "a".repeat(250));
        assert_eq!(name.len(), 255);
        assert!(DockerReference::parse_normalized(&name).is_ok());
        assert!(DockerReference::parse_normalized(&format!("{name}a")).is_err());
    }
}
