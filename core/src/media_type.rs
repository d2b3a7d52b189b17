//! Media types of manifests and configs, and how a manifest's type is found
//! from a `Content-Type` header and from the document itself.

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_NONDISTRIBUTABLE: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
pub const DOCKER_V2S2: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_V2S1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_V2S1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// The `Accept` list for manifest requests: every format we can read, in
/// containers/image's order of preference.
pub const MANIFEST_ACCEPT: [&str; 6] =
    [DOCKER_V2S2, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX, DOCKER_V2S1_SIGNED, DOCKER_V2S1];

/// The manifest formats we understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    OciManifest,
    OciIndex,
    DockerV2S2,
    DockerList,
    DockerV2S1,
    DockerV2S1Signed,
}

impl ManifestKind {
    pub fn from_media_type(mt: &str) -> Option<Self> {
        Some(match mt {
            OCI_MANIFEST => ManifestKind::OciManifest,
            OCI_INDEX => ManifestKind::OciIndex,
            DOCKER_V2S2 => ManifestKind::DockerV2S2,
            DOCKER_LIST => ManifestKind::DockerList,
            DOCKER_V2S1 => ManifestKind::DockerV2S1,
            DOCKER_V2S1_SIGNED => ManifestKind::DockerV2S1Signed,
            _ => return None,
        })
    }

    pub fn media_type(self) -> &'static str {
        match self {
            ManifestKind::OciManifest => OCI_MANIFEST,
            ManifestKind::OciIndex => OCI_INDEX,
            ManifestKind::DockerV2S2 => DOCKER_V2S2,
            ManifestKind::DockerList => DOCKER_LIST,
            ManifestKind::DockerV2S1 => DOCKER_V2S1,
            ManifestKind::DockerV2S1Signed => DOCKER_V2S1_SIGNED,
        }
    }

    pub fn is_list(self) -> bool {
        matches!(self, ManifestKind::OciIndex | ManifestKind::DockerList)
    }
}

/// `Content-Type` without parameters (`; charset=utf-8`) and surrounding space.
pub fn simplify_content_type(ct: &str) -> &str {
    ct.split(';').next().unwrap_or("").trim()
}
