//! Sigstore attachments (registries.d `use-sigstore-attachments`): the
//! sigstore signatures of manifest `sha256:H` live in the same repository
//! as an OCI image tagged `sha256-H.sig`, one layer per signature (its
//! media type, bytes and annotations are the signature's parts), as cosign
//! and containers/image store them. Written by extending what is there.

use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::config::{ImageConfig, RootFs};
use crate::manifest::{Descriptor, MAX_MANIFEST_SIZE};
use crate::registry::RegistryClient;
use crate::signature::{MAX_SIGNATURE_SIZE, MAX_SIGNATURES, Signature, SigstoreParts, too_many_signatures};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// The tag holding the attachments of `manifest` (`sha256-<hex>.sig`).
pub fn tag(manifest: &Digest) -> String {
    format!("{}-{}.sig", manifest.algorithm().name(), manifest.hex())
}

/// The attachment image: image-spec's `Manifest` as Go marshals it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttachmentManifest {
    schema_version: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    media_type: String,
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<std::collections::BTreeMap<String, String>>,
}

/// The attachment manifest of `manifest` in `repository`, if there is one.
async fn existing(client: &RegistryClient, repository: &str, manifest: &Digest) -> Result<Option<AttachmentManifest>> {
    let tag = tag(manifest);
    let (bytes, content_type) = match client.get_manifest(repository, &tag).await {
        Ok(found) => found,
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mime = content_type.as_deref().map(|c| c.split(';').next().unwrap_or("").trim()).unwrap_or("");
    if mime != OCI_MANIFEST {
        return Err(Error::integrity(format!(
            "unexpected MIME type for sigstore attachment manifest {tag}: {}",
            crate::registry::sanitize(&format!("{mime:?}"))
        )));
    }
    let parsed: AttachmentManifest = serde_json::from_slice(&bytes)
        .map_err(|e| Error::integrity(format!("parsing sigstore attachment manifest {tag}: {e}")))?;
    if parsed.layers.len() > MAX_SIGNATURES {
        return Err(too_many_signatures(&format!("the sigstore attachment {tag}")));
    }
    Ok(Some(parsed))
}

/// Every attachment of `manifest` (signatures and whatever else is there:
/// the verifier decides by media type), each layer verified.
pub async fn read(client: &RegistryClient, repository: &str, manifest: &Digest) -> Result<Vec<Signature>> {
    let Some(found) = existing(client, repository, manifest).await? else { return Ok(Vec::new()) };
    let mut out = Vec::with_capacity(found.layers.len());
    for layer in found.layers {
        if layer.expected_size().is_none_or(|s| s > MAX_SIGNATURE_SIZE) {
            return Err(Error::integrity(format!(
                "sigstore attachment {} is {} bytes, more than the {MAX_SIGNATURE_SIZE} a signature may be",
                layer.digest, layer.size
            )));
        }
        let payload = client.get_blob(repository, &layer.digest, MAX_SIGNATURE_SIZE).await?;
        layer.check_transfer(&Digest::sha256(&payload).to_string(), payload.len() as u64)?;
        out.push(Signature::sigstore(&SigstoreParts {
            mime_type: layer.media_type,
            payload,
            annotations: layer.annotations,
        })?);
    }
    Ok(out)
}

/// Whether `layer` already is this signature (containers/image's
/// `layerMatchesSigstoreSignature`: an absent and an empty annotation map
/// are the same).
fn holds(layer: &Descriptor, parts: &SigstoreParts) -> bool {
    let empty = std::collections::BTreeMap::new();
    layer.media_type == parts.mime_type
        && layer.size == parts.payload.len() as i64
        && layer.digest == Digest::sha256(&parts.payload)
        && layer.annotations.as_ref().unwrap_or(&empty) == parts.annotations.as_ref().unwrap_or(&empty)
}

/// Adds `signatures` (sigstore ones) to the attachments of `manifest`:
/// new payloads and a new config pushed, then the manifest tagged.
pub async fn write(
    client: &RegistryClient,
    repository: &str,
    manifest: &Digest,
    signatures: &[SigstoreParts],
) -> Result<()> {
    let (mut image, mut config) = match existing(client, repository, manifest).await? {
        Some(m) => {
            let bytes = client.get_blob(repository, &m.config.digest, MAX_MANIFEST_SIZE).await?;
            let config = ImageConfig::parse(&bytes).map_err(|e| {
                e.context(format!("parsing sigstore attachment config {} in {repository}", m.config.digest))
            })?;
            (m, config)
        }
        None => {
            let placeholder = Descriptor {
                media_type: OCI_CONFIG.to_owned(),
                digest: Digest::sha256(b""),
                size: 0,
                urls: None,
                annotations: None,
                platform: None,
            };
            let image = AttachmentManifest {
                schema_version: 2,
                media_type: OCI_MANIFEST.to_owned(),
                config: placeholder,
                layers: Vec::new(),
                annotations: None,
            };
            let config = ImageConfig {
                rootfs: Some(RootFs { kind: Some("layers".to_owned()), diff_ids: None }),
                ..ImageConfig::default()
            };
            (image, config)
        }
    };
    for parts in signatures {
        if image.layers.iter().any(|l| holds(l, parts)) {
            continue;
        }
        if image.layers.len() >= MAX_SIGNATURES {
            return Err(too_many_signatures(&format!("the sigstore attachment {}", tag(manifest))));
        }
        let mut layer = blob_descriptor(&parts.payload, &parts.mime_type);
        client.push_blob_bytes(repository, &layer, &parts.payload).await?;
        layer.annotations = parts.annotations.clone();
        let rootfs = config.rootfs.get_or_insert_with(RootFs::default);
        rootfs.diff_ids.get_or_insert_with(Vec::new).push(layer.digest.to_string());
        image.layers.push(layer);
    }
    let config_bytes = crate::go::json::marshal(&config)?;
    image.config = blob_descriptor(&config_bytes, OCI_CONFIG);
    client.push_blob_bytes(repository, &image.config, &config_bytes).await?;
    client.put_manifest(repository, &tag(manifest), &crate::go::json::marshal(&image)?, OCI_MANIFEST).await
}

fn blob_descriptor(bytes: &[u8], media_type: &str) -> Descriptor {
    Descriptor {
        media_type: media_type.to_owned(),
        digest: Digest::sha256(bytes),
        size: bytes.len() as i64,
        urls: None,
        annotations: None,
        platform: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_names_the_manifest() {
        let d = Digest::sha256(b"m");
        assert_eq!(tag(&d), format!("sha256-{}.sig", d.hex()));
    }

    #[test]
    fn a_new_attachment_config_is_what_go_marshals() {
        let mut config = ImageConfig {
            rootfs: Some(RootFs { kind: Some("layers".to_owned()), diff_ids: None }),
            ..ImageConfig::default()
        };
        config.rootfs.as_mut().unwrap().diff_ids = Some(vec!["sha256:ab".to_owned()]);
        let json = String::from_utf8(crate::go::json::marshal(&config).unwrap()).unwrap();
        assert_eq!(
            json,
            r#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:ab"]}}"#
        );
    }

    #[test]
    fn a_layer_holds_a_signature_with_equal_parts() {
        let parts = SigstoreParts { mime_type: "m".to_owned(), payload: b"p".to_vec(), annotations: None };
        let mut layer = blob_descriptor(b"p", "m");
        assert!(holds(&layer, &parts));
        layer.annotations = Some(Default::default());
        assert!(holds(&layer, &parts), "an empty map equals none, as Go's maps.Equal says");
        layer.annotations = Some([("a".to_owned(), "b".to_owned())].into_iter().collect());
        assert!(!holds(&layer, &parts));
        assert!(!holds(&blob_descriptor(b"q", "m"), &parts));
        assert!(!holds(&blob_descriptor(b"p", "n"), &parts));
    }
}
