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
    // Truncated and garbage signatures are clean errors.
    let blob = std::fs::read(f.join("dir-img-cosign-valid/signature-1")).unwrap();
    for (name, bad) in
        [("truncated", blob[..blob.len() / 2].to_vec()), ("garbage", b"\x00sigstore-json\n\xff\xfe".to_vec())]
    {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(f.join("dir-img-cosign-valid/manifest.json"), dir.join("manifest.json")).unwrap();
        std::fs::write(dir.join("signature-1"), bad).unwrap();
        let r = copy_with(tmp.path(), name, &format!(r#""keyPath":"{key}",{repo}"#), &dir);
        assert!(r.stderr.contains("invalid sigstore signature"), "{name}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
    }
    // With Rekor keys, a signature that was never logged is not enough.
    let rekor = format!(r#""keyPath":"{key}","rekorPublicKeyPath":"{}",{repo}"#, f.join("rekor.pub").display());
    let r = copy_with(tmp.path(), "rekor", &rekor, &f.join("dir-img-cosign-valid"));
    assert!(r.stderr.contains("missing dev.sigstore.cosign/bundle annotation"), "{}", r.stderr);
    // A policy naming two key sources is refused before anything is read.
    let both = format!(r#""keyPath":"{key}","keyData":"{data}",{repo}"#);
    let r = copy_with(tmp.path(), "both", &both, &f.join("dir-img-cosign-valid"));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("exactly one of"), "{}", r.stderr);
}

/// A copy of fixture image `dir` whose signature has `edit` applied to its
/// annotations (the framing and the rest kept).
fn edited(
    tmp: &Path,
    dir: &str,
    name: &str,
    edit: impl Fn(&mut serde_json::Map<String, serde_json::Value>),
) -> PathBuf {
    let out = tmp.join(name);
    std::fs::create_dir_all(&out).unwrap();
    std::fs::copy(fixtures().join(dir).join("manifest.json"), out.join("manifest.json")).unwrap();
    let blob = std::fs::read(fixtures().join(dir).join("signature-1")).unwrap();
    let json = blob.strip_prefix(b"\0sigstore-json\n".as_slice()).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(json).unwrap();
    edit(v["annotations"].as_object_mut().unwrap());
    let mut framed = b"\0sigstore-json\n".to_vec();
    framed.extend(serde_json::to_vec(&v).unwrap());
    std::fs::write(out.join("signature-1"), framed).unwrap();
    out
}

/// Keyless (Fulcio certificate and Rekor SET) and key-with-Rekor
/// signatures, verified offline: accepted and rejected as the fixtures'
/// README says, the certificate judged at the time Rekor logged it.
#[test]
fn fulcio_and_rekor_signatures_are_judged_as_their_readme_says() {
    let f = fixtures();
    let tmp = tempfile::tempdir().unwrap();
    let path = |n: &str| f.join(n).display().to_string();
    let (ca, rekor, cosign, cosign2) =
        (path("fulcio_v1.crt.pem"), path("rekor.pub"), path("cosign.pub"), path("cosign2.pub"));
    let fulcio_repo = r#""signedIdentity":{"type":"exactRepository","dockerRepository":"192.168.64.2:5000/cosign-signed/fulcio-rekor-1"}"#;
    let fulcio = |ca: &str, email: &str| {
        format!(
            r#""fulcio":{{{ca},"oidcIssuer":"https://github.com/login/oauth","subjectEmail":"{email}"}},"rekorPublicKeyPath":"{rekor}",{fulcio_repo}"#
        )
    };
    let ca_path = format!(r#""caPath":"{ca}""#);
    let keyless = f.join("dir-img-cosign-fulcio-rekor-valid");
    let chain =
        |a: &serde_json::Map<String, serde_json::Value>| a["dev.sigstore.cosign/chain"].as_str().unwrap().to_owned();
    let chain_pem = {
        let blob = std::fs::read(keyless.join("signature-1")).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&blob[15..]).unwrap();
        chain(v["annotations"].as_object().unwrap())
    };
    let chain_data = format!(r#""caData":"{}""#, base64::engine::general_purpose::STANDARD.encode(&chain_pem));
    let drop = |name: &'static str| {
        move |a: &mut serde_json::Map<String, serde_json::Value>| {
            a.remove(name);
        }
    };
    let no_set = edited(tmp.path(), "dir-img-cosign-fulcio-rekor-valid", "no-set", drop("dev.sigstore.cosign/bundle"));
    let no_cert =
        edited(tmp.path(), "dir-img-cosign-fulcio-rekor-valid", "no-cert", drop("dev.sigstore.cosign/certificate"));
    let no_chain =
        edited(tmp.path(), "dir-img-cosign-fulcio-rekor-valid", "no-chain", drop("dev.sigstore.cosign/chain"));
    let key_repo =
        r#""signedIdentity":{"type":"exactRepository","dockerRepository":"192.168.64.2:5000/cosign-signed/key-1"}"#;
    let keyed = f.join("dir-img-cosign-key-rekor-valid");
    let cases: Vec<(&str, String, PathBuf, Option<&str>)> = vec![
        ("fulcio", fulcio(&ca_path, "mitr@redhat.com"), keyless.clone(), None),
        (
            "fulcio-email",
            fulcio(&ca_path, "other@redhat.com"),
            keyless.clone(),
            Some("Required email \"other@redhat.com\" not found"),
        ),
        (
            "fulcio-no-set",
            fulcio(&ca_path, "mitr@redhat.com"),
            no_set,
            Some("missing dev.sigstore.cosign/bundle annotation"),
        ),
        (
            "fulcio-no-cert",
            fulcio(&ca_path, "mitr@redhat.com"),
            no_cert,
            Some("missing dev.sigstore.cosign/certificate annotation"),
        ),
        (
            "fulcio-no-chain",
            fulcio(&ca_path, "mitr@redhat.com"),
            no_chain.clone(),
            Some("certificate signed by unknown authority"),
        ),
        ("fulcio-chain-as-ca", fulcio(&chain_data, "mitr@redhat.com"), no_chain, None),
        (
            "fulcio-issuer",
            fulcio(&ca_path, "mitr@redhat.com").replace("github.com/login/oauth", "accounts.google.com"),
            keyless.clone(),
            Some("Unexpected Fulcio OIDC issuer \"https://github.com/login/oauth\""),
        ),
        (
            "fulcio-other-rekor",
            fulcio(&ca_path, "mitr@redhat.com").replace(&rekor, &cosign),
            keyless,
            Some("cryptographic signature verification of Rekor SET failed"),
        ),
        (
            "key-rekor",
            format!(r#""keyPath":"{cosign2}","rekorPublicKeyPath":"{rekor}",{key_repo}"#),
            keyed.clone(),
            None,
        ),
        (
            "key-rekor-paths",
            format!(r#""keyPaths":["{cosign}","{cosign2}"],"rekorPublicKeyPaths":["{cosign}","{rekor}"],{key_repo}"#),
            keyed.clone(),
            None,
        ),
        (
            "key-rekor-wrong-rekor",
            format!(r#""keyPath":"{cosign2}","rekorPublicKeyPath":"{cosign}",{key_repo}"#),
            keyed.clone(),
            Some("No public key verified against the RekorSET"),
        ),
        (
            "key-rekor-wrong-key",
            format!(r#""keyPath":"{cosign}","rekorPublicKeyPath":"{rekor}",{key_repo}"#),
            keyed,
            Some("publicKey in Rekor SET does not match"),
        ),
    ];
    // `pki`: the user's own (RSA) CA, judged at the current time.
    let pki_repo = r#""signedIdentity":{"type":"exactRepository","dockerRepository":"localhost:5000/test"}"#;
    let (roots, intermediates) = (path("pki_root_crts.pem"), path("pki_intermediate_crts.pem"));
    let pki = |extra: &str, email: &str, host: &str| {
        format!(
            r#""pki":{{"caRootsPath":"{roots}"{extra},"subjectEmail":"{email}","subjectHostname":"{host}"}},{pki_repo}"#
        )
    };
    let with_intermediates = format!(r#","caIntermediatesPath":"{intermediates}""#);
    let pki_image = f.join("dir-img-cosign-pki-valid");
    let pki_no_cert =
        edited(tmp.path(), "dir-img-cosign-pki-valid", "pki-no-cert", drop("dev.sigstore.cosign/certificate"));
    let pki_no_chain =
        edited(tmp.path(), "dir-img-cosign-pki-valid", "pki-no-chain", drop("dev.sigstore.cosign/chain"));
    let (email, host) = ("qiwan@redhat.com", "myhost.example.com");
    let mut cases = cases;
    cases.extend([
        ("pki", pki(&with_intermediates, email, host), pki_image.clone(), None),
        ("pki-chain-only", pki("", email, host), pki_image.clone(), None),
        ("pki-email", pki(&with_intermediates, "other@redhat.com", host), pki_image.clone(), Some("Required email")),
        (
            "pki-host",
            pki(&with_intermediates, email, "other.example.com"),
            pki_image,
            Some("Unexpected subject hostname"),
        ),
        (
            "pki-no-cert",
            pki(&with_intermediates, email, host),
            pki_no_cert,
            Some("missing dev.sigstore.cosign/certificate annotation"),
        ),
        ("pki-no-chain-trusted-intermediate", pki(&with_intermediates, email, host), pki_no_chain.clone(), None),
        ("pki-no-chain", pki("", email, host), pki_no_chain, Some("certificate signed by unknown authority")),
    ]);
    for (name, requirement, image, rejection) in cases {
        let r = copy_with(tmp.path(), name, &requirement, &image);
        assert!(!r.stderr.contains("panicked"));
        match rejection {
            None => assert!(
                !r.stderr.contains("Source image rejected") && r.stderr.contains("No such file"),
                "{name} should pass the policy: {}",
                r.stderr
            ),
            Some(why) => {
                assert!(r.stderr.contains("Source image rejected"), "{name}: {}", r.stderr);
                assert!(r.stderr.contains(why), "{name}: expected {why:?}: {}", r.stderr);
            }
        }
    }
}

/// Signing flags this version cannot carry out yet are refused in words,
/// never unknown and never an unsigned copy.
#[test]
fn unsupported_signing_flags_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures().join("dir-img-cosign-valid");
    for flag in ["--sign-by-sigstore", "--sign-by-sq-fingerprint"] {
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

/// `--require-signed` (upstream skopeo; 1.9.3 has no such flag): the
/// policy must verify a signature, whatever else it accepts; it cannot be
/// combined with `--insecure-policy`, as upstream's own tests check.
#[test]
fn require_signed_wants_a_verifying_requirement() {
    let tmp = tempfile::tempdir().unwrap();
    let r = skiff(&["--insecure-policy", "--require-signed", "inspect", "dir:/nonexistent"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--insecure-policy and --require-signed are mutually exclusive"), "{}", r.stderr);
    let image = fixtures().join("dir-img-cosign-valid");
    let anything = tmp.path().join("anything.json");
    std::fs::write(&anything, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
    let out = tmp.path().join("out");
    let copy = |policy: &Path| {
        skiff(&[
            "--policy",
            policy.to_str().unwrap(),
            "--require-signed",
            "copy",
            &format!("dir:{}", image.display()),
            &format!("dir:{}", out.display()),
        ])
    };
    let r = copy(&anything);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!(
            "Source image rejected: No signature verification policy found for image dir:{}",
            image.display()
        )),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
    // With a verifying requirement the (valid) signature decides; the
    // fixture then fails for want of blobs, past the policy.
    let key = fixtures().join("cosign.pub");
    let signed = tmp.path().join("signed.json");
    std::fs::write(
        &signed,
        format!(
            r#"{{"default":[{{"type":"sigstoreSigned","keyPath":"{}","signedIdentity":{{"type":"exactRepository","dockerRepository":"{IDENTITY}"}}}}]}}"#,
            key.display()
        ),
    )
    .unwrap();
    let r = copy(&signed);
    assert!(!r.stderr.contains("Source image rejected") && r.stderr.contains("No such file"), "{}", r.stderr);
}
