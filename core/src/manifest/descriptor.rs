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
    #[serde(default)]
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
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
