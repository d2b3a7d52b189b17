//! A `dir:` destination: skopeo's directory of blobs named by digest, a
//! `version` marker, the manifest(s) and signatures beside them.
//!
//! An earlier image in the directory is replaced, not wiped first: it stays
//! whole until the new manifest is renamed over its own, and its files the
//! new image does not use are removed only then (at commit). So an image
//! already there (same manifest digest, every blob present) is kept as it
//! is and a re-sync copies nothing, and a failed copy leaves the old image.

use std::cell::RefCell;
use std::collections::HashSet;

use super::local::LocalBlobs;
use super::{Destination, LocalBoxFuture};
use crate::compression::Desired;
use crate::digest::Digest;
use crate::engine::{FileKind, Io, IoErrorKind, Request};
use crate::error::{Error, Result};
use crate::manifest::{MAX_MANIFEST_SIZE, Manifest};
use crate::media_type::ManifestKind;
use crate::signature::Signature;
use crate::transport::dir::{blob_name, signature_name};
use crate::transport::{fs_error, join, write_atomically};

/// The marker skopeo writes into a `dir:` image.
pub const DIR_VERSION: &str = "Directory Transport Version: 1.1\n";

#[derive(Debug)]
pub(super) struct DirDestination {
    io: Io,
    root: String,
    /// The files of the image there before, found by `prepare`.
    previous: Vec<String>,
    /// The files this copy wrote or found in place and keeps.
    kept: RefCell<HashSet<String>>,
}

impl DirDestination {
    pub(super) fn new(io: &Io, root: &str) -> Self {
        DirDestination { io: io.clone(), root: root.to_owned(), previous: Vec::new(), kept: RefCell::default() }
    }

    fn keep(&self, name: String) {
        self.kept.borrow_mut().insert(name);
    }

    /// Whether manifest file `name` holds manifest `digest` and every blob it
    /// names is there with its size; if so, those files are kept.
    async fn holds(&self, name: &str, digest: &Digest) -> bool {
        if !self.previous.iter().any(|n| n == name) {
            return false;
        }
        let Ok(bytes) = self.io.read_file(join(&self.root, name), MAX_MANIFEST_SIZE).await else { return false };
        if crate::manifest::manifest_digest(&bytes).ok().as_ref() != Some(digest) {
            return false;
        }
        let Ok((_, Manifest::Image(image))) = Manifest::parse(&bytes, None) else { return false };
        let mut names = vec![name.to_owned()];
        for d in std::iter::once(&image.config).chain(&image.layers) {
            let blob = blob_name(&d.digest);
            match self.io.stat(join(&self.root, &blob)).await {
                Ok(info) if info.kind == FileKind::Regular && i64::try_from(info.size).ok() == Some(d.size) => {}
                _ => return false,
            }
            names.push(blob);
        }
        // Its signatures stay too.
        let prefix =
            if name == "manifest.json" { "signature-".to_owned() } else { format!("{}.signature-", digest.hex()) };
        names.extend(self.previous.iter().filter(|n| n.starts_with(&prefix)).cloned());
        for n in names {
            self.keep(n);
        }
        true
    }
}

impl LocalBlobs for DirDestination {
    fn io(&self) -> &Io {
        &self.io
    }

    fn blob_path(&self, d: &Digest) -> String {
        let name = blob_name(d);
        let path = join(&self.root, &name);
        self.keep(name);
        path
    }
}

impl Destination for DirDestination {
    fn desired_compression(&self, _oci_accept_uncompressed: bool) -> Desired {
        Desired::Preserve
    }

    fn prepare(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let DirDestination { io, root, previous, .. } = self;
            match io.list_dir(root.clone()).await {
                Err(e) if e.kind == IoErrorKind::NotFound => {
                    io.fs(Request::CreateDir { path: root.clone() })
                        .await
                        .map_err(fs_error(format!("creating {root}")))?;
                }
                Err(e) => return Err(fs_error(format!("reading {root}"))(e)),
                Ok(names) if names.is_empty() => {}
                // An earlier dir: image (its `version` says so, as
                // containers/image checks), replaced at commit.
                Ok(names)
                    if names.iter().any(|n| n == "version")
                        && io.read_file(join(root, "version"), 64).await.is_ok_and(|v| v == DIR_VERSION.as_bytes()) =>
                {
                    *previous = names;
                }
                Ok(_) => {
                    return Err(Error::invalid(format!(
                        "Refusing to overwrite destination directory {root}: it is not empty and does not hold a dir: image"
                    )));
                }
            }
            let path = join(root, "version");
            io.fs(Request::WriteFile { path: path.clone(), data: DIR_VERSION.as_bytes().to_vec() })
                .await
                .map_err(fs_error(format!("writing {path}")))
        })
    }

    fn holds_manifest<'a>(&'a self, digest: &'a Digest, instance: bool) -> LocalBoxFuture<'a, bool> {
        Box::pin(async move {
            let name =
                if instance { format!("{}.manifest.json", blob_name(digest)) } else { "manifest.json".to_owned() };
            self.holds(&name, digest).await
        })
    }

    fn put_manifest<'a>(
        &'a mut self,
        bytes: &'a [u8],
        _kind: ManifestKind,
        instance: Option<&'a Digest>,
    ) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            // Refused as elsewhere when a schema 1 manifest's signature is unreadable.
            crate::manifest::manifest_digest(bytes)?;
            let name = match instance {
                Some(d) => format!("{}.manifest.json", blob_name(d)),
                None => "manifest.json".to_owned(),
            };
            self.keep(name.clone());
            write_atomically(&self.io, &join(&self.root, &name), bytes).await
        })
    }

    fn signature_support(&self, _signatures: &[Signature]) -> Result<()> {
        Ok(())
    }

    fn put_signatures<'a>(
        &'a self,
        signatures: &'a [Signature],
        manifest: &'a Digest,
        instance: bool,
    ) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            for (i, s) in signatures.iter().enumerate() {
                let name = signature_name(instance.then_some(manifest), i + 1);
                self.keep(name.clone());
                write_atomically(&self.io, &join(&self.root, &name), s.blob()).await?;
            }
            Ok(())
        })
    }

    /// Removes what the image there before had and this one does not use
    /// (a killed run's temporary files too; one this run renamed away is
    /// gone already).
    fn commit(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let kept = self.kept.borrow().clone();
            for n in self.previous.iter().filter(|n| n.as_str() != "version" && !kept.contains(*n)) {
                let path = join(&self.root, n);
                match self.io.fs(Request::RemoveFile { path: path.clone() }).await {
                    Err(e) if e.kind != IoErrorKind::NotFound => return Err(fs_error(format!("removing {path}"))(e)),
                    _ => {}
                }
            }
            Ok(())
        })
    }
}
