//! `images.json` and `layers.json`, and which image a reference names —
//! containers/image's `resolveImage`: an image carrying the name; else,
//! for `name@sha256:…`, one of that repository whose manifests include
//! the digest; else an image ID or a unique ID prefix of three or more
//! characters; `name@ID` must be that image and carry the repository.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Deserialize;

use super::location::Store;
use crate::digest::Digest;
use crate::engine::Io;
use crate::error::{Error, ErrorKind, Result};
use crate::reference::StorageReference;

/// The most an images.json or layers.json may hold.
const MAX_RECORDS: u64 = 64 << 20;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Image {
    pub id: String,
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub names: Vec<String>,
    /// The top layer (none for an image without layers).
    #[serde(default)]
    pub layer: Option<String>,
    #[serde(default)]
    pub big_data_names: Vec<String>,
    #[serde(default)]
    pub big_data_digests: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Layer {
    pub id: String,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub diff_digest: Option<String>,
    #[serde(default)]
    pub diff_size: Option<i64>,
    #[serde(default)]
    pub compressed_diff_digest: Option<String>,
    #[serde(default)]
    pub flags: BTreeMap<String, serde_json::Value>,
}

impl Image {
    /// The digests of its manifests (`digest` and every `manifest*` item's).
    pub fn manifest_digests(&self) -> Vec<&str> {
        let stored = self.big_data_digests.iter().filter(|(k, _)| k.starts_with("manifest")).map(|(_, v)| v.as_str());
        self.digest.as_deref().into_iter().chain(stored).collect()
    }
}

/// containers/storage's `makeBigDataBaseName`: the key itself when it is
/// only `[a-z0-9.]`, else `=` and its standard base64.
pub fn big_data_file(key: &str) -> String {
    if key.bytes().all(|b| b == b'.' || b.is_ascii_digit() || b.is_ascii_lowercase()) {
        return key.to_owned();
    }
    format!("={}", base64::engine::general_purpose::STANDARD.encode(key))
}

async fn read_json<T: serde::de::DeserializeOwned>(io: &Io, path: String) -> Result<Vec<T>> {
    let bytes = match io.read_file(path.clone(), MAX_RECORDS).await {
        Ok(b) => b,
        Err(e) if e.kind == crate::engine::IoErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::new(ErrorKind::Io, format!("reading {path}: {}", e.message))),
    };
    serde_json::from_slice(&bytes).map_err(|e| Error::integrity(format!("{path} is not a valid record list: {e}")))
}

pub async fn images(io: &Io, store: &Store) -> Result<Vec<Image>> {
    read_json(io, format!("{}/images.json", store.images_dir())).await
}

pub async fn layers(io: &Io, store: &Store) -> Result<Vec<Layer>> {
    read_json(io, format!("{}/layers.json", store.layers_dir())).await
}

/// Whether `image` carries a name in `repository` (any tag or digest).
fn carries_repository(image: &Image, repository: &str) -> bool {
    image.names.iter().any(|n| {
        let bare = n.split_once('@').map_or(n.as_str(), |(r, _)| r);
        let (name, _) = match bare.rfind(':') {
            Some(i) if !bare[i..].contains('/') => bare.split_at(i),
            _ => (bare, ""),
        };
        name == repository
    })
}

/// The image `r` names among `images`.
pub fn resolve<'a>(images: &'a [Image], r: &StorageReference, shown: &str) -> Result<&'a Image> {
    let not_found = || {
        Error::new(
            ErrorKind::NotFound,
            format!("reference {shown:?} does not resolve to an image ID: identifier is not an image"),
        )
    };
    if r.id.is_none()
        && let Some(named) = &r.named
    {
        let full = named.to_string();
        let mut found = images.iter().find(|i| i.names.contains(&full));
        if found.is_none()
            && let Some(d) = &named.digest
        {
            let (repo, d) = (named.name(), d.to_string());
            found = images.iter().find(|i| i.manifest_digests().contains(&d.as_str()) && carries_repository(i, &repo));
        }
        // A bare ID prefix reads as a name; try it as one.
        let text = r.text.as_str();
        if found.is_none() && text.len() >= 3 && text.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            let mut matches = images.iter().filter(|i| i.id.starts_with(text));
            found = match (matches.next(), matches.next()) {
                (Some(one), None) => Some(one),
                _ => None,
            };
        }
        return found.ok_or_else(not_found);
    }
    let id = r.id.as_deref().ok_or_else(not_found)?;
    let image = images.iter().find(|i| i.id == id).ok_or_else(not_found)?;
    if let Some(named) = &r.named
        && !carries_repository(image, &named.name())
    {
        return Err(not_found());
    }
    Ok(image)
}

/// The image's layers, base first; a layer still being written, or a
/// chain that loops or breaks, is refused.
pub fn chain<'a>(layers: &'a [Layer], image: &Image) -> Result<Vec<&'a Layer>> {
    let mut out = Vec::new();
    let mut next = image.layer.clone();
    while let Some(id) = next {
        let layer = layers.iter().find(|l| l.id == id).ok_or_else(|| {
            Error::integrity(format!("image {} names layer {id}, which the store does not have", image.id))
        })?;
        if layer.flags.get("incomplete").and_then(|v| v.as_bool()) == Some(true) {
            return Err(Error::integrity(format!("layer {id} of image {} is still being written", image.id)));
        }
        if out.iter().any(|l: &&Layer| l.id == id) || out.len() > 1000 {
            return Err(Error::integrity(format!("the layers of image {} form a loop", image.id)));
        }
        out.push(layer);
        next = layer.parent.clone();
    }
    out.reverse();
    Ok(out)
}

/// The layer of `chain` whose uncompressed digest is `diff_id`.
pub fn layer_with_diff<'a>(chain: &[&'a Layer], diff_id: &Digest) -> Option<&'a Layer> {
    let d = diff_id.to_string();
    chain.iter().copied().find(|l| l.diff_digest.as_deref() == Some(d.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_data_names_are_encoded_as_containers_storage_does() {
        assert_eq!(big_data_file("manifest"), "manifest");
        assert_eq!(big_data_file("sha256:8e25"), "=c2hhMjU2Ojhl".to_owned() + "MjU=");
        assert_eq!(
            big_data_file("manifest-sha256:ab"),
            format!("={}", base64::engine::general_purpose::STANDARD.encode("manifest-sha256:ab"))
        );
    }

    fn image(id: &str, names: &[&str], digest: &str) -> Image {
        Image {
            id: id.to_owned(),
            digest: Some(digest.to_owned()),
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            layer: None,
            big_data_names: vec![],
            big_data_digests: BTreeMap::new(),
        }
    }

    #[test]
    fn references_resolve_as_containers_image_resolves_them() {
        let a = "a".repeat(64);
        let b = format!("ab{}", "c".repeat(62));
        let d = format!("sha256:{}", "d".repeat(64));
        let images =
            vec![image(&a, &["localhost/app:v1"], &d), image(&b, &["docker.io/library/busybox:latest"], "sha256:00")];
        let find = |text: &str| {
            let r = StorageReference::parse(text).unwrap();
            resolve(&images, &r, text).map(|i| i.id.clone())
        };
        assert_eq!(find("localhost/app:v1").unwrap(), a);
        assert_eq!(find("busybox").unwrap(), b, "normalised, :latest added");
        assert_eq!(find(&format!("localhost/app@{d}")).unwrap(), a, "by manifest digest in the repository");
        assert!(find(&format!("localhost/other@{d}")).is_err());
        assert_eq!(find("abc").unwrap(), b, "a unique ID prefix");
        assert!(find("ab").is_err(), "too short a prefix");
        assert!(find("a").is_err());
        assert_eq!(find(&a).unwrap(), a);
        assert_eq!(find(&format!("localhost/app@{a}")).unwrap(), a);
        let e = find(&format!("busybox@{a}")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(e.message.contains("does not resolve to an image ID"), "{e}");
    }
}
