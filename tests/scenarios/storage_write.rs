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
/// modification time too when `times`: a layer's files carry the tar's;
/// one within the last hour is only "recent").
fn tree_with(dir: &Path, times: bool) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, times: bool, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let mut xattrs: Vec<String> = Vec::new();
            if let Ok(out) = Command::new("getfattr").args(["-h", "-d", "-m", "-", "-e", "hex"]).arg(&p).output() {
                xattrs = String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| l.contains('='))
                    .map(str::to_owned)
                    .collect();
            }
            let what = if m.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_file() {
                format!("{} bytes {}", m.len(), skiff_tests::harness::images::sha256(&std::fs::read(&p).unwrap()))
            } else {
                format!("rdev {}", m.rdev())
            };
            let links = if m.is_dir() { 0 } else { m.nlink() };
            // A directory no entry describes is dated when it was made:
            // "recent" for both writers, a second apart or not.
            let recent =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 - 3600;
            let mtime = match times {
                true if m.mtime() > recent => "recent".to_owned(),
                true => m.mtime().to_string(),
                false => String::new(),
            };
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
    let image = ours.reference("localhost/rich:v1");
    let raw = skiff(&["inspect", "--raw", &image]).ok().stdout;
    assert_eq!(raw, skopeo(&["inspect", "--raw", &theirs.reference("localhost/rich:v1")]).ok().stdout);
    super::assert_inspect_matches(
        &skiff(&["inspect", &image]).ok().json(),
        &skopeo(&["inspect", &image]).ok().json(),
        &raw,
    );
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
        assert!(
            names.iter().any(|n| n.trim_start_matches("./").trim_end_matches('/') == present),
            "{present}: {names:?}"
        );
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

#[test]
fn an_overlay_store_skiff_writes_holds_what_skopeo_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let (source, tars) = rich_image(&tmp.path().join("layout"));
    let (ours, theirs) =
        (Store::new(&tmp.path().join("ours"), "overlay"), Store::new(&tmp.path().join("theirs"), "overlay"));
    copy(skiff, &source, &ours.reference("localhost/rich:v1")).ok();
    copy(skopeo, &source, &theirs.reference("localhost/rich:v1")).ok();
    // The diff directories hold the same files, the whiteout a 0:0 device,
    // the opaque directory its xattr.
    assert_same_stores(&ours, &theirs);
    let layers = ours.list("layers");
    let (base, top) = (layers[0]["id"].as_str().unwrap(), layers[1]["id"].as_str().unwrap());
    let overlay = ours.root.join("overlay");
    let diff = tree(&overlay.join(top).join("diff"));
    assert!(diff["etc/gone"].contains("rdev 0") && diff["etc/gone"].starts_with("mode 20000"), "{diff:?}");
    assert!(diff["var/cache"].contains("trusted.overlay.opaque=0x79"), "{diff:?}");
    // Short names: each layer's link names a symlink to its diff, and the
    // upper layer's lower chain names its parent's.
    let link = |id: &str| std::fs::read_to_string(overlay.join(id).join("link")).unwrap();
    for id in [base, top] {
        let name = link(id);
        assert_eq!(name.len(), 26);
        assert!(name.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)), "{name}");
        assert_eq!(std::fs::read_link(overlay.join("l").join(&name)).unwrap(), Path::new(&format!("../{id}/diff")));
    }
    assert_eq!(std::fs::read_to_string(overlay.join(top).join("lower")).unwrap(), format!("l/{}", link(base)));
    assert!(!overlay.join(base).join("lower").exists());
    // podman and skopeo read it without mounting it.
    let digest = ours.list("images")[0]["digest"].as_str().unwrap().to_owned();
    let images = ours.podman(&["images", "--digests", "--format", "json"]).ok().json();
    assert_eq!(images[0]["Digest"], digest.as_str());
    let inspect = ours.podman(&["image", "inspect", "localhost/rich:v1"]).ok().json();
    assert_eq!(inspect[0]["RootFS"]["Layers"], Value::Array(rootfs::diff_ids(&tars)));
    let saved = tmp.path().join("saved.tar");
    ours.podman(&["save", "--format", "docker-archive", "-o", saved.to_str().unwrap(), "localhost/rich:v1"]).ok();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    copy(skopeo, &ours.reference("localhost/rich:v1"), &format!("dir:{}", a.display())).ok();
    copy(skopeo, &theirs.reference("localhost/rich:v1"), &format!("dir:{}", b.display())).ok();
    assert_eq!(tree_with(&a, false), tree_with(&b, false));
    ours.podman(&["rmi", "localhost/rich:v1"]).ok();
    assert!(ours.list("layers").is_empty());
    assert_eq!(std::fs::read_dir(overlay.join("l")).unwrap().count(), 0, "the short names go with the layers");
}

/// The blobs a copy said it skipped (skopeo reports on stdout, skiff on stderr).
fn skipped_blobs(r: &Run) -> usize {
    (r.stdout_str() + &r.stderr).matches("skipped: already exists").count()
}

#[test]
fn a_second_image_reuses_layers_and_takes_its_name_from_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let (source, _) = rich_image(&tmp.path().join("layout"));
    let other = tmp.path().join("other");
    let mut spec = skiff_tests::harness::images::ImageSpec::small("amd64", None, "other");
    spec.layers.insert(0, vec![("etc/hostname".into(), b"rich\n".to_vec())]);
    let mut l = skiff_tests::harness::images::Layout::create(&other);
    let tars: Vec<Vec<u8>> = rootfs::rich_layers().iter().map(|l| rootfs::tar(l)).collect();
    let d = l
        .add_image_of_tars(&spec, &[tars[0].clone(), rootfs::tar(&[Entry::File("etc/extra", 0o644, b"x\n".to_vec())])]);
    l.tag(&d, "v1");
    // A third whose second layer is the first one's base: the blob is not
    // copied, and the layer, under another parent, is put together from
    // the store.
    let third = tmp.path().join("third");
    let mut l = skiff_tests::harness::images::Layout::create(&third);
    let d =
        l.add_image_of_tars(&spec, &[rootfs::tar(&[Entry::File("first", 0o644, b"1\n".to_vec())]), tars[0].clone()]);
    l.tag(&d, "v1");
    let ours = Store::new(&tmp.path().join("ours"), "vfs");
    let theirs = Store::new(&tmp.path().join("theirs"), "vfs");
    let (mut skipped, mut outputs) = (Vec::new(), Vec::new());
    for (tool, store) in [(skiff as fn(&[&str]) -> Run, &ours), (skopeo, &theirs)] {
        copy(tool, &source, &store.reference("localhost/rich:v1")).ok();
        copy(tool, &source, &store.reference("localhost/rich:v1")).ok();
        let r = copy(tool, &format!("oci:{}:v1", other.display()), &store.reference("localhost/rich:v1")).ok();
        skipped.push(skipped_blobs(&r));
        outputs.push(r.stdout_str() + &r.stderr);
    }
    // As upstream containers/image's TryReusingBlob; skopeo 1.9.3 copies it again.
    assert_eq!(skipped, vec![1, 0], "the shared layer's blob is not copied by skiff: {outputs:?}");
    assert_eq!(ours.list("layers").len(), 3, "the base layer is shared, copying again adds none");
    assert_eq!(ours.list("layers").len(), 3, "the base layer is shared, copying again adds none");
    let images = ours.list("images");
    assert_eq!(images.len(), 2);
    assert!(images[0].get("names").is_none(), "the name moved to the new image: {images:?}");
    assert_eq!(images[1]["names"][0], "localhost/rich:v1");
    assert_same_stores(&ours, &theirs);
    let listed = ours.podman(&["images", "--format", "json"]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 2);

    for (tool, store) in [(skiff as fn(&[&str]) -> Run, &ours), (skopeo, &theirs)] {
        let r = copy(tool, &format!("oci:{}:v1", third.display()), &store.reference("localhost/third:v1")).ok();
        if store.root == ours.root {
            assert_eq!(skipped_blobs(&r), 1, "{}", r.stderr);
        }
    }
    assert_eq!(ours.list("layers").len(), 5);
    assert_same_stores(&ours, &theirs);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    copy(skopeo, &ours.reference("localhost/third:v1"), &format!("dir:{}", a.display())).ok();
    copy(skopeo, &theirs.reference("localhost/third:v1"), &format!("dir:{}", b.display())).ok();
    assert_eq!(tree_with(&a, false), tree_with(&b, false));
}

/// An OCI layout of three 24 MiB layers of noise, for writes that take long
/// enough to be interrupted.
fn big_image(dir: &Path) -> String {
    let mut l = skiff_tests::harness::images::Layout::create(dir);
    let spec = skiff_tests::harness::images::ImageSpec::small("amd64", None, "big");
    let tars: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            rootfs::tar(&[Entry::File(
                ["a", "b", "c"][i],
                0o644,
                skiff_tests::harness::images::noise(24 << 20, i as u64 + 7),
            )])
        })
        .collect();
    let d = l.add_image_of_tars(&spec, &tars);
    l.tag(&d, "v1");
    format!("oci:{}:v1", dir.display())
}

/// Whether a directory named `name` is at most `depth` levels under `dir`.
fn finds(dir: &Path, name: &str, depth: usize) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries
        .flatten()
        .any(|e| e.file_name() == name || (depth > 1 && e.path().is_dir() && finds(&e.path(), name, depth - 1)))
}

fn incomplete(store: &Store) -> usize {
    store.list("layers").iter().filter(|l| l.pointer("/flags/incomplete") == Some(&Value::Bool(true))).count()
}

#[test]
fn a_write_killed_at_any_phase_leaves_a_store_podman_opens_and_the_next_write_repairs() {
    let tmp = tempfile::tempdir().unwrap();
    let source = big_image(&tmp.path().join("layout"));
    let store = Store::new(&tmp.path().join("store"), "vfs");
    let target = store.reference("localhost/big:v1");
    // Phases: a layer being unpacked; one layer complete, the next not yet.
    type Phase = Box<dyn Fn(&Store) -> bool>;
    let scratch = tmp.path().join("scratch");
    let staging = scratch.clone();
    let phases: Vec<(&str, Phase)> = vec![
        (
            "staging the blobs, the store not yet touched",
            Box::new(move |s: &Store| s.list("layers").is_empty() && finds(&staging, "storage-dest.d", 3)),
        ),
        ("unpacking the first layer", Box::new(|s: &Store| incomplete(s) > 0)),
        (
            "between layers",
            Box::new(|s: &Store| {
                let l = s.list("layers");
                l.iter().any(|r| r.get("diff-digest").is_some()) && l.len() < 3
            }),
        ),
    ];
    for (phase, reached) in phases {
        let _ = std::fs::remove_dir_all(&store.root);
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch).unwrap();
        let mut child = skiff_tests::harness::tools::skiff_cmd()
            .args(["--insecure-policy", "--tmpdir", scratch.to_str().unwrap(), "copy", "-q", &source, &target])
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while !reached(&store) {
            assert!(child.try_wait().unwrap().is_none(), "{phase}: the copy ended before it was reached");
            assert!(start.elapsed().as_secs() < 60, "{phase}: never reached");
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let listed = store.podman(&["images", "--format", "json"]).ok().json();
        assert!(listed.as_array().unwrap().is_empty(), "{phase}: no image yet: {listed}");
        copy(skiff, &source, &target).ok();
        assert_eq!(incomplete(&store), 0, "{phase}");
        let layers = store.list("layers");
        assert_eq!(layers.len(), 3, "{phase}: {layers:?}");
        let mut dirs: Vec<String> = std::fs::read_dir(store.root.join("vfs/dir"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        dirs.sort();
        let mut ids: Vec<String> = layers.iter().map(|l| l["id"].as_str().unwrap().to_owned()).collect();
        ids.sort();
        assert_eq!(dirs, ids, "{phase}: no directory left behind");
        let listed = store.podman(&["images", "--format", "json"]).ok().json();
        assert_eq!(listed[0]["Names"][0], "localhost/big:v1", "{phase}");
        skopeo(&["inspect", &target]).ok();
    }
}

#[test]
fn podman_listing_the_store_while_skiff_writes_never_sees_it_broken() {
    let tmp = tempfile::tempdir().unwrap();
    let source = big_image(&tmp.path().join("layout"));
    let store = Store::new(&tmp.path().join("store"), "vfs");
    std::fs::create_dir_all(&store.root).unwrap();
    let mut child = skiff_tests::harness::tools::skiff_cmd()
        .args(["--insecure-policy", "copy", "-q", &source, &store.reference("localhost/big:v1")])
        .spawn()
        .unwrap();
    let mut listings = 0;
    let status = loop {
        let r = store.podman(&["images", "--format", "json"]);
        assert_eq!(r.code, 0, "podman failed while skiff wrote: {}", r.stderr);
        let n = r.json().as_array().unwrap().len();
        assert!(n <= 1);
        listings += 1;
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
    };
    assert!(status.success());
    assert!(listings > 1, "podman ran while skiff wrote");
    let listed = store.podman(&["images", "--format", "json"]).ok().json();
    assert_eq!(listed[0]["Names"][0], "localhost/big:v1");
}

#[test]
fn hostile_layers_are_refused_and_nothing_is_written_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("keep"), b"untouched").unwrap();
    let out: &'static str = Box::leak(outside.display().to_string().into_boxed_str());
    let escape: &'static str = Box::leak(format!("../../../../../../../..{out}").into_boxed_str());
    let deep: &'static str = Box::leak(format!("{escape}/keep").into_boxed_str());
    use Entry::*;
    let cases: Vec<(&str, Vec<Entry>, &str)> = vec![
        ("a name with ..", vec![File("../../../../../../escaped", 0o644, b"x".to_vec())], "leads out of the layer"),
        ("a symlink leading out", vec![Symlink("evil", escape)], "leads out of the layer"),
        ("a hard link leading out", vec![Hardlink("evil", deep)], "leads out of the layer"),
        ("a hard link to nothing", vec![Hardlink("evil", "/nothing/there")], "unpacking evil"),
        ("a whiteout of ..", vec![Dir("a/", 0o755), Whiteout("a/..")], "a whiteout that names no file"),
    ];
    for (what, entries, expected) in cases {
        let dir = tmp.path().join(what.replace(' ', "-"));
        let tars = vec![rootfs::tar(&entries)];
        rootfs::layout_of(&dir.join("layout"), &tars);
        let store = Store::new(&dir.join("store"), "vfs");
        let r = copy(skiff, &format!("oci:{}:v1", dir.join("layout").display()), &store.reference("localhost/evil:v1"));
        assert_ne!(r.code, 0, "{what}");
        assert!(r.stderr.contains(expected), "{what}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked") && !r.stderr.contains("Os {"), "{what}: {}", r.stderr);
        assert!(store.list("layers").is_empty(), "{what}: the layer is taken out again");
        assert!(store.list("images").is_empty(), "{what}");
        assert_eq!(std::fs::read_dir(store.root.join("vfs/dir")).unwrap().count(), 0, "{what}");
        store.podman(&["images"]).ok();
    }
    // A symlink to an absolute path, then a file through it: it lands
    // inside the layer, as inside a chroot.
    let dir = tmp.path().join("through-symlink");
    let tars = vec![rootfs::tar(&[Symlink("evil", out), File("evil/pwned", 0o644, b"x".to_vec())])];
    rootfs::layout_of(&dir.join("layout"), &tars);
    let store = Store::new(&dir.join("store"), "vfs");
    let r = copy(skiff, &format!("oci:{}:v1", dir.join("layout").display()), &store.reference("localhost/evil:v1"));
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1, "nothing was written outside");
    assert_eq!(std::fs::read(outside.join("keep")).unwrap(), b"untouched");
    if r.code == 0 {
        let id = store.list("layers")[0]["id"].as_str().unwrap().to_owned();
        assert!(store.root.join(format!("vfs/dir/{id}{out}/pwned")).exists());
    }

    // A layer whose diff ID is not the config's.
    let dir = tmp.path().join("wrong-diff-id");
    let tars = vec![rootfs::tar(&[File("a", 0o644, b"a".to_vec())])];
    rootfs::layout_claiming(&dir.join("layout"), &tars, &[skiff_tests::harness::images::sha256(b"something else")]);
    let store = Store::new(&dir.join("store"), "vfs");
    let r = copy(skiff, &format!("oci:{}:v1", dir.join("layout").display()), &store.reference("localhost/evil:v1"));
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("while the image's config says"), "{}", r.stderr);
    assert!(store.list("layers").is_empty() && store.list("images").is_empty());
    assert_eq!(std::fs::read_dir(store.root.join("vfs/dir")).unwrap().count(), 0);
}

/// Without root, a layer whose owners cannot be set, or that holds a
/// device node, is a clear error (skiff uses no user namespace).
#[test]
fn writing_as_another_user_refuses_what_it_cannot_represent() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    use Entry::*;
    let cases: Vec<(&str, Vec<Entry>, &str)> = vec![
        ("root's files", vec![File("a", 0o644, b"a".to_vec())], "cannot be set without root"),
        (
            "a device node",
            vec![Owned("b", 65534, 65534, b"b".to_vec()), Char("null", 1, 3)],
            "device nodes can only be created by root",
        ),
    ];
    for (what, entries, expected) in cases {
        let dir = tmp.path().join(what.replace(' ', "-"));
        rootfs::layout_of(&dir.join("layout"), &[rootfs::tar(&entries)]);
        let store = Store::new(&dir.join("store"), "vfs");
        std::fs::create_dir_all(&store.root).unwrap();
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(skiff_tests::harness::tools::skiff_path())
            .args([
                "--insecure-policy",
                "copy",
                &format!("oci:{}:v1", dir.join("layout").display()),
                &store.reference("localhost/x:v1"),
            ]);
        skiff_tests::harness::tools::isolate(&mut cmd);
        cmd.env("HOME", &home).env("XDG_CACHE_HOME", home.join("cache")).env("TMPDIR", &home);
        let status = Command::new("chown").args(["-R", "65534:65534"]).arg(&dir).arg(&home).status().unwrap();
        assert!(status.success());
        let r = run(cmd);
        assert_ne!(r.code, 0, "{what}");
        assert!(r.stderr.contains(expected), "{what}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
        assert!(store.list("layers").is_empty(), "{what}");
    }
}
