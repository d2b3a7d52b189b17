//! `docker://`: images in a registry.

use crate::digest::Digest;
use crate::engine::Io;
use crate::error::Result;
use crate::reference::DockerReference;
use crate::registry::lookaside::Lookaside;
use crate::registry::{RegistryClient, RegistryOptions};
use crate::signature::Signature;

#[derive(Debug)]
pub struct RegistrySource {
    io: Io,
    client: RegistryClient,
    reference: DockerReference,
    /// Where the repository's signatures are read from, if anywhere.
    lookaside: Option<Lookaside>,
    tls: crate::engine::TlsConfig,
}

impl RegistrySource {
    pub fn new(
        io: &Io,
        reference: DockerReference,
        opts: RegistryOptions,
        lookaside: Option<Lookaside>,
    ) -> Result<Self> {
        let tls = opts.tls.clone();
        let client = RegistryClient::new(io.clone(), &reference.registry, &reference.repository, opts)?;
        Ok(RegistrySource { io: io.clone(), client, reference, lookaside, tls })
    }

    /// The signatures of the image whose manifest is `manifest`, from the lookaside.
    pub async fn signatures(&self, manifest: &Digest) -> Result<Vec<Signature>> {
        match &self.lookaside {
            Some(l) => l.read(&self.io, manifest, &self.tls).await,
            None => Ok(Vec::new()),
        }
    }

    pub async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, Option<String>)> {
        let r = match instance {
            Some(d) => d.to_string(),
            None => self.reference.manifest_reference(),
        };
        self.client.get_manifest(&self.reference.repository, &r).await
    }

    pub async fn blob(&self, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        self.client.get_blob(&self.reference.repository, digest, max).await
    }

    pub async fn tags(&self) -> Result<Vec<String>> {
        self.client.list_tags(&self.reference.repository).await
    }

    pub fn io(&self) -> &Io {
        &self.io
    }

    pub fn reference(&self) -> &DockerReference {
        &self.reference
    }

    /// An authorized GET of blob `d`, for streaming it straight to another registry.
    pub async fn blob_request(&self, d: &crate::manifest::Descriptor) -> Result<crate::engine::HttpRequest> {
        self.client.blob_request(&self.reference.repository, &d.digest).await
    }

    /// Streams blob `d` into `sink`, verified.
    pub async fn pull_blob(&self, d: &crate::manifest::Descriptor, sink: crate::engine::BlobSink) -> Result<()> {
        self.client.pull_blob(&self.reference.repository, d, sink).await
    }
}
