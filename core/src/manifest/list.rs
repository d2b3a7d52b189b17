//! Multi-platform manifests: OCI image index and Docker manifest list.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::Descriptor;
use crate::error::{Error, Result};
use crate::media_type::ManifestKind;
use crate::platform::WantedPlatform;

#[derive(Debug, Clone, PartialEq)]
pub struct ManifestList {
    pub kind: ManifestKind,
    pub manifests: Vec<Descriptor>,
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "schemaVersion")]
    schema_version: i64,
    manifests: Vec<Descriptor>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    config: Option<IgnoredAny>,
    #[serde(default)]
    layers: Option<IgnoredAny>,
}

impl ManifestList {
    pub(super) fn parse(bytes: &[u8], kind: ManifestKind) -> Result<Self> {
        let w: Wire = serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid(format!("invalid {} manifest: {e}", kind.media_type())))?;
        if w.schema_version != 2 {
            return Err(Error::invalid(format!("unsupported schemaVersion {} in a manifest list", w.schema_version)));
        }
        if w.config.is_some() || w.layers.is_some() {
            return Err(Error::integrity("ambiguous manifest: an index with \"config\" or \"layers\""));
        }
        Ok(ManifestList { kind, manifests: w.manifests, annotations: w.annotations })
    }

    /// The entry for `wanted`, refusing entries that are themselves lists
    /// (nested indexes are not followed).
    pub fn choose(&self, wanted: &WantedPlatform) -> Result<&Descriptor> {
        let i = wanted
            .choose(self.manifests.iter().map(|d| d.platform.as_ref()))
            .ok_or_else(|| Error::not_found(format!("no image found in manifest list for {}", wanted.describe())))?;
        let d = &self.manifests[i];
        match ManifestKind::from_media_type(&d.media_type) {
            Some(k) if !k.is_list() => Ok(d),
            Some(_) => Err(Error::unsupported(format!(
                "manifest list entry {} is itself a list; nested indexes are not supported",
                d.digest
            ))),
            None => Err(Error::unsupported(format!(
                "manifest list entry {} has unsupported media type {:?}",
                d.digest, d.media_type
            ))),
        }
    }
}
