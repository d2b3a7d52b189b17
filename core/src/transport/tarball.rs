//! `tarball:FILE[:FILE…]` as a source: an image of one layer per file, as
//! containers/image's tarball transport makes it — each file's own digest
//! and size, `+gzip`/`+zstd` when it is compressed (its diff ID is then
//! the digest of what it decompresses to), and a config and manifest
//! written byte for byte as skopeo 1.9.3 writes them: `created` the newest
//! file's modification time, the machine's platform, one history entry
//! per file. `-` is standard input, copied once into the scratch space and
//! dated when it was read, as containers/image reads it whole and dates it
//! now. (skopeo prints those times in the machine's zone; skiff in UTC.
//! Upstream skopeo adds a `mediaType` to the manifest; 1.9.3 does not.)

use std::cell::RefCell;
use std::rc::Rc;

use super::join;
use crate::compression::Compression;
use crate::digest::{Algorithm, Digest};
use crate::engine::{BlobSink, BlobSource, FileKind, Io, Recompress, Request, Transfer, Transferred};
use crate::error::{Error, ErrorKind, Result};
use crate::go::time::GoTime;
use crate::manifest::config::{History, ImageConfig, RootFs, Timestamp};
use crate::platform::WantedPlatform;

#[derive(Debug)]
pub struct TarballSource {
    pub(super) io: Io,
    paths: Vec<String>,
    platform: WantedPlatform,
    tmpdir: String,
    image: RefCell<Option<Rc<Made>>>,
}

#[derive(Debug)]
struct Made {
    manifest: Vec<u8>,
    config: Vec<u8>,
    config_digest: Digest,
    config_path: String,
    /// Each layer's digest and file.
    layers: Vec<(Digest, String)>,
}

fn io_error(what: String) -> impl FnOnce(crate::engine::IoError) -> Error {
    move |e| Error::new(ErrorKind::Io, format!("{what}: {}", e.message))
}

/// A modification time as Go's `time.Time` marshals it (RFC 3339, nanoseconds trimmed).
fn go_time(ns: i64) -> Result<GoTime> {
    GoTime::from_unix_nanos(i128::from(ns)).ok_or_else(|| Error::invalid("a file's modification time is out of range"))
}

impl TarballSource {
    pub fn new(io: &Io, paths: Vec<String>, platform: WantedPlatform, tmpdir: &str) -> Self {
        TarballSource { io: io.clone(), paths, platform, tmpdir: tmpdir.to_owned(), image: RefCell::new(None) }
    }

    /// The digest and size of a file's bytes (read by the host, written nowhere).
    async fn digest_of(&self, path: &str) -> Result<(Digest, u64)> {
        let (digest, size) = self
            .io
            .file_digest(path, Algorithm::Sha256, None)
            .await
            .map_err(io_error(format!("error opening {path}")))?;
        Ok((Digest::parse(&digest)?, size))
    }

    /// Standard input, copied into the scratch space; its path there.
    async fn stdin_copy(&self) -> Result<String> {
        let path = join(&self.tmpdir, "tarball-stdin.skiff-tmp");
        let t = Transfer {
            source: BlobSource::File { path: "/dev/stdin".to_owned() },
            sink: BlobSink::File { path: path.clone() },
            algorithm: Algorithm::Sha256,
            expected_size: None,
            label: "standard input".to_owned(),
        };
        match self.io.transfer(t).await.map_err(io_error("error reading standard input".to_owned()))? {
            Transferred::Moved { .. } => Ok(path),
            Transferred::Refused(_) => Err(Error::other("error reading standard input")),
        }
    }

    /// What `path` decompresses to, hashed (its diff ID).
    async fn diff_id_of(&self, path: &str, n: usize, from: Compression) -> Result<Digest> {
        let scratch = join(&self.tmpdir, &format!("tarball-{n}.tar.skiff-tmp"));
        let request = Recompress {
            input: BlobSource::File { path: path.to_owned() },
            output: scratch.clone(),
            from,
            to: Compression::None,
            level: 0,
            algorithm: Algorithm::Sha256,
        };
        let r = self.io.recompress(request).await.map_err(io_error(format!("decompressing {path}")));
        let _ = self.io.fs(Request::RemoveFile { path: scratch }).await;
        Digest::parse(&r?.diff_id)
    }

    async fn image(&self) -> Result<Rc<Made>> {
        if let Some(m) = self.image.borrow().clone() {
            return Ok(m);
        }
        let mut layers = Vec::new();
        let mut descriptors = Vec::new();
        let mut history = Vec::new();
        let mut diff_ids = Vec::new();
        let mut newest = i64::MIN;
        let mut stdin: Option<(String, i64)> = None;
        for (n, named) in self.paths.iter().enumerate() {
            // Standard input is read once (a second `-` is the same bytes).
            let read_at = match (named.as_str(), &stdin) {
                ("-", None) => {
                    let now = i64::try_from(self.io.now_ms()).unwrap_or(i64::MAX).saturating_mul(1_000_000);
                    stdin = Some((self.stdin_copy().await?, now));
                    stdin.as_ref().map(|(_, t)| *t)
                }
                ("-", Some((_, t))) => Some(*t),
                _ => None,
            };
            let path = match (named.as_str(), &stdin) {
                ("-", Some((copy, _))) => copy,
                _ => named,
            };
            let mut info = self.io.stat(path.clone()).await.map_err(io_error(format!("error opening {path}")))?;
            if let Some(t) = read_at {
                info.modified_ns = t;
            }
            // Not "no such image" (exit 2): skopeo fails to open a file (exit 1).
            match info.target {
                FileKind::Regular => {}
                FileKind::Absent => {
                    return Err(Error::new(ErrorKind::Io, format!("error opening {path}: no such file or directory")));
                }
                _ => return Err(Error::new(ErrorKind::Io, format!("error opening {path}: not a regular file"))),
            }
            let head = self
                .io
                .read_range(path.clone(), 0, info.size.min(4))
                .await
                .map_err(io_error(format!("error reading {path}")))?;
            let (compression, media_type) = match head.as_slice() {
                [0x1f, 0x8b, ..] => (Compression::Gzip, "application/vnd.oci.image.layer.v1.tar+gzip"),
                [0x28, 0xb5, 0x2f, 0xfd] => (Compression::Zstd, "application/vnd.oci.image.layer.v1.tar+zstd"),
                _ => (Compression::None, "application/vnd.oci.image.layer.v1.tar"),
            };
            let (digest, size) = self.digest_of(path).await?;
            let diff_id = match compression {
                Compression::None => digest.clone(),
                c => self.diff_id_of(path, n, c).await?,
            };
            newest = newest.max(info.modified_ns);
            history.push(History {
                created: Some(Timestamp(go_time(info.modified_ns)?)),
                created_by: Some(format!("/bin/sh -c #(nop) ADD file:{} in /", diff_id.hex())),
                author: None,
                comment: Some("imported from tarball".to_owned()),
                empty_layer: false,
            });
            diff_ids.push(diff_id.to_string());
            descriptors.push(serde_json::json!({"mediaType": media_type, "digest": digest.to_string(), "size": size}));
            layers.push((digest, path.clone()));
        }
        let config = ImageConfig {
            created: Some(Timestamp(go_time(newest)?)),
            architecture: Some(self.platform.architecture()),
            os: Some(self.platform.os()),
            rootfs: Some(RootFs { kind: Some("layers".to_owned()), diff_ids: Some(diff_ids) }),
            history: Some(history),
            ..ImageConfig::default()
        };
        let config = crate::go::json::marshal(&config)?;
        let config_digest = Digest::sha256(&config);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest.to_string(),
                "size": config.len(),
            },
            "layers": descriptors,
        });
        let manifest = crate::go::json::marshal(&manifest)?;
        let config_path = join(&self.tmpdir, "tarball-config.json");
        self.io
            .fs(Request::WriteFile { path: config_path.clone(), data: config.clone() })
            .await
            .map_err(io_error("writing the tarball image's config".to_owned()))?;
        let made = Rc::new(Made { manifest, config, config_digest, config_path, layers });
        *self.image.borrow_mut() = Some(made.clone());
        Ok(made)
    }

    pub async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, Option<String>)> {
        if instance.is_some() {
            return Err(Error::invalid("a tarball: image is not a list"));
        }
        let m = self.image().await?;
        Ok((m.manifest.clone(), Some("application/vnd.oci.image.manifest.v1+json".to_owned())))
    }

    pub async fn blob(&self, digest: &Digest, _max: u64) -> Result<Vec<u8>> {
        let m = self.image().await?;
        if *digest == m.config_digest {
            return Ok(m.config.clone());
        }
        Err(Error::not_found(format!("blob {digest} is not the tarball image's config")))
    }

    pub async fn blob_source(&self, digest: &Digest) -> Result<BlobSource> {
        let m = self.image().await?;
        if *digest == m.config_digest {
            return Ok(BlobSource::File { path: m.config_path.clone() });
        }
        match m.layers.iter().find(|(d, _)| d == digest) {
            Some((_, path)) => Ok(BlobSource::File { path: path.clone() }),
            None => Err(Error::not_found(format!("no layer {digest} in the tarball image"))),
        }
    }
}
