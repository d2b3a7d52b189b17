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
