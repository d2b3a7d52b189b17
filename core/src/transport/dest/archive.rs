//! A `docker save` tarball destination, `docker-archive:`, and
//! `docker-daemon:`, which is such an archive loaded into the daemon.

use super::local::LocalBlobs;
use super::{Destination, LocalBoxFuture};
use crate::compression::Desired;
use crate::digest::Digest;
use crate::engine::{Io, Request};
use crate::error::{Error, Result};
use crate::files::{ArchiveOutput, archive_output};
use crate::manifest::{self, Manifest};
use crate::media_type::ManifestKind;
use crate::reference::{ArchiveSelector, DockerReference};
use crate::signature::Signature;
use crate::transport::daemon::Daemon;
use crate::transport::{SideOptions, docker_save, join};

/// containers/image's words for a docker-archive destination that has contents.
const EXISTING_ARCHIVE: &str = "docker-archive doesn't support modifying existing images";

/// A `docker save` tarball: uncompressed layers named by diff ID, the
/// config as `<hex>.json`, `manifest.json`; built in a staging directory
/// next to the archive, then packed and renamed into place.
#[derive(Debug)]
pub(super) struct DockerArchiveDestination {
    io: Io,
    staging: String,
    archive: String,
    /// `RepoTags`: the reference's name and any `--additional-tag`.
    tags: Vec<String>,
    /// Config and layer digests, from the manifest written.
    image: Option<(Digest, Vec<Digest>)>,
    /// For `docker-daemon:`: the daemon the finished archive is loaded into.
    load_into: Option<Daemon>,
}

impl DockerArchiveDestination {
    /// `docker-archive:path[:name:tag]`.
    pub(super) fn archive(io: &Io, path: &str, selector: &ArchiveSelector, tmpdir: &str) -> Result<Self> {
        let tags = match selector {
            ArchiveSelector::Named(r) => vec![r.to_string()],
            ArchiveSelector::Only => vec![],
            ArchiveSelector::Index(_) => {
                return Err(Error::invalid("docker-archive: a destination takes a name (path:name:tag), not @index"));
            }
        };
        Ok(DockerArchiveDestination {
            io: io.clone(),
            staging: join(tmpdir, "docker-archive-dest.d"),
            archive: path.to_owned(),
            tags,
            image: None,
            load_into: None,
        })
    }

    /// `docker-daemon:name:tag`: an archive in the scratch space, loaded on commit.
    pub(super) fn daemon(io: &Io, r: &DockerReference, side: &SideOptions, tmpdir: &str) -> Result<Self> {
        Ok(DockerArchiveDestination {
            io: io.clone(),
            staging: join(tmpdir, "daemon-dest.d"),
            archive: join(tmpdir, "daemon-dest.tar"),
            tags: vec![r.to_string()],
            image: None,
            load_into: Some(Daemon::parse(side.daemon_host.as_deref())?),
        })
    }
}

impl LocalBlobs for DockerArchiveDestination {
    fn io(&self) -> &Io {
        &self.io
    }

    /// Named `.tar`/`.json` on commit, once the manifest tells which is which.
    fn blob_path(&self, d: &Digest) -> String {
        join(&self.staging, d.hex())
    }
}

impl Destination for DockerArchiveDestination {
    fn accepts(&self, kind: ManifestKind) -> bool {
        kind == ManifestKind::DockerV2S2
    }

    fn desired_compression(&self, _oci_accept_uncompressed: bool) -> Desired {
        Desired::Decompress
    }

    fn add_tags(&mut self, extra: &[String]) -> Result<()> {
        for t in extra {
            let r = DockerReference::parse_normalized(t).map_err(|e| e.context("--additional-tag"))?;
            if r.digest.is_some() {
                return Err(Error::invalid(format!("--additional-tag {t:?}: a digest is not a tag")));
            }
            self.tags.push(r.with_default_tag().to_string());
        }
        Ok(())
    }

    fn prepare(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let DockerArchiveDestination { io, staging, archive, load_into, .. } = self;
            if load_into.is_none() {
                // Refused before anything is copied, as skopeo refuses it.
                archive_output(io, archive, Some(EXISTING_ARCHIVE)).await?;
            }
            super::local::fresh_dir(io, staging).await
        })
    }

    /// Only notes the config and layers; `manifest.json` is written on commit.
    fn put_manifest<'a>(
        &'a mut self,
        bytes: &'a [u8],
        kind: ManifestKind,
        instance: Option<&'a Digest>,
    ) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            // Refused as elsewhere when a schema 1 manifest's signature is unreadable.
            manifest::manifest_digest(bytes)?;
            if instance.is_some() {
                return Err(Error::unsupported("a docker-archive holds one image, not a manifest list"));
            }
            let Manifest::Image(m) = Manifest::parse(bytes, Some(kind.media_type()))?.1 else {
                return Err(Error::unsupported("a docker-archive holds an image manifest"));
            };
            self.image = Some((m.config.digest, m.layers.into_iter().map(|l| l.digest).collect()));
            Ok(())
        })
    }

    /// docker-daemon: too (an archive loaded into the daemon).
    fn signature_support(&self, _signatures: &[Signature]) -> Result<()> {
        Err(Error::unsupported("Storing signatures for docker tar files is not supported"))
    }

    /// Packs the staging directory into the archive; for `docker-daemon:`,
    /// then loads it into the daemon and removes it.
    fn commit(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let DockerArchiveDestination { io, staging, archive, tags, image: Some((config, layers)), load_into } =
                self
            else {
                return Ok(());
            };
            let output = match load_into {
                Some(_) => ArchiveOutput::Atomic,
                None => archive_output(io, archive, Some(EXISTING_ARCHIVE)).await?,
            };
            docker_save::write(io, staging, archive, output, tags, config, layers).await?;
            if let Some(daemon) = load_into {
                let loaded = daemon.load(io, archive).await;
                let _ = io.fs(Request::RemoveFile { path: archive.clone() }).await;
                loaded?;
            }
            Ok(())
        })
    }
}
