//! `layers IMAGE [LAYER…]` (skopeo's deprecated, hidden command; its
//! deprecation line is kept): the image's blobs — the ones named, else
//! every layer and the config — and its manifest written into a new
//! `./layers-<number>` directory in the `dir:` format, each blob checked
//! against its digest. A list resolves to this machine's instance first.

use serde::Deserialize;

use crate::config::Environment;
use crate::digest::Digest;
use crate::engine::{BlobSink, FileKind, Io, Request};
use crate::error::{Error, ErrorKind, Result};
use crate::files::{fs_error, join};
use crate::manifest::{Descriptor, Manifest};
use crate::platform::WantedPlatform;
use crate::reference::ImageReference;
use crate::transport::{DIR_VERSION, ImageSource, SideOptions};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayersJob {
    pub image: String,
    /// Digests to fetch (`sha256:` may be left out); none: every layer and the config.
    #[serde(default)]
    pub layers: Vec<String>,
    #[serde(default)]
    pub side: SideOptions,
    #[serde(default)]
    pub platform: WantedPlatform,
}

/// A new directory `layers-` and a random number (Go's `os.MkdirTemp` pattern).
async fn new_directory(io: &Io) -> Result<String> {
    for _ in 0..100 {
        let r = io.random(4).await.map_err(|e| Error::other(format!("choosing a directory name: {}", e.message)))?;
        let dir = format!("layers-{}", u32::from_le_bytes([r[0], r[1], r[2], r[3]]));
        if io.stat(dir.clone()).await.is_ok_and(|i| i.kind == FileKind::Absent) {
            io.fs(Request::CreateDir { path: dir.clone() }).await.map_err(fs_error(format!("creating {dir}")))?;
            return Ok(dir);
        }
    }
    Err(Error::other("no free layers-NNNNNNNNN directory name"))
}

pub async fn run(io: Io, mut job: LayersJob, env: Environment) -> Result<Vec<u8>> {
    io.note("DEPRECATED: skopeo layers is deprecated in favor of skopeo copy".to_owned());
    let image = ImageReference::parse(&job.image)?;
    job.side.resolve(&io, &env, &image).await?;
    let source = ImageSource::open(&io, &image, &job.side, &env.scratch_dir())?;
    let (top, top_type) = source.manifest(None).await?;
    let (mut bytes, mut parsed) = (top.clone(), Manifest::parse(&top, top_type.as_deref())?.1);
    if let Manifest::List(list) = &parsed {
        let d = list.choose(&env.platform(&job.platform))?.clone();
        bytes = source.manifest(Some(&d.digest)).await?.0;
        parsed = Manifest::parse(&bytes, Some(&d.media_type))?.1;
    }
    let known: Vec<Descriptor> = match &parsed {
        Manifest::Image(m) => m.layers.iter().cloned().chain([m.config.clone()]).collect(),
        Manifest::Schema1(s) => s.layers.iter().map(|d| Descriptor::of_unknown_size(d.clone())).collect(),
        Manifest::List(_) => return Err(Error::unsupported("nested manifest lists are not supported")),
    };
    let wanted: Vec<Descriptor> = if job.layers.is_empty() {
        let mut seen = std::collections::BTreeSet::new();
        known.into_iter().filter(|d| seen.insert(d.digest.clone())).collect()
    } else {
        let mut out = Vec::new();
        for l in &job.layers {
            let text = if l.starts_with("sha256:") { l.clone() } else { format!("sha256:{l}") };
            let digest = Digest::parse(&text)?;
            out.push(known.iter().find(|d| d.digest == digest).cloned().unwrap_or(Descriptor::of_unknown_size(digest)));
        }
        out
    };
    let dir = new_directory(&io).await?;
    let write = |path: String, data: Vec<u8>| {
        let io = io.clone();
        async move {
            io.fs(Request::WriteFile { path: path.clone(), data }).await.map_err(fs_error(format!("writing {path}")))
        }
    };
    write(join(&dir, "version"), DIR_VERSION.as_bytes().to_vec()).await?;
    for d in &wanted {
        let path = join(&dir, d.digest.hex());
        source.pull_blob(d, BlobSink::File { path }).await.map_err(|e| match e.kind {
            ErrorKind::Integrity => Error::integrity(format!("corrupt blob {:?}: {}", d.digest.to_string(), e.message)),
            _ => e,
        })?;
    }
    write(join(&dir, "manifest.json"), bytes).await?;
    Ok(Vec::new())
}
