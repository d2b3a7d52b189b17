//! `oci:`: an OCI image layout (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`),
//! and `oci-archive:`, the same layout inside a tar, read in place: the
//! archive's members are indexed once and read by offset, never extracted.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::{file_error, join, read_local};
use crate::digest::Digest;
use crate::engine::{BlobSource, Io};
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
    /// For `oci-archive:`: the archive's regular files, indexed on first use.
    archive: Option<RefCell<Option<Rc<Members>>>>,
}

/// Where each regular file of an archive is: name → (offset, size).
type Members = HashMap<String, (u64, u64)>;

/// A member name as a layout path, or None for names that could escape
/// (absolute, `..`): those are never looked up.
fn member_name(name: &str) -> Option<String> {
    let n = name.trim_start_matches("./");
    if n.starts_with('/') || n.split('/').any(|c| c == "..") {
        return None;
    }
    Some(n.to_owned())
}

impl LayoutSource {
    pub fn new(io: &Io, reference: LayoutReference, shared_blobs: Option<String>) -> Self {
        LayoutSource { io: io.clone(), reference, shared_blobs, archive: None }
    }

    /// An `oci-archive:` (the reference's path is the tar file).
    pub fn archive(io: &Io, reference: LayoutReference) -> Self {
        LayoutSource { io: io.clone(), reference, shared_blobs: None, archive: Some(RefCell::new(None)) }
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

    async fn members(&self, cell: &RefCell<Option<Rc<Members>>>) -> Result<Rc<Members>> {
        if let Some(m) = cell.borrow().clone() {
            return Ok(m);
        }
        let path = &self.reference.path;
        let list = self.io.tar_index(path.clone()).await.map_err(|e| file_error(path, e))?;
        let members: Members =
            list.into_iter().filter_map(|m| Some((member_name(&m.name)?, (m.offset, m.size)))).collect();
        let members = Rc::new(members);
        *cell.borrow_mut() = Some(members.clone());
        Ok(members)
    }

    /// A file of the layout (`index.json`, `blobs/…`), at most `max` bytes.
    async fn read(&self, name: &str, max: u64) -> Result<Vec<u8>> {
        let Some(cell) = &self.archive else {
            let path = match name.strip_prefix("blobs/") {
                Some(blob) if self.shared_blobs.is_some() => join(self.shared_blobs.as_deref().unwrap_or(""), blob),
                _ => join(&self.reference.path, name),
            };
            return read_local(&self.io, path, max).await;
        };
        let members = self.members(cell).await?;
        let path = &self.reference.path;
        let &(offset, size) =
            members.get(name).ok_or_else(|| Error::not_found(format!("{name} not found in {path}")))?;
        if size > max {
            return Err(Error::integrity(format!("{name} in {path} is larger than {max} bytes")));
        }
        self.io.read_range(path.clone(), offset, size).await.map_err(|e| file_error(path, e))
    }

    /// Where blob `d`'s bytes are, for a transfer.
    pub async fn blob_source(&self, d: &Digest) -> Result<BlobSource> {
        let Some(cell) = &self.archive else { return Ok(BlobSource::File { path: self.blob_path(d) }) };
        let members = self.members(cell).await?;
        let name = Self::blob_name(d);
        let &(offset, length) = members
            .get(&name)
            .ok_or_else(|| Error::not_found(format!("{name} not found in {}", self.reference.path)))?;
        Ok(BlobSource::FileRange { path: self.reference.path.clone(), offset, length })
    }

    /// The descriptor in `index.json` that the reference selects.
    async fn top_descriptor(&self) -> Result<Descriptor> {
        let path = join(&self.reference.path, "index.json");
        let bytes = self.read("index.json", MAX_MANIFEST_SIZE).await?;
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
        let bytes = self.read(&Self::blob_name(&digest), MAX_MANIFEST_SIZE).await?;
        crate::manifest::verify_manifest_digest(&bytes, &digest)?;
        Ok((bytes, media))
    }

    pub async fn blob(&self, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        self.read(&Self::blob_name(digest), max).await
    }
}

#[cfg(test)]
mod tests {
    use super::member_name;

    #[test]
    fn member_names_cannot_escape() {
        assert_eq!(member_name("./index.json").as_deref(), Some("index.json"));
        assert_eq!(member_name("blobs/sha256/ab").as_deref(), Some("blobs/sha256/ab"));
        assert_eq!(member_name("/etc/passwd"), None);
        assert_eq!(member_name("blobs/../../x"), None);
    }
}
