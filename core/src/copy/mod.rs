//! `copy`: policy first, then each blob streamed from source to destination
//! (several at once), each checked against its digest before it is
//! committed, then the manifest. Progress lines go to the host's stderr.

use crate::digest::Digest;
use crate::engine::{Io, Request, join_all};
use crate::error::{Error, Result};
use crate::job::CopyJob;
use crate::manifest::{self, Descriptor, Manifest};
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

    let mut source = ImageSource::open(&io, &src_ref, &job.src.registry, job.src.shared_blob_dir.as_deref())?;
    let mut dest = ImageDestination::open(&io, &dst_ref, &job.dest.registry, job.dest.shared_blob_dir.as_deref())?;
    let parallel = job.image_parallel_copies.filter(|&n| n > 0).unwrap_or(DEFAULT_PARALLEL);
    let copier = Copier { io: &io, parallel };

    io.note("Getting image source signatures".to_owned());
    let (top, top_type) = source.manifest(None).await?;
    let (top_kind, top_manifest) = Manifest::parse(&top, top_type.as_deref())?;
    dest.prepare().await?;
    let written = match (top_manifest, mode) {
        (Manifest::List(list), MultiArch::All) => {
            if !dest.accepts(top_kind) {
                return Err(needs_conversion(top_kind));
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

fn needs_conversion(kind: ManifestKind) -> Error {
    Error::unsupported(format!(
        "the destination stores OCI images only and the source is {}; manifest conversion is not part of this version",
        kind.media_type()
    ))
}

struct Copier<'a> {
    io: &'a Io,
    parallel: usize,
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
        if !dest.accepts(kind) {
            return Err(needs_conversion(kind));
        }
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
        if let Some(c) = &config {
            self.blob(source, dest_ref, c, "config").await?;
        }
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
        let skipped = if outcome == BlobPush::Exists { " skipped: already exists" } else { "" };
        self.io.note(format!("Copying {what} {}{skipped}", d.digest));
        Ok(())
    }
}
