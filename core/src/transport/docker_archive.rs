//! `docker-archive:`: a `docker save` tarball, read in place. Its
//! `manifest.json` lists images by config file, tags and layer files; the
//! image is offered as containers/image offers it — a Docker schema 2
//! manifest made up here, whose layers are the uncompressed tars named by
//! their diff IDs, so every byte read is still checked against a digest.
//! A compressed layer file (other tools write them) is decompressed once
//! into the run's scratch space, as containers/image decompresses it.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Deserialize;
use serde_json::json;

use super::daemon::Daemon;
use super::tar_members::TarMembers;
use super::{file_error, join, read_local};
use crate::compression::Compression;
use crate::digest::Digest;
use crate::engine::{BlobSource, Io, Recompress};
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::MAX_MANIFEST_SIZE;

/// The largest `manifest.json` read, as containers/image bounds it
/// (`iolimits.MaxTarFileManifestSize`, item 27): a listing of images needs
/// far less, and a bigger one is refused before it is parsed.
const MAX_LISTING_SIZE: u64 = 1 << 20;
use crate::media_type as mt;
use crate::reference::{ArchiveSelector, DaemonReference, DockerReference};

#[derive(Debug)]
pub struct DockerArchiveSource {
    pub(super) io: Io,
    members: TarMembers,
    /// The run's scratch space (decompressed layers).
    tmpdir: String,
    selector: ArchiveSelector,
    image: RefCell<Option<Rc<ArchiveImage>>>,
    /// For `docker-daemon:`: the daemon to ask for the archive first.
    saved_by: RefCell<Option<(Daemon, DaemonReference)>>,
}

/// One entry of `manifest.json`.
#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// The selected image: its manifest (made up), and where each blob is.
#[derive(Debug)]
struct ArchiveImage {
    manifest: Vec<u8>,
    /// Where the config and every layer are, by digest.
    blobs: std::collections::HashMap<Digest, Place>,
}

#[derive(Debug, Clone)]
enum Place {
    /// A member of the archive, by name.
    Member(String),
    /// A scratch file (a compressed member, decompressed).
    File(String),
}

impl DockerArchiveSource {
    pub fn new(io: &Io, path: &str, selector: ArchiveSelector, tmpdir: &str) -> Self {
        let members = TarMembers::new(io, path);
        DockerArchiveSource {
            io: io.clone(),
            members,
            tmpdir: tmpdir.to_owned(),
            selector,
            image: RefCell::new(None),
            saved_by: RefCell::new(None),
        }
    }

    /// The archive is `image` as `daemon` saves it, fetched on first use.
    pub fn saved_by(self, daemon: Daemon, image: DaemonReference) -> Self {
        *self.saved_by.borrow_mut() = Some((daemon, image));
        self
    }

    /// The entry of `manifest.json` the reference selects.
    fn select(&self, entries: Vec<Entry>) -> Result<Entry> {
        let path = self.members.path();
        let count = entries.len();
        let mut entries = entries.into_iter();
        match &self.selector {
            ArchiveSelector::Only if count == 1 => Ok(entries.next().expect("one entry")),
            ArchiveSelector::Only if count == 0 => Err(Error::not_found(format!("no image in {path}"))),
            ArchiveSelector::Only => Err(Error::invalid(format!(
                "{path} holds {count} images; choose one with docker-archive:{path}:<name:tag> or :@<index>"
            ))),
            ArchiveSelector::Index(i) => entries
                .nth(*i)
                .ok_or_else(|| Error::not_found(format!("no image at index {i} in {path} ({count} images)"))),
            ArchiveSelector::Named(wanted) => {
                let wanted = wanted.clone().with_default_tag();
                entries
                    .find(|e| {
                        e.repo_tags
                            .iter()
                            .flatten()
                            .any(|t| DockerReference::parse_normalized(t).is_ok_and(|r| r.with_default_tag() == wanted))
                    })
                    .ok_or_else(|| Error::not_found(format!("no image tagged {wanted} in {path}")))
            }
        }
    }

    async fn image(&self) -> Result<Rc<ArchiveImage>> {
        if let Some(i) = self.image.borrow().clone() {
            return Ok(i);
        }
        let path = self.members.path();
        let pending = self.saved_by.borrow_mut().take();
        if let Some((daemon, image)) = pending {
            daemon.save(&self.io, &image, path).await?;
        }
        let listing = self.members.read("manifest.json", MAX_LISTING_SIZE).await?;
        let entries: Vec<Entry> = serde_json::from_slice(&listing)
            .map_err(|e| Error::invalid(format!("manifest.json in {path} is not a docker save listing: {e}")))?;
        let entry = self.select(entries)?;
        let config = self.members.read(&entry.config, MAX_MANIFEST_SIZE).await?;
        let config_digest = Digest::sha256(&config);
        let parsed: serde_json::Value = serde_json::from_slice(&config)
            .map_err(|e| Error::invalid(format!("{} in {path} is not an image config: {e}", entry.config)))?;
        let diff_ids = parsed.pointer("/rootfs/diff_ids").and_then(|d| d.as_array()).cloned().unwrap_or_default();
        if diff_ids.len() != entry.layers.len() {
            return Err(Error::invalid(format!(
                "{path}: the config lists {} layers, manifest.json {}",
                diff_ids.len(),
                entry.layers.len()
            )));
        }
        let mut blobs = std::collections::HashMap::new();
        blobs.insert(config_digest.clone(), Place::Member(entry.config.clone()));
        let mut layers = Vec::new();
        for (id, name) in diff_ids.iter().zip(&entry.layers) {
            let digest = Digest::parse(id.as_str().unwrap_or_default())
                .map_err(|e| e.context(format!("{path}: a diff ID in the config")))?;
            let (place, size) = self.layer(name, &digest).await?;
            // The field order of containers/image's manifest.Schema2, so the digest matches skopeo's.
            layers.push(json!({"mediaType": mt::DOCKER_LAYER_GZIP, "size": size, "digest": digest.to_string()}));
            blobs.insert(digest, place);
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": mt::DOCKER_V2S2,
            "config": {"mediaType": mt::DOCKER_CONFIG, "size": config.len(), "digest": config_digest.to_string()},
            "layers": layers,
        });
        let image = Rc::new(ArchiveImage { manifest: serde_json::to_vec(&manifest)?, blobs });
        *self.image.borrow_mut() = Some(image.clone());
        Ok(image)
    }

    /// Where layer file `name` (diff ID `diff_id`) can be read as a plain
    /// tar, and its size: the member itself, or, when compressed, a
    /// decompressed copy checked against the diff ID.
    async fn layer(&self, name: &str, diff_id: &Digest) -> Result<(Place, u64)> {
        let path = self.members.path().to_owned();
        // A listing naming a layer file the archive lacks is a broken
        // archive (exit 1), not a missing image; containers/image's words.
        let (offset, size) = self.members.locate(name).await.map_err(|e| match e.kind {
            ErrorKind::NotFound => {
                Error::invalid(format!("{path}: Some layer tarfiles are missing in the tarball ({name})"))
            }
            _ => e,
        })?;
        let head = self.io.read_range(path.clone(), offset, size.min(6)).await.map_err(|e| file_error(&path, e))?;
        let compression = Compression::detect(&head).map_err(|e| e.context(format!("{name} in {path}")))?;
        if compression == Compression::None {
            return Ok((Place::Member(name.to_owned()), size));
        }
        let output = join(&self.tmpdir, &format!("docker-archive-layer-{}.tar", diff_id.hex()));
        let request = Recompress {
            input: BlobSource::FileRange { path: path.clone(), offset, length: size },
            output: output.clone(),
            from: compression,
            to: Compression::None,
            level: 0,
            algorithm: diff_id.algorithm(),
        };
        let plain = self
            .io
            .recompress(request)
            .await
            .map_err(|e| Error::new(ErrorKind::Io, format!("decompressing {name} in {path}: {}", e.message)))?;
        if plain.digest != diff_id.to_string() {
            return Err(Error::integrity(format!(
                "{name} in {path} uncompresses to {}, but the image config says {diff_id}",
                plain.digest
            )));
        }
        Ok((Place::File(output), plain.size))
    }

    pub async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, Option<String>)> {
        if let Some(d) = instance {
            return Err(Error::not_found(format!("{d}: a docker-archive holds no manifest lists")));
        }
        Ok((self.image().await?.manifest.clone(), Some(mt::DOCKER_V2S2.to_owned())))
    }

    async fn place_of(&self, d: &Digest) -> Result<Place> {
        let image = self.image().await?;
        let found = image.blobs.get(d).cloned();
        found.ok_or_else(|| Error::not_found(format!("blob {d} is not in {}", self.members.path())))
    }

    pub async fn blob(&self, d: &Digest, max: u64) -> Result<Vec<u8>> {
        match self.place_of(d).await? {
            Place::Member(name) => self.members.read(&name, max).await,
            Place::File(path) => read_local(&self.io, path, max).await,
        }
    }

    pub async fn blob_source(&self, d: &Digest) -> Result<BlobSource> {
        match self.place_of(d).await? {
            Place::Member(name) => self.members.source(&name).await,
            Place::File(path) => Ok(BlobSource::File { path }),
        }
    }
}

/// Every tag of every image in the archive at `path`, as written, in
/// `manifest.json`'s order, `@N` for an untagged image N (skopeo's
/// `list-tags docker-archive:`).
pub async fn repo_tags(io: &Io, path: &str) -> Result<Vec<String>> {
    let members = TarMembers::new(io, path);
    let listing = members.read("manifest.json", MAX_LISTING_SIZE).await?;
    let entries: Vec<Entry> = serde_json::from_slice(&listing)
        .map_err(|e| Error::invalid(format!("manifest.json in {path} is not a docker save listing: {e}")))?;
    let mut tags = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let written = entry.repo_tags.as_deref().unwrap_or_default();
        if written.is_empty() {
            tags.push(format!("@{index}"));
        }
        for tag in written {
            let r = DockerReference::parse_normalized(tag)
                .map_err(|e| e.context(format!("Invalid tag {tag:?} in manifest item @{index}")))?;
            if r.tag.is_none() {
                return Err(Error::invalid(format!("Invalid tag {tag:?} ({r}): does not contain a tag")));
            }
            tags.push(tag.clone());
        }
    }
    Ok(tags)
}
