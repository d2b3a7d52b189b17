//! Bad input gets a clear error and a non-zero exit, never a panic.

use std::time::{Duration, Instant};

use serde_json::json;
use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::images::{Layout, sha256};
use skiff_tests::harness::proxy::{Mode, Proxy};
use skiff_tests::harness::tools::skiff;

#[track_caller]
fn assert_clean_failure(r: &skiff_tests::harness::tools::Run, code: i32, needle: &str) {
    assert_eq!(r.code, code, "stderr: {}", r.stderr);
    assert!(r.stdout.is_empty(), "nothing on stdout on failure");
    assert!(r.stderr.contains(needle), "expected {needle:?} in: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn malformed_references_fail_before_any_network() {
    // Port 9 on loopback has no registry: a network attempt would say so.
    let long = format!("docker://127.0.0.1:9/{}", "a".repeat(250));
    for (reference, needle) in [
        ("", "Invalid image name"),
        ("docker://127.0.0.1:9/Upper/Case", "must be lowercase"),
        ("docker://127.0.0.1:9/a:b:c", "invalid"),
        ("docker://127.0.0.1:9/app@sha256:1234", "invalid digest"),
        ("docker://127.0.0.1:9/app@sha256:../../../etc/passwd", "invalid digest"),
        (long.as_str(), "255"),
        ("nosuch://x", "unknown transport"),
        ("busybox", "expected colon-separated transport:reference"),
        ("docker:busybox", "must begin with"),
        // Item 32: an image ID is not a name (skopeo's words).
        (
            "docker://e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "cannot specify 64-byte hexadecimal strings",
        ),
    ] {
        let started = Instant::now();
        let r = skiff(&["inspect", reference]);
        assert_clean_failure(&r, 1, needle);
        assert!(!r.stderr.contains("pinging"), "no network for {reference:?}: {}", r.stderr);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

/// Items 33-34: a docker-archive that is not there and an auth file that
/// is not JSON are clean errors naming the file, before any network.
#[test]
fn missing_archives_and_broken_auth_files_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let r = skiff(&["inspect", "docker-archive:/nonexistent.tar:a:b"]);
    assert_clean_failure(&r, 1, "/nonexistent.tar");
    let auth = tmp.path().join("auth.json");
    std::fs::write(&auth, "{").unwrap();
    let r = skiff(&["inspect", "--authfile", auth.to_str().unwrap(), "docker://127.0.0.1:9/x"]);
    assert_clean_failure(&r, 1, auth.to_str().unwrap());
    assert!(!r.stderr.contains("pinging") && !r.stderr.contains("onnection refused"), "{}", r.stderr);
}

/// Items 7 and 8: a manifest, and a blob's error answer, that never end
/// are cut off at their limits (4 MiB, 1 MiB) within seconds: what is kept
/// is bounded by the limit, never by the server.
#[test]
fn endless_answers_are_cut_off() {
    let tmp = tempfile::tempdir().unwrap();
    for (mode, needle) in [(Mode::EndlessManifests, "too large"), (Mode::EndlessErrors, "larger than 1048576 bytes")] {
        let proxy = Proxy::start(world().plain.port, mode);
        let image = format!("docker://127.0.0.1:{}/test/oci:v1", proxy.port);
        let dest = tmp.path().join(format!("{mode:?}"));
        let started = Instant::now();
        let r = match mode {
            Mode::EndlessManifests => skiff(&["inspect", "--raw", "--tls-verify=false", &image]),
            _ => skiff(&[
                "--insecure-policy",
                "copy",
                "--src-tls-verify=false",
                &image,
                &format!("dir:{}", dest.display()),
            ]),
        };
        assert_ne!(r.code, 0, "{mode:?}");
        assert!(r.stderr.lines().any(|l| l.starts_with("Error: ") && l.contains(needle)), "{mode:?}: {}", r.stderr);
        assert!(r.stderr.len() < 4096, "{mode:?}: the body is not echoed: {} bytes", r.stderr.len());
        assert!(started.elapsed() < Duration::from_secs(15), "{mode:?}: {:?}", started.elapsed());
        assert!(!dest.join("manifest.json").exists());
    }
}

/// Item 6: Ctrl-C while skiff waits out a registry's `Retry-After: 60`
/// ends it at once, with nothing written.
#[test]
fn an_interrupt_during_a_retry_wait_ends_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(world().plain.port, Mode::TooManyRequests);
    let dest = tmp.path().join("out");
    let mut child = skiff_tests::harness::tools::skiff_cmd()
        .args(["--insecure-policy", "copy", "--retry-times", "3", "--src-tls-verify=false"])
        .arg(format!("docker://127.0.0.1:{}/test/oci:v1", proxy.port))
        .arg(format!("dir:{}", dest.display()))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "still waiting for the registry");
    let sent = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    let interrupted = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(interrupted.elapsed() < Duration::from_secs(3), "skiff kept waiting after SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    assert!(!dest.join("manifest.json").exists());
}

#[test]
fn missing_image_exits_2() {
    let host = world().plain.host();
    assert_clean_failure(
        &skiff(&["inspect", "--tls-verify=false", &format!("docker://{host}/test/oci:nosuchtag")]),
        2,
        "manifest unknown",
    );
    assert_clean_failure(
        &skiff(&["inspect", "--tls-verify=false", &format!("docker://{host}/no/such/repo:v1")]),
        2,
        "reading manifest",
    );
    let d = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    assert_clean_failure(
        &skiff(&["inspect", "--tls-verify=false", &format!("docker://{host}/test/oci@{d}")]),
        2,
        "manifest unknown",
    );
}

#[test]
fn unreachable_and_hanging_registries() {
    let port = skiff_tests::harness::free_port();
    let r = skiff(&["inspect", "--tls-verify=false", &format!("docker://127.0.0.1:{port}/a:b")]);
    assert_clean_failure(&r, 1, "pinging container registry");

    let hang = Proxy::start(world().plain.port, Mode::Hang);
    let started = Instant::now();
    let r = skiff(&[
        "--command-timeout",
        "2s",
        "inspect",
        "--tls-verify=false",
        &format!("docker://127.0.0.1:{}/test/oci:v1", hang.port),
    ]);
    assert_clean_failure(&r, 1, "timed out");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[test]
fn lying_registry_is_caught() {
    let lying = Proxy::start(world().plain.port, Mode::CorruptManifests);
    let host = format!("127.0.0.1:{}", lying.port);
    let r = skiff(&["inspect", "--tls-verify=false", &format!("docker://{host}/test/oci:v1")]);
    assert_clean_failure(&r, 1, "does not match");
    // By digest: the bytes must hash to the digest asked for.
    let digest = skiff(&["inspect", "--tls-verify=false", &format!("docker://{}/test/oci:v1", world().plain.host())])
        .ok()
        .json()["Digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = skiff(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{host}/test/oci@{digest}")]);
    assert_clean_failure(&r, 1, "digest mismatch");

    let huge = Proxy::start(world().plain.port, Mode::OversizeManifests);
    let r = skiff(&["inspect", "--tls-verify=false", &format!("docker://127.0.0.1:{}/test/oci:v1", huge.port)]);
    assert_clean_failure(&r, 1, "too large");
}

#[test]
fn hostile_layouts() {
    let tmp = tempfile::tempdir().unwrap();
    // index.json naming a path-traversal digest.
    let evil = tmp.path().join("evil");
    Layout::create(&evil);
    std::fs::write(
        evil.join("index.json"),
        json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:../../../../etc/passwd", "size": 10}]}).to_string(),
    )
    .unwrap();
    assert_clean_failure(&skiff(&["inspect", &format!("oci:{}", evil.display())]), 1, "invalid digest");

    // A manifest whose bytes do not match the digest that names it.
    let tampered = tmp.path().join("tampered");
    let mut l = Layout::create(&tampered);
    let (d, size) = l.add_blob(br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#);
    std::fs::write(
        tampered.join("blobs/sha256").join(&d[7..]),
        br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","x":1}"#,
    )
    .unwrap();
    l.tag(&json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": size}), "v1");
    assert_clean_failure(&skiff(&["inspect", &format!("oci:{}:v1", tampered.display())]), 1, "digest mismatch");

    // Nested indexes, unknown media types, and an oversized manifest.
    let nested = tmp.path().join("nested");
    let mut l = Layout::create(&nested);
    let inner = l.add_index(vec![]);
    let mut entry = inner.clone();
    entry["platform"] = json!({"architecture": "amd64", "os": "linux"});
    let outer = l.add_index(vec![entry]);
    l.tag(&outer, "v1");
    assert_clean_failure(&skiff(&["inspect", &format!("oci:{}:v1", nested.display())]), 1, "nested");

    let unknown = tmp.path().join("unknown");
    let mut l = Layout::create(&unknown);
    let (d, size) = l.add_blob(br#"{"schemaVersion":2,"mediaType":"application/x-evil"}"#);
    l.tag(&json!({"mediaType": "application/x-evil", "digest": d, "size": size}), "v1");
    assert_clean_failure(&skiff(&["inspect", &format!("oci:{}:v1", unknown.display())]), 1, "unsupported");

    let big = tmp.path().join("big");
    let mut l = Layout::create(&big);
    let body = format!(r#"{{"schemaVersion":2,"pad":"{}"}}"#, "x".repeat(5 * 1024 * 1024));
    let (d, size) = l.add_blob(body.as_bytes());
    assert_eq!(d, sha256(body.as_bytes()));
    l.tag(&json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": size}), "v1");
    assert_clean_failure(&skiff(&["inspect", &format!("oci:{}:v1", big.display())]), 1, "larger than");

    // Item 30: an index.json over 4 MiB (valid JSON, padded) is refused before it is parsed.
    let padded = tmp.path().join("padded");
    let mut l = Layout::create(&padded);
    let d = l.add_image(&skiff_tests::harness::images::ImageSpec::small("amd64", None, "padded"));
    l.tag(&d, "v1");
    let mut index = std::fs::read(padded.join("index.json")).unwrap();
    index.extend(std::iter::repeat_n(b' ', 5 << 20));
    std::fs::write(padded.join("index.json"), index).unwrap();
    assert_clean_failure(&skiff(&["inspect", &format!("oci:{}:v1", padded.display())]), 1, "larger than");

    // Item 30: a blob that is a symlink to a file outside the layout, even
    // one holding exactly the right bytes, is not read (skopeo follows it).
    let linked = tmp.path().join("linked");
    let mut l = Layout::create(&linked);
    let d = l.add_image(&skiff_tests::harness::images::ImageSpec::small("amd64", None, "linked"));
    l.tag(&d, "v1");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(linked.join("blobs/sha256").join(&d["digest"].as_str().unwrap()[7..])).unwrap(),
    )
    .unwrap();
    let layer = linked.join("blobs/sha256").join(&manifest["layers"][0]["digest"].as_str().unwrap()[7..]);
    let outside = tmp.path().join("outside-the-layout");
    std::fs::rename(&layer, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &layer).unwrap();
    let out = tmp.path().join("out");
    let r = skiff(&[
        "--insecure-policy",
        "copy",
        &format!("oci:{}:v1", linked.display()),
        &format!("dir:{}", out.display()),
    ]);
    assert_clean_failure(&r, 1, "is a symbolic link");
    assert!(!out.join("manifest.json").exists());
}

#[test]
fn manifest_digest_of_junk() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("junk");
    std::fs::write(&f, b"not a manifest").unwrap();
    // skopeo hashes any bytes it is given; so do we.
    let r = skiff(&["manifest-digest", f.to_str().unwrap()]).ok();
    assert_eq!(r.stdout_str().trim(), sha256(b"not a manifest"));
    assert_clean_failure(&skiff(&["manifest-digest", "/nonexistent/m.json"]), 1, "Error reading manifest");
}

#[test]
fn transient_failures_are_retried_when_asked() {
    let img = |port: u16| format!("docker://127.0.0.1:{port}/test/oci:v1");
    // Connection 0 is the https:// attempt (refused by TLS, not retried),
    // then the plain-HTTP requests meet two 503s.
    let flaky = Proxy::start(world().plain.port, Mode::FailFirst(3));
    let r = skiff(&["inspect", "--tls-verify=false", &img(flaky.port)]);
    assert_clean_failure(&r, 1, "503");
    let flaky = Proxy::start(world().plain.port, Mode::FailFirst(3));
    let started = Instant::now();
    let r = skiff(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--retry-times",
        "3",
        "--retry-delay",
        "100ms",
        &img(flaky.port),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout_str().contains("schemaVersion"));
    assert!(started.elapsed() >= Duration::from_millis(200), "two retries waited the delay");
}
