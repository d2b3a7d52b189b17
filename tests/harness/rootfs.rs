//! Layer tars with every kind of entry a container file system holds —
//! directories, files with special mode bits and extended attributes,
//! symlinks, hard links, fifos, device nodes, whiteouts and opaque
//! directories — byte for byte the same on every run, and OCI layouts of
//! images made of them.

use std::path::Path;

use serde_json::{Value, json};

use super::images::{ImageSpec, Layout};

/// One entry of a layer.
#[derive(Clone)]
pub enum Entry {
    Dir(&'static str, u32),
    File(&'static str, u32, Vec<u8>),
    /// A file owned by `uid:gid`.
    Owned(&'static str, u32, u32, Vec<u8>),
    /// A file with extended attributes (PAX `SCHILY.xattr.*`).
    WithXattrs(&'static str, Vec<(&'static str, Vec<u8>)>, Vec<u8>),
    Symlink(&'static str, &'static str),
    Hardlink(&'static str, &'static str),
    Fifo(&'static str),
    Char(&'static str, u32, u32),
    /// `.wh.NAME` in the entry's directory.
    Whiteout(&'static str),
    /// `DIR/.wh..wh..opq`.
    Opaque(&'static str),
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Appends an entry named exactly `path` (the tar crate refuses `..` in
/// names, which hostile layers need), its link name taken literally.
fn append(b: &mut tar::Builder<Vec<u8>>, mut h: tar::Header, path: &str, link: Option<&str>, data: &[u8]) {
    let name = path.as_bytes();
    assert!(name.len() <= 100, "a short name: {path}");
    let field = &mut h.as_old_mut().name;
    field.fill(0);
    field[..name.len()].copy_from_slice(name);
    if let Some(l) = link {
        h.set_link_name_literal(l).unwrap();
    }
    h.set_cksum();
    b.append(&h, data).unwrap();
}

/// The tar of `entries`, in order.
pub fn tar(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            Entry::Dir(p, mode) => {
                let mut h = header(tar::EntryType::Directory, *mode, 0);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            Entry::File(p, mode, data) => {
                let h = header(tar::EntryType::Regular, *mode, data.len() as u64);
                append(&mut b, h, p, None, data);
            }
            Entry::Owned(p, uid, gid, data) => {
                let mut h = header(tar::EntryType::Regular, 0o640, data.len() as u64);
                h.set_uid(*uid as u64);
                h.set_gid(*gid as u64);
                b.append_data(&mut h, p, data.as_slice()).unwrap();
            }
            Entry::WithXattrs(p, xattrs, data) => {
                let records: Vec<(String, &[u8])> =
                    xattrs.iter().map(|(k, v)| (format!("SCHILY.xattr.{k}"), v.as_slice())).collect();
                b.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v))).unwrap();
                let mut h = header(tar::EntryType::Regular, 0o755, data.len() as u64);
                b.append_data(&mut h, p, data.as_slice()).unwrap();
            }
            Entry::Symlink(p, target) => {
                append(&mut b, header(tar::EntryType::Symlink, 0o777, 0), p, Some(target), &[])
            }
            Entry::Hardlink(p, target) => append(&mut b, header(tar::EntryType::Link, 0o644, 0), p, Some(target), &[]),
            Entry::Fifo(p) => {
                let mut h = header(tar::EntryType::Fifo, 0o600, 0);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            Entry::Char(p, major, minor) => {
                let mut h = header(tar::EntryType::Char, 0o666, 0);
                h.set_device_major(*major).unwrap();
                h.set_device_minor(*minor).unwrap();
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            Entry::Whiteout(p) => {
                let (dir, name) = p.rsplit_once('/').map_or(("", *p), |(d, n)| (d, n));
                let path = if dir.is_empty() { format!(".wh.{name}") } else { format!("{dir}/.wh.{name}") };
                let mut h = header(tar::EntryType::Regular, 0o644, 0);
                b.append_data(&mut h, path, &[][..]).unwrap();
            }
            Entry::Opaque(dir) => {
                let mut h = header(tar::EntryType::Regular, 0o644, 0);
                b.append_data(&mut h, format!("{dir}/.wh..wh..opq"), &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// A base layer with one of everything, and a layer above it that
/// removes a file, makes a directory opaque and adds files.
pub fn rich_layers() -> Vec<Vec<Entry>> {
    use Entry::*;
    let capability = vec![1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    vec![
        vec![
            Dir("etc/", 0o755),
            File("etc/hostname", 0o644, b"rich\n".to_vec()),
            File("etc/gone", 0o644, b"removed by the next layer\n".to_vec()),
            Dir("usr/", 0o755),
            Dir("usr/bin/", 0o755),
            File("usr/bin/su", 0o4755, b"#!/bin/sh\necho setuid\n".to_vec()),
            WithXattrs(
                "usr/bin/ping",
                vec![("security.capability", capability), ("user.note", b"hi".to_vec())],
                b"ping\n".to_vec(),
            ),
            Hardlink("usr/bin/su-again", "usr/bin/su"),
            Symlink("usr/bin/sh", "/bin/busybox"),
            Symlink("usr/lib", "../lib"),
            Dir("var/", 0o755),
            Dir("var/cache/", 0o755),
            File("var/cache/old", 0o600, b"old cache\n".to_vec()),
            Dir("tmp/", 0o1777),
            Owned("home/user/notes", 1000, 1000, b"mine\n".to_vec()),
            Fifo("run-fifo"),
            Char("dev-null", 1, 3),
        ],
        vec![
            Whiteout("etc/gone"),
            Opaque("var/cache"),
            File("var/cache/new", 0o644, b"new cache\n".to_vec()),
            File("etc/motd", 0o644, b"second layer\n".to_vec()),
        ],
    ]
}

/// An OCI layout at `dir` holding one image made of `layers` (each a tar,
/// gzip-compressed), tagged `v1`; its manifest descriptor.
pub fn layout_of(dir: &Path, layers: &[Vec<u8>]) -> Value {
    let mut l = Layout::create(dir);
    let spec = ImageSpec::small("amd64", None, "rich");
    let d = l.add_image_of_tars(&spec, layers);
    l.tag(&d, "v1");
    d
}

/// The uncompressed digests of `layers`.
pub fn diff_ids(layers: &[Vec<u8>]) -> Vec<Value> {
    layers.iter().map(|t| json!(super::images::sha256(t))).collect()
}

/// An OCI layout at `dir` whose config claims `diff_ids` for `layers`
/// (gzip-compressed) whatever they hold, tagged `v1`.
pub fn layout_claiming(dir: &Path, layers: &[Vec<u8>], diff_ids: &[String]) {
    let mut l = Layout::create(dir);
    let descriptors: Vec<Value> = layers
        .iter()
        .map(|t| {
            let (d, size) = l.add_blob(&super::images::gzip(t));
            json!({"mediaType": super::images::OCI_LAYER_GZIP, "digest": d, "size": size})
        })
        .collect();
    let config = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}});
    let (cd, cs) = l.add_blob(&serde_json::to_vec(&config).unwrap());
    let manifest = json!({"schemaVersion": 2, "mediaType": super::images::OCI_MANIFEST,
        "config": {"mediaType": super::images::OCI_CONFIG, "digest": cd, "size": cs}, "layers": descriptors});
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let (md, ms) = l.add_blob(&bytes);
    l.tag(&json!({"mediaType": super::images::OCI_MANIFEST, "digest": md, "size": ms}), "v1");
}
