//! Image references for every transport, with the syntax containers-transports(5)
//! gives them: `transport:details`, where `details` depends on the transport.

mod docker;
mod local;
mod storage;

pub use docker::{DEFAULT_DOMAIN, DEFAULT_TAG, DockerReference, NAME_TOTAL_LENGTH_MAX};
pub use local::{ArchiveSelector, LayoutReference};
pub use storage::StorageReference;

use serde::Serialize;

use crate::digest::Digest;
use crate::error::{Error, Result};

/// A parsed `transport:reference`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageReference {
    /// `docker://name[:tag][@digest]`: an image in a registry.
    Docker(DockerReference),
    /// `dir:path`: skopeo's directory of files named by digest.
    Dir { path: String },
    /// `oci:path[:ref|:@index]`: an OCI image layout directory.
    Oci(LayoutReference),
    /// `oci-archive:path[:ref|:@index]`: a tarball of an OCI layout.
    OciArchive(LayoutReference),
    /// `docker-archive:path[:name:tag|:@index]`: a `docker save` tarball.
    DockerArchive { path: String, selector: ArchiveSelector },
    /// `docker-daemon:name:tag` or `docker-daemon:sha256:<id>`.
    DockerDaemon(DaemonReference),
    /// `containers-storage:[driver@root+runroot:opts]name-or-id`.
    ContainersStorage(StorageReference),
    /// `tarball:FILE[:FILE…]`: an image of one layer per file (a source only).
    Tarball { paths: Vec<String> },
}

/// What `docker-daemon:` names: a tagged reference or an image ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonReference {
    Named(DockerReference),
    Id(Digest),
}

impl ImageReference {
    /// Parses `transport:details`.
    pub fn parse(s: &str) -> Result<Self> {
        let (transport, details) = s.split_once(':').ok_or_else(|| {
            Error::invalid(format!("Invalid image name {s:?}, expected colon-separated transport:reference"))
        })?;
        let ctx = |e: Error| e.context(format!("Error parsing image name {s:?}"));
        match transport {
            "docker" => {
                let name = details
                    .strip_prefix("//")
                    .ok_or_else(|| ctx(Error::invalid("docker: image reference must begin with \"//\"")))?;
                Ok(ImageReference::Docker(DockerReference::parse_normalized(name).map_err(ctx)?.with_default_tag()))
            }
            "dir" => Ok(ImageReference::Dir { path: local::non_empty_path(details).map_err(ctx)?.to_owned() }),
            "oci" => Ok(ImageReference::Oci(LayoutReference::parse(details).map_err(ctx)?)),
            "oci-archive" => Ok(ImageReference::OciArchive(LayoutReference::parse(details).map_err(ctx)?)),
            "docker-archive" => {
                let (path, selector) = local::parse_docker_archive(details).map_err(ctx)?;
                Ok(ImageReference::DockerArchive { path, selector })
            }
            "docker-daemon" => Ok(ImageReference::DockerDaemon(parse_daemon(details).map_err(ctx)?)),
            "containers-storage" => {
                Ok(ImageReference::ContainersStorage(StorageReference::parse(details).map_err(ctx)?))
            }
            "tarball" => {
                let paths: Vec<String> = details.split(':').map(str::to_owned).collect();
                if paths.iter().any(String::is_empty) {
                    return Err(ctx(Error::invalid("tarball: needs a file name for every layer")));
                }
                Ok(ImageReference::Tarball { paths })
            }
            other => Err(Error::invalid(format!("Invalid image name {s:?}, unknown transport {other:?}"))),
        }
    }

    pub fn transport_name(&self) -> &'static str {
        match self {
            ImageReference::Docker(_) => "docker",
            ImageReference::Dir { .. } => "dir",
            ImageReference::Oci(_) => "oci",
            ImageReference::OciArchive(_) => "oci-archive",
            ImageReference::DockerArchive { .. } => "docker-archive",
            ImageReference::DockerDaemon(_) => "docker-daemon",
            ImageReference::ContainersStorage(_) => "containers-storage",
            ImageReference::Tarball { .. } => "tarball",
        }
    }

    /// The docker reference this image is known by, if the transport has one
    /// (skopeo prints it as `Name` in `inspect`).
    pub fn docker_reference(&self) -> Option<&DockerReference> {
        match self {
            ImageReference::Docker(r) => Some(r),
            ImageReference::DockerArchive { selector: ArchiveSelector::Named(r), .. } => Some(r),
            ImageReference::DockerDaemon(DaemonReference::Named(r)) => Some(r),
            ImageReference::ContainersStorage(s) => s.named.as_ref(),
            _ => None,
        }
    }

    /// A JSON-friendly description, for `parse-reference` in the component API.
    pub fn describe(&self) -> ReferenceDescription {
        let mut d = ReferenceDescription { transport: self.transport_name(), ..Default::default() };
        if let Some(r) = self.docker_reference() {
            d.registry = Some(r.registry.clone());
            d.repository = Some(r.repository.clone());
            d.tag = r.tag.clone();
            d.digest = r.digest.as_ref().map(Digest::to_string);
        }
        match self {
            ImageReference::Dir { path } => d.path = Some(path.clone()),
            ImageReference::DockerArchive { path, selector } => {
                d.path = Some(path.clone());
                if let ArchiveSelector::Index(i) = selector {
                    d.index = Some(*i);
                }
            }
            ImageReference::Oci(l) | ImageReference::OciArchive(l) => {
                d.path = Some(l.path.clone());
                if let ArchiveSelector::Index(i) = l.selector {
                    d.index = Some(i);
                }
                d.tag = l.ref_name.clone();
            }
            ImageReference::DockerDaemon(DaemonReference::Id(id)) => d.digest = Some(id.to_string()),
            _ => {}
        }
        d
    }
}

/// The parts of a reference, as the JavaScript and component APIs return them.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct ReferenceDescription {
    pub transport: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

fn parse_daemon(details: &str) -> Result<DaemonReference> {
    // `algo:hex` is an image ID; anything else is a docker reference.
    if let Some((alg, _)) = details.split_once(':')
        && (alg == "sha256" || alg == "sha512")
    {
        return Ok(DaemonReference::Id(Digest::parse(details)?));
    }
    let r = DockerReference::parse_normalized(details)?;
    if r.digest.is_some() {
        // Docker's image store cannot be addressed by manifest digest.
        return Err(Error::invalid(
            "docker-daemon: references with a digest are not supported; use a tag or an image ID",
        ));
    }
    Ok(DaemonReference::Named(r.with_default_tag()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transport_parses() {
        let id = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let ok = [
            ("docker://busybox", "docker"),
            ("dir:/tmp/x", "dir"),
            ("oci:/tmp/layout:v1", "oci"),
            ("oci:/tmp/layout", "oci"),
            ("oci-archive:/tmp/a.tar:@0", "oci-archive"),
            ("docker-archive:/tmp/a.tar:busybox:1", "docker-archive"),
            ("docker-archive:/tmp/a.tar:@2", "docker-archive"),
            ("docker-daemon:busybox:latest", "docker-daemon"),
            ("containers-storage:[overlay@/var/lib/c+/run/c]busybox", "containers-storage"),
        ];
        for (s, t) in ok {
            assert_eq!(ImageReference::parse(s).unwrap().transport_name(), t, "{s}");
        }
        let r = ImageReference::parse(&format!("docker-daemon:{id}")).unwrap();
        assert_eq!(r, ImageReference::DockerDaemon(DaemonReference::Id(Digest::parse(id).unwrap())));
    }

    #[test]
    fn docker_gets_latest_by_default() {
        let r = ImageReference::parse("docker://localhost:5000/app").unwrap();
        assert_eq!(r.docker_reference().unwrap().to_string(), "localhost:5000/app:latest");
    }

    #[test]
    fn rejects_bad_transports() {
        for bad in ["", "busybox", "nope:x", "docker:busybox", "docker://", "dir:", "docker-daemon:x@sha256:00"] {
            assert!(ImageReference::parse(bad).is_err(), "{bad:?} accepted");
        }
        let e = ImageReference::parse("foo:bar").unwrap_err();
        assert!(e.message.contains("unknown transport"), "{e}");
    }

    #[test]
    fn describe_reports_parts() {
        let d = ImageReference::parse("docker://quay.io/a/b:c").unwrap().describe();
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"transport":"docker","registry":"quay.io","repository":"a/b","tag":"c"}"#
        );
        let d = ImageReference::parse("oci:/l:v2").unwrap().describe();
        assert_eq!(serde_json::to_string(&d).unwrap(), r#"{"transport":"oci","tag":"v2","path":"/l"}"#);
    }
}
