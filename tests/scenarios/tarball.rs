//! `tarball:` against Debian's skopeo 1.9.3 on the same files and times:
//! `inspect --raw`, `inspect --config --raw` byte for byte (one plain and
//! one gzip layer), `inspect`, `copy … dir:` trees identical, `delete`
//! removing the files, and the transport refused as a destination.

use std::path::Path;

use skiff_tests::harness::tools::{skiff, skopeo};

use super::assert_inspect_matches;

/// A plain tar and a gzip one, with modification times set (one with nanoseconds).
fn layers(dir: &Path) -> String {
    let (a, b) = (dir.join("a"), dir.join("b"));
    std::fs::create_dir_all(a.join("etc")).unwrap();
    std::fs::create_dir_all(b.join("usr/bin")).unwrap();
    std::fs::write(a.join("etc/greeting"), "hello\n").unwrap();
    std::fs::write(b.join("usr/bin/greet"), "#!/bin/sh\necho hi\n").unwrap();
    let tar = |args: &[&str]| assert!(std::process::Command::new("tar").args(args).status().unwrap().success());
    let (plain, gz) = (dir.join("a.tar"), dir.join("b.tar.gz"));
    tar(&["-C", a.to_str().unwrap(), "-cf", plain.to_str().unwrap(), "."]);
    tar(&["-C", b.to_str().unwrap(), "-czf", gz.to_str().unwrap(), "."]);
    let touch = |when: &str, p: &Path| {
        assert!(std::process::Command::new("touch").args(["-d", when, p.to_str().unwrap()]).status().unwrap().success())
    };
    touch("2024-01-02T03:04:05.123456789Z", &plain);
    touch("2024-02-03T04:05:06Z", &gz);
    format!("tarball:{}:{}", plain.display(), gz.display())
}

#[test]
fn tarball_images_are_skopeos_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let image = layers(tmp.path());
    let raw = skiff(&["inspect", "--raw", &image]).ok().stdout;
    assert_eq!(raw, skopeo(&["inspect", "--raw", &image]).ok().stdout, "the manifest");
    let config = skiff(&["inspect", "--config", "--raw", &image]).ok().stdout;
    assert_eq!(config, skopeo(&["inspect", "--config", "--raw", &image]).ok().stdout, "the config");
    assert!(String::from_utf8_lossy(&config).contains("\"created\":\"2024-02-03T04:05:06Z\""));
    assert!(String::from_utf8_lossy(&config).contains("2024-01-02T03:04:05.123456789Z"));
    assert_inspect_matches(&skiff(&["inspect", &image]).ok().json(), &skopeo(&["inspect", &image]).ok().json(), &raw);

    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    skiff(&["--insecure-policy", "copy", &image, &format!("dir:{}", ours.display())]).ok();
    skopeo(&["--insecure-policy", "copy", &image, &format!("dir:{}", theirs.display())]).ok();
    assert_eq!(skiff_tests::harness::tree(&ours), skiff_tests::harness::tree(&theirs));

    // Only a source: refused as a destination, as skopeo refuses it.
    let r = skiff(&["--insecure-policy", "copy", &format!("dir:{}", ours.display()), &image]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("can only be read from, not written to"), "{}", r.stderr);
    // A missing file is an error for both.
    let missing = format!("tarball:{}", tmp.path().join("nothing.tar").display());
    assert_eq!(skiff(&["inspect", "--raw", &missing]).code, 1);
    assert_ne!(skopeo(&["inspect", "--raw", &missing]).code, 0);
}

#[test]
fn deleting_a_tarball_image_removes_its_files_as_skopeo_does() {
    for tool in ["skiff", "skopeo"] {
        let tmp = tempfile::tempdir().unwrap();
        let image = layers(tmp.path());
        let r = if tool == "skiff" { skiff(&["delete", &image]) } else { skopeo(&["delete", &image]) };
        assert_eq!(r.code, 0, "{tool}: {}", r.stderr);
        assert!(!tmp.path().join("a.tar").exists() && !tmp.path().join("b.tar.gz").exists(), "{tool}");
    }
}
