//! `copy`: policy first, then each blob streamed from source to destination
//! (several at once), each checked against its digest before it is
//! committed, then the manifest. Progress lines go to the host's stderr.

use crate::digest::Digest;
use crate::engine::{Io, Request, join_all};
use crate::error::{Error, Result};
use crate::job::CopyJob;
use crate::manifest::{self, Descriptor, Manifest, convert};
use crate::media_type::ManifestKind;
use crate::policy;
use crate::reference::ImageReference;
use crate::registry::BlobPush;
use crate::transport::{ImageDestination, ImageSource};

/// Blobs copied at once within one image (skopeo's default).
pub const DEFAULT_PARALLEL: usize = 6;

/// Which images of a multi-platform source are copied (`--multi-arch`, `--all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiArch {
    /// The instance for this platform only.
    System,
    /// The index and every instance.
    All,
}

pub async fn run(io: Io, job: CopyJob) -> Result<Vec<u8>> {
    let src_ref = ImageReference::parse(&job.source)?;
    let dst_ref = ImageReference::parse(&job.destination)?;
    let mode = match (job.all, job.multi_arch.as_deref()) {
        (true, Some(_)) => return Err(Error::invalid("--all and --multi-arch cannot be used together")),
        (true, None) | (false, Some("all")) => MultiArch::All,
        (false, None | Some("system")) => MultiArch::System,
        (false, Some(other)) => {
            return Err(Error::unsupported(format!("--multi-arch {other:?}: use \"system\" or \"all\"")));
        }
    };
    policy::check(&job.policy, &src_ref, &job.source)?;

    let source = ImageSource::open(&io, &src_ref, &job.src.registry, job.src.shared_blob_dir.as_deref())?;
    let mut dest = ImageDestination::open(&io, &dst_ref, &job.dest.registry, job.dest.shared_blob_dir.as_deref())?;
    let parallel = job.image_parallel_copies.filter(|&n| n > 0).unwrap_or(DEFAULT_PARALLEL);
    let format = match job.format.as_deref() {
        None => None,
        Some("oci") => Some(ManifestKind::OciManifest),
        Some("v2s2") => Some(ManifestKind::DockerV2S2),
        Some("v2s1") => return Err(Error::unsupported("--format v2s1: writing schema 1 manifests is not supported")),
        Some(other) => return Err(Error::invalid(format!("unknown --format {other:?}: use oci, v2s2 or v2s1"))),
    };
    let copier = Copier { io: &io, parallel, format, preserve_digests: job.preserve_digests };

    io.note("Getting image source signatures".to_owned());
    let (top, top_type) = source.manifest(None).await?;
    let (top_kind, top_manifest) = Manifest::parse(&top, top_type.as_deref())?;
    dest.prepare().await?;
    let written = match (top_manifest, mode) {
        (Manifest::List(list), MultiArch::All) => {
            if !dest.accepts(top_kind) || copier.format.is_some() {
                return Err(Error::unsupported(format!(
                    "copying every image of a {} with manifest conversion is not supported; copy one platform, or to a destination that takes it as it is",
                    top_kind.media_type()
                )));
            }
            for d in &list.manifests {
                let (bytes, _) = source.manifest(Some(&d.digest)).await?;
                copier.image(&source, &mut dest, &bytes, Some(&d.media_type), Some(&d.digest)).await?;
            }
            io.note("Writing manifest list to image destination".to_owned());
            dest.put_manifest(&top, top_kind, None).await?;
            manifest::manifest_digest(&top)?
        }
        (Manifest::List(list), MultiArch::System) => {
            let d = list.choose(&job.platform)?;
            let (bytes, _) = source.manifest(Some(&d.digest)).await?;
            copier.image(&source, &mut dest, &bytes, Some(&d.media_type), None).await?
        }
        _ => copier.image(&source, &mut dest, &top, top_type.as_deref(), None).await?,
    };
    dest.commit().await?;
    if let Some(path) = job.digestfile {
        io.fs(Request::WriteFile { path: path.clone(), data: written.to_string().into_bytes() }).await.map_err(
            |e| Error::new(crate::error::ErrorKind::Io, format!("writing digest file {path}: {}", e.message)),
        )?;
    }
    Ok(Vec::new())
}

struct Copier<'a> {
    io: &'a Io,
    parallel: usize,
    /// `--format`: the manifest type to write.
    format: Option<ManifestKind>,
    preserve_digests: bool,
}

impl Copier<'_> {
    /// Copies one image's blobs and writes its manifest; returns its digest.
    async fn image(
        &self,
        source: &ImageSource,
        dest: &mut ImageDestination,
        bytes: &[u8],
        media_type: Option<&str>,
        instance: Option<&Digest>,
    ) -> Result<Digest> {
        let (kind, m) = Manifest::parse(bytes, media_type)?;
        // The manifest type to write: as asked, or what the destination takes.
        let target = match self.format {
            Some(f) => f,
            None if dest.accepts(kind) => kind,
            None => ManifestKind::OciManifest,
        };
        let converted = if target == kind {
            None
        } else {
            if self.preserve_digests {
                return Err(Error::invalid(format!(
                    "--preserve-digests: writing {} as {} would change its digest",
                    kind.media_type(),
                    target.media_type()
                )));
            }
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
                _ => convert::oci_to_docker(image)?,
            })
        };
        let (layers, config) = match &m {
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
        // Distinct layers only (an image may repeat one).
        let mut unique: Vec<Descriptor> = Vec::new();
        for l in layers {
            if !unique.iter().any(|u| u.digest == l.digest) {
                unique.push(l);
            }
        }
        let dest_ref: &ImageDestination = dest;
        for batch in unique.chunks(self.parallel) {
            let results = join_all(batch.iter().map(|l| self.blob(source, dest_ref, l, "blob")).collect()).await;
            results.into_iter().collect::<Result<Vec<()>>>()?;
        }
        match (converted.as_ref().and_then(|c| c.config.as_ref()), &config) {
            (Some((d, bytes)), _) => {
                let outcome = dest_ref.put_blob_bytes(d, bytes).await?;
                self.note_blob("config", d, outcome);
            }
            (None, Some(c)) => self.blob(source, dest_ref, c, "config").await?,
            (None, None) => {}
        }
        let (bytes, kind) = match &converted {
            Some(c) => (c.manifest.as_slice(), c.kind),
            None => (bytes, kind),
        };
        self.io.note("Writing manifest to image destination".to_owned());
        dest.put_manifest(bytes, kind, instance).await?;
        manifest::manifest_digest(bytes)
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
