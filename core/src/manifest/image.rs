//! Single-image manifests: OCI image manifest and Docker v2 schema 2 share a
//! shape (a config descriptor and a list of layer descriptors).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::Descriptor;
use crate::error::{Error, Result};
use crate::media_type::ManifestKind;

#[derive(Debug, Clone, PartialEq)]
pub struct ImageManifest {
    pub kind: ManifestKind,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "schemaVersion")]
    schema_version: i64,
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    /// Present only in an index: its presence makes the document ambiguous.
    #[serde(default)]
    manifests: Option<IgnoredAny>,
}

impl ImageManifest {
    pub(super) fn parse(bytes: &[u8], kind: ManifestKind) -> Result<Self> {
        let w: Wire = serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid(format!("invalid {} manifest: {e}", kind.media_type())))?;
        if w.schema_version != 2 {
            return Err(Error::invalid(format!("unsupported schemaVersion {} in an image manifest", w.schema_version)));
        }
        if w.manifests.is_some() {
            return Err(Error::integrity("ambiguous manifest: an image manifest with a \"manifests\" field"));
        }
        Ok(ImageManifest { kind, config: w.config, layers: w.layers, annotations: w.annotations })
    }
}
