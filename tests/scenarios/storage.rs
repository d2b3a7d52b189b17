//! `containers-storage:` as a source, against stores Debian's skopeo 1.9.3
//! writes (vfs and overlay, a fresh store per test under a temporary root;
//! writing overlay needs no mount, reading never mounts): skiff's
//! `inspect` equals skopeo's, every name form resolves to the same image,
//! a copy to `dir:` holds the same bytes (each layer's tar re-assembled
//! from its tar-split, so its diff ID matches), and what skiff pushes to a
//! registry skopeo reads back.

use std::path::Path;

use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::tools::{skiff, skopeo};

use super::assert_inspect_matches;

/// A `driver` store under `dir` holding the suite's single image as
/// `localhost/app:v1`, written by skopeo; the store specifier.
fn store_with_image(dir: &Path, driver: &str) -> String {
    let spec = format!("[{driver}@{}+{}]", dir.join("root").display(), dir.join("run").display());
    skopeo(&[
        "--insecure-policy",
        "copy",
        &format!("oci:{}:v1", world().single.display()),
        &format!("containers-storage:{spec}localhost/app:v1"),
    ])
    .ok();
    spec
}

fn image_id(dir: &Path) -> String {
    let images: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("root/vfs-images/images.json")).unwrap()).unwrap();
    images[0]["id"].as_str().unwrap().to_owned()
}

#[test]
fn inspect_and_every_name_form_resolve_as_skopeo_does() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = store_with_image(tmp.path(), "vfs");
    let image = format!("containers-storage:{spec}localhost/app:v1");
    let ours = skiff(&["inspect", &image]).ok().json();
    let theirs = skopeo(&["inspect", &image]).ok().json();
    let raw = skiff(&["inspect", "--raw", &image]).ok().stdout;
    assert_eq!(raw, skopeo(&["inspect", "--raw", &image]).ok().stdout, "the stored manifest");
    assert_inspect_matches(&ours, &theirs, &raw);
    let config = skiff(&["inspect", "--config", "--raw", &image]).ok().stdout;
    assert_eq!(config, skopeo(&["inspect", "--config", "--raw", &image]).ok().stdout);

    let id = image_id(tmp.path());
    let digest = theirs["Digest"].as_str().unwrap().to_owned();
    for form in [id.clone(), id[..12].to_owned(), format!("localhost/app@{id}"), format!("localhost/app@{digest}")] {
        let reference = format!("containers-storage:{spec}{form}");
        let ours = skiff(&["inspect", &reference]);
        assert_eq!(ours.code, 0, "{form}: {}", ours.stderr);
        assert_eq!(ours.json()["Digest"], digest.as_str(), "{form}");
        assert_eq!(skopeo(&["inspect", &reference]).ok().json()["Digest"], digest.as_str(), "{form}");
    }
    // Names that are not there, as skopeo fails on them.
    for missing in ["localhost/app:v2", "localhost/other:v1", &format!("localhost/other@{id}"), "fff"] {
        let reference = format!("containers-storage:{spec}{missing}");
        let ours = skiff(&["inspect", &reference]);
        let theirs = skopeo(&["inspect", &reference]);
        assert_ne!(ours.code, 0, "{missing}");
        assert_ne!(theirs.code, 0, "{missing}");
        assert!(ours.stderr.contains("does not resolve to an image ID"), "{missing}: {}", ours.stderr);
        assert!(!ours.stderr.contains("panicked"));
    }
}

#[test]
fn copies_out_of_vfs_stores_hold_the_stores_layers() {
    copies_out_hold_the_stores_layers("vfs");
}

#[test]
fn copies_out_of_overlay_stores_hold_the_stores_layers() {
    copies_out_hold_the_stores_layers("overlay");
}

fn copies_out_hold_the_stores_layers(driver: &str) {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let spec = store_with_image(tmp.path(), driver);
    let image = format!("containers-storage:{spec}localhost/app:v1");
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    skiff(&["--insecure-policy", "copy", &image, &format!("dir:{}", ours.display())]).ok();
    skopeo(&["--insecure-policy", "copy", &image, &format!("dir:{}", theirs.display())]).ok();
    let names = |d: &Path| {
        let mut n: Vec<String> =
            std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        n.sort();
        n
    };
    assert_eq!(names(&ours), names(&theirs));
    for name in names(&ours).iter().filter(|n| *n != "manifest.json") {
        assert_eq!(std::fs::read(ours.join(name)).unwrap(), std::fs::read(theirs.join(name)).unwrap(), "{name}");
    }
    // The layers are the store's uncompressed tars; skiff names them so, as
    // upstream containers/image does (1.9.3 keeps the stored `+gzip` types).
    let manifest = |d: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap()
    };
    let (m, t) = (manifest(&ours), manifest(&theirs));
    assert_eq!(m["config"], t["config"]);
    for (a, b) in m["layers"].as_array().unwrap().iter().zip(t["layers"].as_array().unwrap()) {
        assert_eq!(a["digest"], b["digest"]);
        assert_eq!(a["size"], b["size"]);
        assert_eq!(a["mediaType"], "application/vnd.oci.image.layer.v1.tar");
    }

    // To a registry: compressed again, and skopeo reads it back whole.
    let pushed = format!("docker://{}/storage/{driver}:v1", w.plain.host());
    skiff(&["--insecure-policy", "copy", "--dest-tls-verify=false", &image, &pushed]).ok();
    let raw: serde_json::Value = skopeo(&["inspect", "--tls-verify=false", "--raw", &pushed]).ok().json();
    assert!(
        raw["layers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip")
    );
    let config = skopeo(&["inspect", "--tls-verify=false", "--config", "--raw", &pushed]).ok().stdout;
    assert_eq!(config, skopeo(&["inspect", "--config", "--raw", &image]).ok().stdout, "the same image");
    let back = tmp.path().join("back");
    skopeo(&["--insecure-policy", "copy", "--src-tls-verify=false", &pushed, &format!("oci:{}:v1", back.display())])
        .ok();
}

/// Without a store specifier the store is the one storage.conf names
/// (`$CONTAINERS_STORAGE_CONF`), for both tools.
#[test]
fn the_store_is_found_through_storage_conf() {
    let tmp = tempfile::tempdir().unwrap();
    store_with_image(tmp.path(), "vfs");
    let conf = tmp.path().join("storage.conf");
    std::fs::write(
        &conf,
        format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
            tmp.path().join("root").display(),
            tmp.path().join("run").display()
        ),
    )
    .unwrap();
    let inspect = |mut cmd: std::process::Command| {
        cmd.env("CONTAINERS_STORAGE_CONF", &conf).args(["inspect", "containers-storage:localhost/app:v1"]);
        skiff_tests::harness::tools::run(cmd).ok().json()
    };
    let ours = inspect(skiff_tests::harness::tools::skiff_cmd());
    let theirs = inspect(std::process::Command::new("skopeo"));
    assert_eq!(ours["Digest"], theirs["Digest"]);
    assert!(ours["Digest"].as_str().unwrap().starts_with("sha256:"));
}

/// Two images sharing their base layer, `localhost/a:v1` and
/// `localhost/b:v1`, written into a `driver` store under `dir` by skopeo;
/// the store specifier.
fn store_with_two_images(layout: &Path, dir: &Path, driver: &str) -> String {
    let spec = format!("[{driver}@{}+{}]", dir.join("root").display(), dir.join("run").display());
    for name in ["a", "b"] {
        skopeo(&[
            "--insecure-policy",
            "copy",
            &format!("oci:{}:{name}", layout.display()),
            &format!("containers-storage:{spec}localhost/{name}:v1"),
        ])
        .ok();
    }
    spec
}

/// Every path under `dir` (names only), overlay's random short link names
/// (`overlay/l/…`, made anew in each store) as one placeholder.
fn paths(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.strip_prefix(dir).unwrap().display().to_string();
            out.push(match name.strip_prefix("overlay/l/") {
                Some(_) => "overlay/l/<link>".to_owned(),
                None => name,
            });
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

fn ids(path: &Path) -> Vec<(String, serde_json::Value)> {
    let list: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    list.iter().map(|r| (r["id"].as_str().unwrap().to_owned(), r["names"].clone())).collect()
}

#[test]
fn deleting_from_containers_storage_removes_what_skopeo_removes() {
    use skiff_tests::harness::images::{ImageSpec, Layout};
    for driver in ["vfs", "overlay"] {
        let tmp = tempfile::tempdir().unwrap();
        let layout_dir = tmp.path().join("layout");
        let mut layout = Layout::create(&layout_dir);
        for name in ["a", "b"] {
            let mut spec = ImageSpec::small("amd64", None, "shared base");
            spec.layers[1] = vec![("app/which".into(), format!("image {name}\n").into_bytes())];
            let d = layout.add_image(&spec);
            layout.tag(&d, name);
        }
        let (ours_dir, theirs_dir) = (tmp.path().join("ours"), tmp.path().join("theirs"));
        let ours = store_with_two_images(&layout_dir, &ours_dir, driver);
        let theirs = store_with_two_images(&layout_dir, &theirs_dir, driver);
        let layers_json = |d: &Path| d.join(format!("root/{driver}-layers/layers.json"));
        let images_json = |d: &Path| d.join(format!("root/{driver}-images/images.json"));
        assert_eq!(ids(&layers_json(&ours_dir)).len(), 3, "a shared base and two tops");

        skiff(&["delete", &format!("containers-storage:{ours}localhost/a:v1")]).ok();
        skopeo(&["delete", &format!("containers-storage:{theirs}localhost/a:v1")]).ok();
        assert_eq!(ids(&images_json(&ours_dir)), ids(&images_json(&theirs_dir)), "{driver}: images");
        assert_eq!(ids(&layers_json(&ours_dir)), ids(&layers_json(&theirs_dir)), "{driver}: layers");
        assert_eq!(ids(&layers_json(&ours_dir)).len(), 2, "{driver}: the shared base stays");
        assert_eq!(paths(&ours_dir.join("root")), paths(&theirs_dir.join("root")), "{driver}: the files left");
        let token = std::fs::read(ours_dir.join(format!("root/{driver}-images/images.lock"))).unwrap();
        assert!(token.len() >= 64 && token[..64].iter().any(|&b| b != 0), "{driver}: a last-writer token");

        // What is left reads as it did: the same inspect from both stores.
        let b = |spec: &str| format!("containers-storage:{spec}localhost/b:v1");
        assert_eq!(skopeo(&["inspect", &b(&ours)]).ok().json(), skopeo(&["inspect", &b(&theirs)]).ok().json());
        // Gone: both tools say so.
        let again = skiff(&["delete", &format!("containers-storage:{ours}localhost/a:v1")]);
        assert_eq!(again.code, 1, "{}", again.stderr);
        assert!(
            again.stderr.contains(&format!(
                "reference \"{}localhost/a:v1\" does not resolve to an image ID: identifier is not an image",
                ours
            )),
            "{}",
            again.stderr
        );
        assert_ne!(skopeo(&["delete", &format!("containers-storage:{theirs}localhost/a:v1")]).code, 0);

        // A writer holding the layers' lock (as podman would) makes the delete wait for it.
        let lock = ours_dir.join(format!("root/{driver}-layers/layers.lock"));
        let mut holder = std::process::Command::new("python3")
            .arg("-c")
            .arg("import fcntl, sys, time; f = open(sys.argv[1], 'r+'); fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(1.5)")
            .arg(&lock)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = holder.stdout.take().unwrap();
        let mut held = [0u8; 5];
        std::io::Read::read_exact(&mut out, &mut held).unwrap();
        let started = std::time::Instant::now();
        skiff(&["delete", &b(&ours)]).ok();
        assert!(started.elapsed() >= std::time::Duration::from_millis(1000), "{driver}: did not wait for the lock");
        assert!(holder.wait().unwrap().success());
        assert!(ids(&images_json(&ours_dir)).is_empty());
        assert!(ids(&layers_json(&ours_dir)).is_empty(), "{driver}: the last image takes its layers");
    }
}
