//! `containers-storage:` as a destination, against Debian's skopeo 1.9.3
//! (the reference writer) and podman 4.3.1 (a reader and user of the
//! store), each test on fresh stores under a temporary root: skiff's store
//! holds what skopeo's holds for the same image (records, layer IDs, big
//! data, every file's metadata), podman uses it, skopeo reads it, a write
//! killed at any phase is cleaned up, and hostile layers are refused
//! without a byte written outside the layer.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use skiff_tests::harness::rootfs::{self, Entry};

use skiff_tests::harness::tools::{Run, run, skiff, skopeo};

/// A store under `dir`: its specifier and roots.
struct Store {
    root: PathBuf,
    run: PathBuf,
    driver: &'static str,
}

impl Store {
    fn new(dir: &Path, driver: &'static str) -> Store {
        Store { root: dir.join("root"), run: dir.join("run"), driver }
    }

    fn reference(&self, name: &str) -> String {
        format!("containers-storage:[{}@{}+{}]{name}", self.driver, self.root.display(), self.run.display())
    }

    fn podman(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new("podman");
        cmd.args(["--storage-driver", self.driver, "--root"])
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.run)
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "none"])
            .args(args);
        skiff_tests::harness::tools::isolate(&mut cmd);
        run(cmd)
    }

    fn list(&self, which: &str) -> Vec<Value> {
        let path = self.root.join(format!("{}-{which}/{which}.json", self.driver));
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).unwrap(),
            Err(_) => vec![],
        }
    }
}

fn copy(tool: fn(&[&str]) -> Run, from: &str, to: &str) -> Run {
    tool(&["--insecure-policy", "copy", from, to])
}

/// The fields of a record both writers must agree on (`created` of a
/// layer is when it was written; podman reads none of the others' absence).
fn record(v: &Value, keys: &[&str]) -> BTreeMap<String, Value> {
    keys.iter().filter_map(|k| v.get(*k).map(|x| ((*k).to_owned(), x.clone()))).collect()
}

const LAYER_KEYS: &[&str] = &[
    "id",
    "parent",
    "compressed-diff-digest",
    "compressed-size",
    "diff-digest",
    "diff-size",
    "compression",
    "uidset",
    "gidset",
    "flags",
];
const IMAGE_KEYS: &[&str] =
    &["id", "digest", "names", "layer", "metadata", "big-data-names", "big-data-sizes", "big-data-digests", "created"];

/// Every path under `dir` with what a file system says of it (its
/// modification time too when `times`: a layer's files carry the tar's).
fn tree_with(dir: &Path, times: bool) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, times: bool, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let mut xattrs: Vec<String> = Vec::new();
            if let Ok(out) = Command::new("getfattr").args(["-h", "-d", "-m", "-", "-e", "hex"]).arg(&p).output() {
                xattrs = String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.contains('=')).map(str::to_owned).collect();
            }
            let what = if m.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_file() {
                format!("{} bytes {}", m.len(), skiff_tests::harness::images::sha256(&std::fs::read(&p).unwrap()))
            } else {
                format!("rdev {}", m.rdev())
            };
            let links = if m.is_dir() { 0 } else { m.nlink() };
            let mtime = if times { m.mtime() } else { 0 };
            out.insert(
                rel,
                format!("mode {:o} {}:{} mtime {mtime} links {links} {what} {xattrs:?}", m.mode(), m.uid(), m.gid()),
            );
            if m.is_dir() {
                walk(root, &p, times, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, times, &mut out);
    out
}

fn tree(dir: &Path) -> BTreeMap<String, String> {
    tree_with(dir, true)
}

fn rich_image(dir: &Path) -> (String, Vec<Vec<u8>>) {
    let tars: Vec<Vec<u8>> = rootfs::rich_layers().iter().map(|l| rootfs::tar(l)).collect();
    rootfs::layout_of(dir, &tars);
    (format!("oci:{}:v1", dir.display()), tars)
}

/// skiff's and skopeo's stores for the same image: the same records,
/// big data and layer trees.
fn assert_same_stores(ours: &Store, theirs: &Store) {
    let (a, b) = (ours.list("layers"), theirs.list("layers"));
    assert_eq!(a.len(), b.len(), "layers: {a:?} vs {b:?}");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(record(x, LAYER_KEYS), record(y, LAYER_KEYS));
    }
    let (a, b) = (ours.list("images"), theirs.list("images"));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(record(x, IMAGE_KEYS), record(y, IMAGE_KEYS));
        let id = x["id"].as_str().unwrap();
        let dir = |s: &Store| s.root.join(format!("{}-images/{id}", s.driver));
        assert_eq!(tree_with(&dir(ours), false), tree_with(&dir(theirs), false), "big-data files");
    }
    for l in ours.list("layers") {
        let id = l["id"].as_str().unwrap();
        let files = |s: &Store| match s.driver {
            "vfs" => s.root.join(format!("vfs/dir/{id}")),
            _ => s.root.join(format!("overlay/{id}/diff")),
        };
        assert_eq!(tree(&files(ours)), tree(&files(theirs)), "layer {id}");
    }
}

#[test]
fn a_vfs_store_skiff_writes_holds_what_skopeo_writes_and_podman_uses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (source, tars) = rich_image(&tmp.path().join("layout"));
    let (ours, theirs) = (Store::new(&tmp.path().join("ours"), "vfs"), Store::new(&tmp.path().join("theirs"), "vfs"));
    copy(skiff, &source, &ours.reference("localhost/rich:v1")).ok();
    copy(skopeo, &source, &theirs.reference("localhost/rich:v1")).ok();
    assert_same_stores(&ours, &theirs);

    // Both tools read it back as skopeo reads its own.
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    copy(skopeo, &ours.reference("localhost/rich:v1"), &format!("dir:{}", a.display())).ok();
    copy(skopeo, &theirs.reference("localhost/rich:v1"), &format!("dir:{}", b.display())).ok();
    assert_eq!(tree_with(&a, false), tree_with(&b, false));

    // podman lists, inspects, saves, exports, pushes and removes it.
    let digest = ours.list("images")[0]["digest"].as_str().unwrap().to_owned();
    let images = ours.podman(&["images", "--digests", "--format", "json"]).ok().json();
    assert_eq!(images[0]["Digest"], digest.as_str(), "{images}");
    assert_eq!(images[0]["Names"][0], "localhost/rich:v1");
    let inspect = ours.podman(&["image", "inspect", "localhost/rich:v1"]).ok().json();
    assert_eq!(inspect[0]["RootFS"]["Layers"], Value::Array(rootfs::diff_ids(&tars)));
    let saved = tmp.path().join("saved.tar");
    ours.podman(&["save", "--format", "docker-archive", "-o", saved.to_str().unwrap(), "localhost/rich:v1"]).ok();
    let saved_dir = tmp.path().join("saved");
    copy(skopeo, &format!("docker-archive:{}", saved.display()), &format!("dir:{}", saved_dir.display())).ok();
    for t in &tars {
        let hex = &skiff_tests::harness::images::sha256(t)[7..];
        assert_eq!(&std::fs::read(saved_dir.join(hex)).unwrap(), t, "podman save exports the source's layer tars");
    }
    ours.podman(&["create", "--name", "c", "localhost/rich:v1", "/bin/true"]).ok();
    let exported = ours.podman(&["export", "c"]).ok().stdout;
    let mut names: Vec<String> = tar::Archive::new(exported.as_slice())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    for present in ["etc/hostname", "etc/motd", "var/cache/new", "usr/bin/su", "usr/bin/su-again", "dev-null"] {
        assert!(names.iter().any(|n| n.trim_start_matches("./").trim_end_matches('/') == present), "{present}: {names:?}");
    }
    for gone in ["etc/gone", "var/cache/old", ".wh.gone", ".wh..wh..opq"] {
        assert!(!names.iter().any(|n| n.ends_with(gone)), "{gone} is whited out: {names:?}");
    }
    ours.podman(&["rm", "c"]).ok();
    let registry = skiff_tests::harness::fixtures::world().plain.host();
    let pushed = format!("docker://{registry}/storage-write/rich:v1");
    ours.podman(&["push", "--tls-verify=false", "localhost/rich:v1", &pushed]).ok();
    let config = skopeo(&["inspect", "--tls-verify=false", "--config", "--raw", &pushed]).ok().stdout;
    assert_eq!(config, skopeo(&["inspect", "--config", "--raw", &source]).ok().stdout);
    ours.podman(&["rmi", "localhost/rich:v1"]).ok();
    assert!(ours.list("images").is_empty());
    assert!(ours.list("layers").is_empty());
    assert_eq!(std::fs::read_dir(ours.root.join("vfs/dir")).unwrap().count(), 0);
}
