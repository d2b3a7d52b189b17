//! The plan: every image of every source with the destination skopeo would
//! name for it (`DEST/<last path component>` or, `--scoped`, the whole
//! source path; then `--append-suffix`), and the shards it splits into.

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::DestKind;
use super::sources::{Group, image_name};
use crate::error::{Error, Result};
use crate::go::path;
use crate::reference::{ArchiveSelector, DockerReference, ImageReference, LayoutReference};

/// One image to copy.
#[derive(Debug, Clone)]
pub struct Entry {
    pub source: ImageReference,
    pub source_name: String,
    pub destination: ImageReference,
    pub destination_name: String,
    /// Which group (source) it belongs to, and its place there (1-based, of).
    pub group: usize,
    pub counter: (usize, usize),
}

/// `--shard I/N`: the I-th (from 0, as Kubernetes' `JOB_COMPLETION_INDEX`) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || Error::invalid(format!("--shard {s:?}: expected I/N with 0 <= I < N, e.g. 0/4"));
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse::<u32>().map_err(|_| bad())?, n.trim().parse::<u32>().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard copies `e`: decided by a hash of its source and
    /// destination names alone, so every process given the same sources
    /// agrees whatever order it found them in, and shards never overlap.
    pub fn owns(&self, e: &Entry) -> bool {
        let h = Sha256::new()
            .chain_update(e.source_name.as_bytes())
            .chain_update([0])
            .chain_update(e.destination_name.as_bytes())
            .finalize();
        let n = u64::from_be_bytes(h[..8].try_into().expect("8 bytes"));
        n % u64::from(self.count) == u64::from(self.index)
    }
}

/// How destinations are named.
#[derive(Debug, Clone)]
pub struct Naming<'a> {
    pub kind: DestKind,
    pub destination: &'a str,
    pub scoped: bool,
    pub append_suffix: &'a str,
}

impl Naming<'_> {
    /// The destination of a source image whose naming path is `suffix`.
    pub fn destination(&self, suffix: &str) -> Result<ImageReference> {
        let suffix = if self.scoped { suffix.to_owned() } else { path::base(suffix) };
        let target = path::join(&[self.destination, &suffix]) + self.append_suffix;
        Ok(match self.kind {
            DestKind::Docker => ImageReference::Docker(DockerReference::parse_normalized(&target).map_err(|e| {
                e.context(format!(
                    "Cannot obtain a valid image reference for transport \"docker\" and reference {target:?}"
                ))
            })?),
            DestKind::Dir => ImageReference::Dir { path: target },
            // One layout holds them all, each named by its path (OCI allows
            // `/` and `:` in `org.opencontainers.image.ref.name`).
            DestKind::Oci => ImageReference::Oci(LayoutReference {
                path: self.destination.to_owned(),
                ref_name: Some(path::join(&[&suffix]) + self.append_suffix),
                selector: ArchiveSelector::Only,
            }),
        })
    }
}

/// Every image of `groups`, named.
pub fn entries(groups: &[Group], naming: &Naming<'_>) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        for (i, image) in group.images.iter().enumerate() {
            let destination = naming.destination(&image.suffix)?;
            out.push(Entry {
                source_name: image_name(&image.reference),
                destination_name: image_name(&destination),
                source: image.reference.clone(),
                destination,
                group: g,
                counter: (i + 1, group.images.len()),
            });
        }
    }
    Ok(out)
}

/// `--plan FILE`: what would be copied, as JSON.
#[derive(Serialize)]
pub struct PlanFile<'a> {
    pub images: Vec<PlanItem<'a>>,
}

#[derive(Serialize)]
pub struct PlanItem<'a> {
    pub source: &'a str,
    pub destination: &'a str,
    /// The digest the source names, where it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl<'a> PlanItem<'a> {
    pub fn of(e: &'a Entry) -> Self {
        let digest = e.source.docker_reference().and_then(|d| d.digest.as_ref()).map(ToString::to_string);
        PlanItem { source: &e.source_name, destination: &e.destination_name, digest }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naming(kind: DestKind, scoped: bool, suffix: &'static str) -> Naming<'static> {
        Naming { kind, destination: "/media/usb/", scoped, append_suffix: suffix }
    }

    #[test]
    fn destinations_are_named_as_skopeo_names_them() {
        let full = "reg.test:5000/lib/app:v1";
        let name = |n: &Naming<'_>, s: &str| image_name(&n.destination(s).unwrap());
        assert_eq!(name(&naming(DestKind::Dir, false, ""), full), "dir:/media/usb/app:v1");
        assert_eq!(name(&naming(DestKind::Dir, true, ""), full), "dir:/media/usb/reg.test:5000/lib/app:v1");
        assert_eq!(name(&naming(DestKind::Dir, false, "-mirror"), full), "dir:/media/usb/app:v1-mirror");
        let docker = Naming { kind: DestKind::Docker, destination: "mirror.test/ns", scoped: false, append_suffix: "" };
        assert_eq!(name(&docker, full), "docker://mirror.test/ns/app:v1");
        assert_eq!(name(&docker, "/sub/app:v2"), "docker://mirror.test/ns/app:v2", "a dir source's path");
        let hub = Naming { kind: DestKind::Docker, destination: "docker.io/library", scoped: false, append_suffix: "" };
        assert_eq!(name(&hub, full), "docker://app:v1");
        let oci = naming(DestKind::Oci, true, "");
        assert_eq!(name(&oci, full), "oci:/media/usb/:reg.test:5000/lib/app:v1");
    }

    #[test]
    fn shards_split_the_plan_disjointly_whatever_its_order() {
        let entry = |i: usize| {
            let src = format!("docker://reg.test/app:{i}");
            Entry {
                source: ImageReference::parse(&src).unwrap(),
                source_name: src,
                destination: ImageReference::Dir { path: format!("/d/app:{i}") },
                destination_name: format!("dir:/d/app:{i}"),
                group: 0,
                counter: (i, 100),
            }
        };
        let all: Vec<Entry> = (0..100).map(entry).collect();
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        for e in &all {
            assert_eq!(shards.iter().filter(|s| s.owns(e)).count(), 1, "{}", e.source_name);
        }
        let sizes: Vec<usize> = shards.iter().map(|s| all.iter().filter(|e| s.owns(e)).count()).collect();
        assert!(sizes.iter().all(|&n| n > 20), "roughly even: {sizes:?}");
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Shard::parse("2/5").unwrap(), Shard { index: 2, count: 5 });
    }
}
