//! `--src yaml`: skopeo's sync file, one entry per registry. Read strictly:
//! an unknown key or malformed YAML is an error naming its line (skopeo
//! ignores unknown keys, so a misspelt `tls-verfiy` silently does nothing).
//! Entries keep the file's order (Go's maps have none).

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use crate::error::{Error, Result};

/// A YAML mapping with its keys in the file's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ordered<T>(pub Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
                Ok(Ordered(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
                let mut out: Vec<(String, T)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, T>()? {
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(serde::de::Error::custom(format!("duplicate key {k:?}")));
                    }
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A list that may be written as nothing (`busybox:` means every tag).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refs(pub Vec<String>);

impl<'de> Deserialize<'de> for Refs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(Refs(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default()))
    }
}

/// `credentials:` of one registry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct YamlCredentials {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
}

/// One registry's entry (skopeo's `registrySyncConfig`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySync {
    /// Repository → tags or digests; none means every tag.
    #[serde(default)]
    pub images: Ordered<Refs>,
    /// Repository → a regular expression the tags must match (unanchored).
    #[serde(default, rename = "images-by-tag-regex")]
    pub images_by_tag_regex: Ordered<String>,
    /// Repository → a semver constraint the tags must satisfy.
    #[serde(default, rename = "images-by-semver")]
    pub images_by_semver: Ordered<String>,
    #[serde(default)]
    pub credentials: YamlCredentials,
    /// Overrides `--src-tls-verify` only when given.
    #[serde(default, rename = "tls-verify")]
    pub tls_verify: Option<bool>,
    /// Replaces `--src-cert-dir` for this registry, even when absent
    /// (skopeo's behaviour, kept so that a file means the same in both).
    #[serde(default, rename = "cert-dir")]
    pub cert_dir: Option<String>,
}

/// The whole file: registry → its entry.
pub fn parse(path: &str, text: &str) -> Result<Ordered<RegistrySync>> {
    yaml_serde::from_str::<Ordered<RegistrySync>>(text)
        .map_err(|e| Error::invalid(format!("Failed to unmarshal {path:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skopeos_example_in_order() {
        let text = r#"
registry.example.com:
    images:
        busybox: []
        redis:
            - "1.0"
            - "2.0"
            - "sha256:0000000000000000000000000000000000000000000000000000000000000000"
        nginx:
    images-by-tag-regex:
        nginx: ^1\.13\.[12]-alpine-perl$
    images-by-semver:
        alpine: ">= 3.12.0"
    credentials:
        username: john
        password: this is a secret
    tls-verify: true
    cert-dir: /home/john/certs
quay.io:
    tls-verify: false
    images:
        coreos/etcd:
            - latest
"#;
        let cfg = parse("f.yaml", text).unwrap();
        let names: Vec<&str> = cfg.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["registry.example.com", "quay.io"]);
        let r = &cfg.0[0].1;
        let repos: Vec<&str> = r.images.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(repos, ["busybox", "redis", "nginx"]);
        assert_eq!(r.images.0[1].1.0.len(), 3);
        assert!(r.images.0[2].1.0.is_empty(), "a bare key is every tag");
        assert_eq!(r.credentials.username, "john");
        assert_eq!(r.tls_verify, Some(true));
        assert_eq!(cfg.0[1].1.tls_verify, Some(false));
        assert_eq!(cfg.0[1].1.cert_dir, None);
    }

    #[test]
    fn unknown_keys_and_bad_yaml_name_the_line() {
        let e = parse("f.yaml", "reg.test:\n  images:\n    a: []\n  tls-verfiy: false\n").unwrap_err();
        assert!(e.message.contains("tls-verfiy") && e.message.contains("line 4"), "{e}");
        let e = parse("f.yaml", "reg.test:\n  images: [\n").unwrap_err();
        assert!(e.message.contains("line"), "{e}");
        let e = parse("f.yaml", "reg.test:\n  images:\n    a: []\n    a: [v1]\n").unwrap_err();
        assert!(e.message.contains("duplicate"), "{e}");
    }
}
