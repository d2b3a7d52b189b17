//! `docker://`: images in a registry, read from the first of its pull
//! sources (registries.conf mirrors, then its location) that serves the
//! image's manifest.

use std::cell::Cell;

use crate::digest::Digest;
use crate::engine::Io;
use crate::error::{Error, Result};
use crate::reference::DockerReference;
use crate::registry::lookaside::Lookaside;
use crate::registry::{RegistryClient, RegistryOptions};
use crate::signature::Signature;

#[derive(Debug)]
struct Source {
    client: RegistryClient,
    reference: DockerReference,
    tls: crate::engine::TlsConfig,
}

#[derive(Debug)]
pub struct RegistrySource {
    io: Io,
    sources: Vec<Source>,
    /// The source that served the manifest; the rest of the image comes from it.
    active: Cell<usize>,
    /// Where the repository's simple signatures are read from, if anywhere.
    lookaside: Option<Lookaside>,
    /// Whether its sigstore signatures are read from attachments.
    attachments: bool,
}

impl RegistrySource {
    /// An image read from `sources` (at least one), in order.
    pub fn new(
        io: &Io,
        sources: Vec<(DockerReference, RegistryOptions)>,
        lookaside: Option<Lookaside>,
        attachments: bool,
    ) -> Result<Self> {
        let sources = sources
            .into_iter()
            .map(|(reference, opts)| {
                let tls = opts.tls.clone();
                let client = RegistryClient::new(io.clone(), &reference.registry, opts)?;
                Ok(Source { client, reference, tls })
            })
            .collect::<Result<Vec<_>>>()?;
        if sources.is_empty() {
            return Err(Error::other("no source to read the image from"));
        }
        Ok(RegistrySource { io: io.clone(), sources, active: Cell::new(0), lookaside, attachments })
    }

    fn source(&self) -> &Source {
        &self.sources[self.active.get()]
    }

    /// The signatures of the image whose manifest is `manifest`: the
    /// lookaside's, then the sigstore attachments (containers/image's order).
    pub async fn signatures(&self, manifest: &Digest) -> Result<Vec<Signature>> {
        let mut found = match &self.lookaside {
            Some(l) => l.read(&self.io, manifest, &self.source().tls).await?,
            None => Vec::new(),
        };
        if self.attachments {
            let s = self.source();
            found.extend(crate::registry::attachments::read(&s.client, &s.reference.repository, manifest).await?);
        }
        Ok(found)
    }

    /// The top-level manifest is asked of each source in turn, until one
    /// has it (as containers/image tries mirrors); instances come from that one.
    pub async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, Option<String>)> {
        if let Some(d) = instance {
            let s = self.source();
            return s.client.get_manifest(&s.reference.repository, &d.to_string()).await;
        }
        let mut last = None;
        for (i, s) in self.sources.iter().enumerate() {
            match s.client.get_manifest(&s.reference.repository, &s.reference.manifest_reference()).await {
                Ok(found) => {
                    self.active.set(i);
                    return Ok(found);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one source"))
    }

    pub async fn blob(&self, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        let s = self.source();
        s.client.get_blob(&s.reference.repository, digest, max).await
    }

    pub async fn tags(&self) -> Result<Vec<String>> {
        let s = self.source();
        s.client.list_tags(&s.reference.repository).await
    }

    pub fn io(&self) -> &Io {
        &self.io
    }

    /// The image as the source serving it names it.
    pub fn reference(&self) -> &DockerReference {
        &self.source().reference
    }

    /// An authorized GET of blob `d`, for streaming it straight to another registry.
    pub async fn blob_request(&self, d: &crate::manifest::Descriptor) -> Result<crate::engine::HttpRequest> {
        let s = self.source();
        s.client.blob_request(&s.reference.repository, &d.digest).await
    }

    /// Streams blob `d` into `sink`, verified.
    pub async fn pull_blob(&self, d: &crate::manifest::Descriptor, sink: crate::engine::BlobSink) -> Result<()> {
        let s = self.source();
        s.client.pull_blob(&s.reference.repository, d, sink).await
    }

    /// The size of a blob of the image's repository (None: not said).
    pub async fn blob_size(&self, digest: &crate::digest::Digest) -> Result<Option<u64>> {
        let s = self.source();
        s.client.blob_size(&s.reference.repository, digest).await
    }

    /// The blob into `sink`, with the digest and size that arrived, unchecked.
    pub async fn pull_blob_measured(
        &self,
        d: &crate::manifest::Descriptor,
        sink: crate::engine::BlobSink,
    ) -> Result<(String, u64)> {
        let s = self.source();
        s.client.pull_blob_measured(&s.reference.repository, d, sink).await
    }
}
