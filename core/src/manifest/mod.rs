//! Manifests in every format a registry may serve: OCI image manifest and
//! index, Docker v2 schema 2 and manifest list, Docker v2 schema 1 (read only).

pub mod config;
pub mod convert;
mod descriptor;
mod image;
pub mod jws;
mod list;
pub mod list_convert;
mod schema1;
pub mod schema1_encode;

pub use config::ImageConfig;
pub use descriptor::Descriptor;
pub use image::ImageManifest;
pub use list::ManifestList;
pub use schema1::Schema1Manifest;

use serde::Deserialize;

use crate::digest::{Algorithm, Digest};
use crate::error::{Error, Result};
use crate::media_type::{self, ManifestKind};

/// The most we accept for a manifest (and an image config): containers/image's limit.
pub const MAX_MANIFEST_SIZE: u64 = 4 * 1024 * 1024;

/// A parsed manifest of any supported kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Manifest {
    Image(ImageManifest),
    List(ManifestList),
    Schema1(Schema1Manifest),
}

impl Manifest {
    /// Parses `bytes`, using `content_type` when it names a manifest type and
    /// the document itself otherwise. Documents that could be read as more
    /// than one kind, or whose declared type disagrees, are refused.
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<(ManifestKind, Manifest)> {
        if bytes.len() as u64 > MAX_MANIFEST_SIZE {
            return Err(Error::integrity(format!("manifest is larger than {MAX_MANIFEST_SIZE} bytes")));
        }
        refuse_case_variants(bytes)?;
        let kind = detect_kind(bytes, content_type)?;
        let manifest = match kind {
            ManifestKind::OciManifest | ManifestKind::DockerV2S2 => Manifest::Image(ImageManifest::parse(bytes, kind)?),
            ManifestKind::OciIndex | ManifestKind::DockerList => Manifest::List(ManifestList::parse(bytes, kind)?),
            ManifestKind::DockerV2S1 | ManifestKind::DockerV2S1Signed => {
                Manifest::Schema1(Schema1Manifest::parse(bytes)?)
            }
        };
        Ok((kind, manifest))
    }
}

/// The members a manifest or list may have. Go's `encoding/json` matches
/// object keys to fields regardless of case, so `"Layers"` is `layers` to
/// containers/image while a strict reader skips it: such a document means
/// different images to different tools and is refused.
const MEMBERS: [&str; 14] = [
    "schemaVersion",
    "mediaType",
    "artifactType",
    "config",
    "layers",
    "manifests",
    "annotations",
    "subject",
    "name",
    "tag",
    "architecture",
    "fsLayers",
    "history",
    "signatures",
];

fn refuse_case_variants(bytes: &[u8]) -> Result<()> {
    let Ok(serde_json::Value::Object(top)) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(()); // not an object: the parser proper says why
    };
    for key in top.keys() {
        if let Some(m) = MEMBERS.iter().find(|m| m.eq_ignore_ascii_case(key) && **m != key.as_str()) {
            return Err(Error::integrity(format!(
                "ambiguous manifest: member {:?} would be read as {m:?} by other tools",
                crate::error::sanitize(key)
            )));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(rename = "schemaVersion", default)]
    schema_version: Option<i64>,
    #[serde(default)]
    signatures: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    config: Option<ConfigMeta>,
    #[serde(default)]
    manifests: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct ConfigMeta {
    #[serde(rename = "mediaType", default)]
    media_type: String,
}

/// Works out the manifest kind, as containers/image's GuessMIMEType does when
/// the header is no help, and cross-checks the header against the body.
pub fn detect_kind(bytes: &[u8], content_type: Option<&str>) -> Result<ManifestKind> {
    let meta: Meta =
        serde_json::from_slice(bytes).map_err(|e| Error::invalid(format!("manifest is not valid JSON: {e}")))?;
    let declared = meta.media_type.as_deref().filter(|m| !m.is_empty());
    let from_header = content_type.map(media_type::simplify_content_type).and_then(ManifestKind::from_media_type);
    let from_body = match declared {
        Some(mt) => match ManifestKind::from_media_type(mt) {
            Some(k) => Some(k),
            None if meta.schema_version == Some(2) => {
                return Err(Error::unsupported(format!("unsupported manifest media type {mt:?}")));
            }
            None => None,
        },
        None => None,
    };
    if let (Some(h), Some(b)) = (from_header, from_body)
        && h != b
    {
        return Err(Error::integrity(format!(
            "manifest declares media type {} but was served as {}",
            b.media_type(),
            h.media_type()
        )));
    }
    if let Some(k) = from_header.or(from_body) {
        return Ok(k);
    }
    match meta.schema_version {
        Some(1) if meta.signatures.is_some() => Ok(ManifestKind::DockerV2S1Signed),
        Some(1) => Ok(ManifestKind::DockerV2S1),
        Some(2) => {
            let config_type = meta.config.as_ref().map(|c| c.media_type.as_str());
            match config_type {
                Some(media_type::OCI_CONFIG) => Ok(ManifestKind::OciManifest),
                Some(media_type::DOCKER_CONFIG) => Ok(ManifestKind::DockerV2S2),
                _ if meta.manifests.is_some() && meta.config.is_none() => Ok(ManifestKind::OciIndex),
                // An OCI artifact with a custom config type: an OCI manifest.
                Some(_) => Ok(ManifestKind::OciManifest),
                None => Err(Error::unsupported("cannot tell what kind of manifest this is")),
            }
        }
        _ => Err(Error::unsupported("unsupported manifest: unknown schemaVersion and media type")),
    }
}

/// The digest that names a manifest: of its bytes, except that a signed
/// schema 1 manifest is named by its payload with the JWS signatures removed.
pub fn manifest_digest(bytes: &[u8]) -> Result<Digest> {
    manifest_digest_with(bytes, Algorithm::Sha256)
}

pub fn manifest_digest_with(bytes: &[u8], algorithm: Algorithm) -> Result<Digest> {
    if let Ok(ManifestKind::DockerV2S1Signed) = detect_kind(bytes, None) {
        let payload = schema1::jws_payload(bytes)?;
        return Ok(Digest::of(algorithm, &payload));
    }
    Ok(Digest::of(algorithm, bytes))
}

/// Checks that `bytes` are the manifest `expected` names.
pub fn verify_manifest_digest(bytes: &[u8], expected: &Digest) -> Result<()> {
    let actual = manifest_digest_with(bytes, expected.algorithm())?;
    if &actual != expected {
        return Err(Error::integrity(format!("manifest digest mismatch: expected {expected}, got {actual}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn oci_manifest(with_media_type: bool) -> String {
        let mt =
            if with_media_type { format!(r#""mediaType":"{}","#, media_type::OCI_MANIFEST) } else { String::new() };
        format!(
            r#"{{"schemaVersion":2,{mt}"config":{{"mediaType":"{}","digest":"{CFG}","size":2}},"layers":[]}}"#,
            media_type::OCI_CONFIG
        )
    }

    #[test]
    fn negative_sizes_are_refused() {
        // A negative size used to disable the limit on the blob's length.
        let m = oci_manifest(true).replace(r#""size":2"#, r#""size":-1"#);
        let e = Manifest::parse(m.as_bytes(), None).unwrap_err();
        assert!(e.message.contains("negative"), "{}", e.message);
        let layer = format!(r#"{{"mediaType":"{}","digest":"{CFG}","size":-5}}"#, media_type::OCI_LAYER_GZIP);
        let m = oci_manifest(true).replace(r#""layers":[]"#, &format!(r#""layers":[{layer}]"#));
        assert!(Manifest::parse(m.as_bytes(), None).is_err());
        let idx = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{CFG}","size":-3}}]}}"#,
            media_type::OCI_MANIFEST
        );
        assert!(Manifest::parse(idx.as_bytes(), None).is_err());
        assert!(Manifest::parse(oci_manifest(true).as_bytes(), None).is_ok());
    }

    #[test]
    fn detects_from_header_and_body() {
        let m = oci_manifest(true);
        assert_eq!(detect_kind(m.as_bytes(), None).unwrap(), ManifestKind::OciManifest);
        assert_eq!(
            detect_kind(m.as_bytes(), Some("application/vnd.oci.image.manifest.v1+json; x=y")).unwrap(),
            ManifestKind::OciManifest
        );
        // No mediaType field (image-spec < 1.0.2): the config type decides.
        assert_eq!(detect_kind(oci_manifest(false).as_bytes(), Some("text/plain")).unwrap(), ManifestKind::OciManifest);
        let idx = r#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(detect_kind(idx.as_bytes(), None).unwrap(), ManifestKind::OciIndex);
        let s1 = r#"{"schemaVersion":1,"fsLayers":[],"history":[]}"#;
        assert_eq!(detect_kind(s1.as_bytes(), None).unwrap(), ManifestKind::DockerV2S1);
    }

    #[test]
    fn refuses_disagreement_and_junk() {
        let m = oci_manifest(true);
        assert_eq!(
            detect_kind(m.as_bytes(), Some(media_type::DOCKER_V2S2)).unwrap_err().kind,
            crate::error::ErrorKind::Integrity
        );
        assert!(detect_kind(b"not json", None).is_err());
        assert!(detect_kind(br#"{"schemaVersion":2,"mediaType":"application/x-evil"}"#, None).is_err());
        assert!(detect_kind(br#"{"schemaVersion":3}"#, None).is_err());
        let big = vec![b' '; MAX_MANIFEST_SIZE as usize + 1];
        assert!(Manifest::parse(&big, None).is_err());
    }

    #[test]
    fn ambiguous_documents_are_refused() {
        let both = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{CFG}","size":2}},"layers":[],"manifests":[]}}"#,
            media_type::OCI_MANIFEST,
            media_type::OCI_CONFIG
        );
        assert!(Manifest::parse(both.as_bytes(), None).is_err());
        let idx =
            format!(r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[],"layers":[]}}"#, media_type::OCI_INDEX);
        assert!(Manifest::parse(idx.as_bytes(), None).is_err());
        // Go reads `Layers` as `layers`: refused rather than read without layers.
        let capital = both.replace(r#""layers":[],"manifests":[]"#, r#""Layers":[]"#);
        let e = Manifest::parse(capital.as_bytes(), None).unwrap_err();
        assert!(e.message.contains("ambiguous manifest: member \"Layers\""), "{e}");
        let twice = both.replace(r#""manifests":[]"#, r#""layers":[]"#);
        assert!(Manifest::parse(twice.as_bytes(), None).unwrap_err().message.contains("duplicate"), "duplicate keys");
        let plain = both.replace(r#","manifests":[]"#, "");
        assert!(Manifest::parse(plain.as_bytes(), None).is_ok());
        assert!(
            Manifest::parse(plain.as_bytes(), Some(media_type::OCI_INDEX)).is_err(),
            "an index type on a manifest body"
        );
    }

    #[test]
    fn verifies_manifest_digest() {
        let m = oci_manifest(true);
        let d = Digest::sha256(m.as_bytes());
        assert!(verify_manifest_digest(m.as_bytes(), &d).is_ok());
        assert!(verify_manifest_digest(b"{}", &d).is_err());
    }
}
