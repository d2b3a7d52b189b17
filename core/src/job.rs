//! What a host asks the core to do: one JSON document per command, so the
//! component interface stays small and new options need no WIT change.

use serde::Deserialize;

use crate::engine::Operation;
use crate::error::Error;
use crate::platform::WantedPlatform;
use crate::policy::PolicyInput;
use crate::registry::RegistryOptions;
use crate::{copy, delete, inspect, list_tags};

// A job is parsed once per command; its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Job {
    Inspect(InspectJob),
    ListTags(ListTagsJob),
    Delete(DeleteJob),
    Copy(CopyJob),
}

/// One side (source or destination) of a copy.
#[derive(Debug, Default, Deserialize)]
pub struct CopySide {
    #[serde(default)]
    pub registry: RegistryOptions,
    #[serde(default)]
    pub shared_blob_dir: Option<String>,
    /// `--*-daemon-host` or `DOCKER_HOST` (docker-daemon: only).
    #[serde(default)]
    pub daemon_host: Option<String>,
    /// `--registries.d`: where registries keep signatures (docker: only).
    #[serde(default)]
    pub registries_d: crate::registry::lookaside::RegistriesD,
}

/// `skopeo copy`.
#[derive(Debug, Deserialize)]
pub struct CopyJob {
    pub source: String,
    pub destination: String,
    #[serde(default)]
    pub src: CopySide,
    #[serde(default)]
    pub dest: CopySide,
    #[serde(default)]
    pub policy: PolicyInput,
    #[serde(default)]
    pub platform: WantedPlatform,
    /// `--all`
    #[serde(default)]
    pub all: bool,
    /// `--multi-arch system|all|index-only`
    #[serde(default)]
    pub multi_arch: Option<String>,
    /// `--image-parallel-copies`
    #[serde(default)]
    pub image_parallel_copies: Option<usize>,
    /// `--digestfile`: where to write the digest of the manifest written.
    #[serde(default)]
    pub digestfile: Option<String>,
    /// `-f/--format oci|v2s2|v2s1`: the manifest type to write.
    #[serde(default)]
    pub format: Option<String>,
    /// `--preserve-digests`: fail rather than change a digest.
    #[serde(default)]
    pub preserve_digests: bool,
    /// `--dest-compress-format gzip|zstd`
    #[serde(default)]
    pub dest_compress_format: Option<String>,
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
    /// Scratch space of this run (recompressed layers bound for a registry,
    /// images on their way from or to a Docker daemon); the host removes it.
    #[serde(default)]
    pub tmpdir: Option<String>,
    /// `--remove-signatures`
    #[serde(default)]
    pub remove_signatures: bool,
    /// `--additional-tag` (docker-archive: only).
    #[serde(default)]
    pub additional_tags: Vec<String>,
}

/// `skopeo inspect` and its flags.
#[derive(Debug, Deserialize)]
pub struct InspectJob {
    pub image: String,
    #[serde(default)]
    pub raw: bool,
    #[serde(default)]
    pub config: bool,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub no_tags: bool,
    /// `--shared-blob-dir`: blobs of an `oci:` layout live here instead of `blobs/`.
    #[serde(default)]
    pub shared_blob_dir: Option<String>,
    #[serde(default)]
    pub platform: WantedPlatform,
    #[serde(default)]
    pub registry: RegistryOptions,
    /// `--daemon-host` or `DOCKER_HOST` (docker-daemon: only).
    #[serde(default)]
    pub daemon_host: Option<String>,
    /// Scratch space of this run (an image saved by a Docker daemon).
    #[serde(default)]
    pub tmpdir: Option<String>,
}

/// `skopeo list-tags`.
#[derive(Debug, Deserialize)]
pub struct ListTagsJob {
    pub repository: String,
    #[serde(default)]
    pub registry: RegistryOptions,
}

/// `skopeo delete`.
#[derive(Debug, Deserialize)]
pub struct DeleteJob {
    pub image: String,
    #[serde(default)]
    pub registry: RegistryOptions,
}

impl Job {
    /// Starts the command a JSON job describes; a malformed job fails at the first poll.
    pub fn start(json: &str) -> Operation {
        match serde_json::from_str::<Job>(json) {
            Ok(Job::Inspect(j)) => Operation::start(move |io| inspect::run(io, j)),
            Ok(Job::ListTags(j)) => Operation::start(move |io| list_tags::run(io, j)),
            Ok(Job::Delete(j)) => Operation::start(move |io| delete::run(io, j)),
            Ok(Job::Copy(j)) => Operation::start(move |io| copy::run(io, j)),
            Err(e) => Operation::failed(Error::invalid(format!("invalid job: {e}"))),
        }
    }
}
