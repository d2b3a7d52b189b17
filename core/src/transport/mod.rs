//! Where images are read from. Each transport turns "the manifest" and "this
//! blob" into requests for the host; the callers never see paths or URLs.

mod daemon;
mod dest;
mod dir;
mod docker_archive;
mod docker_save;
mod oci_layout;
mod registry;
mod storage;
mod tar_members;
pub mod tar_write;
mod tarball;

pub use dest::{BlobStore, DIR_VERSION, Destination, ImageDestination, LocalBoxFuture};
pub use dir::DirSource;
pub use docker_archive::{DockerArchiveSource, repo_tags as docker_archive_tags};
pub use oci_layout::{LayoutSource, select as select_layout_entry};
pub use registry::RegistrySource;
pub use storage::StorageSource;
pub use tarball::TarballSource;

use crate::compression::Compression;
use crate::digest::Digest;
use serde::Deserialize;

use crate::config::registries_conf::RegistriesConf;
use crate::config::registries_d::RegistriesD;
use crate::config::{Environment, auth_files, certs_d};

use crate::engine::Io;
use crate::error::{Error, Result};
pub(crate) use crate::files::{file_error, fs_error, join, read_local, write_atomically};
use crate::manifest::Descriptor;
use crate::reference::{ArchiveSelector, DockerReference, ImageReference};
use crate::registry::{RegistryOptions, auth};
use crate::signature::Signature;

/// How to reach one image: a copy's source or destination, or what
/// `inspect` reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideOptions {
    #[serde(default)]
    pub registry: RegistryOptions,
    #[serde(default)]
    pub shared_blob_dir: Option<String>,
    /// `--*-daemon-host` or `DOCKER_HOST` (docker-daemon: only).
    #[serde(default)]
    pub daemon_host: Option<String>,
    /// Where registries keep signatures (found by [`SideOptions::resolve`]).
    #[serde(skip)]
    pub registries_d: RegistriesD,
    /// Where a registry image is read from, in order (registries.conf
    /// mirrors, then its location), each with its own access; found by
    /// [`SideOptions::resolve`].
    #[serde(skip)]
    pub pull_sources: Vec<(DockerReference, RegistryOptions)>,
    /// The containers-storage store a `containers-storage:` image is in
    /// (found by [`SideOptions::resolve`]).
    #[serde(skip)]
    pub storage: Option<crate::storage::location::Store>,
    /// This process's ID (a containers-storage writer's temporary names
    /// and lock tokens carry it).
    #[serde(skip)]
    pub pid: u32,
    /// This machine's platform (a `tarball:` image is made for it).
    #[serde(skip)]
    pub host_platform: crate::platform::WantedPlatform,
    /// Set once the fields above were found for the image (a sync finds
    /// them once per repository, not once per image).
    #[serde(skip)]
    pub resolved: bool,
}

impl SideOptions {
    /// Finds, from the environment, the configuration this side needs to
    /// reach `image`: the auth files and TLS settings of a registry,
    /// `DOCKER_HOST` for a daemon. (`copy` also finds registries.d.)
    /// The same access for another image of the repository it was resolved
    /// for (and of the same kind, tag or digest, which mirrors tell apart):
    /// the places to read from, named with `image`'s tag or digest.
    pub fn retarget(&mut self, image: &ImageReference) {
        let ImageReference::Docker(d) = image else { return };
        for (source, _) in &mut self.pull_sources {
            source.tag = d.tag.clone();
            source.digest = d.digest.clone();
        }
    }

    pub async fn resolve(&mut self, io: &Io, env: &Environment, image: &ImageReference) -> Result<()> {
        match image {
            ImageReference::Docker(r) => {
                let conf = RegistriesConf::read(io, env, self.registry.registries_conf.as_deref()).await?;
                let pull_sources = conf.pull_sources(r)?;
                let unresolved = self.registry.clone();
                let insecure = conf.check(r)?;
                let helpers = conf.credential_helpers();
                resolve_access(io, env, &mut self.registry, (&r.registry, &r.repository), insecure, &helpers).await?;
                let mut sources = Vec::new();
                for source in pull_sources {
                    let insecure = source.insecure || conf.check(&source.reference)?;
                    let same = source.reference.name() == r.name() && insecure == conf.check(r)?;
                    // The image's own place is resolved once (a credential helper asked once).
                    let opts = if same {
                        self.registry.clone()
                    } else {
                        let mut opts = unresolved.clone();
                        let (registry, repository) = (&source.reference.registry, &source.reference.repository);
                        resolve_access(io, env, &mut opts, (registry, repository), insecure, &helpers).await?;
                        opts
                    };
                    sources.push((source.reference, opts));
                }
                self.pull_sources = sources;
            }
            ImageReference::DockerDaemon(_) if self.daemon_host.is_none() => {
                self.daemon_host = env.var("DOCKER_HOST").map(str::to_owned);
            }
            ImageReference::ContainersStorage(r) => {
                self.storage = Some(crate::storage::location::find(io, env, r).await?);
                self.pid = env.pid;
            }
            ImageReference::Tarball { .. } => self.host_platform = env.platform.clone(),
            _ => {}
        }
        Ok(())
    }
}

/// Finds what reaching `registry`/`repository` takes: whether
/// registries.conf blocks it or marks it insecure, its credentials and its
/// TLS settings (see [`resolve_access`]).
pub async fn resolve_registry(
    io: &Io,
    env: &Environment,
    reg: &mut RegistryOptions,
    registry: &str,
    repository: &str,
) -> Result<()> {
    let conf = RegistriesConf::read(io, env, reg.registries_conf.as_deref()).await?;
    let image =
        DockerReference { registry: registry.to_owned(), repository: repository.to_owned(), tag: None, digest: None };
    let insecure = conf.check(&image)?;
    resolve_access(io, env, reg, (registry, repository), insecure, &conf.credential_helpers()).await
}

/// Finds the credentials for `registry`/`repository` (unless given or
/// refused: the auth file chain, and the credential helper it may name) and
/// the TLS settings for `registry` (named as references name it,
/// `docker.io`, as containers/image looks certs.d up); `insecure` (from
/// registries.conf) skips TLS checks unless `--tls-verify` says otherwise.
/// Credentials are looked for with each of `helpers` in turn (registries.conf's
/// `credential-helpers`; `--authfile` means that file alone, as in containers/image).
async fn resolve_access(
    io: &Io,
    env: &Environment,
    reg: &mut RegistryOptions,
    (registry, repository): (&str, &str),
    insecure: bool,
    helpers: &[String],
) -> Result<()> {
    if insecure && reg.tls_verify.is_none() {
        reg.tls_verify = Some(false);
    }
    // Independent lookups: their requests go out in the same rounds.
    let (found, tls) = crate::engine::join(
        find_credentials(io, env, reg, (registry, repository), helpers),
        certs_d::tls_for(io, env, reg.cert_dir.as_deref(), reg.tls_verify, registry),
    )
    .await;
    match found? {
        Some(auth::Source::Entry(c)) => reg.credentials = Some(c),
        Some(auth::Source::RegistryToken(t)) => reg.registry_token = Some(t),
        Some(auth::Source::IdentityToken(t)) => reg.identity_token = Some(t),
        Some(auth::Source::Helper(_)) | None => {}
    }
    reg.tls = tls?;
    if let Some(path) = reg.tls_details.clone() {
        crate::config::tls_details::apply(io, &path, &mut reg.tls).await?;
    }
    reg.proxy = crate::config::proxy::ProxyConfig::from_env(env);
    Ok(())
}

/// The first credentials `helpers` hold for `registry`/`repository`, unless
/// `reg` has some or refuses them (a helper an auth file names is asked
/// here, so the answer is never [`auth::Source::Helper`]).
async fn find_credentials(
    io: &Io,
    env: &Environment,
    reg: &RegistryOptions,
    (registry, repository): (&str, &str),
    helpers: &[String],
) -> Result<Option<auth::Source>> {
    if reg.no_creds || reg.credentials.is_some() || reg.registry_token.is_some() {
        return Ok(None);
    }
    let only_files = [crate::config::registries_conf::AUTH_FILES.to_owned()];
    let helpers = if reg.authfile.is_some() { &only_files[..] } else { helpers };
    for helper in helpers {
        if helper != crate::config::registries_conf::AUTH_FILES {
            if let Some(c) = auth::helper::get(io, helper, registry).await? {
                return Ok(Some(auth::Source::Entry(c)));
            }
            continue;
        }
        let files = auth_files::read(io, env, reg.authfile.as_deref()).await?;
        match auth::lookup(&files, registry, repository)? {
            Some(auth::Source::Helper(name)) => {
                return Ok(auth::helper::get(io, &name, registry).await?.map(auth::Source::Entry));
            }
            None => continue,
            found => return Ok(found),
        }
    }
    Ok(None)
}

/// A readable image of any supported transport.
#[derive(Debug)]
pub enum ImageSource {
    Registry(Box<RegistrySource>),
    Layout(LayoutSource),
    Dir(DirSource),
    DockerArchive(DockerArchiveSource),
    Storage(StorageSource),
    Tarball(TarballSource),
}

impl ImageSource {
    /// Opens `image` with one side's options; `tmpdir` is the run's scratch space.
    pub fn open(io: &Io, image: &ImageReference, side: &SideOptions, tmpdir: &str) -> Result<Self> {
        match image {
            ImageReference::Docker(r) => {
                let lookaside = crate::registry::lookaside::for_image(&side.registries_d, r, false)?;
                let attachments = crate::registry::lookaside::uses_sigstore_attachments(&side.registries_d, r)?;
                let sources = match side.pull_sources.is_empty() {
                    true => vec![(r.clone(), side.registry.clone())],
                    false => side.pull_sources.clone(),
                };
                Ok(ImageSource::Registry(Box::new(RegistrySource::new(io, sources, lookaside, attachments)?)))
            }
            ImageReference::Oci(l) => {
                Ok(ImageSource::Layout(LayoutSource::new(io, l.clone(), side.shared_blob_dir.clone())))
            }
            ImageReference::OciArchive(l) => Ok(ImageSource::Layout(LayoutSource::archive(io, l.clone()))),
            ImageReference::Dir { path } => Ok(ImageSource::Dir(DirSource::new(io, path.clone()))),
            ImageReference::DockerArchive { path, selector } => {
                Ok(ImageSource::DockerArchive(DockerArchiveSource::new(io, path, selector.clone(), tmpdir)))
            }
            ImageReference::DockerDaemon(r) => {
                // The daemon's `docker save` of the one image asked for, read as an archive.
                let daemon = daemon::Daemon::parse(side.daemon_host.as_deref())?;
                let path = join(tmpdir, "daemon-source.tar");
                let s = DockerArchiveSource::new(io, &path, ArchiveSelector::Only, tmpdir);
                Ok(ImageSource::DockerArchive(s.saved_by(daemon, r.clone())))
            }
            ImageReference::ContainersStorage(r) => {
                let store = side.storage.clone().ok_or_else(|| Error::other("the store was not located"))?;
                let run = r.run_root.as_deref().map(|run| format!("+{run}")).unwrap_or_default();
                let shown = format!("[{}@{}{run}]{}", store.driver, store.graph_root, r.text);
                Ok(ImageSource::Storage(StorageSource::new(io, store, r.clone(), shown, tmpdir)))
            }
            ImageReference::Tarball { paths } => {
                Ok(ImageSource::Tarball(TarballSource::new(io, paths.clone(), side.host_platform.clone(), tmpdir)))
            }
        }
    }

    /// The top-level manifest (`instance` None) or one instance of a list,
    /// with its media type when the transport knows it.
    pub async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, Option<String>)> {
        match self {
            ImageSource::Registry(s) => s.manifest(instance).await,
            ImageSource::Layout(s) => s.manifest(instance).await,
            ImageSource::Dir(s) => s.manifest(instance).await,
            ImageSource::DockerArchive(s) => s.manifest(instance).await,
            ImageSource::Storage(s) => s.manifest(instance).await,
            ImageSource::Tarball(s) => s.manifest(instance).await,
        }
    }

    /// The source as a copy reads it: a containers-storage image offers its
    /// layers as the uncompressed tars it holds (the others are unchanged).
    pub fn for_copy(self) -> Self {
        match self {
            ImageSource::Storage(s) => ImageSource::Storage(s.for_copy()),
            other => other,
        }
    }

    /// A small blob (an image config), verified against its descriptor.
    pub async fn small_blob(&self, d: &Descriptor, max: u64) -> Result<Vec<u8>> {
        if d.size > max as i64 {
            return Err(Error::integrity(format!(
                "blob {} declares {} bytes, more than the {max} allowed",
                d.digest, d.size
            )));
        }
        let bytes = match self {
            ImageSource::Registry(s) => s.blob(&d.digest, max).await?,
            ImageSource::Layout(s) => s.blob(&d.digest, max).await?,
            ImageSource::Dir(s) => s.blob(&d.digest, max).await?,
            ImageSource::DockerArchive(s) => s.blob(&d.digest, max).await?,
            ImageSource::Storage(s) => s.blob(&d.digest, max).await?,
            ImageSource::Tarball(s) => s.blob(&d.digest, max).await?,
        };
        d.digest.verify(&bytes, &format!("blob {}", d.digest))?;
        if d.size >= 0 && bytes.len() as i64 != d.size {
            return Err(Error::integrity(format!("blob {} is {} bytes, expected {}", d.digest, bytes.len(), d.size)));
        }
        Ok(bytes)
    }

    /// Where a local blob's bytes are, for a transfer; None for a registry,
    /// whose blobs are pulled with [`ImageSource::pull_blob`].
    pub async fn local_blob(&self, d: &Digest) -> Result<Option<crate::engine::BlobSource>> {
        Ok(match self {
            ImageSource::Registry(_) => None,
            ImageSource::Layout(s) => Some(s.blob_source(d).await?),
            ImageSource::Dir(s) => Some(crate::engine::BlobSource::File { path: s.blob_path(d) }),
            ImageSource::DockerArchive(s) => Some(s.blob_source(d).await?),
            ImageSource::Storage(s) => Some(s.blob_source(d).await?),
            ImageSource::Tarball(s) => Some(s.blob_source(d).await?),
        })
    }

    /// Streams blob `d` into `sink`, checking digest and size.
    pub async fn pull_blob(&self, d: &Descriptor, sink: crate::engine::BlobSink) -> Result<()> {
        match (self, self.local_blob(&d.digest).await?) {
            (ImageSource::Registry(s), _) => s.pull_blob(d, sink).await,
            (_, Some(source)) => dest::copy_local_blob(self.io(), d, source, sink).await,
            _ => unreachable!("every local source has a blob location"),
        }
    }

    /// The blob into `sink`, returning the digest and size that arrived,
    /// unchecked (the image proxy reports mismatches in skopeo's words).
    pub async fn pull_blob_measured(&self, d: &Descriptor, sink: crate::engine::BlobSink) -> Result<(String, u64)> {
        match (self, self.local_blob(&d.digest).await?) {
            (ImageSource::Registry(s), _) => s.pull_blob_measured(d, sink).await,
            (_, Some(source)) => dest::copy_local_blob_measured(self.io(), d, source, sink).await,
            _ => unreachable!("every local source has a blob location"),
        }
    }

    fn io(&self) -> &Io {
        match self {
            ImageSource::Registry(s) => s.io(),
            ImageSource::Layout(s) => &s.io,
            ImageSource::Dir(s) => &s.io,
            ImageSource::DockerArchive(s) => &s.io,
            ImageSource::Storage(s) => &s.io,
            ImageSource::Tarball(s) => &s.io,
        }
    }

    /// How layer `l` is really compressed (None for a media type that says
    /// nothing, whose layers are copied as they are).
    pub fn layer_compression(&self, l: &Descriptor) -> Option<Compression> {
        match self {
            // Plain tars (decompressed if need be), whatever the made-up manifest says.
            ImageSource::DockerArchive(_) | ImageSource::Storage(_) => Some(Compression::None),
            _ => Compression::of_media_type(&l.media_type),
        }
    }

    /// The signatures stored with the image or one instance of a list
    /// (`manifest` is the digest of the image's manifest): `dir:` keeps them
    /// beside it, a registry in its lookaside storage; other transports have none.
    pub async fn signatures(&self, instance: Option<&Digest>, manifest: &Digest) -> Result<Vec<Signature>> {
        match self {
            ImageSource::Dir(s) => s.signatures(instance).await,
            ImageSource::Registry(s) => s.signatures(manifest).await,
            _ => Ok(Vec::new()),
        }
    }

    /// Tags of the image's repository, for transports that have them.
    pub async fn repository_tags(&self) -> Option<Result<Vec<String>>> {
        match self {
            ImageSource::Registry(s) => Some(s.tags().await),
            _ => None,
        }
    }
}
