//! `delete containers-storage:…`, as containers/storage's `DeleteImage`
//! does it: under the store's locks (storage, layers, images, then the
//! containers' for reading — its lock order), the image's record and its
//! big-data directory go, then each of its layers from the top down that
//! no other image or container uses and that has no other child. The JSON
//! files are rewritten through a temporary name and a rename, records
//! skiff does not know carried through unchanged, and each changed store's
//! lock gets a new last-writer token so a podman running at the same time
//! reloads it. Layers' files are removed after the records no longer name
//! them, so a killed delete leaves unused directories, never records that
//! point at nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::location::Store;
use super::records;
use crate::config::Environment;
use crate::engine::{Io, IoErrorKind, Request};
use crate::error::{Error, ErrorKind, Result};
use crate::reference::StorageReference;

const MAX_RECORDS: u64 = 64 << 20;

fn io_error(what: String) -> impl FnOnce(crate::engine::IoError) -> Error {
    move |e| Error::new(ErrorKind::Io, format!("{what}: {}", e.message))
}

/// A JSON record list as it is on disk (absent: empty).
async fn read_list(io: &Io, path: &str) -> Result<Vec<Value>> {
    match io.read_file(path.to_owned(), MAX_RECORDS).await {
        Ok(b) => {
            serde_json::from_slice(&b).map_err(|e| Error::integrity(format!("{path} is not a valid record list: {e}")))
        }
        Err(e) if e.kind == IoErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::new(ErrorKind::Io, format!("reading {path}: {}", e.message))),
    }
}

/// Writes a record list as Go marshals it, through a temporary name
/// (mode 0600, as containers/storage writes its JSON) and a rename.
async fn write_list(io: &Io, path: &str, list: &[Value], pid: u32) -> Result<()> {
    let json = serde_json::to_string(list).map_err(|e| Error::other(e.to_string()))?;
    let temp = format!("{path}.{pid}.skiff-tmp");
    let data = crate::go::json::html_escape(&json).into_bytes();
    io.fs(Request::WritePrivateFile { path: temp.clone(), data }).await.map_err(io_error(format!("writing {temp}")))?;
    io.fs(Request::Rename { from: temp, to: path.to_owned() }).await.map_err(io_error(format!("replacing {path}")))
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn str_list<'a>(v: &'a Value, key: &str) -> Vec<&'a str> {
    v.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// containers/storage's lock files, in its lock order.
fn lock_files(store: &Store) -> [(String, bool); 4] {
    let containers = format!("{}/{}-containers", store.graph_root, store.driver);
    [
        (format!("{}/storage.lock", store.graph_root), true),
        (format!("{}/layers.lock", store.layers_dir()), true),
        (format!("{}/images.lock", store.images_dir()), true),
        (format!("{containers}/containers.lock"), false),
    ]
}

/// The layers `DeleteImage` removes with image `image`: its mapped top
/// layers, then from its top layer down each one no container and no other
/// image uses and whose children all go too.
fn layers_to_remove(image: &Value, images: &[Value], layers: &[Value], containers: &[Value]) -> Vec<String> {
    let id = str_field(image, "id").unwrap_or_default();
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for l in layers {
        if let Some(me) = str_field(l, "id") {
            children.entry(str_field(l, "parent").unwrap_or_default()).or_default().push(me);
        }
    }
    let others: BTreeSet<&str> = images
        .iter()
        .filter(|i| str_field(i, "id") != Some(id))
        .flat_map(|i| str_field(i, "layer").into_iter().chain(str_list(i, "mapped-top-layers")))
        .collect();
    let container_layers: BTreeSet<&str> =
        containers.iter().flat_map(|c| str_field(c, "id").into_iter().chain(str_field(c, "layer"))).collect();
    let mapped = str_list(image, "mapped-top-layers");
    let mut remove: Vec<String> = mapped.iter().map(|s| (*s).to_owned()).collect();
    let top = str_field(image, "layer").unwrap_or_default();
    let mut layer = top.to_owned();
    while !layer.is_empty() && remove.len() <= layers.len() {
        if container_layers.contains(layer.as_str()) || others.contains(layer.as_str()) {
            break;
        }
        let mut checked = vec![layer.as_str()];
        if layer == top {
            checked.extend(mapped.iter().copied());
        }
        let kept_child = checked
            .iter()
            .flat_map(|l| children.get(l).into_iter().flatten())
            .any(|child| !remove.iter().any(|r| r == child));
        if kept_child {
            break;
        }
        remove.push(layer.clone());
        layer = layers
            .iter()
            .find(|l| str_field(l, "id") == Some(layer.as_str()))
            .and_then(|l| str_field(l, "parent"))
            .unwrap_or_default()
            .to_owned();
    }
    remove
}

/// The files of layer `id` in `store`'s driver: the directory, and for
/// overlay its short-name link in `overlay/l/`.
async fn remove_layer_files(io: &Io, store: &Store, id: &str) {
    let _ = io.fs(Request::RemoveFile { path: format!("{}/{id}.tar-split.gz", store.layers_dir()) }).await;
    if store.driver == "overlay" {
        let link = format!("{}/overlay/{id}/link", store.graph_root);
        if let Ok(name) = io.read_file(link, 64).await {
            let name = String::from_utf8_lossy(&name).trim().to_owned();
            if !name.is_empty() && !name.contains('/') && name != "." && name != ".." {
                let _ = io.fs(Request::RemoveFile { path: format!("{}/overlay/l/{name}", store.graph_root) }).await;
            }
        }
        let _ = io.fs(Request::RemoveDir { path: format!("{}/overlay/{id}", store.graph_root) }).await;
    } else {
        let _ = io.fs(Request::RemoveDir { path: format!("{}/vfs/dir/{id}", store.graph_root) }).await;
    }
}

/// containers/storage's last-writer token: unix nanoseconds and a counter
/// (little-endian u64s), the pid (u32), then random bytes, 64 in all.
async fn token(io: &Io, pid: u32) -> Result<Vec<u8>> {
    let mut t = Vec::with_capacity(64);
    t.extend_from_slice(&io.now_ms().saturating_mul(1_000_000).to_le_bytes());
    t.extend_from_slice(&1u64.to_le_bytes());
    t.extend_from_slice(&pid.to_le_bytes());
    let random =
        io.random(44).await.map_err(|e| Error::other(format!("no random bytes for a lock token: {}", e.message)))?;
    t.extend_from_slice(&random);
    Ok(t)
}

/// Deletes the image `r` names from its store.
pub async fn delete(io: &Io, env: &Environment, r: &StorageReference, shown: &str) -> Result<()> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1 << 30);
    let store = super::location::find(io, env, r).await?;
    // Not there: an error before anything is locked (or created), exit 1
    // as skopeo's delete (not inspect's 2 for an image that is not there).
    let not_there = |e: Error| match e.kind {
        ErrorKind::NotFound => Error::new(ErrorKind::Other, e.message),
        _ => e,
    };
    records::resolve(&records::images(io, &store).await?, r, shown).map_err(not_there)?;
    let mut held = Vec::new();
    let mut result = Ok(());
    for (path, exclusive) in lock_files(&store) {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let parent = path.rsplit_once('/').map(|(d, _)| d.to_owned()).unwrap_or_default();
        if let Err(e) = io.fs(Request::CreateDir { path: parent }).await {
            result = Err(io_error(format!("creating the directory of {path}"))(e));
            break;
        }
        match io.fs(Request::FileLock { id, path: path.clone(), exclusive }).await {
            Ok(()) => held.push((id, path)),
            Err(e) => {
                result = Err(io_error(format!("locking {path}"))(e));
                break;
            }
        }
    }
    if result.is_ok() {
        result = delete_locked(io, env, &store, r, shown, &held).await;
    }
    for (id, path) in held.into_iter().rev() {
        if let Err(e) = io.fs(Request::Unlock { id }).await {
            io.warn(format!("unlocking {path}: {}", e.message));
        }
    }
    result
}

async fn delete_locked(
    io: &Io,
    env: &Environment,
    store: &Store,
    r: &StorageReference,
    shown: &str,
    held: &[(u32, String)],
) -> Result<()> {
    let images_path = format!("{}/images.json", store.images_dir());
    let layers_path = format!("{}/layers.json", store.layers_dir());
    let containers_path = format!("{}/{}-containers/containers.json", store.graph_root, store.driver);
    let typed = records::images(io, store).await?;
    let id = records::resolve(&typed, r, shown)?.id.clone();
    let mut images = read_list(io, &images_path).await?;
    let mut layers = read_list(io, &layers_path).await?;
    let containers = read_list(io, &containers_path).await?;
    if let Some(c) = containers.iter().find(|c| str_field(c, "image") == Some(id.as_str())) {
        return Err(Error::invalid(format!(
            "image used by {}: image is in use by a container",
            str_field(c, "id").unwrap_or_default()
        )));
    }
    let at = images.iter().position(|i| str_field(i, "id") == Some(id.as_str())).ok_or_else(|| {
        Error::not_found(format!("reference {shown:?} does not resolve to an image ID: identifier is not an image"))
    })?;
    let image = images.remove(at);
    let remove = layers_to_remove(&image, &images, &layers, &containers);
    let pid = env.pid;
    let touch = async |which: usize| -> Result<()> {
        let (lock, path) = &held[which];
        let data = token(io, pid).await?;
        io.fs(Request::TouchLock { id: *lock, data }).await.map_err(io_error(format!("writing {path}")))
    };
    // The image's record goes first: its layers are then unused.
    write_list(io, &images_path, &images, pid).await?;
    touch(2).await?;
    let _ = io.fs(Request::RemoveDir { path: format!("{}/{id}", store.images_dir()) }).await;
    if !remove.is_empty() {
        layers.retain(|l| !remove.iter().any(|r| Some(r.as_str()) == str_field(l, "id")));
        write_list(io, &layers_path, &layers, pid).await?;
        touch(1).await?;
        for layer in &remove {
            remove_layer_files(io, store, layer).await;
        }
        touch(0).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn layers_still_used_stay() {
        let layers = vec![
            json!({"id": "base"}),
            json!({"id": "mid", "parent": "base"}),
            json!({"id": "a-top", "parent": "mid"}),
            json!({"id": "b-top", "parent": "mid"}),
            json!({"id": "alone"}),
        ];
        let a = json!({"id": "A", "layer": "a-top"});
        let b = json!({"id": "B", "layer": "b-top"});
        let c = json!({"id": "C", "layer": "alone"});
        let all =
            |except: &str| -> Vec<Value> { [&a, &b, &c].into_iter().filter(|i| i["id"] != except).cloned().collect() };
        assert_eq!(layers_to_remove(&a, &all("A"), &layers, &[]), vec!["a-top"], "mid has another child");
        assert_eq!(layers_to_remove(&c, &all("C"), &layers, &[]), vec!["alone"]);
        let without_b: Vec<Value> = vec![c.clone()];
        let only_a: Vec<Value> = layers.iter().filter(|l| l["id"] != "b-top").cloned().collect();
        assert_eq!(layers_to_remove(&a, &without_b, &only_a, &[]), vec!["a-top", "mid", "base"]);
        // A layer that is another image's top, or a container's, stays.
        let d = json!({"id": "D", "layer": "mid"});
        assert_eq!(layers_to_remove(&a, &[d], &only_a, &[]), vec!["a-top"]);
        let container = json!({"id": "ctr", "layer": "mid", "image": "X"});
        assert_eq!(layers_to_remove(&a, &[], &only_a, &[container]), vec!["a-top"]);
    }
}
