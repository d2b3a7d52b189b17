//! `containers-storage:[driver@graphroot+runroot:options]{id|reference[@id]}`.
//! Only the syntax lives here; which image it names is `storage::records`'.

use super::DockerReference;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StorageReference {
    pub driver: Option<String>,
    pub graph_root: Option<String>,
    pub run_root: Option<String>,
    pub options: Vec<String>,
    pub named: Option<DockerReference>,
    /// A full 64-hex image ID, alone or after `@`.
    pub id: Option<String>,
    /// What followed the store specifier, as written (an ID prefix reads
    /// as a name until the store says otherwise).
    pub text: String,
}

impl StorageReference {
    pub fn parse(details: &str) -> Result<Self> {
        let mut r = StorageReference::default();
        let mut rest = details;
        if let Some(spec) = rest.strip_prefix('[') {
            let (spec, after) = spec
                .split_once(']')
                .ok_or_else(|| Error::invalid("containers-storage: store specifier is missing ']'"))?;
            rest = after;
            let (spec, opts) = match spec.split_once(':') {
                Some((s, o)) => (s, Some(o)),
                None => (spec, None),
            };
            if let Some(o) = opts {
                r.options = o.split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect();
            }
            let (driver, roots) = match spec.split_once('@') {
                Some((d, roots)) => (Some(d), roots),
                None => (None, spec),
            };
            r.driver = driver.filter(|d| !d.is_empty()).map(str::to_owned);
            let (graph, run) = match roots.split_once('+') {
                Some((g, run)) => (g, Some(run)),
                None => (roots, None),
            };
            r.graph_root = Some(graph).filter(|g| !g.is_empty()).map(str::to_owned);
            r.run_root = run.filter(|x| !x.is_empty()).map(str::to_owned);
        }
        if rest.is_empty() {
            return Err(Error::invalid("containers-storage: no image name or ID given"));
        }
        r.text = rest.to_owned();
        let is_id = |s: &str| s.len() == 64 && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
        let candidate = rest.strip_prefix("sha256:").unwrap_or(rest);
        if is_id(candidate) {
            r.id = Some(candidate.to_owned());
            return Ok(r);
        }
        // `name@id` where id is a bare 64-hex image ID (not an algo:hex digest).
        let (name, id) = match rest.rsplit_once('@') {
            Some((n, id)) if is_id(id) => (n, Some(id)),
            _ => (rest, None),
        };
        r.named = Some(DockerReference::parse_normalized(name)?.with_default_tag());
        r.id = id.map(str::to_owned);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let id = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = StorageReference::parse(&format!("[overlay@/g+/r:a=b,c]busybox@{id}")).unwrap();
        assert_eq!(r.driver.as_deref(), Some("overlay"));
        assert_eq!(r.graph_root.as_deref(), Some("/g"));
        assert_eq!(r.run_root.as_deref(), Some("/r"));
        assert_eq!(r.options, vec!["a=b", "c"]);
        assert_eq!(r.id.as_deref(), Some(id));
        assert_eq!(r.named.unwrap().to_string(), "docker.io/library/busybox:latest");
        assert_eq!(StorageReference::parse(id).unwrap().id.as_deref(), Some(id));
        assert!(StorageReference::parse("[x").is_err());
        assert!(StorageReference::parse("").is_err());
        assert!(StorageReference::parse("Bad").is_err());
    }
}
