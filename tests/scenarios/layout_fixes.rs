//! Bugs found by reading the code (issue #9 §4), each with the case that
//! used to go wrong: sha512 blobs in OCI layouts, a new layout whose blobs
//! live in a shared directory, signature stores that never end, diff IDs
//! that were not checked when the config could not say.

use std::path::Path;

use serde_json::{Value, json};
use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::images::noisy_layout;
use skiff_tests::harness::tools::{skiff, skopeo};
use skiff_tests::harness::tree;

const INSECURE: &str = "--insecure-policy";

fn single() -> String {
    format!("oci:{}:v1", world().single.display())
}

/// The world's single image as `dir:`, written by skopeo.
fn dir_copy(at: &Path) {
    skopeo(&[INSECURE, "copy", "-q", &single(), &format!("dir:{}", at.display())]).ok();
}

fn sha512(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA512, bytes);
    format!("sha512:{}", d.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// An OCI layout of the single image with every blob named by sha512.
fn sha512_layout(at: &Path) {
    let dir = at.with_extension("dir");
    dir_copy(&dir);
    std::fs::create_dir_all(at.join("blobs/sha512")).unwrap();
    std::fs::write(at.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let put = |bytes: &[u8]| {
        let d = sha512(bytes);
        std::fs::write(at.join("blobs/sha512").join(&d[7..]), bytes).unwrap();
        d
    };
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let rename = |desc: &mut Value| {
        let old = desc["digest"].as_str().unwrap().to_owned();
        desc["digest"] = json!(put(&std::fs::read(dir.join(&old[7..])).unwrap()));
    };
    rename(&mut manifest["config"]);
    for l in manifest["layers"].as_array_mut().unwrap() {
        rename(l);
    }
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": put(&bytes), "size": bytes.len(),
        "annotations": {"org.opencontainers.image.ref.name": "v1"},
    }]});
    std::fs::write(at.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

fn index_digest(layout: &Path) -> String {
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"].as_str().unwrap().to_owned()
}

#[test]
fn sha512_blobs_land_in_an_oci_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sha512_layout(&src);
    let dst = tmp.path().join("dst");
    let r =
        skiff(&[INSECURE, "copy", "-q", &format!("oci:{}:v1", src.display()), &format!("oci:{}:v1", dst.display())]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The config and every layer kept their sha512 names, under blobs/sha512
    // (the manifest written is named by its sha256 digest, as containers/image names it).
    let raw = std::fs::read(src.join("blobs/sha512").join(&index_digest(&src)[7..])).unwrap();
    let manifest: Value = serde_json::from_slice(&raw).unwrap();
    let mut blobs = vec![manifest["config"]["digest"].as_str().unwrap().to_owned()];
    blobs.extend(manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_owned()));
    for d in blobs {
        assert!(d.starts_with("sha512:"));
        let copied = std::fs::read(dst.join("blobs/sha512").join(&d[7..])).unwrap();
        assert_eq!(sha512(&copied), d);
    }
    let ours = skiff(&["inspect", "--raw", &format!("oci:{}:v1", dst.display())]).ok().stdout;
    assert_eq!(ours, skiff(&["inspect", "--raw", &format!("oci:{}:v1", src.display())]).ok().stdout);
}

#[test]
fn a_new_layout_with_a_shared_blob_dir_is_created_as_skopeo_creates_it() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |tool: fn(&[&str]) -> skiff_tests::harness::tools::Run, name: &str| {
        let shared = tmp.path().join(format!("{name}-blobs"));
        // The layout's directory is new (its parent exists, as skopeo needs).
        let layout = tmp.path().join(format!("{name}-layout"));
        let r = tool(&[
            INSECURE,
            "copy",
            "-q",
            "--dest-shared-blob-dir",
            &shared.display().to_string(),
            &single(),
            &format!("oci:{}:v1", layout.display()),
        ]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        (tree(&layout), tree(&shared))
    };
    let (ours, theirs) = (run(skiff, "skiff"), run(skopeo, "skopeo"));
    assert!(!ours.0.is_empty(), "the layout was written");
    assert_eq!(ours, theirs, "layout and shared blobs as skopeo writes them");
}

#[test]
fn a_store_with_endless_signatures_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    dir_copy(&src);
    // An OpenPGP-looking blob: the format check passes, the count does not.
    for n in 1..=129 {
        std::fs::write(src.join(format!("signature-{n}")), [0xA3, 0x01, n as u8]).unwrap();
    }
    let out = tmp.path().join("out");
    let r = skiff(&[INSECURE, "copy", &format!("dir:{}", src.display()), &format!("dir:{}", out.display())]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("more than 128 signatures"), "{}", r.stderr);
    assert!(!out.join("manifest.json").exists(), "nothing that looks complete");
    // 127 are fine, and all are carried along.
    std::fs::remove_file(src.join("signature-129")).unwrap();
    std::fs::remove_file(src.join("signature-128")).unwrap();
    let r = skiff(&[INSECURE, "copy", "-q", &format!("dir:{}", src.display()), &format!("dir:{}", out.display())]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(out.join("signature-127").exists() && !out.join("signature-128").exists());
}

/// A `dir:` copy whose config's `rootfs.diff_ids` is edited by `change`.
fn with_config(at: &Path, change: impl Fn(&mut Value)) {
    dir_copy(at);
    let mpath = at.join("manifest.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    let old = manifest["config"]["digest"].as_str().unwrap().to_owned();
    let mut config: Value = serde_json::from_slice(&std::fs::read(at.join(&old[7..])).unwrap()).unwrap();
    change(&mut config);
    let bytes = serde_json::to_vec(&config).unwrap();
    let d = skiff_tests::harness::images::sha256(&bytes);
    std::fs::write(at.join(&d[7..]), &bytes).unwrap();
    std::fs::remove_file(at.join(&old[7..])).unwrap();
    manifest["config"]["digest"] = json!(d);
    manifest["config"]["size"] = json!(bytes.len());
    std::fs::write(&mpath, serde_json::to_vec(&manifest).unwrap()).unwrap();
}

fn add_a_diff_id(c: &mut Value) {
    let first = c["rootfs"]["diff_ids"][0].clone();
    c["rootfs"]["diff_ids"].as_array_mut().unwrap().push(first);
}

#[test]
fn re_encoded_layers_need_diff_ids_to_check_against() {
    let tmp = tempfile::tempdir().unwrap();
    type Case = (&'static str, fn(&mut Value), &'static str);
    let cases: [Case; 2] = [
        ("none", |c| drop(c["rootfs"].as_object_mut().unwrap().remove("diff_ids")), "no rootfs.diff_ids"),
        ("extra", add_a_diff_id, "diff IDs for"),
    ];
    for (name, change, message) in cases {
        let src = tmp.path().join(name);
        with_config(&src, change);
        let out = tmp.path().join(format!("{name}-out"));
        let r = skiff(&[
            INSECURE,
            "copy",
            "--dest-compress-format",
            "zstd",
            &format!("dir:{}", src.display()),
            &format!("oci:{}:v1", out.display()),
        ]);
        assert_eq!(r.code, 1, "{name}: {}", r.stderr);
        assert!(r.stderr.contains(message), "{name}: {}", r.stderr);
        assert!(!out.join("index.json").exists(), "{name}: no image named");
    }
}

/// A small tmpfs mounted at a fresh directory (the suite runs as root), unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str, read_only: bool) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let opts = format!("size={size}{}", if read_only { ",ro" } else { "" });
        let ok =
            std::process::Command::new("mount").args(["-t", "tmpfs", "-o", &opts, "tmpfs"]).arg(dir).status().unwrap();
        assert!(ok.success(), "mounting a tmpfs at {} (the suite runs as root)", dir.display());
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Issue 15, item 40: a destination that fills up (a 1 MiB tmpfs, a
/// 3 MiB layer) or is read-only fails the copy with the system's reason,
/// and leaves no partial blob and nothing that looks like an image.
#[test]
fn a_full_or_read_only_destination_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    noisy_layout(&src, "big", 3 << 20, 7);
    let source = format!("oci:{}:v1", src.display());
    let full = Tmpfs::mount(&tmp.path().join("full"), "1m", false);
    let ro = Tmpfs::mount(&tmp.path().join("ro"), "1m", true);
    for (mount, needle) in [(&full, "No space left on device"), (&ro, "Read-only file system")] {
        for dest in [format!("dir:{}/out", mount.0.display()), format!("oci:{}/layout:v1", mount.0.display())] {
            let r = skiff(&["--insecure-policy", "copy", &source, &dest]);
            assert_eq!(r.code, 1, "{dest}: {}", r.stderr);
            assert!(r.stderr.contains(needle), "{dest}: {}", r.stderr);
            assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
            for e in walkdir(&mount.0) {
                let name = e.file_name().unwrap().to_string_lossy().into_owned();
                assert!(!name.ends_with(".skiff-tmp"), "{dest}: a partial blob was left: {}", e.display());
                assert!(name != "manifest.json" && name != "index.json", "{dest}: {} looks complete", e.display());
            }
        }
    }
    // Item 40: once there is room, the same copy again succeeds and writes
    // what a copy into empty space writes (skopeo's bytes for dir:).
    let grown = std::process::Command::new("mount").args(["-o", "remount,size=16m"]).arg(&full.0).status().unwrap();
    assert!(grown.success());
    let clean = tmp.path().join("clean");
    std::fs::create_dir(&clean).unwrap();
    for (dest, clean_dest) in [
        (format!("dir:{}/out", full.0.display()), format!("dir:{}/out", clean.display())),
        (format!("oci:{}/layout:v1", full.0.display()), format!("oci:{}/layout:v1", clean.display())),
    ] {
        skiff(&["--insecure-policy", "copy", "-q", &source, &dest]).ok();
        skopeo(&["--insecure-policy", "copy", "-q", &source, &clean_dest]).ok();
    }
    assert_eq!(tree(&full.0.join("out")), tree(&clean.join("out")), "dir: as skopeo writes it into empty space");
    let digest = |layout: &Path| {
        let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
        index["manifests"][0]["digest"].clone()
    };
    assert_eq!(digest(&full.0.join("layout")), digest(&clean.join("layout")));
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        }
        out.push(p);
    }
    out
}

/// Item 27: a docker-archive whose layer is a gzip bomb (a few hundred KiB
/// that inflate to 256 MiB) is decompressed as a stream into the scratch
/// space, so it is bounded by that space (a 16 MiB tmpfs here), not by
/// memory: the copy fails with the system's reason and the scratch space
/// is left empty.
#[test]
fn a_gzip_bomb_in_a_docker_archive_is_bounded_by_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.tar");
    skiff_tests::harness::archives::docker_archive(&good);
    // 256 MiB of zeros, gzipped.
    let bomb = {
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..256 {
            std::io::Write::write_all(&mut z, &zeros).unwrap();
        }
        z.finish().unwrap()
    };
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let listing: Value =
        serde_json::from_slice(&skiff_tests::harness::archives::member(&good, "manifest.json")).unwrap();
    let layer = listing[0]["Layers"][0].as_str().unwrap().to_owned();
    let bombed = tmp.path().join("bomb.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&bombed).unwrap());
        let mut a = tar::Archive::new(std::fs::File::open(&good).unwrap());
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            let data = if name == layer { bomb.clone() } else { data };
            let mut h = e.header().clone();
            h.set_size(data.len() as u64);
            h.set_cksum();
            b.append_data(&mut h, &name, data.as_slice()).unwrap();
        }
        b.finish().unwrap();
    }
    let scratch = Tmpfs::mount(&tmp.path().join("scratch"), "16m", false);
    let out = tmp.path().join("out");
    let r = skiff(&[
        "--tmpdir",
        scratch.0.to_str().unwrap(),
        "--insecure-policy",
        "copy",
        &format!("docker-archive:{}", bombed.display()),
        &format!("dir:{}", out.display()),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("No space left on device"), "{}", r.stderr);
    assert!(!out.join("manifest.json").exists());
    assert_eq!(walkdir(&scratch.0).len(), 0, "the scratch space is emptied: {:?}", walkdir(&scratch.0));
}
