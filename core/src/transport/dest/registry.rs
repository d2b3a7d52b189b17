//! A registry destination: blobs pushed (mounted from the source repository
//! when both are on one registry), the manifest put by tag or digest,
//! signatures written to lookaside storage (registries.d).

use super::{BlobStore, Destination, LocalBoxFuture};
use crate::compression::Desired;
use crate::digest::Digest;
use crate::engine::{BlobSource, Io, Request};
use crate::error::{Error, Result};
use crate::manifest::{self, Descriptor};
use crate::media_type::ManifestKind;
use crate::reference::DockerReference;
use crate::registry::lookaside::Lookaside;
use crate::registry::{BlobPush, RegistryClient};
use crate::signature::Signature;
use crate::transport::{ImageSource, SideOptions, fs_error, join};

#[derive(Debug)]
pub(super) struct RegistryDestination {
    io: Io,
    client: RegistryClient,
    reference: DockerReference,
    /// Where simple signatures are written (registries.d), if anywhere.
    lookaside: Option<Lookaside>,
    /// Whether sigstore signatures may be written as attachments.
    attachments: bool,
}

impl RegistryDestination {
    pub(super) fn new(io: &Io, r: &DockerReference, side: &SideOptions) -> Result<Self> {
        let client = RegistryClient::new(io.clone(), &r.registry, side.registry.clone())?;
        let lookaside = crate::registry::lookaside::for_image(&side.registries_d, r, true)?;
        let attachments = crate::registry::lookaside::uses_sigstore_attachments(&side.registries_d, r)?;
        Ok(RegistryDestination { io: io.clone(), client, reference: r.clone(), lookaside, attachments })
    }
}

impl BlobStore for RegistryDestination {
    fn put_blob<'a>(&'a self, source: &'a ImageSource, d: &'a Descriptor) -> LocalBoxFuture<'a, Result<BlobPush>> {
        Box::pin(async move {
            let RegistryDestination { client, reference, .. } = self;
            let mount_from = match source {
                ImageSource::Registry(s) if s.reference().registry == reference.registry => {
                    Some(s.reference().repository.as_str())
                }
                _ => None,
            };
            let blob_source = match (source, source.local_blob(&d.digest).await?) {
                (_, Some(local)) => local,
                (ImageSource::Registry(s), None) => BlobSource::get(s.blob_request(d).await?),
                _ => unreachable!("every local source has a blob location"),
            };
            client.push_blob(&reference.repository, d, blob_source, mount_from).await
        })
    }

    fn put_blob_bytes<'a>(&'a self, d: &'a Descriptor, bytes: &'a [u8]) -> LocalBoxFuture<'a, Result<BlobPush>> {
        Box::pin(async move {
            d.digest.verify(bytes, "converted blob")?;
            self.client.push_blob_bytes(&self.reference.repository, d, bytes).await
        })
    }

    fn scratch_path(&self, tmpdir: &str, name: &str) -> String {
        join(tmpdir, name)
    }

    /// Pushed, then the scratch file removed.
    fn put_file_blob<'a>(&'a self, d: &'a Descriptor, path: String) -> LocalBoxFuture<'a, Result<BlobPush>> {
        Box::pin(async move {
            let pushed = self
                .client
                .push_blob(&self.reference.repository, d, BlobSource::File { path: path.clone() }, None)
                .await;
            let removed = self.io.fs(Request::RemoveFile { path }).await;
            let outcome = pushed?;
            removed.map_err(fs_error("removing a scratch file".to_owned()))?;
            Ok(outcome)
        })
    }
}

impl Destination for RegistryDestination {
    fn schema1_name(&self) -> (String, String) {
        (self.reference.repository.clone(), self.reference.tag.clone().unwrap_or_default())
    }

    fn desired_compression(&self, _oci_accept_uncompressed: bool) -> Desired {
        Desired::Compress
    }

    fn prepare(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn holds_manifest<'a>(&'a self, digest: &'a Digest, instance: bool) -> LocalBoxFuture<'a, bool> {
        Box::pin(async move {
            let at = match instance {
                true => digest.to_string(),
                false => self.reference.manifest_reference(),
            };
            // Nothing to compare where a sync's survey found nothing.
            if self.client.manifest_was_absent(&self.reference.repository, &at) {
                return false;
            }
            self.client.manifest_digest_at(&self.reference.repository, &at).await.as_ref() == Some(digest)
        })
    }

    fn put_manifest<'a>(
        &'a mut self,
        bytes: &'a [u8],
        kind: ManifestKind,
        instance: Option<&'a Digest>,
    ) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let digest = manifest::manifest_digest(bytes)?;
            let reference = &self.reference;
            let target = match (instance, &reference.digest, &reference.tag) {
                (Some(d), _, _) => d.to_string(),
                (None, Some(d), _) => {
                    if d != &digest {
                        return Err(Error::integrity(format!(
                            "the destination names digest {d}, but the manifest written is {digest}"
                        )));
                    }
                    d.to_string()
                }
                (None, None, Some(t)) => t.clone(),
                (None, None, None) => crate::reference::DEFAULT_TAG.to_owned(),
            };
            self.client.put_manifest(&reference.repository, &target, bytes, kind.media_type()).await
        })
    }

    /// Sigstore signatures go to attachments, the others to the lookaside
    /// (containers/image's split); checked before anything is written.
    fn signature_support(&self, signatures: &[Signature]) -> Result<()> {
        let (sigstore, simple): (Vec<_>, Vec<_>) = signatures.iter().partition(|s| matches!(s, Signature::Sigstore(_)));
        if !sigstore.is_empty() && !self.attachments {
            return Err(Error::unsupported(format!(
                "writing sigstore attachments is disabled by configuration (set use-sigstore-attachments: true for {} in registries.d)",
                self.reference.name()
            )));
        }
        match (&self.lookaside, simple.is_empty()) {
            (_, true) => Ok(()),
            (Some(l), false) => l.writable(),
            (None, false) => Err(Error::unsupported(format!(
                "no lookaside storage is configured for {} (registries.d)",
                self.reference.name()
            ))),
        }
    }

    fn put_signatures<'a>(
        &'a self,
        signatures: &'a [Signature],
        manifest: &'a Digest,
        _instance: bool,
    ) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.signature_support(signatures)?;
            let sigstore: Vec<_> = signatures.iter().filter_map(Signature::sigstore_parts).collect();
            if !sigstore.is_empty() {
                let repository = &self.reference.repository;
                crate::registry::attachments::write(&self.client, repository, manifest, &sigstore).await?;
            }
            let simple: Vec<Signature> =
                signatures.iter().filter(|s| matches!(s, Signature::SimpleSigning(_))).cloned().collect();
            match &self.lookaside {
                Some(l) if !simple.is_empty() => l.write(&self.io, manifest, &simple).await,
                _ => Ok(()),
            }
        })
    }
}
