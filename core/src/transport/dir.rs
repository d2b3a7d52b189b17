//! `dir:`: skopeo's directory format (`manifest.json`, blobs named by the hex
//! of their digest, `<hex>.manifest.json` for the instances of a list).

use super::{file_error, join, read_local};
use crate::digest::{Algorithm, Digest};
use crate::engine::{Io, IoErrorKind};
use crate::error::Result;
use crate::manifest::MAX_MANIFEST_SIZE;
use crate::signature::{MAX_SIGNATURE_SIZE, MAX_SIGNATURES, Signature, too_many_signatures};

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

/// The file name of signature `n` (from 1) of an image or of one instance of a list.
pub fn signature_name(instance: Option<&Digest>, n: usize) -> String {
    match instance {
        Some(d) => format!("{}.signature-{n}", d.hex()),
        None => format!("signature-{n}"),
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

    /// The signatures stored with the image (`signature-1`, `signature-2`, …;
    /// `<hex>.signature-N` for an instance of a list), each checked to be a
    /// format containers/image reads.
    pub async fn signatures(&self, instance: Option<&Digest>) -> Result<Vec<Signature>> {
        let mut found = Vec::new();
        loop {
            if found.len() >= MAX_SIGNATURES {
                return Err(too_many_signatures(&self.root));
            }
            let path = join(&self.root, &signature_name(instance, found.len() + 1));
            match self.io.read_file(path.clone(), MAX_SIGNATURE_SIZE).await {
                Ok(blob) => {
                    found.push(
                        Signature::from_blob(blob).map_err(|e| e.context(format!("parsing signature {path:?}")))?,
                    );
                }
                Err(e) if e.kind == IoErrorKind::NotFound => return Ok(found),
                Err(e) => return Err(file_error(&path, e)),
            }
        }
    }

    pub(super) fn blob_path(&self, d: &Digest) -> String {
        join(&self.root, &blob_name(d))
    }

    pub async fn blob(&self, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        read_local(&self.io, self.blob_path(digest), max).await
    }
}
