//! `dir:`: skopeo's directory format (`manifest.json`, blobs named by the hex
//! of their digest, `<hex>.manifest.json` for the instances of a list).

use super::{join, read_local};
use crate::digest::{Algorithm, Digest};
use crate::engine::Io;
use crate::error::Result;
use crate::manifest::MAX_MANIFEST_SIZE;

#[derive(Debug)]
pub struct DirSource {
    pub(super) io: Io,
    root: String,
}

/// The file name of a blob in a `dir:` image (sha256 digests are bare hex).
pub fn blob_name(d: &Digest) -> String {
    match d.algorithm() {
        Algorithm::Sha256 => d.hex().to_owned(),
        other => format!("{}-{}", other.name(), d.hex()),
    }
}

impl DirSource {
    pub fn new(io: &Io, root: String) -> Self {
        DirSource { io: io.clone(), root }
    }

    pub async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, Option<String>)> {
        let name = match instance {
            Some(d) => format!("{}.manifest.json", blob_name(d)),
            None => "manifest.json".to_owned(),
        };
        let bytes = read_local(&self.io, join(&self.root, &name), MAX_MANIFEST_SIZE).await?;
        if let Some(d) = instance {
            crate::manifest::verify_manifest_digest(&bytes, d)?;
        }
        Ok((bytes, None))
    }

    pub(super) fn blob_path(&self, d: &Digest) -> String {
        join(&self.root, &blob_name(d))
    }

    pub async fn blob(&self, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        read_local(&self.io, self.blob_path(digest), max).await
    }
}
