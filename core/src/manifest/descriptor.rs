//! Content descriptors (image-spec `descriptor.md`): what a manifest says
//! about each blob or child manifest it references.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::platform::Platform;

/// A reference to content by digest. The digest is validated on parsing, so
/// a hostile value like `sha256:../../x` never gets further than this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: Digest,
    /// A manifest's sizes are never negative (that would lift every limit);
    /// -1 marks "unknown" only in descriptors the core makes up.
    #[serde(default, deserialize_with = "non_negative")]
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

fn non_negative<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<i64, D::Error> {
    let size = i64::deserialize(d)?;
    if size < 0 {
        return Err(serde::de::Error::custom(format!("descriptor size {size} is negative")));
    }
    Ok(size)
}

impl Descriptor {
    /// A blob known only by its digest (size unknown: -1).
    pub fn of_unknown_size(digest: Digest) -> Self {
        Descriptor { media_type: String::new(), digest, size: -1, urls: None, annotations: None, platform: None }
    }

    /// The declared size, for a transfer's limit (negative sizes are refused
    /// when a manifest is read, so this is None only for made-up descriptors).
    pub fn expected_size(&self) -> Option<u64> {
        u64::try_from(self.size).ok()
    }

    /// Checks the digest and size a host measured while moving this blob.
    pub fn check_transfer(&self, digest: &str, size: u64) -> Result<()> {
        if digest != self.digest.to_string() {
            return Err(Error::integrity(format!("digest mismatch for blob {}: got {digest}", self.digest)));
        }
        if self.size >= 0 && size != self.size as u64 {
            return Err(Error::integrity(format!("blob {} is {size} bytes, expected {}", self.digest, self.size)));
        }
        Ok(())
    }
}
