//! A `dir:` destination: skopeo's directory of blobs named by digest, a
//! `version` marker, the manifest(s) and signatures beside them.

use super::local::LocalBlobs;
use super::{Destination, LocalBoxFuture};
use crate::compression::Desired;
use crate::digest::Digest;
use crate::engine::{Io, IoErrorKind, Request};
use crate::error::{Error, Result};
use crate::media_type::ManifestKind;
use crate::signature::Signature;
use crate::transport::dir::{blob_name, signature_name};
use crate::transport::{fs_error, join, write_atomically};

/// The marker skopeo writes into a `dir:` image.
const DIR_VERSION: &str = "Directory Transport Version: 1.1\n";

#[derive(Debug)]
pub(super) struct DirDestination {
    io: Io,
    root: String,
}

impl DirDestination {
    pub(super) fn new(io: &Io, root: &str) -> Self {
        DirDestination { io: io.clone(), root: root.to_owned() }
    }
}

impl LocalBlobs for DirDestination {
    fn io(&self) -> &Io {
        &self.io
    }

    fn blob_path(&self, d: &Digest) -> String {
        join(&self.root, &blob_name(d))
    }
}

impl Destination for DirDestination {
    fn desired_compression(&self, _oci_accept_uncompressed: bool) -> Desired {
        Desired::Preserve
    }

    fn prepare(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let DirDestination { io, root } = self;
            match io.list_dir(root.clone()).await {
                Err(e) if e.kind == IoErrorKind::NotFound => {
                    io.fs(Request::CreateDir { path: root.clone() })
                        .await
                        .map_err(fs_error(format!("creating {root}")))?;
                }
                Err(e) => return Err(fs_error(format!("reading {root}"))(e)),
                Ok(names) if names.is_empty() => {}
                Ok(names) if names.iter().any(|n| n == "version") => {
                    // An earlier dir: image: replace it.
                    for n in names {
                        let path = join(root, &n);
                        io.fs(Request::RemoveFile { path: path.clone() })
                            .await
                            .map_err(fs_error(format!("removing {path}")))?;
                    }
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
                write_atomically(&self.io, &join(&self.root, &name), s.blob()).await?;
            }
            Ok(())
        })
    }
}
