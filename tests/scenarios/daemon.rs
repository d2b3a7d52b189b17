//! `docker-daemon:` and `docker load` against a real Docker Engine, with
//! skopeo as the reference.

use std::path::Path;

use skiff_tests::harness::docker::docker;
use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::tools::{run, skiff, skiff_cmd, skopeo};
use skiff_tests::harness::tree;

use super::assert_inspect_matches;

const INSECURE: &str = "--insecure-policy";

fn plain(repo: &str) -> String {
    format!("docker://{}/{repo}", world().plain.host())
}

/// The config digest of an image written to `dir:`.
fn config_digest(dir: &Path) -> String {
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    m["config"]["digest"].as_str().unwrap().to_owned()
}

/// Our `docker-archive:` tarballs load with `docker load`, under every tag given.
#[test]
fn docker_archive_loads_with_docker_load() {
    let (w, d) = (world(), docker());
    let tmp = tempfile::tempdir().unwrap();
    for (i, src) in [format!("oci:{}:v1", w.single.display()), plain("test/docker:v1")].iter().enumerate() {
        let archive = tmp.path().join(format!("image{i}.tar"));
        let (name, extra) = (format!("skiff/archived{i}:1"), format!("skiff/extra{i}:2"));
        skiff(&[
            INSECURE,
            "copy",
            "-q",
            "--src-tls-verify=false",
            "--additional-tag",
            &extra,
            src,
            &format!("docker-archive:{}:{name}", archive.display()),
        ])
        .ok();
        let r = d.cli(&["load", "--input", archive.to_str().unwrap()]).ok();
        assert!(r.stdout_str().contains(&format!("Loaded image: {name}")), "{}", r.stdout_str());
        // The engine's image ID is the config digest skopeo sees in the source.
        let source_dir = tmp.path().join(format!("source{i}"));
        skopeo(&[INSECURE, "copy", "-q", "--src-tls-verify=false", src, &format!("dir:{}", source_dir.display())]).ok();
        let config = config_digest(&source_dir);
        assert_eq!(d.image_id(&name), config);
        assert_eq!(d.image_id(&extra), config);
    }
}

/// Into the engine and back out, compared with skopeo doing the same.
#[test]
fn docker_daemon_both_ways_like_skopeo() {
    let d = docker();
    let tmp = tempfile::tempdir().unwrap();
    let host = d.host();
    // Registry → engine: the same image ID as skopeo's copy.
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--src-tls-verify=false",
        "--dest-daemon-host",
        &host,
        &plain("test/oci:v1"),
        "docker-daemon:skiff/pushed:1",
    ])
    .ok();
    skopeo(&[
        INSECURE,
        "copy",
        "-q",
        "--src-tls-verify=false",
        "--dest-daemon-host",
        &host,
        &plain("test/oci:v1"),
        "docker-daemon:skopeo/pushed:1",
    ])
    .ok();
    assert_eq!(d.image_id("skiff/pushed:1"), d.image_id("skopeo/pushed:1"));

    // Engine → dir: byte-identical to skopeo's; DOCKER_HOST works as the flag does.
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    let mut cmd = skiff_cmd();
    cmd.env("DOCKER_HOST", &host).args([
        INSECURE,
        "copy",
        "-q",
        "docker-daemon:skiff/pushed:1",
        &format!("dir:{}", ours.display()),
    ]);
    run(cmd).ok();
    skopeo(&[
        INSECURE,
        "copy",
        "-q",
        "--src-daemon-host",
        &host,
        "docker-daemon:skiff/pushed:1",
        &format!("dir:{}", theirs.display()),
    ])
    .ok();
    assert_eq!(tree(&ours), tree(&theirs));

    // inspect: the same document (and the same raw manifest) as skopeo's.
    let ours = skiff(&["inspect", "--daemon-host", &host, "docker-daemon:skiff/pushed:1"]).ok().json();
    let theirs = skopeo(&["inspect", "--daemon-host", &host, "docker-daemon:skiff/pushed:1"]).ok().json();
    let raw = skiff(&["inspect", "--raw", "--daemon-host", &host, "docker-daemon:skiff/pushed:1"]).ok().stdout;
    assert_eq!(raw, skopeo(&["inspect", "--raw", "--daemon-host", &host, "docker-daemon:skiff/pushed:1"]).ok().stdout);
    assert_inspect_matches(&ours, &theirs, &raw);

    // Engine → registry: layers compressed again, the config unchanged.
    let dest = plain("from-daemon/app:1");
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--src-daemon-host",
        &host,
        "--dest-tls-verify=false",
        "docker-daemon:skiff/pushed:1",
        &dest,
    ])
    .ok();
    let m = skopeo(&["inspect", "--raw", "--tls-verify=false", &dest]).ok().json();
    assert!(m["layers"].as_array().unwrap().iter().all(|l| l["mediaType"].as_str().unwrap().ends_with("gzip")), "{m}");
    assert_eq!(m["config"]["digest"].as_str().unwrap(), d.image_id("skiff/pushed:1"));
    let back = tmp.path().join("back");
    skopeo(&[
        INSECURE,
        "copy",
        "-q",
        "--dest-decompress",
        "--src-tls-verify=false",
        &dest,
        &format!("dir:{}", back.display()),
    ])
    .ok();
    let tars = |dir: &Path| tree(dir).into_iter().filter(|(n, _)| n.len() == 64).collect::<Vec<_>>();
    assert_eq!(tars(&back), tars(&tmp.path().join("theirs")), "the same layer tars and config");
}

#[test]
fn daemon_errors_are_clear() {
    let d = docker();
    let host = d.host();
    let r = skiff(&["inspect", "--daemon-host", &host, "docker-daemon:skiff/never-loaded:1"]);
    assert_eq!(r.code, 2, "a missing image: {}", r.stderr);
    assert!(r.stderr.contains("skiff/never-loaded"), "{}", r.stderr);
    let r = skiff(&["inspect", "--daemon-host", "unix:///nonexistent/docker.sock", "docker-daemon:a/b:1"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Docker daemon"), "{}", r.stderr);
    let id = format!("docker-daemon:sha256:{}", "a".repeat(64));
    let r = skiff(&[INSECURE, "copy", &format!("oci:{}:v1", world().single.display()), &id]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("image ID"), "{}", r.stderr);
}
