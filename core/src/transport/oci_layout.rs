//! `oci:`: an OCI image layout (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`),
//! and `oci-archive:`, the same layout inside a tar, read in place: the
//! archive's members are indexed once and read by offset, never extracted.

use super::tar_members::TarMembers;
use super::{join, read_local};
use crate::digest::Digest;
use crate::engine::{BlobSource, FileKind, Io};
use crate::error::{Error, Result};
use crate::manifest::{Descriptor, MAX_MANIFEST_SIZE, Manifest};
use crate::media_type::{self, ManifestKind};
use crate::reference::{ArchiveSelector, LayoutReference};

/// The annotation that names an image in a layout's `index.json`.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// The entry of `index.json` (at `path`, holding `manifests`) that `r`
/// selects, and its position: by ref name, by `@index`, or the only one.
pub fn select<'a>(manifests: &'a [Descriptor], r: &LayoutReference, path: &str) -> Result<(usize, &'a Descriptor)> {
    let found = match (&r.ref_name, &r.selector) {
        (Some(name), _) => manifests
            .iter()
            .position(|d| d.annotations.as_ref().and_then(|a| a.get(REF_NAME_ANNOTATION)).is_some_and(|n| n == name)),
        (None, ArchiveSelector::Index(i)) => (*i < manifests.len()).then_some(*i),
        (None, _) if manifests.len() == 1 => Some(0),
        (None, _) if manifests.is_empty() => None,
        (None, _) => {
            return Err(Error::invalid(format!(
                "more than one image in {path}; choose one with oci:{}:<reference> or :@<index>",
                r.path
            )));
        }
    };
    found.map(|i| (i, &manifests[i])).ok_or_else(|| {
        let what = match (&r.ref_name, &r.selector) {
            (Some(n), _) => format!("no descriptor found for reference {n:?}"),
            (None, ArchiveSelector::Index(i)) => format!("no image at index {i}"),
            _ => "no image".to_owned(),
        };
        Error::not_found(format!("{what} in {path}"))
    })
}

#[derive(Debug)]
pub struct LayoutSource {
    pub(super) io: Io,
    reference: LayoutReference,
    /// `--shared-blob-dir`: where `<alg>/<hex>` blobs live instead of `blobs/`.
    shared_blobs: Option<String>,
    /// For `oci-archive:`: the archive, read in place.
    archive: Option<TarMembers>,
}

impl LayoutSource {
    pub fn new(io: &Io, reference: LayoutReference, shared_blobs: Option<String>) -> Self {
        LayoutSource { io: io.clone(), reference, shared_blobs, archive: None }
    }

    /// An `oci-archive:` (the reference's path is the tar file).
    pub fn archive(io: &Io, reference: LayoutReference) -> Self {
        let archive = Some(TarMembers::new(io, &reference.path));
        LayoutSource { io: io.clone(), reference, shared_blobs: None, archive }
    }

    fn blob_name(d: &Digest) -> String {
        format!("blobs/{}/{}", d.algorithm().name(), d.hex())
    }

    pub(super) fn blob_path(&self, d: &Digest) -> String {
        let name = format!("{}/{}", d.algorithm().name(), d.hex());
        match &self.shared_blobs {
            Some(dir) => join(dir, &name),
            None => join(&self.reference.path, &format!("blobs/{name}")),
        }
    }

    /// A file of the layout (`index.json`, `blobs/…`), at most `max` bytes.
    async fn read(&self, name: &str, max: u64) -> Result<Vec<u8>> {
        let Some(archive) = &self.archive else {
            let path = match name.strip_prefix("blobs/") {
                Some(blob) if self.shared_blobs.is_some() => join(self.shared_blobs.as_deref().unwrap_or(""), blob),
                _ => join(&self.reference.path, name),
            };
            if name.starts_with("blobs/") {
                self.not_a_link(&path).await?;
            }
            return read_local(&self.io, path, max).await;
        };
        archive.read(name, max).await
    }

    /// Refuses a blob that is a symbolic link (item 30): it could lead to
    /// any file the user can read (`/etc/shadow` under a digest's name),
    /// and a layout's blobs are its own files.
    async fn not_a_link(&self, path: &str) -> Result<()> {
        match self.io.stat(path.to_owned()).await {
            Ok(info) if info.kind == FileKind::Symlink => Err(Error::invalid(format!(
                "{path} is a symbolic link: blobs are read only from files inside the layout"
            ))),
            _ => Ok(()),
        }
    }

    /// Where blob `d`'s bytes are, for a transfer.
    pub async fn blob_source(&self, d: &Digest) -> Result<BlobSource> {
        match &self.archive {
            None => {
                let path = self.blob_path(d);
                self.not_a_link(&path).await?;
                Ok(BlobSource::File { path })
            }
            Some(archive) => archive.source(&Self::blob_name(d)).await,
        }
    }

    /// The descriptor in `index.json` that the reference selects.
    async fn top_descriptor(&self) -> Result<Descriptor> {
        let path = join(&self.reference.path, "index.json");
        let bytes = self.read("index.json", MAX_MANIFEST_SIZE).await?;
        let index = match Manifest::parse(&bytes, Some(media_type::OCI_INDEX)).map_err(|e| e.context(&path))? {
            (_, Manifest::List(l)) => l,
            _ => return Err(Error::invalid(format!("{path} is not an image index"))),
        };
        select(&index.manifests, &self.reference, &path).map(|(_, d)| d.clone())
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
        let bytes = self.read(&Self::blob_name(&digest), MAX_MANIFEST_SIZE).await?;
        crate::manifest::verify_manifest_digest(&bytes, &digest)?;
        Ok((bytes, media))
    }

    pub async fn blob(&self, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        self.read(&Self::blob_name(digest), max).await
    }
}
