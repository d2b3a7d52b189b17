//! `delete` removes the manifest by digest, as skopeo does.

use skiff_tests::harness::fixtures::{push, world};
use skiff_tests::harness::tools::{skiff, skopeo};

#[test]
fn delete_by_tag_and_by_digest() {
    let w = world();
    let host = w.plain.host();
    push(&w.single, "v1", &format!("docker://{host}/test/del-tag:v1"), &[]);
    let img = format!("docker://{host}/test/del-tag:v1");
    skiff(&["delete", "--tls-verify=false", &img]).ok();
    let after = skiff(&["inspect", "--tls-verify=false", &img]);
    assert_eq!(after.code, 2, "deleted image must be missing: {}", after.stderr);
    assert_ne!(skopeo(&["inspect", "--tls-verify=false", &img]).code, 0);

    push(&w.single, "v1", &format!("docker://{host}/test/del-digest:v1"), &[]);
    let digest = skopeo(&["inspect", "--tls-verify=false", &format!("docker://{host}/test/del-digest:v1")]).ok().json()
        ["Digest"]
        .as_str()
        .unwrap()
        .to_owned();
    skiff(&["delete", "--tls-verify=false", &format!("docker://{host}/test/del-digest@{digest}")]).ok();
    assert_eq!(skiff(&["inspect", "--tls-verify=false", &format!("docker://{host}/test/del-digest:v1")]).code, 2);
    // Deleting again: the manifest is gone.
    let again = skiff(&["delete", "--tls-verify=false", &format!("docker://{host}/test/del-digest@{digest}")]);
    assert_eq!(again.code, 2, "{}", again.stderr);
}

/// Every blob file of a layout, by name.
fn blobs(layout: &std::path::Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn hex(desc: &serde_json::Value) -> String {
    desc["digest"].as_str().unwrap().strip_prefix("sha256:").unwrap().to_owned()
}

/// `delete oci:` as upstream skopeo does it (1.9.3 cannot): the entry
/// leaves index.json and only the blobs no other image uses are removed.
#[test]
fn delete_from_an_oci_layout_keeps_what_other_images_use() {
    use skiff_tests::harness::images::{ImageSpec, Layout};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    let mut l = Layout::create(&dir);
    let shared = vec![("etc/os-release".to_owned(), b"ID=skiff\n".to_vec())];
    let spec = |own: &str| {
        let mut s = ImageSpec::small("amd64", None, own);
        s.layers = vec![shared.clone(), vec![(format!("{own}.txt"), own.as_bytes().to_vec())]];
        s
    };
    let a = l.add_image(&spec("a"));
    l.tag(&a, "a");
    let b = l.add_image(&spec("b"));
    l.tag(&b, "b");
    let arm = l.add_image(&ImageSpec::small("arm64", Some("v8"), "list-arm"));
    let amd = l.add_image(&ImageSpec::small("amd64", None, "list-amd"));
    let list = l.add_index(vec![arm.clone(), amd.clone()]);
    l.tag(&list, "list");
    let before = blobs(&dir);
    let manifest = |d: &serde_json::Value| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join("blobs/sha256").join(hex(d))).unwrap()).unwrap()
    };
    let a_manifest = manifest(&a);
    let b_manifest = manifest(&b);

    skiff(&["delete", &format!("oci:{}:a", dir.display())]).ok();
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let names: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b", "list"]);
    let after = blobs(&dir);
    let gone: Vec<&String> = before.difference(&after).collect();
    let mut want = vec![hex(&a), hex(&a_manifest["config"]), hex(&a_manifest["layers"][1])];
    want.sort();
    assert_eq!(gone.into_iter().cloned().collect::<Vec<_>>(), want, "a's own blobs only");
    assert!(after.contains(&hex(&b_manifest["layers"][0])), "the shared layer stays");
    skopeo(&["inspect", "--raw", &format!("oci:{}:b", dir.display())]).ok();

    // A list goes with every image in it.
    skiff(&["delete", &format!("oci:{}:list", dir.display())]).ok();
    let left = blobs(&dir);
    for d in [&list, &arm, &amd] {
        assert!(!left.contains(&hex(d)), "{d}");
    }
    skopeo(&["inspect", "--raw", &format!("oci:{}:b", dir.display())]).ok();
    // What is not there: skopeo's exit code for a missing image.
    let r = skiff(&["delete", &format!("oci:{}:nope", dir.display())]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("nope"), "{}", r.stderr);
}
