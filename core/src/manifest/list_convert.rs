//! Manifest lists a copy has to rewrite: instances that were converted or
//! recompressed get new digests, and an OCI index may have to become a
//! Docker list or the other way round. Encoded as containers/image does it
//! (`UpdateInstances`, then `ConvertToMIMEType`, then `json.Marshal`), so
//! the list's digest matches skopeo's.

use std::collections::BTreeMap;

use serde::Serialize;

use super::convert::OciDescriptor;
use super::convert::{go_marshal, urls};
use super::{Descriptor, ManifestList};
use crate::error::{Error, Result};
use crate::media_type::{self as mt, ManifestKind};
use crate::platform::Platform;

/// `imgspecv1.Descriptor` of an index entry: a descriptor and its platform.
#[derive(Serialize)]
struct IndexEntry<'a> {
    #[serde(flatten)]
    descriptor: OciDescriptor<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<Platform>,
}

#[derive(Serialize)]
struct Index<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u8,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    manifests: Vec<IndexEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a BTreeMap<String, String>>,
}

/// `manifest.Schema2ManifestDescriptor`: `size` before `digest`, and a platform always.
#[derive(Serialize)]
struct ListEntry<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    size: i64,
    digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    urls: Option<&'a Vec<String>>,
    platform: Platform,
}

#[derive(Serialize)]
struct DockerList<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u8,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    manifests: Vec<ListEntry<'a>>,
}

/// `list` as a `target` list whose entries are `instances` (the list's own
/// entries with the digest, size and media type each instance was written
/// with). An entry without a platform becomes `host` in a Docker list, as
/// containers/image fills in the platform it runs on.
pub fn encode_list(
    target: ManifestKind,
    list: &ManifestList,
    instances: &[Descriptor],
    host: &Platform,
) -> Result<Vec<u8>> {
    let from_docker = list.kind == ManifestKind::DockerList;
    match target {
        ManifestKind::OciIndex => go_marshal(&Index {
            schema_version: 2,
            media_type: mt::OCI_INDEX,
            manifests: instances
                .iter()
                .map(|d| IndexEntry {
                    descriptor: OciDescriptor {
                        media_type: &d.media_type,
                        digest: d.digest.to_string(),
                        size: d.size,
                        urls: urls(d),
                        // A Docker list has no annotations, and always a platform.
                        annotations: if from_docker { None } else { d.annotations.as_ref().filter(|a| !a.is_empty()) },
                    },
                    platform: if from_docker {
                        Some(d.platform.clone().unwrap_or_default())
                    } else {
                        d.platform.clone()
                    },
                })
                .collect(),
            annotations: if from_docker { None } else { list.annotations.as_ref().filter(|a| !a.is_empty()) },
        }),
        ManifestKind::DockerList => go_marshal(&DockerList {
            schema_version: 2,
            media_type: mt::DOCKER_LIST,
            manifests: instances
                .iter()
                .map(|d| ListEntry {
                    media_type: &d.media_type,
                    size: d.size,
                    digest: d.digest.to_string(),
                    urls: urls(d),
                    platform: match (&d.platform, from_docker) {
                        (Some(p), _) => p.clone(),
                        (None, true) => Platform::default(),
                        (None, false) => host.clone(),
                    },
                })
                .collect(),
        }),
        other => Err(Error::unsupported(format!("{} is not a manifest list type", other.media_type()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_to_docker_list_and_back() {
        let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":1,"annotations":{"a":"<b>"},"platform":{"architecture":"arm64","os":"linux","variant":"v8"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","size":2}]}"#;
        let (_, parsed) = super::super::Manifest::parse(index, None).unwrap();
        let super::super::Manifest::List(list) = parsed else { panic!() };
        let mut instances = list.manifests.clone();
        for d in &mut instances {
            d.media_type = mt::DOCKER_V2S2.to_owned();
        }
        let host = Platform { architecture: "amd64".into(), os: "linux".into(), ..Platform::default() };
        let docker = encode_list(ManifestKind::DockerList, &list, &instances, &host).unwrap();
        assert_eq!(
            String::from_utf8(docker).unwrap(),
            r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":1,"digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","platform":{"architecture":"arm64","os":"linux","variant":"v8"}},{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":2,"digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","platform":{"architecture":"amd64","os":"linux"}}]}"#
        );
        let kept = encode_list(ManifestKind::OciIndex, &list, &list.manifests, &host).unwrap();
        assert!(String::from_utf8(kept).unwrap().contains(r#""annotations":{"a":"\u003cb\u003e"}"#));
    }
}
