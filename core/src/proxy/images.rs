//! The image methods of the proxy: opening (with the policy check),
//! manifests and configs in OCI form, layer lists, and blobs into pipes.

use std::rc::Rc;

use serde_json::{Value, json};

use super::Session;
use super::wire::{self, Answer};
use crate::digest::Digest;
use crate::engine::{BlobSink, Request};
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::config::ImageConfig;
use crate::manifest::{self, Descriptor, MAX_MANIFEST_SIZE, Manifest};
use crate::media_type::ManifestKind;
use crate::policy;
use crate::reference::ImageReference;
use crate::transport::ImageSource;

/// An image `OpenImage` returned an id for.
pub struct OpenImage {
    /// What the manifest and config are read from.
    source: Rc<ImageSource>,
    /// What blobs and layer lists are read from: the same, except that a
    /// containers-storage image offers its layers as the tars it holds.
    blobs: Rc<ImageSource>,
    /// The image's manifest (a list's chosen instance), as stored.
    manifest: Vec<u8>,
    kind: ManifestKind,
    parsed: Manifest,
}

impl Session {
    pub(super) async fn image_method(&mut self, method: &str, args: &[Value]) -> Result<Answer> {
        match method {
            "OpenImage" => self.open_image(args, false).await,
            "OpenImageOptional" => self.open_image(args, true).await,
            "CloseImage" => {
                one_arg(args, "invalid request, expecting one argument")?;
                let id = self.image_id(&args[0])?;
                self.images.remove(&id);
                Ok(Answer::default())
            }
            "GetManifest" => {
                one_arg(args, "invalid request, expecting one argument")?;
                let (digest, bytes) = self.oci_manifest(&args[0]).await?;
                self.piped_bytes(digest.to_string().into(), bytes).await
            }
            "GetFullConfig" | "GetConfig" => {
                one_arg(args, "invalid request, expecting: [imgid]")?;
                let config = self.oci_config(&args[0]).await?;
                let bytes = match method {
                    "GetConfig" => crate::go::json::marshal(&config.config.unwrap_or_default())?,
                    _ => crate::go::json::marshal(&config)?,
                };
                self.piped_bytes(Value::Null, bytes).await
            }
            "GetLayerInfo" | "GetLayerInfoPiped" => {
                if args.len() != 1 {
                    return Err(Error::invalid(format!("found {} args, expecting (imgid)", args.len())));
                }
                let layers = self.layer_infos(&args[0]).await?;
                match method {
                    "GetLayerInfo" => Ok(Answer::value(layers)),
                    _ => self.piped_bytes(Value::Null, crate::go::json::marshal(&layers)?).await,
                }
            }
            "GetBlob" => self.get_blob(args).await,
            "GetRawBlob" => self.get_raw_blob(args).await,
            _ => unreachable!("dispatched by name"),
        }
    }

    fn image_id(&self, v: &Value) -> Result<u64> {
        let id = wire::uint64(v)?;
        if id == 0 {
            return Err(Error::invalid("invalid imageid value of zero"));
        }
        if !self.images.contains_key(&id) {
            return Err(Error::invalid(format!("no image {id}")));
        }
        Ok(id)
    }

    fn image(&self, v: &Value) -> Result<&OpenImage> {
        let id = self.image_id(v)?;
        Ok(&self.images[&id])
    }

    /// Opens an image as `skopeo copy` would read it, after the policy
    /// check: on the list and on the chosen instance, failing only if both
    /// fail. `optional`: a missing image is id 0, not an error.
    async fn open_image(&mut self, args: &[Value], optional: bool) -> Result<Answer> {
        one_arg(args, "invalid request, expecting one argument")?;
        let name = args[0]
            .as_str()
            .ok_or_else(|| Error::invalid(format!("expecting string imageref, not {}", wire::go_type(&args[0]))))?;
        let image = ImageReference::parse(name)?;
        let mut side = self.job.side.clone();
        crate::copy::resolve_side(&self.io, &self.env, &mut side, &image, self.job.registries_d.as_deref()).await?;
        let policy = self.policy.as_ref().expect("checked by dispatch");
        let requirements = policy::check(policy, &image, name)?;
        let tmpdir = self.env.scratch_dir();
        let source = ImageSource::open(&self.io, &image, &side, &tmpdir)?;
        let blobs = ImageSource::open(&self.io, &image, &side, &tmpdir)?.for_copy();
        let (top, top_type) = match source.manifest(None).await {
            Ok(m) => m,
            Err(e) if optional && e.kind == ErrorKind::NotFound => return Ok(Answer::value(0)),
            Err(e) => return Err(e),
        };
        let top_verified = self.verified(&requirements, &image, &source, None, &top).await;
        let (top_kind, top_parsed) = Manifest::parse(&top, top_type.as_deref())?;
        let (manifest, kind, parsed) = match top_parsed {
            Manifest::List(list) => {
                let platform = self.env.platform(&self.job.platform);
                let d = list.choose(&platform)?.clone();
                let (bytes, media_type) = source.manifest(Some(&d.digest)).await?;
                manifest::verify_manifest_digest(&bytes, &d.digest)?;
                let instance_verified = self.verified(&requirements, &image, &source, Some(&d.digest), &bytes).await;
                if let (Err(e), Err(_)) = (instance_verified, top_verified) {
                    return Err(e);
                }
                let (kind, parsed) = Manifest::parse(&bytes, media_type.as_deref().or(Some(d.media_type.as_str())))?;
                if matches!(parsed, Manifest::List(_)) {
                    return Err(Error::unsupported("nested manifest lists are not supported"));
                }
                (bytes, kind, parsed)
            }
            parsed => {
                top_verified?;
                (top, top_kind, parsed)
            }
        };
        self.next_image += 1;
        let id = self.next_image;
        self.images.insert(id, OpenImage { source: Rc::new(source), blobs: Rc::new(blobs), manifest, kind, parsed });
        Ok(Answer::value(id))
    }

    /// Whether `bytes` (the manifest of the image or of one instance) has
    /// the signatures the policy asks for.
    async fn verified(
        &self,
        requirements: &[policy::SignatureRequirement],
        image: &ImageReference,
        source: &ImageSource,
        instance: Option<&Digest>,
        bytes: &[u8],
    ) -> Result<()> {
        if requirements.is_empty() {
            return Ok(());
        }
        let digest = manifest::manifest_digest(bytes)?;
        let signatures = source.signatures(instance, &digest).await.map_err(|e| e.context("reading signatures"))?;
        policy::verify_signatures(&self.io, requirements, image, bytes, &signatures).await
    }

    /// The image's manifest in OCI form, with the digest of the manifest as stored.
    async fn oci_manifest(&self, id: &Value) -> Result<(Digest, Vec<u8>)> {
        let img = self.image(id)?;
        let digest = manifest::manifest_digest(&img.manifest)?;
        match &img.parsed {
            Manifest::Image(m) if m.kind == ManifestKind::OciManifest => Ok((digest, img.manifest.clone())),
            Manifest::Image(m) if m.kind == ManifestKind::DockerV2S2 => {
                let config = img.source.small_blob(&m.config, MAX_MANIFEST_SIZE).await?;
                Ok((digest, manifest::convert::docker_to_oci(m, &config)?.manifest))
            }
            Manifest::Schema1(_) => {
                Err(Error::unsupported(format!("unsupported legacy manifest MIME type: {}", img.kind.media_type())))
            }
            Manifest::Image(m) => {
                Err(Error::unsupported(format!("unsupported manifest MIME type: {}", m.kind.media_type())))
            }
            Manifest::List(_) => unreachable!("lists are resolved when an image is opened"),
        }
    }

    /// The image's config as `imgspecv1.Image`.
    async fn oci_config(&self, id: &Value) -> Result<ImageConfig> {
        let img = self.image(id)?;
        match &img.parsed {
            Manifest::Image(m) => ImageConfig::parse(&img.source.small_blob(&m.config, MAX_MANIFEST_SIZE).await?),
            Manifest::Schema1(s) => ImageConfig::parse(s.top_v1_compatibility.as_bytes()),
            Manifest::List(_) => unreachable!("lists are resolved when an image is opened"),
        }
    }

    /// `[{"digest","size","media_type"}]` of the layers as a copy reads them.
    async fn layer_infos(&self, id: &Value) -> Result<Value> {
        let img = self.image(id)?;
        let layers: Vec<Descriptor> = match &img.parsed {
            Manifest::Image(_) => {
                let (bytes, media_type) = img.blobs.manifest(None).await?;
                let instance = manifest::manifest_digest(&img.manifest)?;
                let bytes = match Manifest::parse(&bytes, media_type.as_deref())? {
                    // A list: the instance opened.
                    (_, Manifest::List(_)) => img.blobs.manifest(Some(&instance)).await?.0,
                    _ => bytes,
                };
                match Manifest::parse(&bytes, None)? {
                    (_, Manifest::Image(m)) => m.layers,
                    _ => return Err(Error::other("the image's manifest changed while it was open")),
                }
            }
            // containers/image lists schema 1 layers base first, sizes unknown.
            Manifest::Schema1(s) => s.layers.iter().rev().map(|d| Descriptor::of_unknown_size(d.clone())).collect(),
            Manifest::List(_) => unreachable!("lists are resolved when an image is opened"),
        };
        Ok(Value::Array(
            layers
                .iter()
                .map(|l| json!({"digest": l.digest.to_string(), "size": l.size, "media_type": l.media_type}))
                .collect(),
        ))
    }

    /// `GetBlob`: the blob through a pipe, its size and digest checked by
    /// the writer and reported by `FinishPipe`.
    async fn get_blob(&mut self, args: &[Value]) -> Result<Answer> {
        if args.len() != 3 {
            return Err(Error::invalid(format!("found {} args, expecting (imgid, digest, size)", args.len())));
        }
        let img = self.image(&args[0])?;
        let digest = wire::string(&args[1], "expecting string blobid")?;
        let size = wire::uint64(&args[2])?;
        let digest = Digest::parse(digest)?;
        let blobs = img.blobs.clone();
        let value = known_size(&self.io, &blobs, &digest).await?.unwrap_or(size);
        // Read to the end whatever the size asked for: the check below
        // reports the difference as containers/common does.
        let d = Descriptor::of_unknown_size(digest.clone());
        self.piped(json!(value), move |id| async move {
            match blobs.pull_blob_measured(&d, BlobSink::Pipe(id)).await {
                Ok((_, n)) if n != size => Err(format!("expected {size} bytes in blob, got {n}")),
                Ok((got, _)) if got != digest.to_string() => Err(format!("corrupted blob, expecting {digest}")),
                Ok(_) => Ok(()),
                Err(e) => Err(e.message),
            }
        })
        .await
    }

    /// `GetRawBlob` (0.2.8): the blob through one pipe, unchecked, and any
    /// failure as `{"code","message"}` through a second; both close at the end.
    async fn get_raw_blob(&mut self, args: &[Value]) -> Result<Answer> {
        if args.len() != 2 {
            return Err(Error::invalid(format!("found {} args, expecting (imgid, digest)", args.len())));
        }
        let img = self.image(&args[0])?;
        let digest = Digest::parse(wire::string(&args[1], "expecting string blobid")?)?;
        let blobs = img.blobs.clone();
        let value = known_size(&self.io, &blobs, &digest).await?.map_or(json!(-1), |s| json!(s));
        let (data, errors) = (self.pipe_id(), self.pipe_id());
        let io = self.io.clone();
        for id in [data, errors] {
            self.background
                .run(io.pipe_request(Request::PipeOpen { id }))
                .await
                .map_err(|e| Error::new(ErrorKind::Io, e.message))?;
        }
        self.background.spawn(async move {
            let d = Descriptor::of_unknown_size(digest);
            if let Err(e) = blobs.pull_blob_measured(&d, BlobSink::Pipe(data)).await {
                let report = json!({"code": wire::error_code(&e), "message": e.message});
                let data = crate::go::json::marshal(&report).unwrap_or_default();
                let _ = io.pipe_request(Request::PipeWrite { id: errors, data }).await;
            }
            for id in [data, errors] {
                let _ = io.pipe_request(Request::PipeClose { id }).await;
            }
        });
        Ok(Answer { value, pipes: vec![data, errors], pipe_id: 0 })
    }
}

fn one_arg(args: &[Value], message: &str) -> Result<()> {
    if args.len() != 1 {
        return Err(Error::invalid(message.to_owned()));
    }
    Ok(())
}

/// The size of a blob as the source says it (a file's size, a registry's
/// `Content-Length`); a blob the source does not hold is an error now, as
/// containers/image's `GetBlob` fails before any pipe exists.
async fn known_size(io: &crate::engine::Io, source: &ImageSource, digest: &Digest) -> Result<Option<u64>> {
    if let ImageSource::Registry(r) = source {
        return r.blob_size(digest).await;
    }
    match source.local_blob(digest).await? {
        Some(crate::engine::BlobSource::File { path }) => {
            let info = io.stat(path.clone()).await.map_err(|e| Error::new(ErrorKind::Io, e.message))?;
            match info.kind {
                crate::engine::FileKind::Absent => Err(Error::not_found(format!("blob {digest} not found: {path}"))),
                _ => Ok(Some(info.size)),
            }
        }
        Some(crate::engine::BlobSource::FileRange { length, .. }) => Ok(Some(length)),
        _ => Ok(None),
    }
}
