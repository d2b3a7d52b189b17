//! `oci:` layouts and `dir:` directories read through the core's file requests.

use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::tools::{skiff, skopeo};

use super::assert_inspect_matches;

#[test]
fn oci_layout_matches_skopeo() {
    let w = world();
    for (layout, name) in [(&w.single, "v1"), (&w.multi, "v1")] {
        let img = format!("oci:{}:{name}", layout.display());
        let ours = skiff(&["inspect", &img]).ok();
        let theirs = skopeo(&["inspect", &img]).ok();
        let raw = skopeo(&["inspect", "--raw", &img]).ok().stdout;
        let mut manifest = raw.clone();
        if layout == &w.multi {
            let idx: serde_json::Value = serde_json::from_slice(&raw).unwrap();
            let d = idx["manifests"][0]["digest"].as_str().unwrap();
            manifest = std::fs::read(layout.join("blobs/sha256").join(&d[7..])).unwrap();
        }
        assert_inspect_matches(&ours.json(), &theirs.json(), &manifest);
        assert!(ours.json().get("Name").is_none(), "no docker reference for oci:");
        for flags in [vec!["--raw"], vec!["--config", "--raw"], vec!["--config"]] {
            let mut args = vec!["inspect"];
            args.extend(&flags);
            args.push(&img);
            assert_eq!(skiff(&args).ok().stdout, skopeo(&args).ok().stdout, "{img} {flags:?}");
        }
    }
}

#[test]
fn dir_matches_skopeo() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    for (name, extra) in [("oci", vec![]), ("v2s2", vec!["--format", "v2s2"])] {
        let dest = tmp.path().join(name);
        let src = format!("oci:{}:v1", w.single.display());
        let d = format!("dir:{}", dest.display());
        let mut args = vec!["--insecure-policy", "copy", "-q"];
        args.extend(&extra);
        args.extend([src.as_str(), d.as_str()]);
        skopeo(&args).ok();
        let ours = skiff(&["inspect", &d]).ok();
        let theirs = skopeo(&["inspect", &d]).ok();
        let raw = std::fs::read(dest.join("manifest.json")).unwrap();
        assert_inspect_matches(&ours.json(), &theirs.json(), &raw);
        assert_eq!(
            skiff(&["inspect", "--config", "--raw", &d]).ok().stdout,
            skopeo(&["inspect", "--config", "--raw", &d]).ok().stdout
        );
    }
}

#[test]
fn layout_selection_errors() {
    let w = world();
    let missing = skiff(&["inspect", &format!("oci:{}:nope", w.single.display())]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("nope"), "{}", missing.stderr);
    let by_index = skiff(&["inspect", "--raw", &format!("oci:{}:@0", w.single.display())]).ok();
    assert_eq!(by_index.stdout, skopeo(&["inspect", "--raw", &format!("oci:{}:v1", w.single.display())]).ok().stdout);
    let no_layout = skiff(&["inspect", "oci:/nonexistent/skiff-layout"]);
    assert_eq!(no_layout.code, 1);
    assert!(no_layout.stderr.contains("index.json"), "{}", no_layout.stderr);
}

#[test]
fn shared_blob_dir_matches_skopeo() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let shared = tmp.path().join("shared");
    std::fs::create_dir_all(layout.join("blobs")).unwrap();
    std::fs::copy(w.single.join("index.json"), layout.join("index.json")).unwrap();
    std::fs::copy(w.single.join("oci-layout"), layout.join("oci-layout")).unwrap();
    std::fs::create_dir_all(shared.join("sha256")).unwrap();
    for e in std::fs::read_dir(w.single.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), shared.join("sha256").join(e.file_name())).unwrap();
    }
    let img = format!("oci:{}:v1", layout.display());
    let sbd = shared.to_str().unwrap();
    let ours = skiff(&["inspect", "--shared-blob-dir", sbd, &img]).ok();
    let theirs = skopeo(&["inspect", "--shared-blob-dir", sbd, &img]).ok();
    let raw = skopeo(&["inspect", "--raw", "--shared-blob-dir", sbd, &img]).ok().stdout;
    assert_inspect_matches(&ours.json(), &theirs.json(), &raw);
    // Without the flag the blobs are not where the layout says.
    assert_eq!(skiff(&["inspect", &img]).code, 1);
}
