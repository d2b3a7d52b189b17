//! Docker v2 schema 2 or OCI → schema 1 (`--format v2s1`), as
//! containers/image converts: one `fsLayers`/`history` entry per history
//! entry of the config (top first), empty layers pointing at the well-known
//! gzipped empty tar, v1 IDs chained as Docker chains them, the real config
//! (without `rootfs` and `history`) as the top entry, then a throwaway JWS
//! signature ([`super::jws`]). The payload is byte for byte skopeo's, so the
//! digest (taken without the signature) is the same.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::convert::{Converted, go_marshal};
use super::{Descriptor, ImageManifest, jws};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::go::json::marshal_raw_map;
use crate::go::time::GoTime;
use crate::media_type::{self as mt, ManifestKind};

/// A gzipped empty tar (1024 zero bytes), as Docker and containers/image write it.
pub const GZIPPED_EMPTY_LAYER: &[u8] = &[
    31, 139, 8, 0, 0, 9, 110, 136, 0, 255, 98, 24, 5, 163, 96, 20, 140, 88, 0, 8, 0, 0, 255, 255, 46, 175, 181, 239, 0,
    4, 0, 0,
];

#[derive(Deserialize)]
struct Config {
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    history: Option<Vec<History>>,
}

#[derive(Deserialize)]
struct History {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    empty_layer: Option<bool>,
}

/// containers/image's `Schema1V1Compatibility`, in its field order.
#[derive(Serialize)]
struct V1Compatibility<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    parent: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    comment: &'a str,
    created: String,
    container_config: ContainerConfig<'a>,
    #[serde(skip_serializing_if = "str::is_empty")]
    author: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    throwaway: bool,
}

#[derive(Serialize)]
struct ContainerConfig<'a> {
    #[serde(rename = "Cmd")]
    cmd: [&'a str; 1],
}

#[derive(Serialize)]
struct Schema1<'a> {
    name: &'a str,
    tag: &'a str,
    architecture: &'a str,
    #[serde(rename = "fsLayers")]
    fs_layers: Vec<FsLayer>,
    history: Vec<HistoryEntry>,
    #[serde(rename = "schemaVersion")]
    schema_version: u8,
}

#[derive(Serialize)]
struct FsLayer {
    #[serde(rename = "blobSum")]
    blob_sum: String,
}

#[derive(Serialize)]
struct HistoryEntry {
    #[serde(rename = "v1Compatibility")]
    v1_compatibility: String,
}

/// Docker's made-up v1 image ID: SHA-256 of the blob's hex and the other parts, space-separated.
fn v1_id(blob: &Digest, others: &[&str]) -> String {
    let mut parts = vec![blob.hex()];
    parts.extend_from_slice(others);
    Digest::sha256(parts.join(" ").as_bytes()).hex().to_owned()
}

/// The top entry: the config's own JSON without `rootfs` and `history`, with
/// `id`, `parent` and `throwaway` set, keys sorted (Go's map encoding).
fn top_v1_compatibility(config: &[u8], id: &str, parent: &str, throwaway: bool) -> Result<String> {
    let raw: BTreeMap<String, Box<RawValue>> =
        serde_json::from_slice(config).map_err(|e| Error::invalid(format!("image config: {e}")))?;
    let mut fields: BTreeMap<String, Option<String>> =
        raw.into_iter().map(|(k, v)| (k, Some(v.get().to_owned()))).collect();
    fields.remove("rootfs");
    fields.remove("history");
    fields.insert("id".to_owned(), Some(serde_json::to_string(id)?));
    if !parent.is_empty() {
        fields.insert("parent".to_owned(), Some(serde_json::to_string(parent)?));
    }
    if throwaway {
        fields.insert("throwaway".to_owned(), Some("true".to_owned()));
    }
    marshal_raw_map(&fields)
}

/// Converts `m` (with config bytes `config`) to a signed schema 1 manifest
/// naming `name:tag` (empty for local destinations), signed at `time`.
pub fn to_schema1(m: &ImageManifest, config: &[u8], name: &str, tag: &str, time: &str) -> Result<Converted> {
    let cannot = |why: String| Error::unsupported(format!("cannot convert to {}: {why}", mt::DOCKER_V2S1_SIGNED));
    if let Some(l) = m.layers.iter().find(|l| l.media_type == mt::OCI_LAYER_ZSTD) {
        return Err(cannot(format!("layer {} is zstd-compressed", l.digest)));
    }
    let parsed: Config = serde_json::from_slice(config).map_err(|e| Error::invalid(format!("image config: {e}")))?;
    let history = parsed.history.unwrap_or_default();
    if history.is_empty() {
        return Err(cannot("the image config has no history entries".to_owned()));
    }
    let empty = Digest::sha256(GZIPPED_EMPTY_LAYER);
    let mut layers = m.layers.iter();
    let (mut fs_layers, mut entries, mut id, mut parent) = (Vec::new(), Vec::new(), String::new(), String::new());
    let mut uses_empty = false;
    for h in &history {
        parent = id.clone();
        let throwaway = h.empty_layer.unwrap_or(false);
        let blob = if throwaway {
            uses_empty = true;
            empty.clone()
        } else {
            let l = layers.next().ok_or_else(|| {
                Error::invalid(format!(
                    "Invalid image configuration, needs more than the {} distributed layers",
                    m.layers.len()
                ))
            })?;
            l.digest.clone()
        };
        id = v1_id(&blob, &[&parent]);
        let created = match &h.created {
            None => GoTime::zero(),
            Some(s) => GoTime::parse(s).ok_or_else(|| Error::invalid(format!("image config: history time {s:?}")))?,
        };
        let entry = V1Compatibility {
            id: &id,
            parent: &parent,
            comment: h.comment.as_deref().unwrap_or(""),
            created: created.rfc3339(),
            container_config: ContainerConfig { cmd: [h.created_by.as_deref().unwrap_or("")] },
            author: h.author.as_deref().unwrap_or(""),
            throwaway,
        };
        entries.push(String::from_utf8(go_marshal(&entry)?).expect("JSON is UTF-8"));
        fs_layers.push(FsLayer { blob_sum: blob.to_string() });
    }
    fs_layers.reverse();
    entries.reverse();
    // The top entry carries the real configuration.
    let top_blob = Digest::parse(&fs_layers[0].blob_sum)?;
    let config_text = std::str::from_utf8(config).map_err(|_| Error::invalid("image config is not UTF-8"))?;
    let top_id = v1_id(&top_blob, &[&parent, config_text]);
    let throwaway = history.last().and_then(|h| h.empty_layer).unwrap_or(false);
    entries[0] = top_v1_compatibility(config, &top_id, &parent, throwaway)?;
    let payload = go_marshal(&Schema1 {
        name,
        tag,
        architecture: parsed.architecture.as_deref().unwrap_or(""),
        fs_layers,
        history: entries.into_iter().map(|v1_compatibility| HistoryEntry { v1_compatibility }).collect(),
        schema_version: 1,
    })?;
    let extra_blobs = match uses_empty {
        true => vec![(
            Descriptor {
                media_type: mt::DOCKER_LAYER_GZIP.to_owned(),
                digest: empty,
                size: GZIPPED_EMPTY_LAYER.len() as i64,
                urls: None,
                annotations: None,
                platform: None,
            },
            GZIPPED_EMPTY_LAYER.to_vec(),
        )],
        false => Vec::new(),
    };
    Ok(Converted {
        kind: ManifestKind::DockerV2S1Signed,
        manifest: jws::sign(&payload, time)?,
        config: None,
        drops_config: true,
        extra_blobs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Manifest, manifest_digest};

    /// An image and skopeo 1.9.3's `--format v2s1` of it (signature removed).
    const MANIFEST: &str = r#"{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:e65af523c5947558b1a035cf86e6074d17648a9657f11bdf91d06e0be8bd81bb", "size": 335}, "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:1e93cf090ac787e2248b4e962d9496cd6ac868a58825a9ee0e318221969db529", "size": 107, "annotations": {"a": "b"}}]}"#;
    const CONFIG: &str = r#"{"created": "2024-01-02T03:04:05Z", "architecture": "amd64", "os": "linux", "config": {"Env": ["PATH=/bin", "A=<&>"], "Labels": {"org.x": "y"}}, "rootfs": {"type": "layers", "diff_ids": ["sha256:a32826ad161414ebdd8b3ab0c346437284f32d8a9cd48dee9d718213c6ece577"]}, "history": [{"created": "2024-01-02T03:04:05Z", "created_by": "test"}]}"#;
    const SKOPEO: &str = r#"{"name":"","tag":"","architecture":"amd64","fsLayers":[{"blobSum":"sha256:1e93cf090ac787e2248b4e962d9496cd6ac868a58825a9ee0e318221969db529"}],"history":[{"v1Compatibility":"{\"architecture\":\"amd64\",\"config\":{\"Env\":[\"PATH=/bin\",\"A=\\u003c\\u0026\\u003e\"],\"Labels\":{\"org.x\":\"y\"}},\"created\":\"2024-01-02T03:04:05Z\",\"id\":\"55658da8f5dc2450843b51766eaefa96f535435a91b9fa7d4131fa60be4a951c\",\"os\":\"linux\"}"}],"schemaVersion":1}"#;

    #[test]
    fn converts_as_skopeo_does() {
        let Manifest::Image(m) = Manifest::parse(MANIFEST.as_bytes(), None).unwrap().1 else { panic!() };
        assert_eq!(Digest::sha256(CONFIG.as_bytes()), m.config.digest);
        let c = to_schema1(&m, CONFIG.as_bytes(), "", "", "2026-11-22T18:37:32Z").unwrap();
        assert_eq!(c.kind, ManifestKind::DockerV2S1Signed);
        assert!(c.drops_config && c.extra_blobs.is_empty());
        assert_eq!(super::super::schema1::jws_payload(&c.manifest).unwrap(), SKOPEO.as_bytes());
        assert_eq!(manifest_digest(&c.manifest).unwrap(), Digest::sha256(SKOPEO.as_bytes()));
    }

    #[test]
    fn empty_layers_use_the_gzipped_empty_tar() {
        assert_eq!(
            Digest::sha256(GZIPPED_EMPTY_LAYER).to_string(),
            "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"
        );
        let Manifest::Image(m) = Manifest::parse(MANIFEST.as_bytes(), None).unwrap().1 else { panic!() };
        let config = r#"{"architecture":"arm64","history":[{"created_by":"base"},{"created":"2024-01-02T03:04:05.5+01:00","created_by":"ENV x","empty_layer":true,"comment":"c"}]}"#;
        let c = to_schema1(&m, config.as_bytes(), "library/app", "v1", "t").unwrap();
        assert_eq!(c.extra_blobs.len(), 1);
        let v: serde_json::Value =
            serde_json::from_slice(&super::super::schema1::jws_payload(&c.manifest).unwrap()).unwrap();
        assert_eq!((v["name"].as_str(), v["tag"].as_str()), (Some("library/app"), Some("v1")));
        let sums: Vec<&str> =
            v["fsLayers"].as_array().unwrap().iter().map(|l| l["blobSum"].as_str().unwrap()).collect();
        assert_eq!(sums, [c.extra_blobs[0].0.digest.to_string().as_str(), m.layers[0].digest.to_string().as_str()]);
        let base: serde_json::Value =
            serde_json::from_str(v["history"][1]["v1Compatibility"].as_str().unwrap()).unwrap();
        assert_eq!(base["created"], "0001-01-01T00:00:00Z");
        assert_eq!(base["container_config"]["Cmd"][0], "base");
        let top: serde_json::Value =
            serde_json::from_str(v["history"][0]["v1Compatibility"].as_str().unwrap()).unwrap();
        assert_eq!((top["parent"].clone(), top["throwaway"].clone()), (base["id"].clone(), serde_json::json!(true)));
        assert!(top.get("history").is_none());
        // More non-empty history entries than layers: refused.
        let more = r#"{"history":[{"created_by":"a"},{"created_by":"b"}]}"#;
        assert!(to_schema1(&m, more.as_bytes(), "", "", "t").is_err());
        assert!(to_schema1(&m, b"{}", "", "", "t").is_err());
    }
}
