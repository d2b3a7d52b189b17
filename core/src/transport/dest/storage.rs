//! `containers-storage:` as a destination: blobs are staged in the run's
//! scratch space as they arrive (checked against their digests), and the
//! image is committed into the store only once the manifest is written —
//! layers unpacked in order, then the image's record — by
//! [`crate::storage::write`], under the store's locks. Layers are kept as
//! they come (containers/image's storage destination preserves the
//! source's compression: the store records it and unpacks the tar).

use super::local::LocalBlobs;
use super::{Destination, LocalBoxFuture};
use crate::compression::{Compression, Desired};
use crate::digest::Digest;
use crate::engine::{Io, Request};
use crate::error::{Error, Result};
use crate::manifest::{self, Descriptor, Manifest};
use crate::media_type::ManifestKind;
use crate::reference::StorageReference;
use crate::signature::Signature;
use crate::storage::location::Store;
use crate::storage::records;
use crate::storage::write::{self, LayerBytes, NewImage, StagedLayer};
use crate::transport::{fs_error, join, read_local};

/// The most an image config may hold.
const MAX_CONFIG: u64 = 16 << 20;

#[derive(Debug)]
pub(super) struct StorageDestination {
    io: Io,
    store: Store,
    /// The name the image gets (none for an ID-only reference).
    name: Option<String>,
    pid: u32,
    staging: String,
    manifest: Option<(Vec<u8>, ManifestKind)>,
    /// Blobs not copied because a layer of the store holds them (by its
    /// compressed or uncompressed digest): the layer's ID.
    reused: std::cell::RefCell<std::collections::BTreeMap<Digest, String>>,
    /// Signature blobs, stored with the image on commit.
    signatures: std::cell::RefCell<Vec<Vec<u8>>>,
}

impl StorageDestination {
    pub(super) fn new(io: &Io, store: Store, r: &StorageReference, pid: u32, tmpdir: &str) -> Result<Self> {
        if r.named.is_none() {
            return Err(Error::invalid(
                "a containers-storage: destination needs a name (containers-storage:NAME[:TAG]), not only an image ID",
            ));
        }
        Ok(StorageDestination {
            io: io.clone(),
            store,
            name: r.named.clone().map(|n| n.with_default_tag().to_string()),
            pid,
            staging: join(tmpdir, "storage-dest.d"),
            manifest: None,
            reused: Default::default(),
            signatures: Default::default(),
        })
    }

    /// The staged layers of the manifest written, with their diff IDs
    /// from the config and their compression from their first bytes.
    async fn staged_layers(&self, layers: &[Descriptor], config: &serde_json::Value) -> Result<Vec<StagedLayer>> {
        let diff_ids: Vec<Digest> = config
            .pointer("/rootfs/diff_ids")
            .and_then(|d| d.as_array())
            .map(|a| a.iter().map(|d| Digest::parse(d.as_str().unwrap_or_default())).collect::<Result<Vec<_>>>())
            .transpose()?
            .unwrap_or_default();
        if diff_ids.len() != layers.len() {
            return Err(Error::integrity(format!(
                "the image's config lists {} diff IDs for its {} layers",
                diff_ids.len(),
                layers.len()
            )));
        }
        let mut out = Vec::new();
        for (l, diff_id) in layers.iter().zip(diff_ids) {
            if l.media_type.contains("+encrypted") {
                return Err(Error::unsupported(
                    "encrypted layers cannot be stored in containers-storage; decrypt them with --decryption-key",
                ));
            }
            let path = self.blob_path(&l.digest);
            let reused = self.reused.borrow().get(&l.digest).cloned();
            let from = match reused {
                Some(layer) => LayerBytes::Stored { layer, path },
                None => {
                    let head =
                        self.io.read_range(path.clone(), 0, 6).await.map_err(fs_error(format!("reading {path}")))?;
                    LayerBytes::Staged { path, compression: Compression::detect(&head)? }
                }
            };
            out.push(StagedLayer { from, digest: l.digest.clone(), size: l.size, diff_id });
        }
        Ok(out)
    }
}

impl LocalBlobs for StorageDestination {
    fn io(&self) -> &Io {
        &self.io
    }

    fn blob_path(&self, d: &Digest) -> String {
        join(&self.staging, d.hex())
    }

    /// A complete layer of the store whose compressed or uncompressed
    /// digest is `d` (containers/image's `TryReusingBlob`): not copied;
    /// the layer is reused, or its tar put together again at commit.
    async fn holds_otherwise(&self, d: &Descriptor) -> bool {
        let Ok(layers) = records::layers(&self.io, &self.store).await else { return false };
        let digest = d.digest.to_string();
        let found = layers.iter().find(|l| {
            l.flags.get("incomplete").and_then(|v| v.as_bool()) != Some(true)
                && (l.compressed_diff_digest.as_deref() == Some(digest.as_str())
                    || l.diff_digest.as_deref() == Some(digest.as_str()))
        });
        match found {
            Some(l) => {
                self.reused.borrow_mut().insert(d.digest.clone(), l.id.clone());
                true
            }
            None => false,
        }
    }
}

impl Destination for StorageDestination {
    fn accepts(&self, kind: ManifestKind) -> bool {
        matches!(kind, ManifestKind::DockerV2S2 | ManifestKind::OciManifest)
    }

    fn desired_compression(&self, _oci_accept_uncompressed: bool) -> Desired {
        Desired::Preserve
    }

    fn prepare(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        Box::pin(super::local::fresh_dir(&self.io, &self.staging))
    }

    /// Only kept: the image is committed with it.
    fn put_manifest<'a>(
        &'a mut self,
        bytes: &'a [u8],
        kind: ManifestKind,
        instance: Option<&'a Digest>,
    ) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if instance.is_some() {
                return Err(Error::unsupported(
                    "containers-storage: holds one image per name here, not a manifest list (copy one platform, without --all)",
                ));
            }
            self.manifest = Some((bytes.to_vec(), kind));
            Ok(())
        })
    }

    fn signature_support(&self, _signatures: &[Signature]) -> Result<()> {
        Ok(())
    }

    fn put_signatures<'a>(
        &'a self,
        signatures: &'a [Signature],
        _manifest: &'a Digest,
        _instance: bool,
    ) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.signatures.borrow_mut().extend(signatures.iter().map(|s| s.blob().to_vec()));
            Ok(())
        })
    }

    fn commit(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let Some((bytes, kind)) = self.manifest.take() else { return Ok(()) };
            let Manifest::Image(m) = Manifest::parse(&bytes, Some(kind.media_type()))?.1 else {
                return Err(Error::unsupported("containers-storage: stores image manifests"));
            };
            let config_path = self.blob_path(&m.config.digest);
            let config = read_local(&self.io, config_path, MAX_CONFIG).await?;
            let parsed: serde_json::Value =
                serde_json::from_slice(&config).map_err(|e| Error::integrity(format!("the image's config: {e}")))?;
            let layers = self.staged_layers(&m.layers, &parsed).await?;
            let image = NewImage {
                names: self.name.clone().into_iter().collect(),
                manifest: &bytes,
                manifest_digest: manifest::manifest_digest(&bytes)?,
                config: &config,
                config_digest: m.config.digest.clone(),
                layers,
                signatures: self.signatures.take(),
                created: parsed.get("created").and_then(|c| c.as_str()).map(str::to_owned),
            };
            let committed = write::commit(&self.io, &self.store, self.pid, image).await;
            let _ = self.io.fs(Request::RemoveDir { path: self.staging.clone() }).await;
            committed.map(|_| ())
        })
    }
}
