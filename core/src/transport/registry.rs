//! `docker://`: images in a registry.

use crate::digest::Digest;
use crate::engine::Io;
use crate::error::Result;
use crate::reference::DockerReference;
use crate::registry::{RegistryClient, RegistryOptions};

#[derive(Debug)]
pub struct RegistrySource {
    client: RegistryClient,
    reference: DockerReference,
}

impl RegistrySource {
    pub fn new(io: &Io, reference: DockerReference, opts: RegistryOptions) -> Result<Self> {
        let client = RegistryClient::new(io.clone(), &reference.registry, &reference.repository, opts)?;
        Ok(RegistrySource { client, reference })
    }

    pub async fn manifest(&mut self, instance: Option<&Digest>) -> Result<(Vec<u8>, Option<String>)> {
        let r = match instance {
            Some(d) => d.to_string(),
            None => self.reference.manifest_reference(),
        };
        self.client.get_manifest(&self.reference.repository, &r).await
    }

    pub async fn blob(&mut self, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        self.client.get_blob(&self.reference.repository, digest, max).await
    }

    pub async fn tags(&mut self) -> Result<Vec<String>> {
        self.client.list_tags(&self.reference.repository).await
    }
}
