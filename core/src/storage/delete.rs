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

use super::lists::{read_list, str_field, str_list, write_list};
use super::location::Store;
use super::locks::{self, Held, Lock};
use super::records;
use crate::config::Environment;
use crate::engine::{Io, Request};
use crate::error::{Error, ErrorKind, Result};
use crate::reference::StorageReference;

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

/// Deletes the image `r` names from its store.
pub async fn delete(io: &Io, env: &Environment, r: &StorageReference, shown: &str) -> Result<()> {
    let store = super::location::find(io, env, r).await?;
    // Not there: an error before anything is locked (or created), exit 1
    // as skopeo's delete (not inspect's 2 for an image that is not there).
    let not_there = |e: Error| match e.kind {
        ErrorKind::NotFound => Error::new(ErrorKind::Other, e.message),
        _ => e,
    };
    records::resolve(&records::images(io, &store).await?, r, shown).map_err(not_there)?;
    let held = locks::take(
        io,
        &store,
        &[(Lock::Storage, true), (Lock::Layers, true), (Lock::Images, true), (Lock::Containers, false)],
        env.pid,
    )
    .await?;
    let result = delete_locked(io, env, &store, r, shown, &held).await;
    held.release().await;
    result
}

async fn delete_locked(
    io: &Io,
    env: &Environment,
    store: &Store,
    r: &StorageReference,
    shown: &str,
    held: &Held<'_>,
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
    // The image's record goes first: its layers are then unused.
    write_list(io, &images_path, &images, pid).await?;
    held.touch(Lock::Images).await?;
    let _ = io.fs(Request::RemoveDir { path: format!("{}/{id}", store.images_dir()) }).await;
    if !remove.is_empty() {
        layers.retain(|l| !remove.iter().any(|r| Some(r.as_str()) == str_field(l, "id")));
        write_list(io, &layers_path, &layers, pid).await?;
        held.touch(Lock::Layers).await?;
        for layer in &remove {
            super::driver::remove_files(io, store, layer).await;
        }
        held.touch(Lock::Storage).await?;
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
