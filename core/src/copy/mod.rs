//! `copy`: policy first, then each blob streamed from source to destination
//! (several at once), each checked against its digest before it is
//! committed, then the manifest. Progress lines go to the host's stderr.
//! This file picks the images (one, or a list and its instances);
//! `copier` copies one image, `compression` decides layer encodings and
//! `signatures` carries the source's signatures along.

use std::cell::Cell;

use crate::digest::Digest;
use crate::encryption::Crypto;
use crate::engine::{Io, Request};
use crate::error::{Error, Result};
use crate::manifest::list_convert::encode_list;
use crate::manifest::{self, Descriptor, Manifest};
use crate::media_type::ManifestKind;
use crate::platform::Platform;
use crate::policy;
use crate::reference::ImageReference;
use crate::transport::{ImageDestination, ImageSource, SideOptions};
use copier::Copier;

mod copier;
mod sign;
mod signatures;

pub use sign::{SignOptions, SignWith, Signers};

use crate::compression::CompressionFormat;
pub use crate::compression::{Compression, CompressionPolicy, Desired};
use crate::config::policy_file::{self, PolicyOptions};
use crate::config::{Environment, registries_d};
use crate::platform::WantedPlatform;
use serde::Deserialize;

/// `skopeo copy`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyJob {
    pub source: String,
    pub destination: String,
    #[serde(default)]
    pub src: SideOptions,
    #[serde(default)]
    pub dest: SideOptions,
    /// `--policy`, `--insecure-policy`.
    #[serde(default)]
    pub policy: PolicyOptions,
    /// `--registries.d`: where registries keep signatures.
    #[serde(default)]
    pub registries_d: Option<String>,
    /// `--override-os/-arch/-variant`.
    #[serde(default)]
    pub platform: WantedPlatform,
    /// `--all`
    #[serde(default)]
    pub all: bool,
    /// `--multi-arch system|all|index-only|OS/ARCH[/VARIANT],…`
    #[serde(default)]
    pub multi_arch: Option<MultiArch>,
    /// The platforms of `--multi-arch OS/ARCH,…`.
    #[serde(default)]
    pub multi_arch_platforms: Vec<String>,
    /// `--strip-removed-platforms` (upstream): the index written names only
    /// the instances copied.
    #[serde(default)]
    pub strip_removed_platforms: bool,
    /// `--image-parallel-copies`
    #[serde(default)]
    pub image_parallel_copies: Option<u32>,
    /// `--digestfile`: where to write the digest of the manifest written.
    #[serde(default)]
    pub digestfile: Option<String>,
    /// `-f/--format oci|v2s2|v2s1`: the manifest type to write.
    #[serde(default)]
    pub format: Option<ManifestFormat>,
    /// `--preserve-digests`: fail rather than change a digest.
    #[serde(default)]
    pub preserve_digests: bool,
    /// `--dest-compress-format gzip|zstd`
    #[serde(default)]
    pub dest_compress_format: Option<CompressionFormat>,
    /// `--dest-compress-level`
    #[serde(default)]
    pub dest_compress_level: Option<i32>,
    /// `--dest-compress` (dir: only)
    #[serde(default)]
    pub dest_compress: bool,
    /// `--dest-decompress` (dir: only)
    #[serde(default)]
    pub dest_decompress: bool,
    /// `--dest-force-compress-format`: every layer in `--dest-compress-format`,
    /// never one reused in another (skiff re-encodes before any existence check).
    #[serde(default)]
    pub dest_force_compress_format: bool,
    /// `--dest-oci-accept-uncompressed-layers`
    #[serde(default)]
    pub dest_oci_accept_uncompressed_layers: bool,
    /// `--remove-signatures`
    #[serde(default)]
    pub remove_signatures: bool,
    /// `--additional-tag` (docker-archive: only).
    #[serde(default)]
    pub additional_tags: Vec<String>,
    /// `--sign-by`, `--sign-by-sigstore-private-key`: sign the manifest written.
    #[serde(default)]
    pub signing: SignOptions,
    /// `--sign-identity`: the reference the signature claims (default: the destination's).
    #[serde(default)]
    pub sign_identity: Option<String>,
    /// `--encryption-key jwe:FILE`: a recipient of the layers' keys.
    #[serde(default)]
    pub encryption_keys: Vec<String>,
    /// `--encrypt-layer N` (0-based, negative from the end; none: all).
    #[serde(default)]
    pub encrypt_layers: Vec<i64>,
    /// `--decryption-key FILE[:PASSWORD]`.
    #[serde(default)]
    pub decryption_keys: Vec<String>,
}

/// Blobs copied at once within one image (skopeo's default).
pub const DEFAULT_PARALLEL: usize = 6;

/// `-f/--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ManifestFormat {
    Oci,
    V2s2,
    V2s1,
}

impl ManifestFormat {
    pub fn kind(self) -> ManifestKind {
        match self {
            ManifestFormat::Oci => ManifestKind::OciManifest,
            ManifestFormat::V2s2 => ManifestKind::DockerV2S2,
            ManifestFormat::V2s1 => ManifestKind::DockerV2S1Signed,
        }
    }
}

/// Which images of a multi-platform source are copied (`--multi-arch`, `--all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MultiArch {
    /// The instance for this platform only.
    System,
    /// The index and every instance.
    All,
    /// The index alone (its instances are expected at the destination already).
    IndexOnly,
    /// The index and the instances of the platforms listed (upstream's
    /// `--multi-arch linux/amd64,linux/arm64`): the index as it is, naming
    /// instances not copied (a sparse index), unless those are stripped.
    Platforms,
}

/// One platform of `--multi-arch OS/ARCH[/VARIANT],…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSpec {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl PlatformSpec {
    pub fn parse(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(PlatformSpec {
                os: (*os).to_owned(),
                architecture: (*arch).to_owned(),
                variant: parts.get(2).filter(|v| !v.is_empty()).map(|v| (*v).to_owned()),
            }),
            _ => Err(Error::invalid(format!("--multi-arch: {s:?} is not a platform (OS/ARCH or OS/ARCH/VARIANT)"))),
        }
    }

    /// Whether an instance for `p` is one of this platform's (any variant
    /// when none is named).
    pub fn matches(&self, p: Option<&Platform>) -> bool {
        p.is_some_and(|p| {
            p.os == self.os
                && p.architecture == self.architecture
                && self.variant.as_ref().is_none_or(|v| &p.variant == v)
        })
    }
}

/// What every image of a copy (or a sync) is copied with, checked once.
pub struct CopySettings {
    pub mode: MultiArch,
    /// The platforms `MultiArch::Platforms` copies, and whether the others
    /// leave the index written (`--strip-removed-platforms`).
    pub platforms: Vec<PlatformSpec>,
    pub strip_removed: bool,
    pub platform: WantedPlatform,
    pub parallel: usize,
    pub format: Option<ManifestKind>,
    pub preserve_digests: bool,
    pub compression: CompressionPolicy,
    pub remove_signatures: bool,
    pub additional_tags: Vec<String>,
    /// `--registries.d`.
    pub registries_d: Option<String>,
    /// `--encryption-key`, `--encrypt-layer`, `--decryption-key`.
    pub crypto: Crypto,
}

impl CopySettings {
    /// `--all` and `--multi-arch` as one choice.
    pub fn multi_arch(all: bool, multi_arch: Option<MultiArch>) -> Result<MultiArch> {
        match (all, multi_arch) {
            (true, Some(_)) => Err(Error::invalid("--all and --multi-arch cannot be used together")),
            (true, None) => Ok(MultiArch::All),
            (false, m) => Ok(m.unwrap_or(MultiArch::System)),
        }
    }

    /// `--image-parallel-copies`, 0 or unset meaning the default.
    pub fn parallel(n: Option<u32>) -> usize {
        n.filter(|&n| n > 0).map_or(DEFAULT_PARALLEL, |n| n as usize)
    }
}

pub async fn run(io: Io, job: CopyJob, env: Environment) -> Result<Vec<u8>> {
    let src_ref = ImageReference::parse(&job.source)?;
    let dst_ref = ImageReference::parse(&job.destination)?;
    let mode = CopySettings::multi_arch(job.all, job.multi_arch)?;
    let policy = policy_file::read(&io, &env, &job.policy).await?;
    let signed_by = policy::check(&policy, &src_ref, &job.source)?;
    let mut compression = CompressionPolicy::parse(
        job.dest_compress_format,
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
    let platforms = job.multi_arch_platforms.iter().map(|s| PlatformSpec::parse(s)).collect::<Result<Vec<_>>>()?;
    match (mode, platforms.is_empty(), job.strip_removed_platforms) {
        (MultiArch::Platforms, true, _) => return Err(Error::invalid("--multi-arch: no platforms listed")),
        (MultiArch::Platforms, false, _) | (_, true, false) => {}
        (_, _, true) => {
            return Err(Error::invalid("--strip-removed-platforms applies to --multi-arch with a list of platforms"));
        }
        (_, false, false) => return Err(Error::invalid("platforms are listed only with --multi-arch OS/ARCH,…")),
    }
    let crypto = Crypto::prepare(&io, &env, &job.encryption_keys, &job.encrypt_layers, &job.decryption_keys).await?;
    // containers/image: zstd:chunked's table of contents would reveal what
    // encryption hides, and ranges of an encrypted layer cannot be read.
    if crypto.encrypt.is_some() && compression.format == Some(Compression::ZstdChunked) {
        if job.dest_force_compress_format {
            return Err(Error::invalid(
                "explicitly requested to combine zstd:chunked with encryption, which is not beneficial; use plain zstd instead",
            ));
        }
        io.warn(
            "Compression using zstd:chunked is not beneficial for encrypted layers, using plain zstd instead"
                .to_owned(),
        );
        compression.format = Some(Compression::Zstd);
    }
    let settings = CopySettings {
        mode,
        platforms,
        strip_removed: job.strip_removed_platforms,
        platform: env.platform(&job.platform),
        parallel: CopySettings::parallel(job.image_parallel_copies),
        format: job.format.map(ManifestFormat::kind),
        preserve_digests: job.preserve_digests,
        compression,
        remove_signatures: job.remove_signatures,
        additional_tags: job.additional_tags,
        registries_d: job.registries_d,
        crypto,
    };
    // Refused before anything is copied (skopeo finds out after writing).
    let sign = match Signers::prepare(&io, &job.signing).await? {
        Some(signers) => Some(SignWith::new(&signers, job.sign_identity.as_deref(), &dst_ref, &job.destination)?),
        None => None,
    };
    let images = Images {
        source: &src_ref,
        destination: &dst_ref,
        destination_name: &job.destination,
        signed_by: &signed_by,
        sign: sign.as_ref(),
    };
    let written = copy_image(&io, &env, &settings, images, job.src, job.dest).await?.digest;
    if let Some(path) = job.digestfile {
        io.fs(Request::WriteFile { path: path.clone(), data: written.to_string().into_bytes() }).await.map_err(
            |e| Error::new(crate::error::ErrorKind::Io, format!("writing digest file {path}: {}", e.message)),
        )?;
    }
    Ok(Vec::new())
}

/// The two ends of one image copy.
#[derive(Clone, Copy)]
pub struct Images<'a> {
    pub source: &'a ImageReference,
    pub destination: &'a ImageReference,
    /// The destination as the user named it, for messages.
    pub destination_name: &'a str,
    /// What the policy requires of the source's signatures.
    pub signed_by: &'a [policy::SignatureRequirement],
    /// `--sign-by`: sign the manifest written.
    pub sign: Option<&'a SignWith>,
}

/// Finds what `side` needs to reach `image`: credentials, TLS, mirrors and
/// where its registry keeps signatures (`--registries.d`).
pub async fn resolve_side(
    io: &Io,
    env: &Environment,
    side: &mut SideOptions,
    image: &ImageReference,
    registries_d: Option<&str>,
) -> Result<()> {
    side.resolve(io, env, image).await?;
    if matches!(image, ImageReference::Docker(_)) {
        side.registries_d = registries_d::read(io, env, registries_d).await?;
    }
    side.resolved = true;
    Ok(())
}

/// What one image's copy came to.
#[derive(Debug, Clone)]
pub struct Copied {
    /// The digest of the manifest written (or found there).
    pub digest: Digest,
    /// Blob bytes sent to the destination.
    pub sent: u64,
    /// The destination held the image already: nothing was copied.
    pub present: bool,
}

/// Copies one image (or list) from `images.source` to `images.destination`
/// after the policy allowed it; returns the digest of the manifest written.
pub async fn copy_image(
    io: &Io,
    env: &Environment,
    settings: &CopySettings,
    images: Images<'_>,
    mut src: SideOptions,
    mut dst: SideOptions,
) -> Result<Copied> {
    let (src_ref, dst_ref) = (images.source, images.destination);
    let mode = settings.mode;
    let platform = &settings.platform;
    for (side, image) in [(&mut src, src_ref), (&mut dst, dst_ref)] {
        if !side.resolved {
            resolve_side(io, env, side, image, settings.registries_d.as_deref()).await?;
        }
    }

    let tmpdir = env.scratch_dir();
    let source = ImageSource::open(io, src_ref, &src, &tmpdir)?.for_copy();
    let mut dest = ImageDestination::open(io, dst_ref, &dst, &tmpdir)?;
    dest.add_tags(&settings.additional_tags)?;
    let copier = Copier {
        io,
        parallel: settings.parallel,
        format: settings.format,
        preserve_digests: settings.preserve_digests,
        compression: settings.compression,
        tmpdir,
        remove_signatures: settings.remove_signatures,
        destination: images.destination_name,
        sent: Cell::new(0),
        present: Cell::new(false),
        sign: images.sign,
        crypto: &settings.crypto,
    };

    let (top, top_type) = source.manifest(None).await?;
    if !images.signed_by.is_empty() {
        // Before any layer or config is read.
        let digest = manifest::manifest_digest(&top)?;
        let signatures = source.signatures(None, &digest).await.map_err(|e| e.context("reading signatures"))?;
        policy::verify_signatures(io, images.signed_by, src_ref, &top, &signatures).await?;
    }
    let (top_kind, top_manifest) = Manifest::parse(&top, top_type.as_deref())?;
    dest.prepare().await?;
    let written = match (top_manifest, mode) {
        (Manifest::List(list), MultiArch::All | MultiArch::IndexOnly | MultiArch::Platforms) => {
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
                // Every instance, or those of the platforms listed.
                let chosen = |d: &Descriptor| {
                    mode != MultiArch::Platforms || settings.platforms.iter().any(|p| p.matches(d.platform.as_ref()))
                };
                let count = list.manifests.iter().filter(|d| chosen(d)).count();
                if count == 0 {
                    return Err(Error::not_found("--multi-arch: no image in the list is for the platforms listed"));
                }
                io.note(format!("Copying {count} of {} images in list", list.manifests.len()));
                let mut instances = Vec::new();
                let mut copied = 0;
                for d in &list.manifests {
                    if !chosen(d) {
                        // Named as it is (a sparse index), unless stripped below.
                        instances.push(d.clone());
                        continue;
                    }
                    copied += 1;
                    io.note(format!("Copying image {} ({copied}/{count})", d.digest));
                    let (bytes, _) = source.manifest(Some(&d.digest)).await?;
                    let w =
                        copier.image(&source, &mut dest, &bytes, Some(&d.media_type), Some(&d.digest), true).await?;
                    let media_type = w.kind.media_type().to_owned();
                    instances.push(Descriptor { digest: w.digest, size: w.size, media_type, ..d.clone() });
                }
                // `--strip-removed-platforms`: the index names the instances copied only.
                let removed = settings.strip_removed && count < list.manifests.len();
                let kept;
                let (list, instances) = match removed {
                    true => {
                        let keep: Vec<bool> = list.manifests.iter().map(chosen).collect();
                        let mut k = list.clone();
                        k.manifests =
                            list.manifests.iter().zip(&keep).filter(|(_, c)| **c).map(|(d, _)| d.clone()).collect();
                        kept = k;
                        (&kept, instances.into_iter().zip(&keep).filter(|(_, c)| **c).map(|(d, _)| d).collect())
                    }
                    false => (&list, instances),
                };
                if list_kind == top_kind && !removed && instances == list.manifests {
                    top
                } else if copier.preserve_digests {
                    return Err(Error::invalid("--preserve-digests: the manifest list would change"));
                } else if !signatures.is_empty() {
                    return Err(signatures::would_invalidate("changing the manifest list"));
                } else {
                    let host =
                        Platform { os: platform.os(), architecture: platform.architecture(), ..Platform::default() };
                    encode_list(list_kind, list, &instances, &host)?
                }
            };
            let mut signatures = signatures;
            signatures.extend(copier.sign(&dest, &bytes).await?);
            io.note("Writing manifest list to image destination".to_owned());
            dest.put_manifest(&bytes, list_kind, None).await?;
            if !signatures.is_empty() {
                io.note("Storing list signatures".to_owned());
                dest.put_signatures(&signatures, &top_digest, false).await?;
            }
            top_digest
        }
        (Manifest::List(list), MultiArch::System) => {
            let d = list.choose(platform)?;
            let (bytes, _) = source.manifest(Some(&d.digest)).await?;
            copier.image(&source, &mut dest, &bytes, Some(&d.media_type), Some(&d.digest), false).await?.digest
        }
        _ => copier.image(&source, &mut dest, &top, top_type.as_deref(), None, false).await?.digest,
    };
    // Images copied at once into one OCI layout must not rewrite its
    // `index.json` together.
    let turn = io.lock("commit".to_owned()).await;
    dest.commit().await?;
    drop(turn);
    Ok(Copied { digest: written, sent: copier.sent.get(), present: copier.present.get() })
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
