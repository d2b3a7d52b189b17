//! Where images are written: a registry, an OCI layout, or a `dir:`
//! directory. Blobs stream into a temporary name and are renamed into place
//! only after their digest and size are checked; the manifest (and for a
//! layout, `index.json`) is written last, so an interrupted copy never leaves
//! something that looks complete.

use serde_json::{Value, json};

use super::SideOptions;
use super::daemon::Daemon;
use super::dir::{blob_name, signature_name};
use super::oci_layout::REF_NAME_ANNOTATION;
use super::{ImageSource, fs_error, join, write_atomically};
use crate::compression::Desired;
use crate::digest::Digest;
use crate::engine::{BlobSink, BlobSource, Io, IoErrorKind, Request, Transfer, Transferred};
use crate::error::{Error, Result};
use crate::files::{ArchiveOutput, archive_output, write_archive};
use crate::manifest::Manifest;
use crate::manifest::{self, Descriptor, MAX_MANIFEST_SIZE};
use crate::media_type::ManifestKind;
use crate::reference::{ArchiveSelector, DaemonReference, DockerReference, ImageReference, LayoutReference};
use crate::registry::lookaside::Lookaside;
use crate::registry::{BlobPush, RegistryClient};
use crate::signature::Signature;

/// The marker skopeo writes into a `dir:` image.
const DIR_VERSION: &str = "Directory Transport Version: 1.1\n";
/// Where blob `d` of an OCI layout lives: `blobs/<algorithm>/<hex>`, or
/// `<algorithm>/<hex>` under `--dest-shared-blob-dir`.
fn layout_blob_path(layout: &LayoutReference, shared_blobs: Option<&str>, d: &Digest) -> String {
    let name = format!("{}/{}", d.algorithm().name(), d.hex());
    match shared_blobs {
        Some(dir) => join(dir, &name),
        None => join(&layout.path, &format!("blobs/{name}")),
    }
}

/// containers/image's words for a docker-archive destination that has contents.
const EXISTING_ARCHIVE: &str = "docker-archive doesn't support modifying existing images";

#[derive(Debug)]
pub enum ImageDestination {
    Registry {
        io: Io,
        client: RegistryClient,
        reference: DockerReference,
        /// Where signatures are written (registries.d), if anywhere.
        lookaside: Option<Lookaside>,
    },
    /// An OCI layout; for `oci-archive:`, a staging layout next to the
    /// archive, packed and renamed into place on commit.
    Layout {
        io: Io,
        reference: LayoutReference,
        shared_blobs: Option<String>,
        entry: Option<Value>,
        archive: Option<String>,
    },
    Dir {
        io: Io,
        root: String,
    },
    /// A `docker save` tarball: uncompressed layers named by diff ID, the
    /// config as `<hex>.json`, `manifest.json`; built in a staging directory
    /// next to the archive, then packed and renamed into place.
    DockerArchive {
        io: Io,
        staging: String,
        archive: String,
        /// `RepoTags`: the reference's name and any `--additional-tag`.
        tags: Vec<String>,
        /// Config and layer digests, from the manifest written.
        image: Option<(Digest, Vec<Digest>)>,
        /// For `docker-daemon:`: the daemon the finished archive is loaded into.
        load_into: Option<Daemon>,
    },
}

/// Streams blob `d` from a local `source` (a file, or part of one) into `sink`, checking it.
pub(super) async fn copy_local_blob(io: &Io, d: &Descriptor, source: BlobSource, sink: BlobSink) -> Result<()> {
    let path = match &source {
        BlobSource::File { path } | BlobSource::FileRange { path, .. } => path.clone(),
        BlobSource::Http { request, .. } => request.url.clone(),
    };
    let t = Transfer {
        source,
        sink,
        algorithm: d.digest.algorithm(),
        expected_size: d.expected_size(),
        label: format!("blob {}", d.digest),
    };
    match io.transfer(t).await.map_err(fs_error(format!("copying {path}")))? {
        Transferred::Moved { digest, size, .. } => d.check_transfer(&digest, size),
        Transferred::Refused(_) => Err(Error::other(format!("copying {path}: refused"))),
    }
}

impl ImageDestination {
    /// Opens `image` with one side's options; `tmpdir` is the run's scratch space.
    pub fn open(io: &Io, image: &ImageReference, side: &SideOptions, tmpdir: &str) -> Result<Self> {
        match image {
            ImageReference::Docker(r) => {
                let client = RegistryClient::new(io.clone(), &r.registry, &r.repository, side.registry.clone())?;
                let lookaside = crate::registry::lookaside::for_image(&side.registries_d, r, true)?;
                Ok(ImageDestination::Registry { io: io.clone(), client, reference: r.clone(), lookaside })
            }
            ImageReference::Oci(l) => Ok(ImageDestination::Layout {
                io: io.clone(),
                reference: l.clone(),
                shared_blobs: side.shared_blob_dir.clone(),
                entry: None,
                archive: None,
            }),
            ImageReference::OciArchive(l) => Ok(ImageDestination::Layout {
                io: io.clone(),
                // Staged in the run's scratch space: the archive may be a pipe.
                reference: LayoutReference { path: join(tmpdir, "oci-archive-dest.d"), ..l.clone() },
                shared_blobs: None,
                entry: None,
                archive: Some(l.path.clone()),
            }),
            ImageReference::Dir { path } => Ok(ImageDestination::Dir { io: io.clone(), root: path.clone() }),
            ImageReference::DockerArchive { path, selector } => {
                let tags = match selector {
                    ArchiveSelector::Named(r) => vec![r.to_string()],
                    ArchiveSelector::Only => vec![],
                    ArchiveSelector::Index(_) => {
                        return Err(Error::invalid(
                            "docker-archive: a destination takes a name (path:name:tag), not @index",
                        ));
                    }
                };
                Ok(ImageDestination::DockerArchive {
                    io: io.clone(),
                    staging: join(tmpdir, "docker-archive-dest.d"),
                    archive: path.clone(),
                    tags,
                    image: None,
                    load_into: None,
                })
            }
            ImageReference::DockerDaemon(DaemonReference::Named(r)) => Ok(ImageDestination::DockerArchive {
                io: io.clone(),
                staging: join(tmpdir, "daemon-dest.d"),
                archive: join(tmpdir, "daemon-dest.tar"),
                tags: vec![r.to_string()],
                image: None,
                load_into: Some(Daemon::parse(side.daemon_host.as_deref())?),
            }),
            ImageReference::DockerDaemon(DaemonReference::Id(_)) => {
                Err(Error::invalid("docker-daemon: a destination needs a name:tag, not an image ID"))
            }
            other => Err(Error::unsupported(format!(
                "writing images to the {} transport is not supported by this version",
                other.transport_name()
            ))),
        }
    }

    /// The `name` and `tag` a schema 1 manifest written here carries: the
    /// repository and tag of a registry destination, else empty.
    pub fn schema1_name(&self) -> (String, String) {
        match self {
            ImageDestination::Registry { reference, .. } => {
                (reference.repository.clone(), reference.tag.clone().unwrap_or_default())
            }
            _ => (String::new(), String::new()),
        }
    }

    /// Whether manifests of `kind` can be stored here as they are.
    pub fn accepts(&self, kind: ManifestKind) -> bool {
        match self {
            ImageDestination::Layout { .. } => matches!(kind, ManifestKind::OciManifest | ManifestKind::OciIndex),
            ImageDestination::DockerArchive { .. } => kind == ManifestKind::DockerV2S2,
            _ => true,
        }
    }

    /// What this destination wants done to layers: registries and OCI
    /// layouts compress plain tars (a layout keeps them with
    /// `--dest-oci-accept-uncompressed-layers`), `docker save` archives hold
    /// plain tars, `dir:` keeps what comes.
    pub fn desired_compression(&self, oci_accept_uncompressed: bool) -> Desired {
        match self {
            ImageDestination::Registry { .. } => Desired::Compress,
            ImageDestination::Layout { .. } if oci_accept_uncompressed => Desired::Preserve,
            ImageDestination::Layout { .. } => Desired::Compress,
            ImageDestination::Dir { .. } => Desired::Preserve,
            ImageDestination::DockerArchive { .. } => Desired::Decompress,
        }
    }

    /// `--additional-tag`: more names for a docker-archive's image.
    pub fn add_tags(&mut self, extra: &[String]) -> Result<()> {
        if extra.is_empty() {
            return Ok(());
        }
        let ImageDestination::DockerArchive { tags, .. } = self else {
            return Err(Error::invalid("--additional-tag applies to docker-archive: destinations only"));
        };
        for t in extra {
            let r = DockerReference::parse_normalized(t).map_err(|e| e.context("--additional-tag"))?;
            if r.digest.is_some() {
                return Err(Error::invalid(format!("--additional-tag {t:?}: a digest is not a tag")));
            }
            tags.push(r.with_default_tag().to_string());
        }
        Ok(())
    }

    /// Makes the destination ready; refuses to wipe a directory that is not an image.
    pub async fn prepare(&mut self) -> Result<()> {
        match self {
            ImageDestination::Registry { .. } => Ok(()),
            ImageDestination::DockerArchive { io, staging, archive, load_into, .. } => {
                if load_into.is_none() {
                    // Refused before anything is copied, as skopeo refuses it.
                    archive_output(io, archive, Some(EXISTING_ARCHIVE)).await?;
                }
                // A staging area left by an interrupted run goes first.
                match io.fs(Request::RemoveDir { path: staging.clone() }).await {
                    Err(e) if e.kind != IoErrorKind::NotFound => {
                        return Err(fs_error(format!("removing {staging}"))(e));
                    }
                    _ => {}
                }
                io.fs(Request::CreateDir { path: staging.clone() })
                    .await
                    .map_err(fs_error(format!("creating {staging}")))
            }
            ImageDestination::Dir { io, root } => {
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
            }
            ImageDestination::Layout { io, reference, shared_blobs, archive, .. } => {
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
                }
                let path = join(&reference.path, "oci-layout");
                io.fs(Request::WriteFile { path: path.clone(), data: br#"{"imageLayoutVersion": "1.0.0"}"#.to_vec() })
                    .await
                    .map_err(fs_error(format!("writing {path}")))
            }
        }
    }

    fn local_blob_path(&self, d: &Digest) -> Option<String> {
        match self {
            ImageDestination::Registry { .. } => None,
            // Named `.tar`/`.json` on commit, once the manifest tells which is which.
            ImageDestination::DockerArchive { staging, .. } => Some(join(staging, d.hex())),
            ImageDestination::Dir { root, .. } => Some(join(root, &blob_name(d))),
            ImageDestination::Layout { reference, shared_blobs, .. } => {
                Some(layout_blob_path(reference, shared_blobs.as_deref(), d))
            }
        }
    }

    /// Where local blob `d` goes, its directory made if need be (a layout
    /// holds `blobs/sha256` from the start; other algorithms get theirs on
    /// first use), and the IO handle to write it with.
    async fn local_blob_target(&self, d: &Digest) -> Result<(String, &Io)> {
        let (Some(path), Some(io)) = (self.local_blob_path(d), self.io()) else {
            unreachable!("local destinations have paths")
        };
        if matches!(self, ImageDestination::Layout { .. })
            && d.algorithm() != crate::digest::Algorithm::Sha256
            && let Some((dir, _)) = path.rsplit_once('/')
        {
            io.fs(Request::CreateDir { path: dir.to_owned() }).await.map_err(fs_error(format!("creating {dir}")))?;
        }
        Ok((path, io))
    }

    /// The IO handle of a local destination.
    fn io(&self) -> Option<&Io> {
        match self {
            ImageDestination::Registry { .. } => None,
            ImageDestination::Dir { io, .. }
            | ImageDestination::Layout { io, .. }
            | ImageDestination::DockerArchive { io, .. } => Some(io),
        }
    }

    fn io_any(&self) -> &Io {
        match self {
            ImageDestination::Registry { io, .. }
            | ImageDestination::Dir { io, .. }
            | ImageDestination::Layout { io, .. }
            | ImageDestination::DockerArchive { io, .. } => io,
        }
    }

    /// Copies blob `d` from `source`.
    pub async fn put_blob(&self, source: &ImageSource, d: &Descriptor) -> Result<BlobPush> {
        if let ImageDestination::Registry { client, reference, .. } = self {
            let mount_from = match source {
                ImageSource::Registry(s) if s.reference().registry == reference.registry => {
                    Some(s.reference().repository.as_str())
                }
                _ => None,
            };
            let blob_source = match (source, source.local_blob(&d.digest).await?) {
                (_, Some(local)) => local,
                (ImageSource::Registry(s), None) => BlobSource::get(s.blob_request(d).await?),
                _ => unreachable!("every local source has a blob location"),
            };
            return client.push_blob(&reference.repository, d, blob_source, mount_from).await;
        }
        let (final_path, io) = self.local_blob_target(&d.digest).await?;
        let tmp = format!("{final_path}.skiff-tmp");
        let pulled = source.pull_blob(d, BlobSink::File { path: tmp.clone() }).await;
        if let Err(e) = pulled {
            let _ = io.fs(Request::RemoveFile { path: tmp }).await;
            return Err(e);
        }
        io.fs(Request::Rename { from: tmp, to: final_path.clone() })
            .await
            .map_err(fs_error(format!("writing {final_path}")))?;
        Ok(BlobPush::Uploaded)
    }

    /// Stores bytes the core made (a converted config) as blob `d`.
    pub async fn put_blob_bytes(&self, d: &Descriptor, bytes: &[u8]) -> Result<BlobPush> {
        d.digest.verify(bytes, "converted blob")?;
        match self {
            ImageDestination::Registry { client, reference, .. } => {
                client.push_blob_bytes(&reference.repository, d, bytes).await
            }
            _ => {
                let (path, io) = self.local_blob_target(&d.digest).await?;
                write_atomically(io, &path, bytes).await?;
                Ok(BlobPush::Uploaded)
            }
        }
    }

    /// A scratch file `name`: next to the blobs for a local destination (so a
    /// rename commits it), in `tmpdir` for a registry.
    pub fn scratch_path(&self, tmpdir: &str, name: &str) -> String {
        match self.local_blob_path(&Digest::sha256(b"")) {
            Some(p) => join(p.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("."), name),
            None => join(tmpdir, name),
        }
    }

    /// Stores the finished local file `path` (already hashed) as blob `d`.
    pub async fn put_file_blob(&self, d: &Descriptor, path: String) -> Result<BlobPush> {
        match self {
            ImageDestination::Registry { client, reference, .. } => {
                let pushed =
                    client.push_blob(&reference.repository, d, BlobSource::File { path: path.clone() }, None).await;
                let removed = self.io_any().fs(Request::RemoveFile { path }).await;
                let outcome = pushed?;
                removed.map_err(fs_error("removing a scratch file".to_owned()))?;
                Ok(outcome)
            }
            _ => {
                let (final_path, io) = self.local_blob_target(&d.digest).await?;
                io.fs(Request::Rename { from: path, to: final_path.clone() })
                    .await
                    .map_err(fs_error(format!("writing {final_path}")))?;
                Ok(BlobPush::Uploaded)
            }
        }
    }

    /// Whether the destination already holds manifest `digest` where it would
    /// be written (a registry's tag or digest; an `instance` by its digest),
    /// so the copy of that image can be skipped.
    pub async fn holds_manifest(&self, digest: &Digest, instance: bool) -> bool {
        let ImageDestination::Registry { client, reference, .. } = self else { return false };
        let at = match instance {
            true => digest.to_string(),
            false => reference.manifest_reference(),
        };
        client.manifest_digest_at(&reference.repository, &at).await.as_ref() == Some(digest)
    }

    /// Writes a manifest: an instance of a list (by digest), or the image's
    /// top-level manifest.
    pub async fn put_manifest(&mut self, bytes: &[u8], kind: ManifestKind, instance: Option<&Digest>) -> Result<()> {
        let digest = manifest::manifest_digest(bytes)?;
        if let ImageDestination::DockerArchive { image, .. } = self {
            if instance.is_some() {
                return Err(Error::unsupported("a docker-archive holds one image, not a manifest list"));
            }
            let Manifest::Image(m) = Manifest::parse(bytes, Some(kind.media_type()))?.1 else {
                return Err(Error::unsupported("a docker-archive holds an image manifest"));
            };
            *image = Some((m.config.digest, m.layers.into_iter().map(|l| l.digest).collect()));
            return Ok(());
        }
        match self {
            ImageDestination::Registry { client, reference, .. } => {
                let target = match (instance, &reference.digest, &reference.tag) {
                    (Some(d), _, _) => d.to_string(),
                    (None, Some(d), _) => {
                        if d != &digest {
                            return Err(Error::integrity(format!(
                                "the destination names digest {d}, but the manifest written is {digest}"
                            )));
                        }
                        d.to_string()
                    }
                    (None, None, Some(t)) => t.clone(),
                    (None, None, None) => crate::reference::DEFAULT_TAG.to_owned(),
                };
                client.put_manifest(&reference.repository, &target, bytes, kind.media_type()).await
            }
            ImageDestination::Dir { io, root } => {
                let name = match instance {
                    Some(d) => format!("{}.manifest.json", blob_name(d)),
                    None => "manifest.json".to_owned(),
                };
                write_atomically(io, &join(root, &name), bytes).await
            }
            ImageDestination::Layout { .. } => {
                let (path, io) = self.local_blob_target(&digest).await?;
                write_atomically(io, &path, bytes).await?;
                let ImageDestination::Layout { reference, entry, .. } = self else { unreachable!("matched above") };
                if instance.is_none() {
                    let mut e =
                        json!({"mediaType": kind.media_type(), "digest": digest.to_string(), "size": bytes.len()});
                    if let Some(n) = &reference.ref_name {
                        e["annotations"] = json!({ REF_NAME_ANNOTATION: n });
                    }
                    *entry = Some(e);
                }
                Ok(())
            }
            ImageDestination::DockerArchive { .. } => unreachable!("handled above"),
        }
    }

    /// Whether `signatures` can be stored here (containers/image's wording when not).
    pub fn signature_support(&self, signatures: &[Signature]) -> Result<()> {
        let why = match self {
            ImageDestination::Dir { .. } => return Ok(()),
            ImageDestination::Layout { .. } => "Pushing signatures for OCI images is not supported",
            // docker-daemon: too (an archive loaded into the daemon).
            ImageDestination::DockerArchive { .. } => "Storing signatures for docker tar files is not supported",
            ImageDestination::Registry { .. } if signatures.iter().any(|s| matches!(s, Signature::Sigstore(_))) => {
                "sigstore signatures go to a registry as sigstore attachments, which skiff does not write yet"
            }
            ImageDestination::Registry { lookaside: Some(l), .. } => return l.writable(),
            ImageDestination::Registry { reference, .. } => {
                return Err(Error::unsupported(format!(
                    "no lookaside storage is configured for {} (registries.d), and sigstore attachments are not supported",
                    reference.name()
                )));
            }
        };
        Err(Error::unsupported(why))
    }

    /// Stores the signatures of the image whose manifest `manifest` was just
    /// written (an `instance` of a list, or the image); see
    /// [`ImageDestination::signature_support`].
    pub async fn put_signatures(&self, signatures: &[Signature], manifest: &Digest, instance: bool) -> Result<()> {
        self.signature_support(signatures)?;
        match self {
            ImageDestination::Dir { io, root } => {
                for (i, s) in signatures.iter().enumerate() {
                    let name = signature_name(instance.then_some(manifest), i + 1);
                    write_atomically(io, &join(root, &name), s.blob()).await?;
                }
                Ok(())
            }
            ImageDestination::Registry { io, lookaside: Some(l), .. } => l.write(io, manifest, signatures).await,
            _ => unreachable!("checked above"),
        }
    }

    /// Finishes the image: for a layout, names it in `index.json`; for an
    /// archive, then packs the layout and renames the archive into place.
    pub async fn commit(&mut self) -> Result<()> {
        if let ImageDestination::DockerArchive {
            io,
            staging,
            archive,
            tags,
            image: Some((config, layers)),
            load_into,
        } = self
        {
            let output = match load_into {
                Some(_) => ArchiveOutput::Atomic,
                None => archive_output(io, archive, Some(EXISTING_ARCHIVE)).await?,
            };
            super::docker_save::write(io, staging, archive, output, tags, config, layers).await?;
            if let Some(daemon) = load_into {
                let loaded = daemon.load(io, archive).await;
                let _ = io.fs(Request::RemoveFile { path: archive.clone() }).await;
                loaded?;
            }
            return Ok(());
        }
        let ImageDestination::Layout { io, reference, entry: Some(entry), archive, .. } = self else { return Ok(()) };
        let path = join(&reference.path, "index.json");
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
        write_atomically(io, &path, &serde_json::to_vec(&index)?).await?;
        if let Some(archive) = archive {
            let output = archive_output(io, archive, None).await?;
            let entries = super::tar_write::directory_entries(io, &reference.path).await?;
            write_archive(io, archive, output, super::tar_write::encode(&entries)?).await?;
            io.fs(Request::RemoveDir { path: reference.path.clone() })
                .await
                .map_err(fs_error(format!("removing {}", reference.path)))?;
        }
        Ok(())
    }
}
