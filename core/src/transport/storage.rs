//! `containers-storage:` as a source: an image of podman's store, offered
//! as containers/image's storage source offers it. `inspect` sees the
//! manifest stored with the image; a copy sees it with its layers made the
//! uncompressed tars the store holds (diff IDs, diff sizes, uncompressed
//! media types: containers/image's `LayerInfosForCopy`), so a registry
//! destination compresses them again. Each layer's tar is put together
//! from its tar-split and the layer directory into the run's scratch space,
//! then copied like a file and checked against its diff ID.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::{join, read_local};
use crate::digest::Digest;
use crate::engine::{BlobSource, Io};
use crate::error::{Error, Result};
use crate::manifest::MAX_MANIFEST_SIZE;
use crate::media_type::ManifestKind;
use crate::reference::StorageReference;
use crate::storage::location::Store;
use crate::storage::records::{self, Image, Layer};
use crate::storage::tar_split;

#[derive(Debug)]
pub struct StorageSource {
    pub(super) io: Io,
    store: Store,
    reference: StorageReference,
    /// The reference as the user wrote it (for messages).
    shown: String,
    tmpdir: String,
    /// A copy reads the layers as the store holds them (uncompressed).
    for_copy: bool,
    loaded: RefCell<Option<Rc<Loaded>>>,
    /// Layers already put together, by diff ID.
    assembled: RefCell<BTreeMap<Digest, String>>,
}

#[derive(Debug)]
struct Loaded {
    image: Image,
    /// Base first.
    layers: Vec<Layer>,
    stored: Vec<u8>,
    kind: ManifestKind,
    for_copy: Vec<u8>,
}

impl StorageSource {
    pub fn new(io: &Io, store: Store, reference: StorageReference, shown: String, tmpdir: &str) -> Self {
        StorageSource {
            io: io.clone(),
            store,
            reference,
            shown,
            tmpdir: tmpdir.to_owned(),
            for_copy: false,
            loaded: RefCell::new(None),
            assembled: RefCell::new(BTreeMap::new()),
        }
    }

    pub fn for_copy(mut self) -> Self {
        self.for_copy = true;
        self
    }

    fn big_data_path(&self, image: &Image, key: &str) -> String {
        join(&join(&self.store.images_dir(), &image.id), &records::big_data_file(key))
    }

    async fn loaded(&self) -> Result<Rc<Loaded>> {
        if let Some(l) = self.loaded.borrow().clone() {
            return Ok(l);
        }
        let images = records::images(&self.io, &self.store).await?;
        let image = records::resolve(&images, &self.reference, &self.shown)?.clone();
        let all_layers = records::layers(&self.io, &self.store).await?;
        let layers: Vec<Layer> = records::chain(&all_layers, &image)?.into_iter().cloned().collect();
        // The manifest the reference's digest names, else the image's own.
        let key = match self.reference.named.as_ref().and_then(|n| n.digest.as_ref()) {
            Some(d) if image.big_data_names.contains(&format!("manifest-{d}")) => format!("manifest-{d}"),
            _ => "manifest".to_owned(),
        };
        if !image.big_data_names.contains(&key) {
            return Err(Error::unsupported(format!(
                "image {} in containers-storage has no stored manifest (images committed without one are not supported by skiff)",
                image.id
            )));
        }
        let path = self.big_data_path(&image, &key);
        let stored = read_local(&self.io, path, MAX_MANIFEST_SIZE).await?;
        let kind = crate::manifest::detect_kind(&stored, None)?;
        let for_copy = uncompressed(&stored, kind, &layers, &image.id)?;
        let l = Rc::new(Loaded { image, layers, stored, kind, for_copy });
        *self.loaded.borrow_mut() = Some(l.clone());
        Ok(l)
    }

    pub async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, Option<String>)> {
        if instance.is_some() {
            return Err(Error::unsupported("manifest lists in containers-storage are not supported by skiff"));
        }
        let l = self.loaded().await?;
        let bytes = if self.for_copy { l.for_copy.clone() } else { l.stored.clone() };
        Ok((bytes, Some(l.kind.media_type().to_owned())))
    }

    /// A big-data item of the image by its digest key (the config).
    pub async fn blob(&self, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        let l = self.loaded().await?;
        let key = digest.to_string();
        if !l.image.big_data_names.contains(&key) {
            return Err(Error::not_found(format!("blob {digest} is not stored with image {}", l.image.id)));
        }
        read_local(&self.io, self.big_data_path(&l.image, &key), max).await
    }

    /// Where blob `d` can be read: the config's big-data file, or a layer's
    /// tar put together in the scratch space (once).
    pub async fn blob_source(&self, d: &Digest) -> Result<BlobSource> {
        let l = self.loaded().await?;
        if l.image.big_data_names.contains(&d.to_string()) {
            return Ok(BlobSource::File { path: self.big_data_path(&l.image, &d.to_string()) });
        }
        if let Some(path) = self.assembled.borrow().get(d) {
            return Ok(BlobSource::File { path: path.clone() });
        }
        let chain: Vec<&Layer> = l.layers.iter().collect();
        let layer = records::layer_with_diff(&chain, d)
            .ok_or_else(|| Error::not_found(format!("no layer of image {} has diff ID {d}", l.image.id)))?;
        let path = join(&self.tmpdir, &format!("{}.storage-layer.tar", d.hex()));
        tar_split::reassemble(&self.io, &self.store, &layer.id, &path).await?;
        self.assembled.borrow_mut().insert(d.clone(), path.clone());
        Ok(BlobSource::File { path })
    }
}

/// `stored` with each layer the store's uncompressed tar: its diff ID and
/// size, and the uncompressed media type of the manifest's kind.
fn uncompressed(stored: &[u8], kind: ManifestKind, layers: &[Layer], image: &str) -> Result<Vec<u8>> {
    let layer_type = match kind {
        ManifestKind::OciManifest => "application/vnd.oci.image.layer.v1.tar",
        ManifestKind::DockerV2S2 => "application/vnd.docker.image.rootfs.diff.tar",
        other => {
            return Err(Error::unsupported(format!(
                "images stored with a {} manifest are not supported by skiff's containers-storage source",
                other.media_type()
            )));
        }
    };
    let mut doc: serde_json::Value =
        serde_json::from_slice(stored).map_err(|e| Error::integrity(format!("the stored manifest of {image}: {e}")))?;
    let entries = doc.get_mut("layers").and_then(|l| l.as_array_mut()).map(std::mem::take).unwrap_or_default();
    if entries.len() != layers.len() {
        return Err(Error::integrity(format!(
            "the stored manifest of {image} lists {} layers, the store holds {}",
            entries.len(),
            layers.len()
        )));
    }
    let mut rewritten = Vec::new();
    for (entry, layer) in entries.into_iter().zip(layers) {
        let (Some(digest), Some(size)) = (&layer.diff_digest, layer.diff_size) else {
            return Err(Error::integrity(format!("layer {} has no recorded diff digest and size", layer.id)));
        };
        let mut entry = entry;
        entry["mediaType"] = layer_type.into();
        entry["digest"] = digest.as_str().into();
        entry["size"] = size.into();
        if let Some(m) = entry.as_object_mut() {
            m.remove("urls");
        }
        rewritten.push(entry);
    }
    doc["layers"] = rewritten.into();
    let json = serde_json::to_string(&doc).map_err(|e| Error::other(e.to_string()))?;
    Ok(crate::go::json::html_escape(&json).into_bytes())
}
