//! `oci:`: an OCI image layout (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`).

use super::{join, read_local};
use crate::digest::Digest;
use crate::engine::Io;
use crate::error::{Error, Result};
use crate::manifest::{Descriptor, MAX_MANIFEST_SIZE, Manifest};
use crate::media_type::{self, ManifestKind};
use crate::reference::{ArchiveSelector, LayoutReference};

/// The annotation that names an image in a layout's `index.json`.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

#[derive(Debug)]
pub struct LayoutSource {
    pub(super) io: Io,
    reference: LayoutReference,
    /// `--shared-blob-dir`: where `<alg>/<hex>` blobs live instead of `blobs/`.
    shared_blobs: Option<String>,
}

impl LayoutSource {
    pub fn new(io: &Io, reference: LayoutReference, shared_blobs: Option<String>) -> Self {
        LayoutSource { io: io.clone(), reference, shared_blobs }
    }

    pub(super) fn blob_path(&self, d: &Digest) -> String {
        let name = format!("{}/{}", d.algorithm().name(), d.hex());
        match &self.shared_blobs {
            Some(dir) => join(dir, &name),
            None => join(&self.reference.path, &format!("blobs/{name}")),
        }
    }

    /// The descriptor in `index.json` that the reference selects.
    async fn top_descriptor(&self) -> Result<Descriptor> {
        let path = join(&self.reference.path, "index.json");
        let bytes = read_local(&self.io, path.clone(), MAX_MANIFEST_SIZE).await?;
        let index = match Manifest::parse(&bytes, Some(media_type::OCI_INDEX)).map_err(|e| e.context(&path))? {
            (_, Manifest::List(l)) => l,
            _ => return Err(Error::invalid(format!("{path} is not an image index"))),
        };
        let r = &self.reference;
        let found = match (&r.ref_name, &r.selector) {
            (Some(name), _) => index
                .manifests
                .iter()
                .find(|d| d.annotations.as_ref().and_then(|a| a.get(REF_NAME_ANNOTATION)).is_some_and(|n| n == name)),
            (None, ArchiveSelector::Index(i)) => index.manifests.get(*i),
            (None, _) if index.manifests.len() == 1 => index.manifests.first(),
            (None, _) if index.manifests.is_empty() => None,
            (None, _) => {
                return Err(Error::invalid(format!(
                    "more than one image in {path}; choose one with oci:{}:<reference> or :@<index>",
                    r.path
                )));
            }
        };
        found.cloned().ok_or_else(|| {
            let what = match (&r.ref_name, &r.selector) {
                (Some(n), _) => format!("no descriptor found for reference {n:?}"),
                (None, ArchiveSelector::Index(i)) => format!("no image at index {i}"),
                _ => "no image".to_owned(),
            };
            Error::not_found(format!("{what} in {path}"))
        })
    }

    pub async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, Option<String>)> {
        let (digest, media) = match instance {
            Some(d) => (d.clone(), None),
            None => {
                let d = self.top_descriptor().await?;
                if ManifestKind::from_media_type(&d.media_type).is_none() {
                    return Err(Error::unsupported(format!(
                        "unsupported manifest media type {:?} in index.json",
                        d.media_type
                    )));
                }
                (d.digest, Some(d.media_type))
            }
        };
        let bytes = read_local(&self.io, self.blob_path(&digest), MAX_MANIFEST_SIZE).await?;
        crate::manifest::verify_manifest_digest(&bytes, &digest)?;
        Ok((bytes, media))
    }

    pub async fn blob(&self, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        read_local(&self.io, self.blob_path(digest), max).await
    }
}
