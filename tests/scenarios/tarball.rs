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

/// `inspect --config --raw` of `image` by `tool` with `input` on its standard input.
fn config_from_stdin(tool: &str, image: &str, input: &Path) -> serde_json::Value {
    let mut cmd = skiff_tests::harness::tools::tool_cmd(tool);
    cmd.args(["inspect", "--config", "--raw", image]).stdin(std::fs::File::open(input).unwrap());
    let r = skiff_tests::harness::tools::run(cmd);
    assert_eq!(r.code, 0, "{tool}: {}", r.stderr);
    serde_json::from_slice(&r.stdout).unwrap()
}

/// `tarball:-` reads a layer from standard input, dated when it was read, as
/// skopeo does; everything but those times is skopeo's.
#[test]
fn a_tarball_layer_from_standard_input() {
    let tmp = tempfile::tempdir().unwrap();
    let image = layers(tmp.path());
    let gz = tmp.path().join("b.tar.gz");
    let plain = tmp.path().join("a.tar");
    let from_stdin = format!("tarball:{}:-", plain.display());
    let before = std::time::SystemTime::now();
    let mut ours = config_from_stdin("skiff", &from_stdin, &gz);
    let mut theirs = config_from_stdin("skopeo", &from_stdin, &gz);
    // The same layers and diff IDs as the files named on the command line.
    let named = skiff(&["inspect", "--config", "--raw", &image]).ok().json();
    assert_eq!(ours["rootfs"], named["rootfs"]);
    // Dated when read: now, not the file's 2024 time.
    let created = ours["created"].as_str().unwrap().to_owned();
    let year: i32 = created[..4].parse().unwrap();
    let now_year = 1970 + (before.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 31_556_952) as i32;
    assert!(year >= now_year - 1, "{created}");
    assert_eq!(ours["history"][1]["created"], ours["created"]);
    for c in [&mut ours, &mut theirs] {
        c["created"] = serde_json::Value::Null;
        c["history"][1]["created"] = serde_json::Value::Null;
    }
    assert_eq!(ours, theirs, "everything but the times of reading");
    // Copied through: the layer is the file's bytes.
    let out = tmp.path().join("out");
    let mut cmd = skiff_tests::harness::tools::skiff_cmd();
    cmd.args(["--insecure-policy", "copy", "-q", &from_stdin, &format!("dir:{}", out.display())])
        .stdin(std::fs::File::open(&gz).unwrap());
    let r = skiff_tests::harness::tools::run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let digest = skiff_tests::harness::images::sha256(&std::fs::read(&gz).unwrap());
    assert!(std::fs::read(out.join(&digest[7..])).unwrap() == std::fs::read(&gz).unwrap());
}
