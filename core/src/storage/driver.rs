//! The graph drivers' layer directories, as containers/storage lays them
//! out: `vfs/dir/<id>` holds a layer's whole file system (its parent's,
//! copied, with its own changes applied); `overlay/<id>/diff` holds only
//! its changes (whiteouts kept as overlayfs reads them), beside `link`
//! (a short name, `overlay/l/<name>` being a symlink to `../<id>/diff`),
//! `lower` (the short names of its parents, nearest first), `work/`,
//! `merged/`, and for a base layer `empty/`.

use super::location::Store;
use crate::engine::{Io, IoErrorKind, Request, WhiteoutFormat};
use crate::error::{Error, Result};
use crate::storage::lists::io_error;

/// containers/storage's `idLength`: the short names are 26 characters of
/// base32 (`[A-Z2-7]`).
const LINK_LENGTH: usize = 26;

/// Where and how a new layer is unpacked.
pub struct Unpack {
    pub root: String,
    pub copy_from: Option<String>,
    pub whiteouts: WhiteoutFormat,
}

/// Makes what the driver needs before layer `id` (child of `parent`) is
/// unpacked; a directory left by a write that died first goes.
pub async fn prepare(io: &Io, store: &Store, id: &str, parent: Option<&str>) -> Result<Unpack> {
    let g = &store.graph_root;
    remove_files(io, store, id).await;
    match store.driver.as_str() {
        "vfs" => {
            create(io, format!("{g}/vfs/dir")).await?;
            Ok(Unpack {
                root: store.layer_root(id),
                copy_from: parent.map(|p| store.layer_root(p)),
                whiteouts: WhiteoutFormat::Apply,
            })
        }
        _ => {
            let dir = format!("{g}/overlay/{id}");
            create(io, format!("{g}/overlay/l")).await?;
            for sub in ["", "/work", "/merged"] {
                create(io, format!("{dir}{sub}")).await?;
            }
            if parent.is_none() {
                create(io, format!("{dir}/empty")).await?;
            }
            Ok(Unpack { root: format!("{dir}/diff"), copy_from: None, whiteouts: WhiteoutFormat::Overlay })
        }
    }
}

/// For overlay, once the layer is unpacked: its short name and link, and
/// the `lower` chain of its parent's.
pub async fn finish(io: &Io, store: &Store, id: &str, parent: Option<&str>) -> Result<()> {
    if store.driver == "vfs" {
        return Ok(());
    }
    let g = &store.graph_root;
    let random =
        io.random(LINK_LENGTH as u32).await.map_err(|e| Error::other(format!("no random bytes: {}", e.message)))?;
    const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let link: String = random.iter().map(|b| BASE32[(b & 31) as usize] as char).collect();
    io.fs(Request::Symlink { target: format!("../{id}/diff"), path: format!("{g}/overlay/l/{link}") })
        .await
        .map_err(io_error(format!("linking layer {id}")))?;
    write(io, format!("{g}/overlay/{id}/link"), link.into_bytes()).await?;
    if let Some(p) = parent {
        let parent_link = read_small(io, format!("{g}/overlay/{p}/link")).await?.unwrap_or_default();
        if parent_link.is_empty() {
            return Err(Error::integrity(format!("overlay layer {p} has no short name (its link file)")));
        }
        let mut lower = format!("l/{parent_link}");
        if let Some(up) = read_small(io, format!("{g}/overlay/{p}/lower")).await?.filter(|l| !l.is_empty()) {
            lower = format!("{lower}:{up}");
        }
        write(io, format!("{g}/overlay/{id}/lower"), lower.into_bytes()).await?;
    }
    Ok(())
}

/// Removes layer `id`'s files (nothing there is fine).
pub async fn remove_files(io: &Io, store: &Store, id: &str) {
    let _ = io.fs(Request::RemoveFile { path: format!("{}/{id}.tar-split.gz", store.layers_dir()) }).await;
    if store.driver == "overlay" {
        if let Ok(Some(name)) = read_small(io, format!("{}/overlay/{id}/link", store.graph_root)).await
            && !name.is_empty()
            && !name.contains('/')
            && name != "."
            && name != ".."
        {
            let _ = io.fs(Request::RemoveFile { path: format!("{}/overlay/l/{name}", store.graph_root) }).await;
        }
        let _ = io.fs(Request::RemoveDir { path: format!("{}/overlay/{id}", store.graph_root) }).await;
    } else {
        let _ = io.fs(Request::RemoveDir { path: format!("{}/vfs/dir/{id}", store.graph_root) }).await;
    }
}

async fn create(io: &Io, path: String) -> Result<()> {
    io.fs(Request::CreateDir { path: path.clone() }).await.map_err(io_error(format!("creating {path}")))
}

async fn write(io: &Io, path: String, data: Vec<u8>) -> Result<()> {
    io.fs(Request::WriteFile { path: path.clone(), data }).await.map_err(io_error(format!("writing {path}")))
}

/// A short file's text, trimmed; none when it does not exist.
async fn read_small(io: &Io, path: String) -> Result<Option<String>> {
    match io.read_file(path.clone(), 64 << 10).await {
        Ok(b) => Ok(Some(String::from_utf8_lossy(&b).trim().to_owned())),
        Err(e) if e.kind == IoErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(format!("reading {path}"))(e)),
    }
}
