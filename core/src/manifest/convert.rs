//! Manifest conversion between Docker v2 schema 2 and OCI, byte for byte as
//! containers/image does it, so converted images get the same digests as
//! with skopeo:
//! - Docker → OCI re-encodes the config as image-spec's `Image` (so the
//!   config, and its digest, change) and maps the layer media types;
//! - OCI → Docker keeps the config bytes and only changes media types.
//!
//! Both encode with Go's `json.Marshal`: compact, struct field order, and
//! `<`, `>`, `&` escaped.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Descriptor, ImageManifest};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::go::json::html_escape;
use crate::manifest::ImageConfig;
use crate::media_type::{self as mt, ManifestKind};

/// A converted image: its manifest, and its config when conversion changed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    pub kind: ManifestKind,
    pub manifest: Vec<u8>,
    /// New config bytes (and their descriptor) to store instead of the source's.
    pub config: Option<(Descriptor, Vec<u8>)>,
    /// The manifest names no config (schema 1): the source's is not copied.
    pub drops_config: bool,
    /// Blobs the manifest names that the source does not have (schema 1's empty layer).
    pub extra_blobs: Vec<(Descriptor, Vec<u8>)>,
}

/// `imgspecv1.Descriptor`, as image-spec orders its fields.
#[derive(Serialize)]
pub(super) struct OciDescriptor<'a> {
    #[serde(rename = "mediaType")]
    pub media_type: &'a str,
    pub digest: String,
    pub size: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urls: Option<&'a Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<&'a std::collections::BTreeMap<String, String>>,
}

#[derive(Serialize)]
struct OciManifest<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u8,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    config: OciDescriptor<'a>,
    layers: Vec<OciDescriptor<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a BTreeMap<String, String>>,
}

/// `manifest.Schema2Descriptor`: note `size` before `digest`.
#[derive(Serialize)]
struct DockerDescriptor<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    size: i64,
    digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    urls: Option<&'a Vec<String>>,
}

#[derive(Serialize)]
struct DockerManifest<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u8,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    config: DockerDescriptor<'a>,
    layers: Vec<DockerDescriptor<'a>>,
}

pub(super) fn go_marshal<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let s = serde_json::to_string(v).map_err(|e| Error::other(format!("encoding manifest: {e}")))?;
    Ok(html_escape(&s).into_bytes())
}

pub(super) fn urls(d: &Descriptor) -> Option<&Vec<String>> {
    d.urls.as_ref().filter(|u| !u.is_empty())
}

/// Docker v2 schema 2 → OCI; `config` is the source's config blob.
pub fn docker_to_oci(m: &ImageManifest, config: &[u8]) -> Result<Converted> {
    if m.kind != ManifestKind::DockerV2S2 {
        return Err(Error::unsupported(format!("cannot convert {} to OCI", m.kind.media_type())));
    }
    let image = ImageConfig::parse(config)?;
    let config_bytes = go_marshal(&image)?;
    let config_desc = Descriptor {
        media_type: mt::OCI_CONFIG.to_owned(),
        digest: Digest::sha256(&config_bytes),
        size: config_bytes.len() as i64,
        urls: None,
        annotations: None,
        platform: None,
    };
    let layers = m
        .layers
        .iter()
        .map(|l| {
            let media_type = match l.media_type.as_str() {
                mt::DOCKER_LAYER_GZIP => mt::OCI_LAYER_GZIP,
                "application/vnd.docker.image.rootfs.diff.tar" => mt::OCI_LAYER,
                "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
                    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
                }
                "application/vnd.docker.image.rootfs.foreign.diff.tar" => {
                    "application/vnd.oci.image.layer.nondistributable.v1.tar"
                }
                other => {
                    return Err(Error::unsupported(format!(
                        "unknown media type during manifest conversion: {other:?}"
                    )));
                }
            };
            Ok(OciDescriptor {
                media_type,
                digest: l.digest.to_string(),
                size: l.size,
                urls: urls(l),
                annotations: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let manifest = go_marshal(&OciManifest {
        schema_version: 2,
        media_type: mt::OCI_MANIFEST,
        config: OciDescriptor {
            media_type: mt::OCI_CONFIG,
            digest: config_desc.digest.to_string(),
            size: config_desc.size,
            urls: None,
            annotations: None,
        },
        layers,
        annotations: None,
    })?;
    Ok(Converted {
        kind: ManifestKind::OciManifest,
        manifest,
        config: Some((config_desc, config_bytes)),
        drops_config: false,
        extra_blobs: Vec::new(),
    })
}

/// OCI → Docker v2 schema 2 (the config is kept as it is).
pub fn oci_to_docker(m: &ImageManifest) -> Result<Converted> {
    if m.kind != ManifestKind::OciManifest || m.config.media_type != mt::OCI_CONFIG {
        return Err(Error::unsupported(format!(
            "cannot convert {} with config {:?} to Docker schema 2",
            m.kind.media_type(),
            m.config.media_type
        )));
    }
    let layers = m
        .layers
        .iter()
        .map(|l| {
            let media_type = match l.media_type.as_str() {
                mt::OCI_LAYER_GZIP => mt::DOCKER_LAYER_GZIP,
                mt::OCI_LAYER => "application/vnd.docker.image.rootfs.diff.tar",
                "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" => {
                    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
                }
                "application/vnd.oci.image.layer.nondistributable.v1.tar" => {
                    "application/vnd.docker.image.rootfs.foreign.diff.tar"
                }
                mt::OCI_LAYER_ZSTD => {
                    return Err(Error::unsupported("Docker schema 2 manifests cannot carry zstd layers"));
                }
                other => {
                    return Err(Error::unsupported(format!(
                        "unknown media type during manifest conversion: {other:?}"
                    )));
                }
            };
            Ok(DockerDescriptor { media_type, size: l.size, digest: l.digest.to_string(), urls: urls(l) })
        })
        .collect::<Result<Vec<_>>>()?;
    let manifest = go_marshal(&DockerManifest {
        schema_version: 2,
        media_type: mt::DOCKER_V2S2,
        config: DockerDescriptor {
            media_type: mt::DOCKER_CONFIG,
            size: m.config.size,
            digest: m.config.digest.to_string(),
            urls: None,
        },
        layers,
    })?;
    Ok(Converted {
        kind: ManifestKind::DockerV2S2,
        manifest,
        config: None,
        drops_config: false,
        extra_blobs: Vec::new(),
    })
}

fn annotations(d: &Descriptor) -> Option<&std::collections::BTreeMap<String, String>> {
    d.annotations.as_ref().filter(|a| !a.is_empty())
}

/// A manifest of `kind` with these config and layer descriptors, encoded as
/// containers/image encodes an updated manifest (used when layers were
/// recompressed, encrypted or decrypted); an OCI manifest keeps its own
/// `annotations`.
pub fn encode(
    kind: ManifestKind,
    config: &Descriptor,
    layers: &[Descriptor],
    manifest_annotations: Option<&BTreeMap<String, String>>,
) -> Result<Vec<u8>> {
    match kind {
        ManifestKind::OciManifest => go_marshal(&OciManifest {
            schema_version: 2,
            media_type: mt::OCI_MANIFEST,
            config: OciDescriptor {
                media_type: &config.media_type,
                digest: config.digest.to_string(),
                size: config.size,
                urls: urls(config),
                annotations: annotations(config),
            },
            layers: layers
                .iter()
                .map(|l| OciDescriptor {
                    media_type: &l.media_type,
                    digest: l.digest.to_string(),
                    size: l.size,
                    urls: urls(l),
                    annotations: annotations(l),
                })
                .collect(),
            annotations: manifest_annotations.filter(|a| !a.is_empty()),
        }),
        ManifestKind::DockerV2S2 => go_marshal(&DockerManifest {
            schema_version: 2,
            media_type: mt::DOCKER_V2S2,
            config: DockerDescriptor {
                media_type: &config.media_type,
                size: config.size,
                digest: config.digest.to_string(),
                urls: None,
            },
            layers: layers
                .iter()
                .map(|l| DockerDescriptor {
                    media_type: &l.media_type,
                    size: l.size,
                    digest: l.digest.to_string(),
                    urls: urls(l),
                })
                .collect(),
        }),
        other => Err(Error::unsupported(format!("cannot write a {} manifest", other.media_type()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;

    fn docker() -> (ImageManifest, Vec<u8>) {
        let config = br#"{"architecture":"amd64","os":"linux","config":{"Env":["A=<b>"]},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"container_config":{"x":1},"docker_version":"20"}"#.to_vec();
        let cd = Digest::sha256(&config);
        let l = Digest::sha256(b"layer");
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","size":{},"digest":"{cd}"}},"layers":[{{"mediaType":"{}","size":5,"digest":"{l}"}}]}}"#,
            mt::DOCKER_V2S2,
            mt::DOCKER_CONFIG,
            config.len(),
            mt::DOCKER_LAYER_GZIP
        );
        match Manifest::parse(m.as_bytes(), None).unwrap().1 {
            Manifest::Image(i) => (i, config),
            _ => unreachable!(),
        }
    }

    #[test]
    fn docker_to_oci_reencodes_the_config() {
        let (m, config) = docker();
        let c = docker_to_oci(&m, &config).unwrap();
        let (desc, bytes) = c.config.unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"architecture":"amd64","os":"linux","config":{"Env":["A=\u003cb\u003e"]},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]}}"#
        );
        assert_eq!(desc.digest, Digest::sha256(&bytes));
        let s = String::from_utf8(c.manifest).unwrap();
        assert!(s.starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:"#), "{s}");
        assert!(
            s.contains(r#""layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:"#),
            "{s}"
        );
    }

    #[test]
    fn round_trip_through_oci_keeps_layers() {
        let (m, config) = docker();
        let oci = docker_to_oci(&m, &config).unwrap();
        let back = match Manifest::parse(&oci.manifest, None).unwrap().1 {
            Manifest::Image(i) => oci_to_docker(&i).unwrap(),
            _ => unreachable!(),
        };
        let s = String::from_utf8(back.manifest).unwrap();
        assert!(s.contains(r#""layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":5,"digest":"sha256:"#), "{s}");
        assert!(back.config.is_none());
    }
}
