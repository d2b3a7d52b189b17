//! Layer compression for `copy`: what a layer is compressed with (from its
//! media type), what the destination should get (`--dest-compress-format`,
//! `--dest-compress`, `--dest-decompress`), and the media type that results.

use crate::error::{Error, Result};
use crate::media_type::{self as mt, ManifestKind};

/// A layer's compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
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

    /// The layer media type for this compression in a manifest of `kind`.
    pub fn media_type(self, kind: ManifestKind) -> Result<&'static str> {
        match (kind, self) {
            (ManifestKind::OciManifest, Compression::None) => Ok(mt::OCI_LAYER),
            (ManifestKind::OciManifest, Compression::Gzip) => Ok(mt::OCI_LAYER_GZIP),
            (ManifestKind::OciManifest, Compression::Zstd) => Ok(mt::OCI_LAYER_ZSTD),
            (ManifestKind::DockerV2S2, Compression::None) => Ok("application/vnd.docker.image.rootfs.diff.tar"),
            (ManifestKind::DockerV2S2, Compression::Gzip) => Ok(mt::DOCKER_LAYER_GZIP),
            (ManifestKind::DockerV2S2, Compression::Zstd) => {
                Err(Error::unsupported("Docker schema 2 manifests cannot carry zstd layers; use --format oci"))
            }
            (other, _) => Err(Error::unsupported(format!("cannot change layer compression in {}", other.media_type()))),
        }
    }
}

/// What the user asked of layer compression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompressionPolicy {
    /// `--dest-compress-format`: recompress every layer to this.
    pub format: Option<Compression>,
    /// `--dest-compress` (dir:): compress uncompressed layers (gzip unless a format is given).
    pub compress: bool,
    /// `--dest-decompress` (dir:): store layers uncompressed.
    pub decompress: bool,
    /// `--dest-compress-level`.
    pub level: Option<i32>,
}

impl CompressionPolicy {
    pub fn parse(format: Option<&str>, compress: bool, decompress: bool, level: Option<i32>) -> Result<Self> {
        let format = match format {
            None => None,
            Some("gzip") => Some(Compression::Gzip),
            Some("zstd") => Some(Compression::Zstd),
            Some("zstd:chunked") => {
                return Err(Error::unsupported("--dest-compress-format zstd:chunked is not supported; use zstd"));
            }
            Some(other) => {
                return Err(Error::invalid(format!("unknown --dest-compress-format {other:?}: use gzip or zstd")));
            }
        };
        if compress && decompress {
            return Err(Error::invalid("--dest-compress and --dest-decompress cannot be used together"));
        }
        Ok(CompressionPolicy { format, compress, decompress, level })
    }

    /// The compression a layer compressed with `current` should have at the destination.
    pub fn target(&self, current: Compression) -> Compression {
        if self.decompress {
            return Compression::None;
        }
        match (self.format, current) {
            (Some(f), _) => f,
            (None, Compression::None) if self.compress => Compression::Gzip,
            (None, c) => c,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let zstd = CompressionPolicy::parse(Some("zstd"), false, false, None).unwrap();
        assert_eq!(zstd.target(Compression::Gzip), Compression::Zstd);
        let comp = CompressionPolicy::parse(None, true, false, None).unwrap();
        assert_eq!(comp.target(Compression::None), Compression::Gzip);
        assert_eq!(comp.target(Compression::Zstd), Compression::Zstd);
        let de = CompressionPolicy::parse(None, false, true, None).unwrap();
        assert_eq!(de.target(Compression::Gzip), Compression::None);
        assert!(CompressionPolicy::parse(Some("lz4"), false, false, None).is_err());
        assert!(CompressionPolicy::parse(None, true, true, None).is_err());
        assert!(Compression::Zstd.media_type(ManifestKind::DockerV2S2).is_err());
        assert_eq!(Compression::of_media_type(mt::DOCKER_LAYER_GZIP), Some(Compression::Gzip));
    }
}
