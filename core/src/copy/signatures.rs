//! Signatures on their way through a copy: read from the source unless
//! `--remove-signatures`, refused up front where the destination cannot
//! store them, and never carried through a change that would break them.

use super::copier::Copier;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::signature::Signature;
use crate::transport::{ImageDestination, ImageSource};

/// Why a copy that carries signatures cannot change the image.
pub(super) fn would_invalidate(why: &str) -> Error {
    Error::invalid(format!(
        "{why} would invalidate the source's signatures; use --remove-signatures to copy without them"
    ))
}

impl Copier<'_> {
    /// The source's signatures of the image (`what`: "image" or "image
    /// list"), unless `--remove-signatures`; refused up front when the
    /// destination cannot store them, as skopeo does.
    pub(super) async fn signatures(
        &self,
        source: &ImageSource,
        dest: &ImageDestination,
        instance: Option<&Digest>,
        manifest: &Digest,
        what: &str,
    ) -> Result<Vec<Signature>> {
        if self.remove_signatures {
            return Ok(Vec::new());
        }
        let getting = if what == "image" { "Getting image source signatures" } else { "Getting image list signatures" };
        self.io.note(getting.to_owned());
        let signatures = source.signatures(instance, manifest).await.map_err(|e| e.context("reading signatures"))?;
        if !signatures.is_empty() {
            self.io.note(format!("Checking if {what} destination supports signatures"));
            dest.signature_support(&signatures)
                .map_err(|e| e.context(format!("Can not copy signatures to {}", self.destination)))?;
        }
        Ok(signatures)
    }
}
