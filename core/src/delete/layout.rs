//! Deleting an image from an OCI layout, as upstream containers/image does
//! (`oci:` `DeleteImage`): its entry leaves `index.json`, and the blobs it
//! used that no other entry uses are removed. Unlike upstream, `index.json`
//! is rewritten first: a run stopped in between leaves unused blobs, never
//! an index naming blobs that are gone.

use std::collections::HashMap;

use crate::digest::Digest;
use crate::engine::{Io, IoErrorKind, Request};
use crate::error::{Error, Result};
use crate::manifest::{Descriptor, MAX_MANIFEST_SIZE, Manifest};
use crate::media_type::{OCI_INDEX, OCI_MANIFEST};
use crate::reference::LayoutReference;
use crate::transport::{LocalBoxFuture, fs_error, join, read_local, select_layout_entry, write_atomically};

fn blob_path(root: &str, d: &Digest) -> String {
    join(root, &format!("blobs/{}/{}", d.algorithm().name(), d.hex()))
}

/// Adds one use of `d` and of everything it names to `uses`.
fn count<'a>(
    io: &'a Io,
    root: &'a str,
    d: &'a Descriptor,
    uses: &'a mut HashMap<Digest, usize>,
) -> LocalBoxFuture<'a, Result<()>> {
    Box::pin(async move {
        *uses.entry(d.digest.clone()).or_default() += 1;
        let kind = match d.media_type.as_str() {
            OCI_MANIFEST | OCI_INDEX => d.media_type.as_str(),
            other => return Err(Error::unsupported(format!("unsupported mediaType in index: {other:?}"))),
        };
        let bytes = read_local(io, blob_path(root, &d.digest), MAX_MANIFEST_SIZE).await?;
        match Manifest::parse(&bytes, Some(kind))? {
            (_, Manifest::Image(m)) => {
                for b in std::iter::once(&m.config).chain(&m.layers) {
                    *uses.entry(b.digest.clone()).or_default() += 1;
                }
            }
            (_, Manifest::List(l)) => {
                for inner in &l.manifests {
                    count(io, root, inner, uses).await?;
                }
            }
            _ => return Err(Error::unsupported(format!("unsupported mediaType in index: {kind:?}"))),
        }
        Ok(())
    })
}

/// Deletes under the layout's lock (see [`crate::files::locked`]): a copy
/// into the layout at the same time names its image before or after, never
/// while blobs are being removed.
pub async fn delete(io: &Io, r: &LayoutReference) -> Result<()> {
    crate::files::locked(io, &r.path, delete_unlocked(io, r)).await
}

async fn delete_unlocked(io: &Io, r: &LayoutReference) -> Result<()> {
    let path = join(&r.path, "index.json");
    let bytes = read_local(io, path.clone(), MAX_MANIFEST_SIZE).await?;
    let manifests = match Manifest::parse(&bytes, Some(OCI_INDEX)).map_err(|e| e.context(&path))? {
        (_, Manifest::List(l)) => l.manifests,
        _ => return Err(Error::invalid(format!("{path} is not an image index"))),
    };
    let (position, target) = select_layout_entry(&manifests, r, &path)?;
    let mut theirs = HashMap::new();
    count(io, &r.path, target, &mut theirs).await?;
    let mut all = HashMap::new();
    for d in &manifests {
        count(io, &r.path, d, &mut all).await?;
    }
    // The index as it was (member order and unknown fields kept), less the entry.
    let mut index: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::invalid(format!("{path}: {e}")))?;
    if let Some(list) = index.get_mut("manifests").and_then(serde_json::Value::as_array_mut) {
        list.remove(position);
    }
    let mut data = serde_json::to_vec(&index)?;
    data.push(b'\n');
    write_atomically(io, &path, &data).await?;
    for (digest, n) in &all {
        if *n == theirs.get(digest).copied().unwrap_or(0) {
            let blob = blob_path(&r.path, digest);
            match io.fs(Request::RemoveFile { path: blob.clone() }).await {
                Err(e) if e.kind != IoErrorKind::NotFound => return Err(fs_error(format!("removing {blob}"))(e)),
                _ => {}
            }
        }
    }
    Ok(())
}
