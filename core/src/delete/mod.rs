//! `delete`: removes a manifest from a registry by digest (so every tag that
//! points at it goes too, as skopeo warns), an image from an OCI layout
//! ([`layout`]), a tarball's files, or an image from containers-storage
//! (`storage::delete`).

mod layout;

use crate::config::Environment;
use crate::digest::Digest;
use crate::engine::Io;
use crate::error::{Error, Result};
use crate::manifest;
use crate::reference::ImageReference;
use crate::registry::{RegistryClient, RegistryOptions};
use crate::transport::resolve_registry;
use serde::Deserialize;

/// `skopeo delete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteJob {
    pub image: String,
    #[serde(default)]
    pub registry: RegistryOptions,
}

pub async fn run(io: Io, mut job: DeleteJob, env: Environment) -> Result<Vec<u8>> {
    let image = ImageReference::parse(&job.image)?;
    if let ImageReference::Oci(l) = &image {
        layout::delete(&io, l).await?;
        return Ok(Vec::new());
    }
    // containers/image deletes a tarball: image by removing its files.
    if let ImageReference::Tarball { paths } = &image {
        for path in paths {
            io.fs(crate::engine::Request::RemoveFile { path: path.clone() })
                .await
                .map_err(|e| Error::new(crate::error::ErrorKind::Io, format!("removing {path}: {}", e.message)))?;
        }
        return Ok(Vec::new());
    }
    #[cfg(feature = "storage-write")]
    if let ImageReference::ContainersStorage(r) = &image {
        let shown = job.image.strip_prefix("containers-storage:").unwrap_or(&job.image);
        crate::storage::delete::delete(&io, &env, r, shown).await?;
        return Ok(Vec::new());
    }
    let ImageReference::Docker(r) = image else {
        return Err(Error::unsupported(format!(
            "deleting images from the {} transport is not supported",
            image.transport_name()
        )));
    };
    resolve_registry(&io, &env, &mut job.registry, &r.registry, &r.repository).await?;
    let client = RegistryClient::new(io, &r.registry, job.registry)?;
    let digest: Digest = match &r.digest {
        Some(d) => d.clone(),
        None => {
            let (bytes, _) = client.get_manifest(&r.repository, &r.manifest_reference()).await?;
            manifest::manifest_digest(&bytes)?
        }
    };
    client.delete_manifest(&r.repository, &digest).await?;
    Ok(Vec::new())
}
