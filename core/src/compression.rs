//! Layer compression for `copy`: what a layer is compressed with (from its
//! media type), what the destination should get (its own wish, then
//! `--dest-compress-format`, `--dest-compress`, `--dest-decompress`), and the
//! media type that results. The rules are containers/image's, so the same
//! command changes the same layers as skopeo does.

use crate::error::{Error, Result};
use crate::media_type::{self as mt, ManifestKind};

/// A layer's compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    /// zstd with each file in its own frames and a table of contents
    /// (containers/storage's zstd:chunked): written only, since it reads as
    /// zstd (its media type is zstd's, its metadata in skippable frames).
    ZstdChunked,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::ZstdChunked => "zstd:chunked",
        }
    }

    /// The compression a layer media type says; None for unknown types
    /// (which are copied as they are).
    pub fn of_media_type(media_type: &str) -> Option<Self> {
        Some(match media_type {
            mt::OCI_LAYER | "application/vnd.docker.image.rootfs.diff.tar" => Compression::None,
            mt::OCI_LAYER_GZIP | mt::DOCKER_LAYER_GZIP => Compression::Gzip,
            mt::OCI_LAYER_ZSTD => Compression::Zstd,
            _ => return None,
        })
    }

    /// The compression of a stream from its first bytes (6 suffice); the
    /// name of a format skiff cannot decompress is an error.
    pub fn detect(head: &[u8]) -> Result<Self> {
        let other = |name: &str| Err(Error::unsupported(format!("{name}-compressed layers are not supported")));
        match head {
            [0x1f, 0x8b, 0x08, ..] => Ok(Compression::Gzip),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Ok(Compression::Zstd),
            [b'B', b'Z', b'h', ..] => other("bzip2"),
            [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => other("xz"),
            _ => Ok(Compression::None),
        }
    }

    /// The level to encode at: `--dest-compress-level` checked against the
    /// codec's scale, else the default containers/image uses (Go's gzip
    /// default, 6; zstd's default, 3). Out of range is an error, not clamped.
    pub fn level(self, requested: Option<i32>) -> Result<i32> {
        let (range, default) = match self {
            Compression::None => return Ok(0),
            Compression::Gzip => (0..=9, 6),
            Compression::Zstd => (1..=22, 3),
            // containers/storage's ZstdCompressor default.
            Compression::ZstdChunked => (1..=22, 10),
        };
        match requested {
            None => Ok(default),
            // Go's gzip.DefaultCompression.
            Some(-1) if self == Compression::Gzip => Ok(default),
            Some(l) if range.contains(&l) => Ok(l),
            Some(l) => Err(Error::invalid(format!(
                "--dest-compress-level {l} is out of range for {} ({}–{})",
                self.name(),
                range.start(),
                range.end()
            ))),
        }
    }

    /// The layer media type for this compression in a manifest of `kind`.
    pub fn media_type(self, kind: ManifestKind) -> Result<&'static str> {
        match (kind, self) {
            (ManifestKind::OciManifest, Compression::None) => Ok(mt::OCI_LAYER),
            (ManifestKind::OciManifest, Compression::Gzip) => Ok(mt::OCI_LAYER_GZIP),
            (ManifestKind::OciManifest, Compression::Zstd | Compression::ZstdChunked) => Ok(mt::OCI_LAYER_ZSTD),
            (ManifestKind::DockerV2S2, Compression::None) => Ok("application/vnd.docker.image.rootfs.diff.tar"),
            (ManifestKind::DockerV2S2, Compression::Gzip) => Ok(mt::DOCKER_LAYER_GZIP),
            (ManifestKind::DockerV2S2, Compression::Zstd | Compression::ZstdChunked) => {
                Err(Error::unsupported("Docker schema 2 manifests cannot carry zstd layers; use --format oci"))
            }
            (other, _) => Err(Error::unsupported(format!("cannot change layer compression in {}", other.media_type()))),
        }
    }
}

/// `--dest-compress-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompressionFormat {
    Gzip,
    Zstd,
    ZstdChunked,
}

/// What a destination wants done to layers (containers/image's
/// `DesiredLayerCompression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Desired {
    /// Registries and OCI layouts: compress what is not compressed.
    Compress,
    /// `docker save` archives and the Docker daemon: plain tars.
    Decompress,
    /// `dir:`: keep layers as they come.
    Preserve,
}

/// What the user asked of layer compression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompressionPolicy {
    /// `--dest-compress-format`: the algorithm for layers that are compressed
    /// at the destination (a compressed layer in another format is re-encoded).
    pub format: Option<Compression>,
    /// `--dest-compress` (dir:): compress uncompressed layers (gzip unless a format is given).
    pub compress: bool,
    /// `--dest-decompress` (dir:): store layers uncompressed.
    pub decompress: bool,
    /// `--dest-compress-level`.
    pub level: Option<i32>,
    /// `--dest-oci-accept-uncompressed-layers`: an OCI layout keeps plain layers.
    pub oci_accept_uncompressed: bool,
}

impl CompressionPolicy {
    pub fn parse(
        format: Option<CompressionFormat>,
        compress: bool,
        decompress: bool,
        level: Option<i32>,
    ) -> Result<Self> {
        let format = match format {
            None => None,
            Some(CompressionFormat::Gzip) => Some(Compression::Gzip),
            Some(CompressionFormat::Zstd) => Some(Compression::Zstd),
            Some(CompressionFormat::ZstdChunked) => Some(Compression::ZstdChunked),
        };
        if compress && decompress {
            return Err(Error::invalid("--dest-compress and --dest-decompress cannot be used together"));
        }
        if let Some(l) = level {
            // Checked now, before anything is copied.
            format.unwrap_or(Compression::Gzip).level(Some(l))?;
        }
        Ok(CompressionPolicy { format, compress, decompress, level, oci_accept_uncompressed: false })
    }

    /// The compression a layer compressed with `current` should have at a
    /// destination that wants `desired` (which `--dest-compress` and
    /// `--dest-decompress` override).
    pub fn target(&self, desired: Desired, current: Compression) -> Compression {
        let desired = match (self.compress, self.decompress) {
            (true, _) => Desired::Compress,
            (_, true) => Desired::Decompress,
            _ => desired,
        };
        match (desired, current) {
            (Desired::Preserve, c) => c,
            (Desired::Decompress, _) => Compression::None,
            (Desired::Compress, Compression::None) => self.format.unwrap_or(Compression::Gzip),
            (Desired::Compress, c) => self.format.unwrap_or(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_is_told_by_magic_bytes() {
        assert_eq!(Compression::detect(b"\x1f\x8b\x08\x00\x00\x00").unwrap(), Compression::Gzip);
        assert_eq!(Compression::detect(b"\x28\xb5\x2f\xfd\x04\x00").unwrap(), Compression::Zstd);
        assert_eq!(Compression::detect(b"etc/\x00\x00").unwrap(), Compression::None);
        assert_eq!(Compression::detect(b"").unwrap(), Compression::None);
        assert!(Compression::detect(b"BZh91AY").unwrap_err().to_string().contains("bzip2"));
        assert!(Compression::detect(b"\xfd7zXZ\x00").unwrap_err().to_string().contains("xz"));
    }

    #[test]
    fn targets() {
        let zstd = CompressionPolicy::parse(Some(CompressionFormat::Zstd), false, false, None).unwrap();
        assert_eq!(zstd.target(Desired::Compress, Compression::Gzip), Compression::Zstd);
        assert_eq!(zstd.target(Desired::Compress, Compression::None), Compression::Zstd);
        // dir: keeps layers as they are unless --dest-compress says otherwise.
        assert_eq!(zstd.target(Desired::Preserve, Compression::Gzip), Compression::Gzip);
        let plain = CompressionPolicy::default();
        assert_eq!(plain.target(Desired::Compress, Compression::None), Compression::Gzip);
        assert_eq!(plain.target(Desired::Compress, Compression::Zstd), Compression::Zstd);
        assert_eq!(plain.target(Desired::Decompress, Compression::Zstd), Compression::None);
        let comp = CompressionPolicy::parse(None, true, false, None).unwrap();
        assert_eq!(comp.target(Desired::Preserve, Compression::None), Compression::Gzip);
        assert_eq!(comp.target(Desired::Preserve, Compression::Zstd), Compression::Zstd);
        let de = CompressionPolicy::parse(None, false, true, None).unwrap();
        assert_eq!(de.target(Desired::Preserve, Compression::Gzip), Compression::None);
        let chunked = CompressionPolicy::parse(Some(CompressionFormat::ZstdChunked), false, false, None).unwrap();
        assert_eq!(
            chunked.target(Desired::Compress, Compression::Zstd),
            Compression::ZstdChunked,
            "zstd is re-encoded"
        );
        assert_eq!(chunked.target(Desired::Preserve, Compression::Zstd), Compression::Zstd);
        assert!(CompressionPolicy::parse(Some(CompressionFormat::Gzip), false, false, Some(10)).is_err());
        assert!(CompressionPolicy::parse(None, false, false, Some(-1)).is_ok());
        assert_eq!(Compression::Zstd.level(None).unwrap(), 3);
        assert_eq!(Compression::Gzip.level(None).unwrap(), 6);
        assert!(Compression::Zstd.level(Some(0)).is_err());
        assert!(CompressionPolicy::parse(None, true, true, None).is_err());
        assert!(Compression::Zstd.media_type(ManifestKind::DockerV2S2).is_err());
        assert_eq!(Compression::of_media_type(mt::DOCKER_LAYER_GZIP), Some(Compression::Gzip));
    }
}
