//! `sigstoreSigned` with keys, against signatures cosign made (the
//! fixtures in tests/fixtures/sigstore, copied from containers/image with
//! their README): accepted and rejected exactly as that README says.
//! skopeo 1.9.3 cannot be the reference here (Debian patched sigstore out).
//! The fixtures hold a manifest and its signatures but no blobs, so an
//! accepted image gets past the policy and then fails reading its first
//! blob; a rejected one never gets that far.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use skiff_tests::harness::tools::{Run, skiff};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/sigstore")
}

/// The identity the fixtures' signatures claim (a repository, as cosign writes it).
const IDENTITY: &str = "192.168.64.2:5000/cosign-signed-single-sample";

fn copy_with(tmp: &Path, name: &str, requirement: &str, image: &Path) -> Run {
    let policy = tmp.join(format!("{name}.json"));
    std::fs::write(&policy, format!(r#"{{"default":[{{"type":"sigstoreSigned",{requirement}}}]}}"#)).unwrap();
    let out = tmp.join(format!("out-{name}"));
    let r = skiff(&[
        "--policy",
        policy.to_str().unwrap(),
        "copy",
        &format!("dir:{}", image.display()),
        &format!("dir:{}", out.display()),
    ]);
    assert_eq!(r.code, 1, "{name}: the fixtures have no blobs: {}", r.stderr);
    assert!(!out.join("manifest.json").exists(), "{name}: nothing copied");
    r
}

#[test]
fn cosign_signatures_are_judged_as_their_readme_says() {
    let f = fixtures();
    let tmp = tempfile::tempdir().unwrap();
    let key = f.join("cosign.pub").display().to_string();
    let key2 = f.join("cosign2.pub").display().to_string();
    let data = base64::engine::general_purpose::STANDARD.encode(std::fs::read(f.join("cosign.pub")).unwrap());
    let repo = format!(r#""signedIdentity":{{"type":"exactRepository","dockerRepository":"{IDENTITY}"}}"#);
    // A copy of the valid image whose signature was made by an unknown key.
    let unknown = tmp.path().join("unknown");
    std::fs::create_dir_all(&unknown).unwrap();
    std::fs::copy(f.join("dir-img-cosign-valid/manifest.json"), unknown.join("manifest.json")).unwrap();
    std::fs::copy(f.join("unknown-cosign-key.signature"), unknown.join("signature-1")).unwrap();
    let cases: Vec<(&str, String, PathBuf, bool)> = vec![
        ("valid", format!(r#""keyPath":"{key}",{repo}"#), f.join("dir-img-cosign-valid"), true),
        ("valid-2", format!(r#""keyPath":"{key}",{repo}"#), f.join("dir-img-cosign-valid-2"), true),
        ("key-data", format!(r#""keyData":"{data}",{repo}"#), f.join("dir-img-cosign-valid"), true),
        ("key-paths", format!(r#""keyPaths":["{key2}","{key}"],{repo}"#), f.join("dir-img-cosign-valid"), true),
        ("other-key", format!(r#""keyPath":"{key2}",{repo}"#), f.join("dir-img-cosign-valid"), false),
        ("modified", format!(r#""keyPath":"{key}",{repo}"#), f.join("dir-img-cosign-modified-manifest"), false),
        ("digest-error", format!(r#""keyPath":"{key}",{repo}"#), f.join("dir-img-cosign-manifest-digest-error"), false),
        ("other-attachment", format!(r#""keyPath":"{key}",{repo}"#), f.join("dir-img-cosign-other-attachment"), false),
        ("unknown-key", format!(r#""keyPath":"{key}",{repo}"#), unknown, false),
        // The signature names a repository: an exact reference needs a tag.
        (
            "exact",
            format!(
                r#""keyPath":"{key}","signedIdentity":{{"type":"exactReference","dockerReference":"{IDENTITY}:latest"}}"#
            ),
            f.join("dir-img-cosign-valid"),
            false,
        ),
    ];
    for (name, requirement, image, accepted) in cases {
        let r = copy_with(tmp.path(), name, &requirement, &image);
        let past_the_policy = !r.stderr.contains("Source image rejected") && r.stderr.contains("No such file");
        assert_eq!(past_the_policy, accepted, "{name}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
    }
    // What this version cannot check is refused, never skipped.
    let rekor = format!(r#""keyPath":"{key}","rekorPublicKeyPath":"{}",{repo}"#, f.join("rekor.pub").display());
    let r = copy_with(tmp.path(), "rekor", &rekor, &f.join("dir-img-cosign-valid"));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not supported"), "{}", r.stderr);
    // A policy naming two key sources is refused before anything is read.
    let both = format!(r#""keyPath":"{key}","keyData":"{data}",{repo}"#);
    let r = copy_with(tmp.path(), "both", &both, &f.join("dir-img-cosign-valid"));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("exactly one of"), "{}", r.stderr);
}

/// Signing flags this version cannot carry out yet are refused in words,
/// never unknown and never an unsigned copy.
#[test]
fn unsupported_signing_flags_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures().join("dir-img-cosign-valid");
    for flag in ["--sign-by-sigstore-private-key", "--sign-by-sigstore", "--sign-by-sq-fingerprint"] {
        let out = tmp.path().join(flag.trim_start_matches('-'));
        let dest = format!("dir:{}", out.display());
        let copy = skiff(&["--insecure-policy", "copy", flag, "x", &format!("dir:{}", src.display()), &dest]);
        let sync = skiff(&[
            "--insecure-policy",
            "sync",
            "--src",
            "dir",
            "--dest",
            "docker",
            flag,
            "x",
            src.to_str().unwrap(),
            "reg.test/x",
        ]);
        for r in [copy, sync] {
            assert_eq!(r.code, 1, "{flag}: {}", r.stderr);
            assert!(
                r.stderr.contains(&format!("{flag} is not supported by this version of skiff yet")),
                "{}",
                r.stderr
            );
        }
        assert!(!out.exists());
    }
}
