//! Where images are written: a registry, an OCI layout, or a `dir:`
//! directory. Blobs stream into a temporary name and are renamed into place
//! only after their digest and size are checked; the manifest (and for a
//! layout, `index.json`) is written last, so an interrupted copy never leaves
//! something that looks complete.
//!
//! Each destination is a module with a type implementing [`Destination`]:
//! [`registry`], [`layout`] (`oci:` and `oci-archive:`), [`dir`], and
//! [`archive`] (`docker-archive:` and `docker-daemon:`), and [`storage`]
//! (`containers-storage:`). Storing blobs is
//! the [`BlobStore`] part of it, which a registry implements and the local
//! ones share (in [`local`]: each names a path per blob).
//! [`ImageDestination::open`] is the one place that picks among them.
//!
//! Dispatch is dynamic: [`ImageDestination`] boxes a `dyn Destination` and
//! derefs to it, so callers call the trait's methods on it unchanged and a
//! new destination is a new module plus one arm in `open`, not an arm in
//! every method. The async methods return a boxed [`LocalBoxFuture`], the
//! dyn-compatible form of an `async fn` (the core's executor is
//! single-threaded, so there is no `Send` bound); a box per call is nothing
//! beside the IO each call makes. Methods only some destinations need have
//! default bodies saying what the others do.

mod archive;
mod dir;
pub use dir::DIR_VERSION;
mod layout;
mod local;
mod registry;
#[cfg(feature = "storage-write")]
mod storage;

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;

use super::{ImageSource, SideOptions, fs_error};
use crate::compression::Desired;
use crate::digest::Digest;
use crate::engine::{BlobSink, BlobSource, Io, Transfer, Transferred};
use crate::error::{Error, Result};
use crate::manifest::Descriptor;
use crate::media_type::ManifestKind;
use crate::reference::{DaemonReference, ImageReference};
use crate::registry::BlobPush;
use crate::signature::Signature;

use archive::DockerArchiveDestination;
use dir::DirDestination;
use layout::LayoutDestination;
use registry::RegistryDestination;

/// A boxed future borrowing its destination, as a `dyn Destination` returns it.
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// How a destination stores blobs: a registry pushes them, the local
/// destinations share one way (in [`local`]).
pub trait BlobStore {
    /// Copies blob `d` from `source`.
    fn put_blob<'a>(&'a self, source: &'a ImageSource, d: &'a Descriptor) -> LocalBoxFuture<'a, Result<BlobPush>>;

    /// Stores bytes the core made (a converted config) as blob `d`.
    fn put_blob_bytes<'a>(&'a self, d: &'a Descriptor, bytes: &'a [u8]) -> LocalBoxFuture<'a, Result<BlobPush>>;

    /// A scratch file `name`: next to the blobs for a local destination (so a
    /// rename commits it), in `tmpdir` for a registry.
    fn scratch_path(&self, tmpdir: &str, name: &str) -> String;

    /// Stores the finished local file `path` (already hashed) as blob `d`.
    fn put_file_blob<'a>(&'a self, d: &'a Descriptor, path: String) -> LocalBoxFuture<'a, Result<BlobPush>>;
}

/// What the copier asks of a destination.
pub trait Destination: BlobStore + std::fmt::Debug {
    /// The `name` and `tag` a schema 1 manifest written here carries: the
    /// repository and tag of a registry destination, else empty.
    fn schema1_name(&self) -> (String, String) {
        (String::new(), String::new())
    }

    /// Whether manifests of `kind` can be stored here as they are.
    fn accepts(&self, _kind: ManifestKind) -> bool {
        true
    }

    /// What this destination wants done to layers: registries and OCI
    /// layouts compress plain tars (a layout keeps them with
    /// `--dest-oci-accept-uncompressed-layers`), `docker save` archives hold
    /// plain tars, `dir:` keeps what comes.
    fn desired_compression(&self, oci_accept_uncompressed: bool) -> Desired;

    /// `--additional-tag`: more names for a docker-archive's image.
    fn add_tags(&mut self, extra: &[String]) -> Result<()> {
        if extra.is_empty() {
            return Ok(());
        }
        Err(Error::invalid("--additional-tag applies to docker-archive: destinations only"))
    }

    /// Makes the destination ready; refuses to wipe a directory that is not an image.
    fn prepare(&mut self) -> LocalBoxFuture<'_, Result<()>>;

    /// Whether the destination already holds manifest `digest` where it would
    /// be written (a registry's tag or digest; an `instance` by its digest),
    /// so the copy of that image can be skipped: a registry, and a `dir:`
    /// image already in place, say; the others never hold one.
    fn holds_manifest<'a>(&'a self, _digest: &'a Digest, _instance: bool) -> LocalBoxFuture<'a, bool> {
        Box::pin(async { false })
    }

    /// Writes a manifest: an instance of a list (by digest), or the image's
    /// top-level manifest.
    fn put_manifest<'a>(
        &'a mut self,
        bytes: &'a [u8],
        kind: ManifestKind,
        instance: Option<&'a Digest>,
    ) -> LocalBoxFuture<'a, Result<()>>;

    /// Whether `signatures` can be stored here (containers/image's wording when not).
    fn signature_support(&self, signatures: &[Signature]) -> Result<()>;

    /// Stores the signatures of the image whose manifest `manifest` was just
    /// written (an `instance` of a list, or the image); see
    /// [`Destination::signature_support`], whose refusal is all a destination
    /// that stores none returns.
    fn put_signatures<'a>(
        &'a self,
        signatures: &'a [Signature],
        _manifest: &'a Digest,
        _instance: bool,
    ) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move { self.signature_support(signatures) })
    }

    /// Finishes the image: for a layout, names it in `index.json`; for an
    /// archive, then packs the layout and renames the archive into place.
    fn commit(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// An opened destination of any supported transport; the [`Destination`]
/// methods are called through it.
#[derive(Debug)]
pub struct ImageDestination(Box<dyn Destination>);

impl ImageDestination {
    /// Opens `image` with one side's options; `tmpdir` is the run's scratch space.
    pub fn open(io: &Io, image: &ImageReference, side: &SideOptions, tmpdir: &str) -> Result<Self> {
        Ok(ImageDestination(match image {
            ImageReference::Docker(r) => Box::new(RegistryDestination::new(io, r, side)?),
            ImageReference::Oci(l) => Box::new(LayoutDestination::new(io, l, side.shared_blob_dir.clone())),
            ImageReference::OciArchive(l) => Box::new(LayoutDestination::archive(io, l, tmpdir)),
            ImageReference::Dir { path } => Box::new(DirDestination::new(io, path)),
            ImageReference::DockerArchive { path, selector } => {
                Box::new(DockerArchiveDestination::archive(io, path, selector, tmpdir)?)
            }
            ImageReference::DockerDaemon(DaemonReference::Named(r)) => {
                Box::new(DockerArchiveDestination::daemon(io, r, side, tmpdir)?)
            }
            ImageReference::DockerDaemon(DaemonReference::Id(_)) => {
                return Err(Error::invalid("docker-daemon: a destination needs a name:tag, not an image ID"));
            }
            #[cfg(feature = "storage-write")]
            ImageReference::ContainersStorage(r) => {
                let store =
                    side.storage.clone().ok_or_else(|| Error::other("the containers-storage store was not found"))?;
                Box::new(storage::StorageDestination::new(io, store, r, side.pid, tmpdir)?)
            }
            ImageReference::Tarball { .. } => {
                return Err(Error::invalid(
                    r#"Unsupported: "tarball:" locations can only be read from, not written to"#,
                ));
            }
            #[cfg(not(feature = "storage-write"))]
            other => {
                return Err(Error::unsupported(format!(
                    "writing images to the {} transport is not supported by this version",
                    other.transport_name()
                )));
            }
        }))
    }
}

impl Deref for ImageDestination {
    type Target = dyn Destination;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl DerefMut for ImageDestination {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut *self.0
    }
}

/// Streams blob `d` from a local `source` (a file, or part of one) into `sink`, checking it.
pub(super) async fn copy_local_blob(io: &Io, d: &Descriptor, source: BlobSource, sink: BlobSink) -> Result<()> {
    let (digest, size) = copy_local_blob_measured(io, d, source, sink).await?;
    d.check_transfer(&digest, size)
}

/// The same, returning the digest and size that were read, unchecked.
pub(super) async fn copy_local_blob_measured(
    io: &Io,
    d: &Descriptor,
    source: BlobSource,
    sink: BlobSink,
) -> Result<(String, u64)> {
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
        Transferred::Moved { digest, size, .. } => Ok((digest, size)),
        Transferred::Refused(_) => Err(Error::other(format!("copying {path}: refused"))),
    }
}
