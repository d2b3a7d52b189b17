//! `copy`: policy first, then each blob streamed from source to destination
//! (several at once), each checked against its digest before it is
//! committed, then the manifest. Progress lines go to the host's stderr.

use crate::digest::Digest;
use crate::engine::{BlobSink, BlobSource, Io, Request, join_bounded};
use crate::error::{Error, Result};
use crate::job::CopyJob;
use crate::manifest::jws;
use crate::manifest::list_convert::encode_list;
use crate::manifest::schema1_encode::to_schema1;
use crate::manifest::{self, Descriptor, Manifest, convert};
use crate::media_type::ManifestKind;
use crate::platform::Platform;
use crate::policy;
use crate::reference::ImageReference;
use crate::registry::BlobPush;
use crate::signature::Signature;
use crate::transport::{ImageDestination, ImageSource};

mod compression;

pub use compression::{Compression, CompressionPolicy, Desired};

/// Blobs copied at once within one image (skopeo's default).
pub const DEFAULT_PARALLEL: usize = 6;

/// Which images of a multi-platform source are copied (`--multi-arch`, `--all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiArch {
    /// The instance for this platform only.
    System,
    /// The index and every instance.
    All,
    /// The index alone (its instances are expected at the destination already).
    IndexOnly,
}

pub async fn run(io: Io, job: CopyJob) -> Result<Vec<u8>> {
    let src_ref = ImageReference::parse(&job.source)?;
    let dst_ref = ImageReference::parse(&job.destination)?;
    let mode = match (job.all, job.multi_arch.as_deref()) {
        (true, Some(_)) => return Err(Error::invalid("--all and --multi-arch cannot be used together")),
        (true, None) | (false, Some("all")) => MultiArch::All,
        (false, None | Some("system")) => MultiArch::System,
        (false, Some("index-only")) => MultiArch::IndexOnly,
        (false, Some(other)) => {
            return Err(Error::invalid(format!("--multi-arch {other:?}: use system, all or index-only")));
        }
    };
    policy::check(&job.policy, &src_ref, &job.source)?;

    let tmpdir = job.tmpdir.clone().unwrap_or_else(|| "/var/tmp".to_owned());
    let source = ImageSource::open(&io, &src_ref, &job.src, &tmpdir)?;
    let mut dest = ImageDestination::open(&io, &dst_ref, &job.dest, &tmpdir)?;
    let parallel = job.image_parallel_copies.filter(|&n| n > 0).unwrap_or(DEFAULT_PARALLEL);
    let format = match job.format.as_deref() {
        None => None,
        Some("oci") => Some(ManifestKind::OciManifest),
        Some("v2s2") => Some(ManifestKind::DockerV2S2),
        Some("v2s1") => Some(ManifestKind::DockerV2S1Signed),
        Some(other) => return Err(Error::invalid(format!("unknown --format {other:?}: use oci, v2s2 or v2s1"))),
    };
    let mut compression = CompressionPolicy::parse(
        job.dest_compress_format.as_deref(),
        job.dest_compress,
        job.dest_decompress,
        job.dest_compress_level,
    )?;
    if (compression.compress || compression.decompress) && !matches!(dst_ref, ImageReference::Dir { .. }) {
        return Err(Error::invalid("--dest-compress and --dest-decompress apply to dir: destinations only"));
    }
    if job.dest_force_compress_format && compression.format.is_none() {
        return Err(Error::invalid("--dest-force-compress-format needs --dest-compress-format"));
    }
    compression.oci_accept_uncompressed = job.dest_oci_accept_uncompressed_layers;
    dest.add_tags(&job.additional_tags)?;
    let copier = Copier {
        io: &io,
        parallel,
        format,
        preserve_digests: job.preserve_digests,
        compression,
        tmpdir,
        remove_signatures: job.remove_signatures,
        destination: &job.destination,
    };

    let (top, top_type) = source.manifest(None).await?;
    let (top_kind, top_manifest) = Manifest::parse(&top, top_type.as_deref())?;
    dest.prepare().await?;
    let written = match (top_manifest, mode) {
        (Manifest::List(list), MultiArch::All | MultiArch::IndexOnly) => {
            let top_digest = manifest::manifest_digest(&top)?;
            let signatures = copier.signatures(&source, &dest, None, &top_digest, "image list").await?;
            let list_kind = list_target(top_kind, copier.format, &dest)?;
            let bytes = if mode == MultiArch::IndexOnly {
                // The instances are expected at the destination already.
                if list_kind != top_kind {
                    return Err(Error::unsupported(format!(
                        "--multi-arch index-only copies the {} as it is; this destination or --format needs {}",
                        top_kind.media_type(),
                        list_kind.media_type()
                    )));
                }
                top
            } else {
                let mut instances = Vec::new();
                let count = list.manifests.len();
                io.note(format!("Copying {count} of {count} images in list"));
                for (i, d) in list.manifests.iter().enumerate() {
                    io.note(format!("Copying image {} ({}/{count})", d.digest, i + 1));
                    let (bytes, _) = source.manifest(Some(&d.digest)).await?;
                    let w =
                        copier.image(&source, &mut dest, &bytes, Some(&d.media_type), Some(&d.digest), true).await?;
                    let media_type = w.kind.media_type().to_owned();
                    instances.push(Descriptor { digest: w.digest, size: w.size, media_type, ..d.clone() });
                }
                if list_kind == top_kind && instances == list.manifests {
                    top
                } else if copier.preserve_digests {
                    return Err(Error::invalid("--preserve-digests: the manifest list would change"));
                } else if !signatures.is_empty() {
                    return Err(would_invalidate_signatures("changing the manifest list"));
                } else {
                    let host = Platform {
                        os: job.platform.os(),
                        architecture: job.platform.architecture(),
                        ..Platform::default()
                    };
                    encode_list(list_kind, &list, &instances, &host)?
                }
            };
            io.note("Writing manifest list to image destination".to_owned());
            dest.put_manifest(&bytes, list_kind, None).await?;
            if !signatures.is_empty() {
                io.note("Storing list signatures".to_owned());
                dest.put_signatures(&signatures, &top_digest, false).await?;
            }
            top_digest
        }
        (Manifest::List(list), MultiArch::System) => {
            let d = list.choose(&job.platform)?;
            let (bytes, _) = source.manifest(Some(&d.digest)).await?;
            copier.image(&source, &mut dest, &bytes, Some(&d.media_type), Some(&d.digest), false).await?.digest
        }
        _ => copier.image(&source, &mut dest, &top, top_type.as_deref(), None, false).await?.digest,
    };
    dest.commit().await?;
    if let Some(path) = job.digestfile {
        io.fs(Request::WriteFile { path: path.clone(), data: written.to_string().into_bytes() }).await.map_err(
            |e| Error::new(crate::error::ErrorKind::Io, format!("writing digest file {path}: {}", e.message)),
        )?;
    }
    Ok(Vec::new())
}

/// The list type to write: `--format`'s, else the source's if the
/// destination takes it, else one it takes.
fn list_target(kind: ManifestKind, format: Option<ManifestKind>, dest: &ImageDestination) -> Result<ManifestKind> {
    let wanted = match format {
        Some(ManifestKind::DockerV2S1Signed) => {
            return Err(Error::unsupported("--format v2s1: a manifest list cannot hold schema 1 images"));
        }
        Some(ManifestKind::OciManifest) => ManifestKind::OciIndex,
        Some(_) => ManifestKind::DockerList,
        None if dest.accepts(kind) => kind,
        None => ManifestKind::OciIndex,
    };
    if !dest.accepts(wanted) {
        return Err(Error::unsupported(format!(
            "this destination cannot store a manifest list ({}); copy one platform instead",
            wanted.media_type()
        )));
    }
    Ok(wanted)
}

/// Why a copy that carries signatures cannot change the image.
fn would_invalidate_signatures(why: &str) -> Error {
    Error::invalid(format!(
        "{why} would invalidate the source's signatures; use --remove-signatures to copy without them"
    ))
}

/// One image as written: its manifest's digest, size and type.
struct Written {
    digest: Digest,
    size: i64,
    kind: ManifestKind,
}

/// `rootfs.diff_ids` of an image config; empty when it has none (nothing to check).
fn config_diff_ids(config: &[u8]) -> Vec<Digest> {
    let v: serde_json::Value = serde_json::from_slice(config).unwrap_or_default();
    let ids = v.pointer("/rootfs/diff_ids").and_then(|d| d.as_array()).cloned().unwrap_or_default();
    ids.iter().filter_map(|d| Digest::parse(d.as_str()?).ok()).collect()
}

struct Copier<'a> {
    io: &'a Io,
    parallel: usize,
    /// `--format`: the manifest type to write.
    format: Option<ManifestKind>,
    preserve_digests: bool,
    compression: CompressionPolicy,
    /// Where scratch files go when the destination is not local (`--tmpdir`).
    tmpdir: String,
    /// `--remove-signatures`: leave the source's signatures behind.
    remove_signatures: bool,
    /// The destination as named on the command line, for messages.
    destination: &'a str,
}

impl Copier<'_> {
    /// The source's signatures of the image (`what`: "image" or "image
    /// list"), unless `--remove-signatures`; refused up front when the
    /// destination cannot store them, as skopeo does.
    async fn signatures(
        &self,
        source: &ImageSource,
        dest: &ImageDestination,
        instance: Option<&Digest>,
        manifest: &Digest,
        what: &str,
    ) -> Result<Vec<Signature>> {
        if self.remove_signatures {
            return Ok(Vec::new());
        }
        let getting = if what == "image" { "Getting image source signatures" } else { "Getting image list signatures" };
        self.io.note(getting.to_owned());
        let signatures = source.signatures(instance, manifest).await.map_err(|e| e.context("reading signatures"))?;
        if !signatures.is_empty() {
            self.io.note(format!("Checking if {what} destination supports signatures"));
            dest.signature_support(&signatures)
                .map_err(|e| e.context(format!("Can not copy signatures to {}", self.destination)))?;
        }
        Ok(signatures)
    }

    /// Copies one image's blobs and writes its manifest (as an instance of a
    /// list, named by its digest, or as the image). `source_instance` names
    /// the image within the source's list, where it has one.
    async fn image(
        &self,
        source: &ImageSource,
        dest: &mut ImageDestination,
        bytes: &[u8],
        media_type: Option<&str>,
        source_instance: Option<&Digest>,
        instance: bool,
    ) -> Result<Written> {
        let source_digest = match source_instance {
            Some(d) => d.clone(),
            None => manifest::manifest_digest(bytes)?,
        };
        let signatures = self.signatures(source, dest, source_instance, &source_digest, "image").await?;
        let (kind, m) = Manifest::parse(bytes, media_type)?;
        let (source_layers, source_config) = match &m {
            Manifest::Image(i) => (i.layers.clone(), Some(i.config.clone())),
            Manifest::Schema1(s) => (
                s.layers
                    .iter()
                    .map(|d| Descriptor {
                        media_type: String::new(),
                        digest: d.clone(),
                        size: -1,
                        urls: None,
                        annotations: None,
                        platform: None,
                    })
                    .collect(),
                None,
            ),
            Manifest::List(_) => return Err(Error::unsupported("nested manifest lists are not supported")),
        };
        // Layers whose compression changes, by index. With --preserve-digests
        // only an explicit compression flag may change one (and is refused below).
        let c = &self.compression;
        let explicit = c.format.is_some() || c.compress || c.decompress;
        let desired = match self.preserve_digests && !explicit {
            true => Desired::Preserve,
            false => dest.desired_compression(c.oci_accept_uncompressed),
        };
        let recompress: Vec<Option<(Compression, Compression)>> = source_layers
            .iter()
            .map(|l| source.layer_compression(l).map(|from| (from, c.target(desired, from))))
            .map(|p| p.filter(|(from, to)| from != to))
            .collect();
        let recompressing = recompress.iter().any(Option::is_some);
        // The manifest type to write: as asked, or what the destination takes
        // (OCI when zstd layers cannot be described otherwise).
        let mut target = match self.format {
            Some(f) => f,
            None if dest.accepts(kind) => kind,
            None => ManifestKind::OciManifest,
        };
        if target == ManifestKind::DockerV2S2
            && recompress.iter().any(|r| matches!(r, Some((_, Compression::Zstd))))
            && self.format.is_none()
        {
            target = ManifestKind::OciManifest;
        }
        if (target != kind || recompressing) && self.preserve_digests {
            return Err(Error::invalid(format!(
                "--preserve-digests: writing {} as {}{} would change its digest",
                kind.media_type(),
                target.media_type(),
                if recompressing { " with recompressed layers" } else { "" }
            )));
        }
        if (target != kind || recompressing) && !signatures.is_empty() {
            return Err(would_invalidate_signatures(&match recompressing {
                true => "recompressing the layers".to_owned(),
                false => format!("converting {} to {}", kind.media_type(), target.media_type()),
            }));
        }
        // A registry that already holds this very manifest there has its blobs too.
        if target == kind && !recompressing && signatures.is_empty() {
            let digest = manifest::manifest_digest(bytes)?;
            if dest.holds_manifest(&digest, instance).await {
                self.io.note("Skipping: image already present at destination".to_owned());
                return Ok(Written { digest, size: bytes.len() as i64, kind });
            }
        }
        let converted = if target == kind {
            None
        } else {
            let Manifest::Image(image) = &m else {
                return Err(Error::unsupported(format!(
                    "cannot convert {} to {}",
                    kind.media_type(),
                    target.media_type()
                )));
            };
            Some(match target {
                ManifestKind::OciManifest => {
                    let config = source.small_blob(&image.config, manifest::MAX_MANIFEST_SIZE).await?;
                    convert::docker_to_oci(image, &config)?
                }
                ManifestKind::DockerV2S1Signed => {
                    if recompressing {
                        return Err(Error::unsupported("recompressing layers while writing schema 1 is not supported"));
                    }
                    let config = source.small_blob(&image.config, manifest::MAX_MANIFEST_SIZE).await?;
                    let (name, tag) = dest.schema1_name();
                    let time = jws::signing_time(self.io.now_ms());
                    to_schema1(image, &config, &name, &tag, &time)?
                }
                _ => convert::oci_to_docker(image)?,
            })
        };
        // The descriptors as they will be written (before recompression).
        let (written_layers, written_config) = match &converted {
            // Schema 1 names the same layer blobs, and no config.
            Some(c) if c.drops_config => (source_layers.clone(), None),
            Some(c) => match Manifest::parse(&c.manifest, Some(c.kind.media_type()))? {
                (_, Manifest::Image(i)) => (i.layers, Some(i.config)),
                _ => unreachable!("conversions produce image manifests"),
            },
            None => (source_layers.clone(), source_config.clone()),
        };
        if recompressing && written_config.is_none() {
            return Err(Error::unsupported("changing layer compression of a schema 1 image is not supported"));
        }
        // A re-encoded layer is checked against the config's diff IDs: the
        // uncompressed tar is what a runtime unpacks, and nothing else covers it.
        let diff_ids = match (&source_config, recompressing) {
            (Some(c), true) => config_diff_ids(&source.small_blob(c, manifest::MAX_MANIFEST_SIZE).await?),
            _ => Vec::new(),
        };
        let diff_ids = if diff_ids.len() == source_layers.len() { diff_ids } else { Vec::new() };

        // Copy each distinct layer (an image may repeat one), several at once.
        let mut order: Vec<usize> = Vec::new();
        for (i, l) in source_layers.iter().enumerate() {
            if !order.iter().any(|&j| source_layers[j].digest == l.digest) {
                order.push(i);
            }
        }
        let dest_ref: &ImageDestination = dest;
        // After a failure, layers not yet started are not started.
        let failed = std::cell::Cell::new(false);
        let work = order.iter().map(|&i| {
            let (l, written) = (&source_layers[i], &written_layers[i]);
            let (change, diff_id, failed) = (recompress[i], diff_ids.get(i), &failed);
            async move {
                if failed.get() {
                    return None;
                }
                let r = match change {
                    Some(change) => self.recompressed(source, dest_ref, l, change, diff_id, target).await,
                    None => self.blob(source, dest_ref, l, "blob").await.map(|()| written.clone()),
                };
                failed.set(failed.get() || r.is_err());
                Some(r)
            }
        });
        let mut done: Vec<(Digest, Descriptor)> = Vec::new();
        for (r, &i) in join_bounded(work.collect(), self.parallel).await.into_iter().zip(&order) {
            if let Some(r) = r {
                done.push((source_layers[i].digest.clone(), r?));
            }
        }
        for (d, bytes) in converted.iter().flat_map(|c| &c.extra_blobs) {
            dest_ref.put_blob_bytes(d, bytes).await?;
        }
        match (converted.as_ref().and_then(|c| c.config.as_ref()), &source_config) {
            _ if converted.as_ref().is_some_and(|c| c.drops_config) => {}
            (Some((d, bytes)), _) => {
                let outcome = dest_ref.put_blob_bytes(d, bytes).await?;
                self.note_blob("config", d, outcome);
            }
            (None, Some(c)) => self.blob(source, dest_ref, c, "config").await?,
            (None, None) => {}
        }
        let rewritten;
        let (bytes, kind) = if recompressing {
            let layers: Vec<Descriptor> = source_layers
                .iter()
                .map(|l| done.iter().find(|(d, _)| d == &l.digest).map(|(_, w)| w.clone()).expect("every layer copied"))
                .collect();
            let config = written_config.as_ref().expect("checked above");
            rewritten = convert::encode(target, config, &layers)?;
            (rewritten.as_slice(), target)
        } else {
            match &converted {
                Some(c) => (c.manifest.as_slice(), c.kind),
                None => (bytes, kind),
            }
        };
        self.io.note("Writing manifest to image destination".to_owned());
        let digest = manifest::manifest_digest(bytes)?;
        dest.put_manifest(bytes, kind, instance.then_some(&digest)).await?;
        if !signatures.is_empty() {
            self.io.note("Storing signatures".to_owned());
            dest.put_signatures(&signatures, &digest, instance).await?;
        }
        Ok(Written { digest, size: bytes.len() as i64, kind })
    }

    /// Copies layer `l` re-encoded `from` → `to`: fetched and verified into a
    /// scratch file, recompressed by the host into another (its uncompressed
    /// digest compared with the config's `diff_id`), then stored under its
    /// new digest. Returns the layer's new descriptor.
    async fn recompressed(
        &self,
        source: &ImageSource,
        dest: &ImageDestination,
        l: &Descriptor,
        (from, to): (Compression, Compression),
        diff_id: Option<&Digest>,
        kind: ManifestKind,
    ) -> Result<Descriptor> {
        let input = dest.scratch_path(&self.tmpdir, &format!("{}.in.skiff-tmp", l.digest.hex()));
        let output = dest.scratch_path(&self.tmpdir, &format!("{}.out.skiff-tmp", l.digest.hex()));
        source.pull_blob(l, BlobSink::File { path: input.clone() }).await?;
        let request = Request::Recompress {
            input: BlobSource::File { path: input.clone() },
            output: output.clone(),
            from: from.name().to_owned(),
            to: to.name().to_owned(),
            level: self.compression.level,
            algorithm: l.digest.algorithm(),
        };
        let recompressed = self.io.recompress(request).await;
        let _ = self.io.fs(Request::RemoveFile { path: input }).await;
        let r = recompressed.map_err(|e| {
            Error::new(crate::error::ErrorKind::Io, format!("recompressing layer {}: {}", l.digest, e.message))
        })?;
        let (digest, size) = (Digest::parse(&r.digest)?, r.size);
        if let Some(expected) = diff_id.filter(|d| d.to_string() != r.diff_id) {
            let _ = self.io.fs(Request::RemoveFile { path: output }).await;
            return Err(Error::integrity(format!(
                "layer {} uncompresses to {}, but the image config says {expected}",
                l.digest, r.diff_id
            )));
        }
        let written = Descriptor {
            media_type: to.media_type(kind)?.to_owned(),
            digest,
            size: size as i64,
            urls: None,
            // containers/image drops a re-encoded layer's annotations.
            annotations: None,
            platform: None,
        };
        let outcome = dest.put_file_blob(&written, output).await?;
        // Named by the source's digest, as skopeo names it.
        self.note_blob("blob", l, outcome);
        Ok(written)
    }

    async fn blob(&self, source: &ImageSource, dest: &ImageDestination, d: &Descriptor, what: &str) -> Result<()> {
        if !d.urls.as_ref().is_none_or(Vec::is_empty) {
            return Err(Error::unsupported(format!(
                "{what} {} is a foreign layer (urls); copying those is not supported",
                d.digest
            )));
        }
        let outcome = dest.put_blob(source, d).await?;
        self.note_blob(what, d, outcome);
        Ok(())
    }

    fn note_blob(&self, what: &str, d: &Descriptor, outcome: BlobPush) {
        let skipped = if outcome == BlobPush::Exists { " skipped: already exists" } else { "" };
        self.io.note(format!("Copying {what} {}{skipped}", d.digest));
    }
}
