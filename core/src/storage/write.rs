//! An image committed into containers-storage, as containers/image's
//! storage destination and containers/storage's `PutLayer`/`CreateImage`
//! do it, so that a podman reading the store at the same time never sees
//! half of it and a write killed at any point is cleaned up by the next:
//!
//! 1. Under the store's locks (storage, layers, images — its lock order),
//!    layers a killed writer left marked `incomplete` are removed, records
//!    first, as containers/storage's next writer removes them.
//! 2. Each layer, base first, gets containers/image's ID (the first its
//!    diff ID's hex; each next `sha256(parentID + "+" + diffIDhex)`). One
//!    the store holds is reused. A new one is recorded `incomplete`, then
//!    unpacked by the host into the driver's directory with its
//!    tar-split; its diff ID is checked against the config; then its
//!    record is completed. Each record change is saved and the layers'
//!    lock touched.
//! 3. The image's big-data items (config, manifest, signatures) are
//!    written into its directory, then its record — names moved off any
//!    other image that held them — in one save of `images.json`.
//!
//! Records are `serde_json::Value`s, so fields skiff does not know are
//! carried through unchanged.

use serde_json::{Map, Value, json};

use super::driver;
use super::lists::{io_error, read_list, str_field, write_list};
use super::location::Store;
use super::locks::{self, Held, Lock};
use super::records::big_data_file;
use crate::compression::Compression;
use crate::digest::Digest;
use crate::engine::{ApplyLayer, BlobSource, Io, IoErrorKind, Request};
use crate::error::{Error, Result};
use crate::go::time::GoTime;

/// Where a layer's bytes come from.
#[derive(Debug, Clone)]
pub enum LayerBytes {
    /// The blob, copied into the scratch space and checked against its digest.
    Staged { path: String, compression: Compression },
    /// Not copied: `layer` of the store holds it. When the image needs it
    /// under another ID (another parent), its tar is put together at `path`.
    Stored { layer: String, path: String },
}

/// A layer of the image being committed.
#[derive(Debug, Clone)]
pub struct StagedLayer {
    pub from: LayerBytes,
    /// The manifest's digest and size for it.
    pub digest: Digest,
    pub size: i64,
    /// What the config says its uncompressed digest is.
    pub diff_id: Digest,
}

/// What is committed.
#[derive(Debug)]
pub struct NewImage<'a> {
    /// The names it gets (normalised docker references), if any.
    pub names: Vec<String>,
    pub manifest: &'a [u8],
    pub manifest_digest: Digest,
    pub config: &'a [u8],
    pub config_digest: Digest,
    /// Base first.
    pub layers: Vec<StagedLayer>,
    /// Each signature's blob, in order.
    pub signatures: Vec<Vec<u8>>,
    /// The config's `created`, as it is.
    pub created: Option<String>,
}

/// containers/storage's `archive.Compression` numbers.
fn compression_number(c: Compression) -> u64 {
    match c {
        Compression::None => 0,
        Compression::Gzip => 2,
        Compression::Zstd | Compression::ZstdChunked => 4,
    }
}

/// containers/image's layer IDs for `diff_ids`, base first.
pub fn layer_ids(diff_ids: &[Digest]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let id = match out.last() {
            None => d.hex().to_owned(),
            Some(parent) => Digest::sha256(format!("{parent}+{}", d.hex()).as_bytes()).hex().to_owned(),
        };
        out.push(id);
    }
    out
}

/// Commits `image` into `store`; returns the image's ID.
pub async fn commit(io: &Io, store: &Store, pid: u32, image: NewImage<'_>) -> Result<String> {
    let held =
        locks::take(io, store, &[(Lock::Storage, true), (Lock::Layers, true), (Lock::Images, true)], pid).await?;
    let c = Locked { io, store, pid, held: &held, layers_path: format!("{}/layers.json", store.layers_dir()) };
    let r = commit_locked(&c, &image).await;
    held.release().await;
    r
}

/// What each step of a commit under the store's locks works with.
struct Locked<'a> {
    io: &'a Io,
    store: &'a Store,
    pid: u32,
    held: &'a Held<'a>,
    layers_path: String,
}

async fn commit_locked(c: &Locked<'_>, image: &NewImage<'_>) -> Result<String> {
    let mut layers = read_list(c.io, &c.layers_path).await?;
    repair(c, &mut layers).await?;
    let diff_ids: Vec<Digest> = image.layers.iter().map(|l| l.diff_id.clone()).collect();
    let ids = layer_ids(&diff_ids);
    let mut parent: Option<&str> = None;
    for (l, id) in image.layers.iter().zip(&ids) {
        match layers.iter().find(|r| str_field(r, "id") == Some(id.as_str())) {
            Some(existing) => {
                if str_field(existing, "diff-digest") != Some(l.diff_id.to_string().as_str()) {
                    return Err(Error::integrity(format!(
                        "layer {id} in the store does not hold diff ID {}",
                        l.diff_id
                    )));
                }
            }
            None => {
                let record = put_layer(c, &mut layers, id, parent, l).await?;
                let at = layers.iter().position(|r| str_field(r, "id") == Some(id.as_str())).expect("recorded");
                layers[at] = record;
                save_layers(c, &layers).await?;
            }
        }
        parent = Some(id);
    }
    let id = image.config_digest.hex().to_owned();
    put_image(c, image, &id, parent).await?;
    Ok(id)
}

/// Saves `layers.json` and tells other processes it changed.
async fn save_layers(c: &Locked<'_>, layers: &[Value]) -> Result<()> {
    write_list(c.io, &c.layers_path, layers, c.pid).await?;
    c.held.touch(Lock::Layers).await
}

/// Removes the layers a killed writer left incomplete.
async fn repair(c: &Locked<'_>, layers: &mut Vec<Value>) -> Result<()> {
    let incomplete = |r: &Value| r.pointer("/flags/incomplete").and_then(Value::as_bool) == Some(true);
    let gone: Vec<String> =
        layers.iter().filter(|r| incomplete(r)).filter_map(|r| str_field(r, "id").map(str::to_owned)).collect();
    if gone.is_empty() {
        return Ok(());
    }
    layers.retain(|r| !incomplete(r));
    save_layers(c, layers).await?;
    for id in &gone {
        driver::remove_files(c.io, c.store, id).await;
    }
    Ok(())
}

/// Records layer `id` as incomplete, unpacks it, checks it; returns its
/// completed record (not yet saved). A failure takes the layer out again.
async fn put_layer(
    c: &Locked<'_>,
    layers: &mut Vec<Value>,
    id: &str,
    parent: Option<&str>,
    l: &StagedLayer,
) -> Result<Value> {
    let io = c.io;
    let created = GoTime::from_unix_nanos(i128::from(io.now_ms()) * 1_000_000)
        .ok_or_else(|| Error::other("the host's clock is out of range"))?
        .rfc3339();
    let mut record = Map::new();
    record.insert("id".into(), id.into());
    if let Some(p) = parent {
        record.insert("parent".into(), p.into());
    }
    record.insert("created".into(), created.into());
    record.insert("flags".into(), json!({"incomplete": true}));
    layers.push(Value::Object(record.clone()));
    save_layers(c, layers).await?;
    // Put together from the store, the layer is recorded as
    // containers/storage records a plain tar given with the blob's digest:
    // that digest, the tar's size, no compression (as skopeo 1.9.3 does).
    let (compression, stored) = match &l.from {
        LayerBytes::Staged { compression, .. } => (*compression, false),
        LayerBytes::Stored { .. } => (Compression::None, true),
    };
    match unpack(io, c.store, id, parent, l, layers).await {
        Ok(applied) => {
            record.remove("flags");
            record.insert("compressed-diff-digest".into(), l.digest.to_string().into());
            let size = if stored { Value::from(applied.input_size) } else { Value::from(l.size) };
            record.insert("compressed-size".into(), size);
            record.insert("diff-digest".into(), applied.diff_id.into());
            record.insert("diff-size".into(), applied.diff_size.into());
            if compression != Compression::None {
                record.insert("compression".into(), compression_number(compression).into());
            }
            if !applied.uids.is_empty() {
                record.insert("uidset".into(), applied.uids.into());
            }
            if !applied.gids.is_empty() {
                record.insert("gidset".into(), applied.gids.into());
            }
            Ok(Value::Object(record))
        }
        Err(e) => {
            layers.retain(|r| str_field(r, "id") != Some(id));
            save_layers(c, layers).await?;
            driver::remove_files(io, c.store, id).await;
            Err(e)
        }
    }
}

/// The tar of layer `from` of the store, put together into `path`.
async fn reassemble(io: &Io, store: &Store, layers: &[Value], from: &str, path: &str) -> Result<()> {
    if !layers.iter().any(|r| str_field(r, "id") == Some(from)) {
        return Err(Error::integrity(format!(
            "layer {from}, which this copy meant to reuse, was removed from the store meanwhile; copy again"
        )));
    }
    super::tar_split::reassemble(io, store, from, path).await
}

/// The host unpacks layer `l` as `id`; its diff ID is checked and its
/// tar-split put in place.
async fn unpack(
    io: &Io,
    store: &Store,
    id: &str,
    parent: Option<&str>,
    l: &StagedLayer,
    layers: &[Value],
) -> Result<crate::engine::Applied> {
    let (path, from) = match &l.from {
        LayerBytes::Staged { path, compression } => (path.clone(), *compression),
        LayerBytes::Stored { layer, path } => {
            reassemble(io, store, layers, layer, path).await?;
            (path.clone(), Compression::None)
        }
    };
    let to = driver::prepare(io, store, id, parent).await?;
    let split = format!("{}/{id}.tar-split.gz", store.layers_dir());
    let temp = format!("{split}.skiff-tmp");
    match io.fs(Request::RemoveFile { path: temp.clone() }).await {
        Err(e) if e.kind != IoErrorKind::NotFound => return Err(io_error(format!("removing {temp}"))(e)),
        _ => {}
    }
    let applied = io
        .apply_layer(ApplyLayer {
            input: BlobSource::File { path },
            from,
            root: to.root,
            copy_from: to.copy_from,
            whiteouts: to.whiteouts,
            tar_split: temp.clone(),
        })
        .await
        .map_err(|e| {
            let kind = match e.kind {
                IoErrorKind::PermissionDenied => crate::error::ErrorKind::InvalidInput,
                _ => crate::error::ErrorKind::Io,
            };
            Error::new(kind, format!("writing layer {} into containers-storage: {}", l.digest, e.message))
        })?;
    if applied.diff_id != l.diff_id.to_string() {
        let _ = io.fs(Request::RemoveFile { path: temp }).await;
        return Err(Error::integrity(format!(
            "layer {} unpacks to a tar whose digest is {}, while the image's config says {}",
            l.digest, applied.diff_id, l.diff_id
        )));
    }
    let staged = matches!(l.from, LayerBytes::Staged { .. });
    if staged
        && l.digest.algorithm() == crate::digest::Algorithm::Sha256
        && applied.input_digest != l.digest.to_string()
    {
        return Err(Error::integrity(format!("layer {} changed while it was unpacked", l.digest)));
    }
    io.fs(Request::Rename { from: temp, to: split.clone() }).await.map_err(io_error(format!("writing {split}")))?;
    driver::finish(io, store, id, parent).await?;
    Ok(applied)
}

/// Writes the image's big-data items and its record.
async fn put_image(c: &Locked<'_>, image: &NewImage<'_>, id: &str, top: Option<&str>) -> Result<()> {
    let Locked { io, store, pid, held, .. } = *c;
    let images_path = format!("{}/images.json", store.images_dir());
    let mut images = read_list(io, &images_path).await?;
    let signatures: Vec<u8> = image.signatures.concat();
    let items: [(String, &[u8]); 4] = [
        (image.config_digest.to_string(), image.config),
        (format!("manifest-{}", image.manifest_digest), image.manifest),
        ("manifest".to_owned(), image.manifest),
        (format!("signature-{}", image.manifest_digest.hex()), &signatures),
    ];
    let dir = format!("{}/{id}", store.images_dir());
    io.fs(Request::CreateDir { path: dir.clone() }).await.map_err(io_error(format!("creating {dir}")))?;
    for (key, data) in &items {
        let path = format!("{dir}/{}", big_data_file(key));
        let temp = format!("{path}.{pid}.skiff-tmp");
        io.fs(Request::WritePrivateFile { path: temp.clone(), data: data.to_vec() })
            .await
            .map_err(io_error(format!("writing {temp}")))?;
        io.fs(Request::Rename { from: temp, to: path.clone() }).await.map_err(io_error(format!("writing {path}")))?;
    }
    // The names go to this image only.
    for other in images.iter_mut().filter(|i| str_field(i, "id") != Some(id)) {
        if let Some(names) = other.get_mut("names").and_then(Value::as_array_mut) {
            names.retain(|n| !image.names.iter().any(|m| n.as_str() == Some(m.as_str())));
            if names.is_empty() {
                other.as_object_mut().expect("a record").remove("names");
            }
        }
    }
    let at = match images.iter().position(|i| str_field(i, "id") == Some(id)) {
        Some(at) => at,
        None => {
            let mut record = Map::new();
            record.insert("id".into(), id.into());
            if let Some(t) = top {
                record.insert("layer".into(), t.into());
            }
            if let Some(c) = image.created.as_deref().and_then(GoTime::parse) {
                record.insert("created".into(), c.rfc3339().into());
            }
            images.push(Value::Object(record));
            images.len() - 1
        }
    };
    let record = images[at]
        .as_object_mut()
        .ok_or_else(|| Error::integrity(format!("{images_path}: a record is not an object")))?;
    record.insert("digest".into(), image.manifest_digest.to_string().into());
    let mut names: Vec<Value> = record.get("names").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut history: Vec<Value> = record.get("names-history").and_then(Value::as_array).cloned().unwrap_or_default();
    for n in &image.names {
        if !names.iter().any(|v| v.as_str() == Some(n)) {
            names.push(n.as_str().into());
        }
        history.retain(|v| v.as_str() != Some(n));
        history.insert(0, n.as_str().into());
    }
    if !names.is_empty() {
        record.insert("names".into(), names.into());
        record.insert("names-history".into(), history.into());
    }
    let mut metadata: Map<String, Value> =
        record.get("metadata").and_then(Value::as_str).and_then(|m| serde_json::from_str(m).ok()).unwrap_or_default();
    let sizes: Vec<usize> = image.signatures.iter().map(Vec::len).collect();
    let by_digest = metadata.entry("signatures-sizes").or_insert_with(|| json!({}));
    if let Some(m) = by_digest.as_object_mut() {
        m.insert(image.manifest_digest.to_string(), sizes.into());
    }
    record.insert("metadata".into(), serde_json::to_string(&metadata).map_err(|e| Error::other(e.to_string()))?.into());
    let mut big_names: Vec<Value> = record.get("big-data-names").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut big_sizes = record.get("big-data-sizes").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut big_digests = record.get("big-data-digests").and_then(Value::as_object).cloned().unwrap_or_default();
    for (key, data) in &items {
        if !big_names.iter().any(|v| v.as_str() == Some(key)) {
            big_names.push(key.as_str().into());
        }
        big_sizes.insert(key.clone(), data.len().into());
        big_digests.insert(key.clone(), Digest::sha256(data).to_string().into());
    }
    record.insert("big-data-names".into(), big_names.into());
    record.insert("big-data-sizes".into(), big_sizes.into());
    record.insert("big-data-digests".into(), big_digests.into());
    write_list(io, &images_path, &images, pid).await?;
    held.touch(Lock::Images).await
}
