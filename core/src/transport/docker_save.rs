//! Writing a `docker save` archive as containers/image writes it, entry for
//! entry: the layer tars (each once), the config, the legacy per-layer
//! directories (`<id>/layer.tar` link, `VERSION`, `json`) older loaders
//! need, `manifest.json` and `repositories`. With Go's tar headers
//! ([`super::tar_write`]) the archive is byte for byte skopeo's.

use std::collections::BTreeMap;

use serde_json::json;

use super::tar_write::{self, TarEntry};
use super::{fs_error, join};
use crate::digest::Digest;
use crate::engine::{Io, Request};
use crate::error::{Error, Result};
use crate::files::{ArchiveOutput, write_archive};
use crate::go::json::{html_escape, marshal_raw_map};
use crate::manifest::MAX_MANIFEST_SIZE;

/// The config fields the top legacy layer's `json` copies (null when absent).
const LEGACY_TOP_FIELDS: [&str; 7] =
    ["architecture", "config", "container", "container_config", "created", "docker_version", "os"];

/// The legacy directories: (layer ID, its `json`) per layer, bottom first.
fn legacy_layers(config: &[u8], layers: &[Digest]) -> Result<Vec<(String, String)>> {
    let raw: BTreeMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_slice(config).map_err(|e| Error::invalid(format!("image config: {e}")))?;
    let (mut out, mut chain, mut last): (Vec<(String, String)>, Option<Digest>, String) =
        (Vec::new(), None, String::new());
    for (i, l) in layers.iter().enumerate() {
        let mut fields: BTreeMap<String, Option<String>> = BTreeMap::new();
        if !last.is_empty() {
            fields.insert("parent".to_owned(), Some(serde_json::to_string(&last)?));
        }
        if i == layers.len() - 1 {
            for f in LEGACY_TOP_FIELDS {
                fields.insert(f.to_owned(), raw.get(f).map(|v| v.get().to_owned()));
            }
        }
        // docker's chain ID; the layer ID is the digest of the json with it.
        let next = match &chain {
            None => l.clone(),
            Some(c) => Digest::sha256(format!("{c} {l}").as_bytes()),
        };
        fields.insert("layer_id".to_owned(), Some(serde_json::to_string(&next.to_string())?));
        let id = Digest::sha256(marshal_raw_map(&fields)?.as_bytes()).hex().to_owned();
        fields.remove("layer_id");
        fields.insert("id".to_owned(), Some(serde_json::to_string(&id)?));
        out.push((id.clone(), marshal_raw_map(&fields)?));
        chain = Some(next);
        last = id;
    }
    Ok(out)
}

/// `repositories`: name → tag → top layer ID, for every `name:tag`.
fn repositories(tags: &[String], top: Option<&str>) -> Result<String> {
    let mut repos: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    if let Some(top) = top {
        for t in tags {
            let (name, tag) = t.rsplit_once(':').ok_or_else(|| Error::invalid(format!("{t}: no tag")))?;
            repos.entry(name).or_default().insert(tag, top);
        }
    }
    Ok(html_escape(&serde_json::to_string(&repos)?))
}

/// Writes the archive at `archive` from blobs staged in `staging` (named
/// by hex digest) for the image with `config` and `layers`, named `tags`;
/// through a temporary name and a rename, or in place (`output`).
pub(super) async fn write(
    io: &Io,
    staging: &str,
    archive: &str,
    output: ArchiveOutput,
    tags: &[String],
    config: &Digest,
    layers: &[Digest],
) -> Result<()> {
    let config_path = join(staging, config.hex());
    let config_bytes = io
        .read_file(config_path.clone(), MAX_MANIFEST_SIZE)
        .await
        .map_err(fs_error(format!("reading {config_path}")))?;
    let mut entries = Vec::new();
    let mut names = Vec::new();
    let mut written = std::collections::HashSet::new();
    for l in layers {
        let name = format!("{}.tar", l.hex());
        if written.insert(name.clone()) {
            let path = join(staging, l.hex());
            let size = io.stat(path.clone()).await.map_err(fs_error(format!("reading {path}")))?.size;
            entries.push(TarEntry::File { name: name.clone(), path, size, mode: 0o444 });
        }
        names.push(name);
    }
    let config_name = format!("{}.json", config.hex());
    let size = config_bytes.len() as u64;
    entries.push(TarEntry::File { name: config_name.clone(), path: config_path, size, mode: 0o444 });
    let legacy = legacy_layers(&config_bytes, layers)?;
    for ((id, layer_json), layer_name) in legacy.iter().zip(&names) {
        entries.push(TarEntry::Symlink { name: format!("{id}/layer.tar"), target: format!("../{layer_name}") });
        entries.push(TarEntry::Data { name: format!("{id}/VERSION"), data: b"1.0".to_vec(), mode: 0o444 });
        entries.push(TarEntry::Data { name: format!("{id}/json"), data: layer_json.clone().into_bytes(), mode: 0o444 });
    }
    let manifest = json!([{ "Config": config_name, "RepoTags": tags, "Layers": names }]);
    entries.push(TarEntry::Data {
        name: "manifest.json".to_owned(),
        data: html_escape(&serde_json::to_string(&manifest)?).into_bytes(),
        mode: 0o444,
    });
    let top = legacy.last().map(|(id, _)| id.as_str());
    let data = repositories(tags, top)?.into_bytes();
    entries.push(TarEntry::Data { name: "repositories".to_owned(), data, mode: 0o444 });
    write_archive(io, archive, output, tar_write::encode(&entries)?).await?;
    io.fs(Request::RemoveDir { path: staging.to_owned() }).await.map_err(fs_error(format!("removing {staging}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_ids_chain_as_containers_image_makes_them() {
        let config = br#"{"architecture":"amd64","os":"linux","config":{"Env":["A=<b>"]},"rootfs":{}}"#;
        let (a, b) = (Digest::sha256(b"a"), Digest::sha256(b"b"));
        let legacy = legacy_layers(config, &[a.clone(), b.clone()]).unwrap();
        let bottom: serde_json::Value = serde_json::from_str(&legacy[0].1).unwrap();
        assert_eq!(bottom, json!({"id": legacy[0].0}));
        let top = &legacy[1].1;
        assert!(
            top.starts_with(r#"{"architecture":"amd64","config":{"Env":["A=\u003cb\u003e"]},"container":null,"#),
            "{top}"
        );
        assert!(top.contains(&format!(r#""parent":"{}""#, legacy[0].0)));
        // The ID is the digest of the json with the chain ID in place of the ID.
        let chain = Digest::sha256(format!("{a} {b}").as_bytes());
        let with_chain = top
            .replace(&format!(r#""id":"{}","#, legacy[1].0), "")
            .replace(r#""os":"linux","#, &format!(r#""layer_id":"{chain}","os":"linux","#));
        assert_eq!(Digest::sha256(with_chain.as_bytes()).hex(), legacy[1].0);
        assert_eq!(
            repositories(&["docker.io/x/y:1".to_owned()], Some("ab")).unwrap(),
            r#"{"docker.io/x/y":{"1":"ab"}}"#
        );
        assert_eq!(repositories(&[], Some("ab")).unwrap(), "{}");
    }
}
