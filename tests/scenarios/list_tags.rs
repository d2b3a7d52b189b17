//! `list-tags` against the real registry, and pagination through a proxy
//! (Distribution 2.8 itself never paginates).

use skiff_tests::harness::fixtures::{MANY_TAGS, world};
use skiff_tests::harness::proxy::{Mode, Proxy};
use skiff_tests::harness::tools::{skiff, skopeo};

#[test]
fn list_tags_matches_skopeo() {
    for repo in ["test/tags", "test/oci", "test/multi"] {
        let r = format!("docker://{}/{repo}", world().plain.host());
        let ours = skiff(&["list-tags", "--tls-verify=false", &r]).ok();
        let theirs = skopeo(&["list-tags", "--tls-verify=false", &r]).ok();
        assert_eq!(ours.stdout_str(), theirs.stdout_str(), "{repo}");
    }
    let all = skiff(&["list-tags", "--tls-verify=false", &format!("docker://{}/test/tags", world().plain.host())])
        .ok()
        .json();
    assert_eq!(all["Tags"].as_array().unwrap().len(), MANY_TAGS);
    assert_eq!(all["Repository"], format!("{}/test/tags", world().plain.host()));
}

#[test]
fn follows_link_pagination() {
    let proxy = Proxy::start(world().plain.port, Mode::Paginate { page: 7 });
    let r = format!("docker://127.0.0.1:{}/test/tags", proxy.port);
    let ours = skiff(&["list-tags", "--tls-verify=false", &r]).ok();
    let theirs = skopeo(&["list-tags", "--tls-verify=false", &r]).ok();
    assert_eq!(ours.stdout_str(), theirs.stdout_str());
    let tags = ours.json()["Tags"].as_array().unwrap().clone();
    assert_eq!(tags.len(), MANY_TAGS, "all {} pages followed", MANY_TAGS.div_ceil(7));
    assert_eq!(tags[0], "t000");
    assert_eq!(tags[MANY_TAGS - 1], format!("t{:03}", MANY_TAGS - 1));
}

#[test]
fn refuses_tag_or_digest_and_other_transports() {
    let host = world().plain.host();
    for bad in [format!("docker://{host}/test/tags:t000"), "oci:/tmp/x".to_owned(), "docker://UPPER".to_owned()] {
        let r = skiff(&["list-tags", "--tls-verify=false", &bad]);
        assert_eq!(r.code, 1, "{bad}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
}

/// `list-tags docker-archive:FILE`: the archive's tags, normalised, as
/// skopeo lists them (`{"Tags": …}`, no repository); a missing file fails.
#[test]
fn docker_archive_tags_match_skopeo() {
    let tmp = tempfile::tempdir().unwrap();
    let source = format!("oci:{}:v1", world().single.display());
    for (name, extra) in [("tagged", vec!["--additional-tag", "busybox:extra"]), ("untagged", vec![])] {
        let archive = tmp.path().join(format!("{name}.tar"));
        let dest = match name {
            "tagged" => format!("docker-archive:{}:localhost/app:v1", archive.display()),
            _ => format!("docker-archive:{}", archive.display()),
        };
        let mut args = vec!["--insecure-policy", "copy"];
        args.extend(extra);
        args.extend([source.as_str(), dest.as_str()]);
        skopeo(&args).ok();
        let r = format!("docker-archive:{}", archive.display());
        let ours = skiff(&["list-tags", &r]).ok();
        let theirs = skopeo(&["list-tags", &r]).ok();
        assert_eq!(ours.stdout_str(), theirs.stdout_str(), "{name}");
    }
    let missing = format!("docker-archive:{}", tmp.path().join("nothing.tar").display());
    assert_eq!(skiff(&["list-tags", &missing]).code, 1);
    assert_ne!(skopeo(&["list-tags", &missing]).code, 0);
}
