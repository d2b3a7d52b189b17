//! `copy --format v2s1`: schema 1 manifests written as skopeo writes them
//! (the same payload, so the same digest; only the throwaway signature
//! differs), and accepted by a registry that verifies their signatures.

use serde_json::json;
use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::images::{ImageSpec, Layout};
use skiff_tests::harness::registry::{Options, Registry};
use skiff_tests::harness::tools::{skiff, skopeo};
use skiff_tests::harness::tree;

const INSECURE: &str = "--insecure-policy";

/// The signed payload of a schema 1 manifest: everything before the
/// `signatures` member, closed again.
fn payload(manifest: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(manifest).unwrap();
    let cut = text.rfind(",\"signatures\":").expect("a signed schema 1 manifest");
    format!("{}}}", &text[..cut]).into_bytes()
}

#[test]
fn schema1_is_written_as_skopeo_writes_it() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    // Two layers and three history entries, one of them an empty layer.
    let mut spec = ImageSpec::small("arm64", None, "schema1");
    spec.history = Some(json!([
        {"created": "2024-03-04T05:06:07Z", "created_by": "ADD base", "author": "a <b>"},
        {"created": "2024-03-04T05:06:08.25+02:00", "created_by": "ENV X=1", "empty_layer": true, "comment": "c"},
        {"created": "2024-03-04T05:06:09Z", "created_by": "COPY app"},
    ]));
    let layout = tmp.path().join("layout");
    let mut l = Layout::create(&layout);
    let d = l.add_image(&spec);
    l.tag(&d, "v1");
    let src = format!("oci:{}:v1", layout.display());
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    let r = skiff(&[INSECURE, "copy", "--format", "v2s1", &src, &format!("dir:{}", ours.display())]).ok();
    assert!(!r.stderr.contains("Copying config"), "schema 1 has no config: {}", r.stderr);
    skopeo(&[INSECURE, "copy", "-q", "--format", "v2s1", &src, &format!("dir:{}", theirs.display())]).ok();
    let (mine, reference) =
        (std::fs::read(ours.join("manifest.json")).unwrap(), std::fs::read(theirs.join("manifest.json")).unwrap());
    assert_eq!(String::from_utf8(payload(&mine)).unwrap(), String::from_utf8(payload(&reference)).unwrap());
    let digest =
        |dir: &std::path::Path| skopeo(&["manifest-digest", dir.join("manifest.json").to_str().unwrap()]).ok().stdout;
    assert_eq!(digest(&ours), digest(&theirs));
    let blobs = |dir: &std::path::Path| tree(dir).into_iter().filter(|(n, _)| n != "manifest.json").collect::<Vec<_>>();
    assert_eq!(blobs(&ours), blobs(&theirs), "layers, the gzipped empty layer and version");

    // A registry that accepts schema 1 verifies the signature; skopeo reads the image back.
    let s1 = Registry::start(&w.root.join("schema1-copy"), Options { schema1: true, ..Options::default() });
    let dest = format!("docker://{}/s1/app:v1", s1.host());
    skiff(&[INSECURE, "copy", "-q", "--format", "v2s1", "--dest-tls-verify=false", &src, &dest]).ok();
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &dest]).ok().stdout;
    let v: serde_json::Value = serde_json::from_slice(&payload(&raw)).unwrap();
    assert_eq!((v["name"].as_str(), v["tag"].as_str()), (Some("s1/app"), Some("v1")));
    let back = tmp.path().join("back");
    skopeo(&[INSECURE, "copy", "-q", "--src-tls-verify=false", &dest, &format!("dir:{}", back.display())]).ok();
    assert_eq!(blobs(&back), blobs(&ours));
    // The default registry refuses schema 1: a clear failure, not a hang.
    let r = skiff(&[
        INSECURE,
        "copy",
        "--format",
        "v2s1",
        "--dest-tls-verify=false",
        &src,
        &format!("docker://{}/s1/no:v1", w.plain.host()),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // Lists cannot hold schema 1 images.
    let multi = format!("oci:{}:v1", w.multi.display());
    let r = skiff(&[
        INSECURE,
        "copy",
        "--all",
        "--format",
        "v2s1",
        &multi,
        &format!("dir:{}", tmp.path().join("l").display()),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("schema 1"), "{}", r.stderr);
}
