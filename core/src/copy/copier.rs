//! Copying one image: its layers (several at once, re-encoded where the
//! destination or the flags want), its config, then its manifest —
//! converted when the destination or `--format` needs another type.

use std::cell::Cell;

use super::{Compression, CompressionPolicy, Desired};
use crate::digest::Digest;
use crate::encryption::{self, Crypto, layer::is_encrypted};
use crate::engine::{BlobSink, BlobSource, Io, Recompress, Request, join_bounded};
use crate::error::{Error, Result};
use crate::manifest::jws;
use crate::manifest::schema1_encode::to_schema1;
use crate::manifest::{self, Descriptor, ImageManifest, Manifest, convert};
use crate::media_type::ManifestKind;
use crate::registry::BlobPush;
use crate::signature::Signature;
use crate::transport::{ImageDestination, ImageSource};

/// One image as written: its manifest's digest, size and type.
pub(super) struct Written {
    pub digest: Digest,
    pub size: i64,
    pub kind: ManifestKind,
}

/// `rootfs.diff_ids` of an image config, one per layer: a config that
/// cannot be read, a malformed ID or a count that differs from the
/// manifest's layers is an error (a re-encoded layer would go unchecked).
fn config_diff_ids(config: &[u8], layers: usize) -> Result<Vec<Digest>> {
    let v: serde_json::Value = serde_json::from_slice(config)
        .map_err(|e| Error::invalid(format!("the image config is not valid JSON: {e}")))?;
    let ids = v
        .pointer("/rootfs/diff_ids")
        .and_then(|d| d.as_array())
        .ok_or_else(|| Error::invalid("the image config has no rootfs.diff_ids to check re-encoded layers against"))?;
    let ids = ids
        .iter()
        .map(|d| d.as_str().ok_or_else(|| Error::invalid("a diff ID in the image config is not a string")))
        .map(|d| d.and_then(Digest::parse))
        .collect::<Result<Vec<_>>>()?;
    if ids.len() != layers {
        return Err(Error::invalid(format!("the image config lists {} diff IDs for {layers} layers", ids.len())));
    }
    Ok(ids)
}

/// The index of each layer's first occurrence, in order: an image may list
/// a layer more than once, and it is copied once. Linear in the number of
/// layers (a 4 MiB manifest can list ~30,000).
fn distinct_layers(layers: &[Descriptor]) -> Vec<usize> {
    let mut seen = std::collections::HashSet::new();
    (0..layers.len()).filter(|&i| seen.insert(&layers[i].digest)).collect()
}

/// The written descriptor of every source layer, in the source's order
/// (repeated layers repeated), from what each distinct layer became.
fn in_source_order(layers: &[Descriptor], done: Vec<(Digest, Descriptor)>) -> Vec<Descriptor> {
    let done: std::collections::HashMap<Digest, Descriptor> = done.into_iter().collect();
    layers.iter().map(|l| done.get(&l.digest).cloned().expect("every layer copied")).collect()
}

/// What happens to one layer on its way beyond being copied, in this order.
#[derive(Clone, Copy)]
struct Steps<'a> {
    decrypt: bool,
    /// Re-encoded `from` → `to`, then checked against the config's diff ID.
    recompress: Option<(Compression, Compression)>,
    diff_id: Option<&'a Digest>,
    encrypt: bool,
}

/// One step of [`Steps`], with what it needs.
enum Step<'a> {
    Decrypt,
    Recompress((Compression, Compression)),
    Encrypt(&'a encryption::Encryption),
}

impl Step<'_> {
    /// The scratch file it writes is named after it.
    fn name(&self) -> &'static str {
        match self {
            Step::Decrypt => "dec",
            Step::Recompress(_) => "out",
            Step::Encrypt(_) => "enc",
        }
    }
}

/// `image` with the layers being decrypted named by their plain media
/// types, as a conversion of the manifest must see them.
fn as_decrypted(image: &ImageManifest, decrypt: &[bool]) -> ImageManifest {
    let mut image = image.clone();
    for (l, _) in image.layers.iter_mut().zip(decrypt).filter(|(_, d)| **d) {
        if let Some(plain) = encryption::layer::decrypted_media_type(&l.media_type) {
            l.media_type = plain.to_owned();
        }
    }
    image
}

/// The options of one copy run that every image of it is copied with.
pub(super) struct Copier<'a> {
    pub io: &'a Io,
    pub parallel: usize,
    /// `--format`: the manifest type to write.
    pub format: Option<ManifestKind>,
    pub preserve_digests: bool,
    pub compression: CompressionPolicy,
    /// Where scratch files go when the destination is not local (`--tmpdir`).
    pub tmpdir: String,
    /// `--remove-signatures`: leave the source's signatures behind.
    pub remove_signatures: bool,
    /// The destination as named on the command line, for messages.
    pub destination: &'a str,
    /// Blob bytes sent to the destination so far (blobs it had are not counted).
    pub sent: Cell<u64>,
    /// Whether the destination held the image already, so nothing was copied.
    pub present: Cell<bool>,
    /// `--sign-by`: the top-level manifest written is signed.
    pub sign: Option<&'a super::SignWith>,
    /// `--encryption-key`, `--encrypt-layer`, `--decryption-key`.
    pub crypto: &'a Crypto,
}

impl Copier<'_> {
    /// Copies one image's blobs and writes its manifest (as an instance of a
    /// list, named by its digest, or as the image). `source_instance` names
    /// the image within the source's list, where it has one.
    pub async fn image(
        &self,
        source: &ImageSource,
        dest: &mut ImageDestination,
        bytes: &[u8],
        media_type: Option<&str>,
        source_instance: Option<&Digest>,
        instance: bool,
    ) -> Result<Written> {
        let source_digest = match source_instance {
            Some(d) => d.clone(),
            None => manifest::manifest_digest(bytes)?,
        };
        let signatures = self.signatures(source, dest, source_instance, &source_digest, "image").await?;
        let (kind, m) = Manifest::parse(bytes, media_type)?;
        let (source_layers, source_config) = match &m {
            Manifest::Image(i) => (i.layers.clone(), Some(i.config.clone())),
            Manifest::Schema1(s) => (
                s.layers
                    .iter()
                    .map(|d| Descriptor {
                        media_type: String::new(),
                        digest: d.clone(),
                        size: -1,
                        urls: None,
                        annotations: None,
                        platform: None,
                    })
                    .collect(),
                None,
            ),
            Manifest::List(_) => return Err(Error::unsupported("nested manifest lists are not supported")),
        };
        // Layers whose compression changes, by index. With --preserve-digests
        // only an explicit compression flag may change one (and is refused below).
        let c = &self.compression;
        let explicit = c.format.is_some() || c.compress || c.decompress;
        let desired = match self.preserve_digests && !explicit {
            true => Desired::Preserve,
            false => dest.desired_compression(c.oci_accept_uncompressed),
        };
        let recompress: Vec<Option<(Compression, Compression)>> = source_layers
            .iter()
            .map(|l| source.layer_compression(l).map(|from| (from, c.target(desired, from))))
            .map(|p| p.filter(|(from, to)| from != to))
            .collect();
        let recompressing = recompress.iter().any(Option::is_some);
        // Layers encrypted (not twice) or decrypted, by index.
        let crypto = self.crypto;
        let encrypt: Vec<bool> = crypto
            .chosen(source_layers.len())?
            .into_iter()
            .zip(&source_layers)
            .map(|(chosen, l)| chosen && !is_encrypted(&l.media_type))
            .collect();
        let decrypt: Vec<bool> = source_layers.iter().map(|l| crypto.decrypts(&l.media_type)).collect();
        let crypting = encrypt.contains(&true) || decrypt.contains(&true);
        let rewriting = recompressing || crypting;
        // Only an OCI manifest can describe encrypted layers.
        let encrypted_out = crypto.encrypt.is_some()
            || (crypto.decrypt.is_empty() && source_layers.iter().any(|l| is_encrypted(&l.media_type)));
        // The manifest type to write: as asked, or what the destination takes
        // (OCI when zstd layers cannot be described otherwise).
        let mut target = match self.format {
            Some(f) => f,
            None if dest.accepts(kind) => kind,
            None => ManifestKind::OciManifest,
        };
        if target == ManifestKind::DockerV2S2
            && recompress.iter().any(|r| matches!(r, Some((_, Compression::Zstd | Compression::ZstdChunked))))
            && self.format.is_none()
        {
            target = ManifestKind::OciManifest;
        }
        if encrypted_out {
            let why = match self.format {
                _ if !dest.accepts(ManifestKind::OciManifest) => Some("this destination cannot store one".to_owned()),
                Some(f) if f != ManifestKind::OciManifest => Some(format!("--format asks for {}", f.media_type())),
                _ => None,
            };
            if let Some(why) = why {
                return Err(Error::unsupported(format!(
                    "encrypted layers can be described only by an OCI manifest, and {why}"
                )));
            }
            target = ManifestKind::OciManifest;
        }
        let changes = match (recompressing, crypting) {
            (_, true) => " with encrypted or decrypted layers",
            (true, false) => " with recompressed layers",
            (false, false) => "",
        };
        if (target != kind || rewriting) && self.preserve_digests {
            return Err(Error::invalid(format!(
                "--preserve-digests: writing {} as {}{changes} would change its digest",
                kind.media_type(),
                target.media_type(),
            )));
        }
        if (target != kind || rewriting) && !signatures.is_empty() {
            return Err(super::signatures::would_invalidate(&match (crypting, recompressing) {
                (true, _) => "encrypting or decrypting the layers".to_owned(),
                (false, true) => "recompressing the layers".to_owned(),
                (false, false) => format!("converting {} to {}", kind.media_type(), target.media_type()),
            }));
        }
        // A registry that already holds this very manifest there has its blobs too.
        if target == kind
            && !rewriting
            && signatures.is_empty()
            && (instance || self.sign.is_none())
            && dest.holds_manifest(&source_digest, instance).await
        {
            self.io.note("Skipping: image already present at destination".to_owned());
            self.present.set(true);
            return Ok(Written { digest: source_digest, size: bytes.len() as i64, kind });
        }
        let converted = if target == kind {
            None
        } else {
            let Manifest::Image(image) = &m else {
                return Err(Error::unsupported(format!(
                    "cannot convert {} to {}",
                    kind.media_type(),
                    target.media_type()
                )));
            };
            Some(match target {
                ManifestKind::OciManifest => {
                    let config = source.small_blob(&image.config, manifest::MAX_MANIFEST_SIZE).await?;
                    convert::docker_to_oci(image, &config)?
                }
                ManifestKind::DockerV2S1Signed => {
                    if recompressing {
                        return Err(Error::unsupported("recompressing layers while writing schema 1 is not supported"));
                    }
                    let config = source.small_blob(&image.config, manifest::MAX_MANIFEST_SIZE).await?;
                    let (name, tag) = dest.schema1_name();
                    let time = jws::signing_time(self.io.now_ms());
                    to_schema1(image, &config, &name, &tag, &time)?
                }
                _ => convert::oci_to_docker(&as_decrypted(image, &decrypt))?,
            })
        };
        // The descriptors as they will be written (before recompression).
        let (written_layers, written_config) = match &converted {
            // Schema 1 names the same layer blobs, and no config.
            Some(c) if c.drops_config => (source_layers.clone(), None),
            Some(c) => match Manifest::parse(&c.manifest, Some(c.kind.media_type()))? {
                (_, Manifest::Image(i)) => (i.layers, Some(i.config)),
                _ => unreachable!("conversions produce image manifests"),
            },
            None => (source_layers.clone(), source_config.clone()),
        };
        if rewriting && written_config.is_none() {
            return Err(Error::unsupported(match crypting {
                true => "encrypting or decrypting the layers of a schema 1 image is not supported",
                false => "changing layer compression of a schema 1 image is not supported",
            }));
        }
        // A re-encoded layer is checked against the config's diff IDs: the
        // uncompressed tar is what a runtime unpacks, and nothing else covers it.
        let diff_ids = match (&source_config, recompressing) {
            (Some(c), true) => {
                config_diff_ids(&source.small_blob(c, manifest::MAX_MANIFEST_SIZE).await?, source_layers.len())?
            }
            _ => Vec::new(),
        };

        // Copy each distinct layer (an image may repeat one), several at once.
        let order = distinct_layers(&source_layers);
        let dest_ref: &ImageDestination = dest;
        // After a failure, layers not yet started are not started.
        let failed = std::cell::Cell::new(false);
        let work = order.iter().map(|&i| {
            let (l, written) = (&source_layers[i], &written_layers[i]);
            let steps =
                Steps { decrypt: decrypt[i], recompress: recompress[i], diff_id: diff_ids.get(i), encrypt: encrypt[i] };
            let failed = &failed;
            async move {
                if failed.get() {
                    return None;
                }
                let r = match steps {
                    Steps { decrypt: false, recompress: None, encrypt: false, .. } => {
                        self.blob(source, dest_ref, l, "blob").await.map(|()| written.clone())
                    }
                    _ => self.processed(source, dest_ref, l, written, steps, target).await,
                };
                failed.set(failed.get() || r.is_err());
                Some(r)
            }
        });
        let mut done: Vec<(Digest, Descriptor)> = Vec::new();
        for (r, &i) in join_bounded(work, self.parallel).await.into_iter().zip(&order) {
            if let Some(r) = r {
                done.push((source_layers[i].digest.clone(), r?));
            }
        }
        for (d, bytes) in converted.iter().flat_map(|c| &c.extra_blobs) {
            dest_ref.put_blob_bytes(d, bytes).await?;
        }
        match (converted.as_ref().and_then(|c| c.config.as_ref()), &source_config) {
            _ if converted.as_ref().is_some_and(|c| c.drops_config) => {}
            (Some((d, bytes)), _) => {
                let outcome = dest_ref.put_blob_bytes(d, bytes).await?;
                self.note_blob("config", d, outcome);
            }
            (None, Some(c)) => self.blob(source, dest_ref, c, "config").await?,
            (None, None) => {}
        }
        let rewritten;
        let (bytes, kind) = if rewriting {
            let layers = in_source_order(&source_layers, done);
            let config = written_config.as_ref().expect("checked above");
            let annotations = match (&m, &converted) {
                (Manifest::Image(i), None) => i.annotations.as_ref(),
                _ => None,
            };
            rewritten = convert::encode(target, config, &layers, annotations)?;
            (rewritten.as_slice(), target)
        } else {
            match &converted {
                Some(c) => (c.manifest.as_slice(), c.kind),
                None => (bytes, kind),
            }
        };
        let mut signatures = signatures;
        if !instance {
            signatures.extend(self.sign(dest, bytes).await?);
        }
        self.io.note("Writing manifest to image destination".to_owned());
        let digest = manifest::manifest_digest(bytes)?;
        dest.put_manifest(bytes, kind, instance.then_some(&digest)).await?;
        if !signatures.is_empty() {
            self.io.note("Storing signatures".to_owned());
            dest.put_signatures(&signatures, &digest, instance).await?;
        }
        Ok(Written { digest, size: bytes.len() as i64, kind })
    }

    /// Copies layer `l` through `steps`: fetched and verified into a
    /// scratch file, then decrypted (its HMAC and plain digest checked),
    /// re-encoded (its uncompressed digest compared with the config's
    /// diff ID) and encrypted, each by the host into another file, then
    /// stored under its new digest. `written` is how the layer would be
    /// listed unchanged; returns how it is listed.
    async fn processed(
        &self,
        source: &ImageSource,
        dest: &ImageDestination,
        l: &Descriptor,
        written: &Descriptor,
        steps: Steps<'_>,
        kind: ManifestKind,
    ) -> Result<Descriptor> {
        let scratch = |step: &str| dest.scratch_path(&self.tmpdir, &format!("{}.{step}.skiff-tmp", l.digest.hex()));
        let mut path = scratch("in");
        source.pull_blob(l, BlobSink::File { path: path.clone() }).await?;
        let mut current = written.clone();
        let plan = [
            steps.decrypt.then_some(Step::Decrypt),
            steps.recompress.map(Step::Recompress),
            self.crypto.encrypt.as_ref().filter(|_| steps.encrypt).map(Step::Encrypt),
        ];
        // Each step reads `path` and writes the next file, which becomes `path`.
        for step in plan.into_iter().flatten() {
            let output = scratch(step.name());
            let input = std::mem::replace(&mut path, output.clone());
            let r =
                match step {
                    Step::Decrypt => encryption::decrypt_layer(self.io, self.crypto, l, input.clone(), output)
                        .await
                        .map(|d| Descriptor {
                            media_type: encryption::layer::decrypted_media_type(&written.media_type)
                                .unwrap_or(&written.media_type)
                                .to_owned(),
                            annotations: encryption::layer::strip(written.annotations.as_ref()),
                            ..d
                        }),
                    Step::Recompress(change) => {
                        self.recompress(l, input.clone(), output, change, steps.diff_id, kind).await
                    }
                    Step::Encrypt(e) => encryption::encrypt_layer(self.io, e, &current, input.clone(), output).await,
                };
            let _ = self.io.fs(Request::RemoveFile { path: input }).await;
            match r {
                Ok(d) => current = d,
                Err(e) => {
                    let _ = self.io.fs(Request::RemoveFile { path }).await;
                    return Err(e);
                }
            }
        }
        let outcome = dest.put_file_blob(&current, path).await?;
        // Named by the source's digest, as skopeo names it.
        self.note_blob("blob", l, outcome);
        Ok(current)
    }

    /// Re-encodes the layer file `input` (layer `l`) `from` → `to` into
    /// `output`, checking its uncompressed digest against `diff_id`;
    /// returns the new file's descriptor.
    async fn recompress(
        &self,
        l: &Descriptor,
        input: String,
        output: String,
        (from, to): (Compression, Compression),
        diff_id: Option<&Digest>,
        kind: ManifestKind,
    ) -> Result<Descriptor> {
        let request = Recompress {
            input: BlobSource::File { path: input },
            output: output.clone(),
            from,
            to,
            level: to.level(self.compression.level)?,
            algorithm: l.digest.algorithm(),
        };
        let r = self.io.recompress(request).await.map_err(|e| {
            Error::new(crate::error::ErrorKind::Io, format!("recompressing layer {}: {}", l.digest, e.message))
        })?;
        if let Some(expected) = diff_id.filter(|d| d.to_string() != r.diff_id) {
            return Err(Error::integrity(format!(
                "layer {} uncompresses to {}, but the image config says {expected}",
                l.digest, r.diff_id
            )));
        }
        Ok(Descriptor {
            media_type: to.media_type(kind)?.to_owned(),
            digest: Digest::parse(&r.digest)?,
            size: r.size as i64,
            urls: None,
            // containers/image drops a re-encoded layer's annotations and
            // adds the encoding's own (zstd:chunked's).
            annotations: (!r.annotations.is_empty()).then(|| r.annotations.into_iter().collect()),
            platform: None,
        })
    }

    async fn blob(&self, source: &ImageSource, dest: &ImageDestination, d: &Descriptor, what: &str) -> Result<()> {
        if !d.urls.as_ref().is_none_or(Vec::is_empty) {
            return Err(Error::unsupported(format!(
                "{what} {} is a foreign layer (urls); copying those is not supported",
                d.digest
            )));
        }
        let outcome = dest.put_blob(source, d).await?;
        self.note_blob(what, d, outcome);
        Ok(())
    }

    /// The signatures `--sign-by*` make of `manifest` (the top-level one
    /// about to be written); none without signers.
    pub async fn sign(&self, dest: &ImageDestination, manifest: &[u8]) -> Result<Vec<Signature>> {
        let Some(sign) = self.sign else { return Ok(Vec::new()) };
        let digest = manifest::manifest_digest(manifest)?;
        let signatures = sign.signers.sign(self.io, &digest, &sign.identity).await?;
        dest.signature_support(&signatures)
            .map_err(|e| e.context(format!("Can not copy signatures to {}", self.destination)))?;
        Ok(signatures)
    }

    fn note_blob(&self, what: &str, d: &Descriptor, outcome: BlobPush) {
        let skipped = if outcome == BlobPush::Exists { " skipped: already exists" } else { "" };
        if outcome != BlobPush::Exists {
            self.sent.set(self.sent.get() + u64::try_from(d.size).unwrap_or(0));
        }
        self.io.note(format!("Copying {what} {}{skipped}", d.digest));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 30,000 distinct layers (what a 4 MiB manifest can hold): the
    /// bookkeeping that once compared every layer with every other (about
    /// five seconds of it here) takes milliseconds.
    #[test]
    fn layer_bookkeeping_is_linear() {
        let mut layers: Vec<Descriptor> =
            (0..30_000u32).map(|i| Descriptor::of_unknown_size(Digest::sha256(&i.to_le_bytes()))).collect();
        layers.push(layers[7].clone());
        let started = std::time::Instant::now();
        let order = distinct_layers(&layers);
        let done = order.iter().map(|&i| (layers[i].digest.clone(), layers[i].clone())).collect();
        let written = in_source_order(&layers, done);
        let took = started.elapsed();
        assert_eq!(order.len(), 30_000, "the repeated layer is copied once");
        assert_eq!(order[..3], [0, 1, 2]);
        assert_eq!(written, layers, "every layer, repeats included, in the source's order");
        assert!(took < std::time::Duration::from_millis(1000), "30,000 layers took {took:?}");
    }
}
