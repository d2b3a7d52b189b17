//! `list-tags`: every tag of a repository, as `{"Repository": …, "Tags": […]}`,
//! or of a `docker-archive:` file, as `{"Tags": […]}` (skopeo's two forms).

use serde::Serialize;

use crate::config::Environment;
use crate::engine::Io;
use crate::error::{Error, Result};
use crate::go::json as go_json;
use crate::reference::{DockerReference, ImageReference};
use crate::registry::{RegistryClient, RegistryOptions};
use crate::transport::resolve_registry;
use serde::Deserialize;

/// `skopeo list-tags`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListTagsJob {
    pub repository: String,
    #[serde(default)]
    pub registry: RegistryOptions,
}

#[derive(Serialize)]
struct Output {
    #[serde(rename = "Repository")]
    repository: String,
    #[serde(rename = "Tags")]
    tags: Vec<String>,
}

/// Parses `docker://repo`, refusing a tag or digest as skopeo does.
pub fn parse_repository(s: &str) -> Result<DockerReference> {
    let Some(name) = s.strip_prefix("docker://") else {
        let transport = ImageReference::parse(s).map(|r| r.transport_name()).unwrap_or("");
        return Err(Error::invalid(format!(
            "Invalid {s:?}: list-tags supports the docker:// and docker-archive: transports only{}",
            if transport.is_empty() { String::new() } else { format!(" (not {transport})") }
        )));
    };
    let r =
        DockerReference::parse_normalized(name).map_err(|e| e.context(format!("Error parsing image name {s:?}")))?;
    if r.tag.is_some() || r.digest.is_some() {
        return Err(Error::invalid(format!("No tag or digest allowed in reference {name:?}")));
    }
    Ok(r)
}

/// A `docker-archive:` listing (`null` for none, as Go marshals a nil list).
#[derive(Serialize)]
struct ArchiveOutput {
    #[serde(rename = "Tags")]
    tags: Option<Vec<String>>,
}

pub async fn run(io: Io, mut job: ListTagsJob, env: Environment) -> Result<Vec<u8>> {
    if let Some(path) = job.repository.strip_prefix("docker-archive:") {
        let tags = crate::transport::docker_archive_tags(&io, path).await?;
        return go_json::to_indented(&ArchiveOutput { tags: Some(tags).filter(|t| !t.is_empty()) });
    }
    let r = parse_repository(&job.repository)?;
    resolve_registry(&io, &env, &mut job.registry, &r.registry, &r.repository).await?;
    let client = RegistryClient::new(io, &r.registry, job.registry)?;
    let tags = client.list_tags(&r.repository).await?;
    go_json::to_indented(&Output { repository: r.name(), tags })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_only() {
        assert_eq!(parse_repository("docker://busybox").unwrap().name(), "docker.io/library/busybox");
        assert!(parse_repository("docker://busybox:1").is_err());
        assert!(parse_repository("oci:/x").unwrap_err().message.contains("docker://"));
        assert!(parse_repository("docker://UP").is_err());
    }
}
