//! An OCI layout destination, `oci:`; for `oci-archive:`, a staging layout
//! in the run's scratch space, packed and renamed into place on commit.

use serde_json::{Value, json};

use super::local::LocalBlobs;
use super::{Destination, LocalBoxFuture};
use crate::compression::Desired;
use crate::digest::Digest;
use crate::engine::{FileKind, Io, IoErrorKind, Request};
use crate::error::{Error, Result};
use crate::files::{archive_output, locked, write_archive};
use crate::manifest::{self, MAX_MANIFEST_SIZE, Manifest};
use crate::media_type::ManifestKind;
use crate::reference::LayoutReference;
use crate::signature::Signature;
use crate::transport::oci_layout::REF_NAME_ANNOTATION;
use crate::transport::{fs_error, join, tar_write, write_atomically};

/// An OCI layout; for `oci-archive:`, a staging layout next to the
/// archive, packed and renamed into place on commit.
#[derive(Debug)]
pub(super) struct LayoutDestination {
    io: Io,
    reference: LayoutReference,
    shared_blobs: Option<String>,
    entry: Option<Value>,
    /// The blobs the image's manifests name, and the manifests: checked
    /// under the layout's lock before the image is named in `index.json`.
    named: Vec<Digest>,
    archive: Option<String>,
}

impl LayoutDestination {
    /// `oci:`, its blobs under `--dest-shared-blob-dir` if given.
    pub(super) fn new(io: &Io, l: &LayoutReference, shared_blobs: Option<String>) -> Self {
        LayoutDestination {
            io: io.clone(),
            reference: l.clone(),
            shared_blobs,
            entry: None,
            named: Vec::new(),
            archive: None,
        }
    }

    /// `oci-archive:`.
    pub(super) fn archive(io: &Io, l: &LayoutReference, tmpdir: &str) -> Self {
        LayoutDestination {
            io: io.clone(),
            // Staged in the run's scratch space: the archive may be a pipe.
            reference: LayoutReference { path: join(tmpdir, "oci-archive-dest.d"), ..l.clone() },
            shared_blobs: None,
            entry: None,
            named: Vec::new(),
            archive: Some(l.path.clone()),
        }
    }
}

impl LocalBlobs for LayoutDestination {
    fn io(&self) -> &Io {
        &self.io
    }

    /// `blobs/<algorithm>/<hex>`, or `<algorithm>/<hex>` under
    /// `--dest-shared-blob-dir`.
    fn blob_path(&self, d: &Digest) -> String {
        let name = format!("{}/{}", d.algorithm().name(), d.hex());
        match &self.shared_blobs {
            Some(dir) => join(dir, &name),
            None => join(&self.reference.path, &format!("blobs/{name}")),
        }
    }

    /// `blobs/sha256` is made by `prepare`; another algorithm's directory on first use.
    async fn blob_target(&self, d: &Digest) -> Result<String> {
        let path = self.blob_path(d);
        if d.algorithm() != crate::digest::Algorithm::Sha256
            && let Some((dir, _)) = path.rsplit_once('/')
        {
            self.io
                .fs(Request::CreateDir { path: dir.to_owned() })
                .await
                .map_err(fs_error(format!("creating {dir}")))?;
        }
        Ok(path)
    }
}

impl Destination for LayoutDestination {
    fn accepts(&self, kind: ManifestKind) -> bool {
        matches!(kind, ManifestKind::OciManifest | ManifestKind::OciIndex)
    }

    fn desired_compression(&self, oci_accept_uncompressed: bool) -> Desired {
        match oci_accept_uncompressed {
            true => Desired::Preserve,
            false => Desired::Compress,
        }
    }

    fn prepare(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let LayoutDestination { io, reference, shared_blobs, archive, .. } = self;
            if let Some(archive) = archive {
                archive_output(io, archive, None).await?;
                // A staging area left by an interrupted run.
                match io.fs(Request::RemoveDir { path: reference.path.clone() }).await {
                    Err(e) if e.kind != IoErrorKind::NotFound => {
                        return Err(fs_error(format!("removing {}", reference.path))(e));
                    }
                    _ => {}
                }
            }
            let blobs = match shared_blobs {
                Some(d) => join(d, "sha256"),
                None => join(&reference.path, "blobs/sha256"),
            };
            // The layout's own directory too, when its blobs live elsewhere.
            for dir in [blobs.as_str(), reference.path.as_str()] {
                io.fs(Request::CreateDir { path: dir.to_owned() })
                    .await
                    .map_err(fs_error(format!("creating {dir}")))?;
                // Partial blobs and indexes of a run that was killed.
                crate::files::sweep_dead_temporaries(io, dir, None).await;
            }
            let path = join(&reference.path, "oci-layout");
            io.fs(Request::WriteFile { path: path.clone(), data: br#"{"imageLayoutVersion": "1.0.0"}"#.to_vec() })
                .await
                .map_err(fs_error(format!("writing {path}")))
        })
    }

    /// Whether `index.json` already names manifest `digest` as this image
    /// (its ref name) and the manifest blob is there: a re-sync skips it.
    fn holds_manifest<'a>(&'a self, digest: &'a Digest, instance: bool) -> LocalBoxFuture<'a, bool> {
        Box::pin(async move {
            let Some(name) = self.reference.ref_name.as_deref().filter(|_| !instance && self.archive.is_none()) else {
                return false;
            };
            let path = join(&self.reference.path, "index.json");
            let Ok(bytes) = self.io.read_file(path, MAX_MANIFEST_SIZE).await else { return false };
            let Ok(index) = serde_json::from_slice::<Value>(&bytes) else { return false };
            let named = index["manifests"].as_array().into_iter().flatten().any(|m| {
                m["annotations"][REF_NAME_ANNOTATION].as_str() == Some(name)
                    && m["digest"].as_str() == Some(digest.to_string().as_str())
            });
            named && self.io.stat(self.blob_path(digest)).await.is_ok_and(|i| i.kind == FileKind::Regular)
        })
    }

    /// The manifest as a blob; the top-level one is named in `index.json` on commit.
    fn put_manifest<'a>(
        &'a mut self,
        bytes: &'a [u8],
        kind: ManifestKind,
        instance: Option<&'a Digest>,
    ) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let digest = manifest::manifest_digest(bytes)?;
            let path = self.blob_target(&digest).await?;
            write_atomically(&self.io, &path, bytes).await?;
            // A list's instances are named as each is put (a sparse list,
            // --multi-arch, names some that are not copied).
            if let Manifest::Image(m) = Manifest::parse(bytes, Some(kind.media_type()))?.1 {
                self.named.extend(std::iter::once(&m.config).chain(&m.layers).map(|d| d.digest.clone()));
            }
            self.named.push(digest.clone());
            if instance.is_none() {
                let mut e = json!({"mediaType": kind.media_type(), "digest": digest.to_string(), "size": bytes.len()});
                if let Some(n) = &self.reference.ref_name {
                    e["annotations"] = json!({ REF_NAME_ANNOTATION: n });
                }
                self.entry = Some(e);
            }
            Ok(())
        })
    }

    fn signature_support(&self, _signatures: &[Signature]) -> Result<()> {
        Err(Error::unsupported("Pushing signatures for OCI images is not supported"))
    }

    fn commit(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let needed: Vec<String> = self.named.iter().map(|d| self.blob_path(d)).collect();
            let LayoutDestination { io, reference, entry: Some(entry), archive, .. } = self else { return Ok(()) };
            let Some(archive) = archive else {
                // Other processes may write (or delete from) this layout.
                let root = reference.path.as_str();
                return locked(io, root, name_image(io, root, entry, &needed)).await;
            };
            // A staging layout of this run's own, packed and renamed into place.
            name_image(io, &reference.path, entry, &[]).await?;
            let output = archive_output(io, archive, None).await?;
            let entries = tar_write::directory_entries(io, &reference.path).await?;
            write_archive(io, archive, output, tar_write::encode(&entries)?).await?;
            io.fs(Request::RemoveDir { path: reference.path.clone() })
                .await
                .map_err(fs_error(format!("removing {}", reference.path)))
        })
    }
}

/// Names the image of `entry` in the layout at `root`'s `index.json`: read
/// afresh (another process may have added an image since this copy began),
/// the entry added, the file replaced. The blobs at `needed` are checked
/// first: a delete from the layout while this copy ran may have removed
/// ones it wrote or reused, and an entry naming missing blobs is never
/// written.
async fn name_image(io: &Io, root: &str, entry: &Value, needed: &[String]) -> Result<()> {
    for blob in needed {
        let info = io.stat(blob.clone()).await.map_err(fs_error(format!("reading {blob}")))?;
        if info.kind != FileKind::Regular {
            return Err(Error::invalid(format!(
                "{blob} was removed while the image was copied (an image was deleted from the layout at the same time); copy it again"
            )));
        }
    }
    let path = join(root, "index.json");
    let mut manifests: Vec<Value> = match io.read_file(path.clone(), MAX_MANIFEST_SIZE).await {
        Ok(bytes) => {
            let v: Value = serde_json::from_slice(&bytes).map_err(|e| Error::invalid(format!("{path}: {e}")))?;
            v.get("manifests").and_then(Value::as_array).cloned().unwrap_or_default()
        }
        Err(e) if e.kind == IoErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(fs_error(format!("reading {path}"))(e)),
    };
    // The new image takes over its name (or replaces the same digest if unnamed).
    let name = entry.pointer("/annotations/org.opencontainers.image.ref.name").cloned();
    manifests.retain(|m| match &name {
        Some(n) => m.pointer("/annotations/org.opencontainers.image.ref.name") != Some(n),
        None => m.get("digest") != entry.get("digest") || m.get("annotations").is_some(),
    });
    manifests.push(entry.clone());
    let index = json!({"schemaVersion": 2, "manifests": manifests});
    write_atomically(io, &path, &serde_json::to_vec(&index)?).await
}
