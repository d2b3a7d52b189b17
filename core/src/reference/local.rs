//! Syntax of the local transports: `dir:`, `oci:`, `oci-archive:` and
//! `docker-archive:` (containers-transports(5)).

use super::DockerReference;
use crate::error::{Error, Result};

/// Which image of a multi-image archive or layout is meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveSelector {
    /// Nothing given: the only image there is.
    Only,
    /// `@N`: the N-th image (0-based).
    Index(usize),
    /// A docker reference (docker-archive only).
    Named(DockerReference),
}

/// `path[:ref-name|:@index]` for `oci:` and `oci-archive:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutReference {
    pub path: String,
    /// The `org.opencontainers.image.ref.name` annotation to look for.
    pub ref_name: Option<String>,
    /// `Index(n)` when `@n` was given, otherwise `Only` (ref_name decides).
    pub selector: ArchiveSelector,
}

impl LayoutReference {
    /// Like containers/image, the path ends at the first ':'.
    pub fn parse(details: &str) -> Result<Self> {
        let (path, rest) = match details.split_once(':') {
            Some((p, r)) => (p, Some(r)),
            None => (details, None),
        };
        let path = non_empty_path(path)?.to_owned();
        let mut r = LayoutReference { path, ref_name: None, selector: ArchiveSelector::Only };
        match rest {
            None | Some("") => {}
            Some(s) if s.starts_with('@') => r.selector = ArchiveSelector::Index(parse_index(s)?),
            Some(name) => {
                if !is_ref_name(name) {
                    return Err(Error::invalid(format!(
                        "Invalid image {name}: not a reference name as OCI defines them (e.g. v1, app:v1, lib/app:v1)"
                    )));
                }
                r.ref_name = Some(name.to_owned());
            }
        }
        Ok(r)
    }
}

/// The image-spec's `org.opencontainers.image.ref.name` grammar, as
/// containers/image checks it: components of alphanumerics joined by one
/// of `-._:@+` or `--`, separated by `/`.
fn is_ref_name(name: &str) -> bool {
    name.split('/').all(|component| {
        let b = component.as_bytes();
        let mut i = 0;
        let alnum = |i: &mut usize| {
            let start = *i;
            while *i < b.len() && b[*i].is_ascii_alphanumeric() {
                *i += 1;
            }
            *i > start
        };
        if !alnum(&mut i) {
            return false;
        }
        while i < b.len() {
            if b[i..].starts_with(b"--") {
                i += 2;
            } else if matches!(b[i], b'-' | b'.' | b'_' | b':' | b'@' | b'+') {
                i += 1;
            } else {
                return false;
            }
            if !alnum(&mut i) {
                return false;
            }
        }
        true
    })
}

pub(super) fn non_empty_path(path: &str) -> Result<&str> {
    if path.is_empty() {
        return Err(Error::invalid("path must not be empty"));
    }
    Ok(path)
}

fn parse_index(s: &str) -> Result<usize> {
    s[1..]
        .parse::<usize>()
        .map_err(|_| Error::invalid(format!("Invalid source index {s:?}: expected @ and a non-negative number")))
}

/// `path[:docker-reference|:@index]`; the reference may not carry a digest.
pub(super) fn parse_docker_archive(details: &str) -> Result<(String, ArchiveSelector)> {
    let (path, rest) = match details.split_once(':') {
        Some((p, r)) => (p, Some(r)),
        None => (details, None),
    };
    let path = non_empty_path(path)?.to_owned();
    let selector = match rest {
        None | Some("") => ArchiveSelector::Only,
        Some(s) if s.starts_with('@') => ArchiveSelector::Index(parse_index(s)?),
        Some(name) => {
            let r = DockerReference::parse_normalized(name)?;
            if r.digest.is_some() {
                return Err(Error::invalid("docker-archive doesn't support digest references"));
            }
            ArchiveSelector::Named(r.with_default_tag())
        }
    };
    Ok((path, selector))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_forms() {
        assert_eq!(LayoutReference::parse("/a").unwrap().ref_name, None);
        assert_eq!(LayoutReference::parse("/a:v1.0").unwrap().ref_name.as_deref(), Some("v1.0"));
        assert_eq!(LayoutReference::parse("/a:@3").unwrap().selector, ArchiveSelector::Index(3));
        // The image-spec's grammar, as containers/image checks it.
        for good in ["app:v1", "lib/app:v1", "docker.io/library/busybox:latest", "a--b", "a@b+c"] {
            assert_eq!(LayoutReference::parse(&format!("/a:{good}")).unwrap().ref_name.as_deref(), Some(good));
        }
        for bad in ["", ":x", "/a:@x", "/a:b//c", "/a:@-1", "/a:-x", "/a:b c", "/a:b:", "/a:a---b"] {
            assert!(LayoutReference::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn docker_archive_forms() {
        let (p, s) = parse_docker_archive("/x.tar:app:1").unwrap();
        assert_eq!(p, "/x.tar");
        match s {
            ArchiveSelector::Named(r) => assert_eq!(r.to_string(), "docker.io/library/app:1"),
            other => panic!("{other:?}"),
        }
        assert!(
            parse_docker_archive("/x.tar:app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
                .is_err()
        );
    }
}
