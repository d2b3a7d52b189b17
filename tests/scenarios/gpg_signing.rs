//! GPG simple signing with Debian's gpg 2.2 and skopeo 1.9.3 both ways:
//! `standalone-sign`/`standalone-verify` (each verifies what the other
//! signed, both refuse the same bad inputs) and `signedBy` policies (both
//! make the same decision on the same signed image).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::process::Service;
use skiff_tests::harness::tools::{Run, run, skiff_path, test_home};

const REF: &str = "docker.io/library/busybox:latest";

/// A throw-away GnuPG home with three keys: ed25519 without a passphrase,
/// RSA with one, and an ed25519 key whose signing is done by a subkey.
struct Keys {
    home: PathBuf,
    /// Stops the home's gpg-agent and removes the home when the tests exit.
    _cleanup: Service,
    plain: String,
    protected: String,
    with_subkey: String,
    passphrase: PathBuf,
}

fn gpg(home: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new("gpg").env("GNUPGHOME", home).args(args).output().expect("gpg runs");
    assert!(out.status.success(), "gpg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn fingerprint(home: &Path, uid: &str) -> String {
    let out = gpg(home, &["--list-keys", "--with-colons", uid]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .and_then(|l| l.split(':').nth(9))
        .unwrap()
        .to_owned()
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        // Short: the agent's socket path has a length limit.
        let home = PathBuf::from(format!("/tmp/sg{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        gpg(
            &home,
            &[
                "--batch",
                "--passphrase",
                "",
                "--quick-gen-key",
                "Plain <plain@example.com>",
                "ed25519",
                "sign",
                "never",
            ],
        );
        gpg(
            &home,
            &[
                "--batch",
                "--passphrase",
                "pw",
                "--quick-gen-key",
                "Protected <pw@example.com>",
                "rsa2048",
                "sign",
                "never",
            ],
        );
        gpg(
            &home,
            &["--batch", "--passphrase", "", "--quick-gen-key", "Sub <sub@example.com>", "ed25519", "cert", "never"],
        );
        let with_subkey = fingerprint(&home, "sub@example.com");
        gpg(&home, &["--batch", "--passphrase", "", "--quick-add-key", &with_subkey, "ed25519", "sign", "never"]);
        let passphrase = home.join("pw.txt");
        std::fs::write(&passphrase, "pw\n").unwrap();
        // gpg starts an agent of its own for the home; nothing else stops it.
        let script = format!(
            "trap 'gpgconf --homedir {h} --kill gpg-agent; rm -rf {h}; exit 0' EXIT TERM INT; while :; do sleep 1; done",
            h = home.display()
        );
        let cleanup = Service::start("gpg cleanup", "sh", &["-c", &script], &test_home().join("gpg-cleanup.log"));
        Keys {
            _cleanup: cleanup,
            plain: fingerprint(&home, "plain@example.com"),
            protected: fingerprint(&home, "pw@example.com"),
            with_subkey,
            passphrase,
            home,
        }
    })
}

fn tool(program: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(program);
    cmd.env("HOME", test_home()).env("GNUPGHOME", &keys().home).args(args);
    run(cmd)
}

fn skiff(args: &[&str]) -> Run {
    tool(&skiff_path(), args)
}

fn skopeo(args: &[&str]) -> Run {
    tool(Path::new("skopeo"), args)
}

/// The single-image manifest of the suite's OCI layout.
fn manifest(dir: &Path) -> PathBuf {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(world().single.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap().strip_prefix("sha256:").unwrap().to_owned();
    let path = dir.join("manifest.json");
    std::fs::copy(world().single.join("blobs/sha256").join(digest), &path).unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn each_verifies_what_the_other_signed() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path());
    let (ours, theirs) = (tmp.path().join("ours.sig"), tmp.path().join("theirs.sig"));
    let r = skiff(&["standalone-sign", s(&m), REF, &k.plain, "-o", s(&ours)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    skopeo(&["standalone-sign", s(&m), REF, &k.plain, "-o", s(&theirs)]).ok();
    let digest = skiff_tests::harness::images::sha256(&std::fs::read(&m).unwrap());

    // skopeo 1.9.3 accepts skiff's signature.
    let v = skopeo(&["standalone-verify", s(&m), REF, &k.plain, s(&ours)]).ok();
    assert_eq!(v.stdout_str(), format!("Signature verified, digest {digest}\n"));
    // skiff accepts skopeo's, with GNUPGHOME's keys and with exported ones
    // (binary and armored), by fingerprint, in a list, or `any`.
    let want = format!("Signature verified using fingerprint {}, digest {digest}\n", k.plain);
    let v = skiff(&["standalone-verify", s(&m), REF, &k.plain, s(&theirs)]).ok();
    assert_eq!(v.stdout_str(), want);
    let binary = tmp.path().join("pub.gpg");
    std::fs::write(&binary, gpg(&k.home, &["--export", &k.plain]).stdout).unwrap();
    let armored = tmp.path().join("pub.asc");
    std::fs::write(&armored, gpg(&k.home, &["--export", "--armor", &k.plain, &k.protected]).stdout).unwrap();
    for (keys_file, fprs) in
        [(&binary, k.plain.clone()), (&armored, format!("{},{}", k.protected, k.plain)), (&armored, "any".into())]
    {
        for sig in [&ours, &theirs] {
            let v = skiff(&["standalone-verify", "--public-key-file", s(keys_file), s(&m), REF, &fprs, s(sig)]).ok();
            assert_eq!(v.stdout_str(), want, "{fprs}");
        }
    }
    // A short name is the same reference once normalised, as in skopeo.
    let short = ["standalone-verify", s(&m), "busybox:latest", &k.plain, s(&theirs)];
    skiff(&short).ok();
    skopeo(&short).ok();
}

#[test]
fn both_refuse_what_does_not_match() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path());
    let sig = tmp.path().join("sig");
    skopeo(&["standalone-sign", s(&m), REF, &k.plain, "-o", s(&sig)]).ok();
    let tampered = tmp.path().join("tampered.json");
    let mut bytes = std::fs::read(&m).unwrap();
    bytes.push(b' ');
    std::fs::write(&tampered, bytes).unwrap();
    let garbage = tmp.path().join("garbage");
    std::fs::write(&garbage, b"\xa3\x01garbage that is not OpenPGP").unwrap();
    for (manifest, reference, fpr, signature, needle) in [
        (&m, REF, k.protected.as_str(), &sig, "not accepted"),
        (&m, "docker.io/library/other:latest", k.plain.as_str(), &sig, "does not match"),
        (&tampered, REF, k.plain.as_str(), &sig, "does not match"),
        (&m, REF, k.plain.as_str(), &garbage, "signature"),
    ] {
        let args = ["standalone-verify", s(manifest), reference, fpr, s(signature)];
        let (ours, theirs) = (skiff(&args), skopeo(&args));
        assert_eq!(theirs.code, 1, "skopeo {args:?}: {}", theirs.stderr);
        assert_eq!(ours.code, 1, "skiff {args:?}: {}", ours.stderr);
        assert!(ours.stderr.contains("Error verifying signature") && ours.stderr.contains(needle), "{}", ours.stderr);
        assert!(!ours.stderr.contains("panicked"));
    }
    let r = skiff(&["standalone-verify", s(&m), REF, "any", s(&sig)]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Cannot use any fingerprint without a public key file"), "{}", r.stderr);
}

#[test]
fn passphrases_and_subkeys() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path());
    let sig = tmp.path().join("sig");
    // The agent forgets cached passphrases, so each signing must bring one.
    let forget = || {
        let out = Command::new("gpgconf").env("GNUPGHOME", &k.home).args(["--reload", "gpg-agent"]).output().unwrap();
        assert!(out.status.success());
    };
    forget();
    let r = skiff(&["standalone-sign", "--passphrase-file", s(&k.passphrase), s(&m), REF, &k.protected, "-o", s(&sig)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    skopeo(&["standalone-verify", s(&m), REF, &k.protected, s(&sig)]).ok();
    let wrong = tmp.path().join("wrong.txt");
    std::fs::write(&wrong, "not-it\n").unwrap();
    let bad = tmp.path().join("bad.sig");
    forget();
    let r = skiff(&["standalone-sign", "--passphrase-file", s(&wrong), s(&m), REF, &k.protected, "-o", s(&bad)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("Error creating signature") && r.stderr.to_lowercase().contains("passphrase"),
        "{}",
        r.stderr
    );
    assert!(!bad.exists(), "nothing written");
    // gpg signs with the signing subkey; skiff accepts it for the primary
    // key's fingerprint, as containers/image does since 2025; skopeo 1.9.3
    // refuses it, naming the subkey.
    let sub = tmp.path().join("sub.sig");
    let r = skiff(&["standalone-sign", s(&m), REF, &k.with_subkey, "-o", s(&sub)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = skiff(&["standalone-verify", s(&m), REF, &k.with_subkey, s(&sub)]).ok();
    assert!(v.stdout_str().contains(&k.with_subkey), "{}", v.stdout_str());
    let theirs = skopeo(&["standalone-verify", s(&m), REF, &k.with_subkey, s(&sub)]);
    assert_eq!(theirs.code, 1, "{}", theirs.stderr);
    assert!(theirs.stderr.contains("does not match expected fingerprint"), "{}", theirs.stderr);
}

/// `gpg --export FPR` in a file.
fn exported(dir: &Path, fpr: &str) -> PathBuf {
    let key = dir.join(format!("{fpr}.gpg"));
    std::fs::write(&key, gpg(&keys().home, &["--export", fpr]).stdout).unwrap();
    key
}

/// A registries.d keeping the plain registry's signatures in a lookaside
/// directory under `dir`; its path, for `--registries.d`.
fn lookaside_config(dir: &Path) -> String {
    let registries_d = dir.join("registries.d");
    std::fs::create_dir_all(&registries_d).unwrap();
    let lookaside = dir.join("lookaside");
    std::fs::write(
        registries_d.join("default.yaml"),
        format!("docker:\n  {}:\n    lookaside: file://{}\n", world().plain.host(), lookaside.display()),
    )
    .unwrap();
    registries_d.display().to_string()
}

/// A `dir:` image signed by skopeo (`copy --sign-by`) as `docker.io/library/test:v1`.
fn signed_image(tmp: &Path) -> (PathBuf, PathBuf) {
    let k = keys();
    let plain = tmp.join("plain");
    skopeo(&[
        "--insecure-policy",
        "copy",
        &format!("oci:{}:v1", world().single.display()),
        &format!("dir:{}", plain.display()),
    ])
    .ok();
    let signed = tmp.join("signed");
    skopeo(&[
        "--insecure-policy",
        "copy",
        "--sign-by",
        &k.plain,
        "--sign-identity",
        "docker.io/library/test:v1",
        &format!("dir:{}", plain.display()),
        &format!("dir:{}", signed.display()),
    ])
    .ok();
    assert!(signed.join("signature-1").exists());
    (plain, signed)
}

#[test]
fn signed_by_policies_decide_as_skopeo_does() {
    use base64::Engine as _;
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let (plain, signed) = signed_image(tmp.path());
    let key = exported(tmp.path(), &k.plain);
    let other = exported(tmp.path(), &k.protected);
    let armored = gpg(&k.home, &["--export", "--armor", &k.plain]).stdout;
    let data = base64::engine::general_purpose::STANDARD.encode(armored);
    let exact = r#"{"type":"exactReference","dockerReference":"docker.io/library/test:v1"}"#;
    let k1 = key.display().to_string();
    let k2 = other.display().to_string();
    let cases: Vec<(String, &Path, bool)> = vec![
        (format!(r#""keyPath":"{k1}","signedIdentity":{exact}"#), &signed, true),
        (format!(r#""keyPaths":["{k2}","{k1}"],"signedIdentity":{exact}"#), &signed, true),
        (
            format!(
                r#""keyData":"{data}","signedIdentity":{{"type":"exactRepository","dockerRepository":"docker.io/library/test"}}"#
            ),
            &signed,
            true,
        ),
        (
            format!(
                r#""keyPath":"{k1}","signedIdentity":{{"type":"exactReference","dockerReference":"docker.io/library/other:v1"}}"#
            ),
            &signed,
            false,
        ),
        (format!(r#""keyPath":"{k2}","signedIdentity":{exact}"#), &signed, false),
        // dir: has no docker reference: the default identity rule cannot hold.
        (format!(r#""keyPath":"{k1}""#), &signed, false),
        (format!(r#""keyPath":"{k1}","signedIdentity":{exact}"#), &plain, false),
    ];
    for (i, (requirement, image, accepted)) in cases.iter().enumerate() {
        let policy = tmp.path().join(format!("policy-{i}.json"));
        std::fs::write(&policy, format!(r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys",{requirement}}}]}}"#))
            .unwrap();
        let (ours, theirs) = (tmp.path().join(format!("ours-{i}")), tmp.path().join(format!("theirs-{i}")));
        let copy = |dest: &Path| {
            [
                "--policy".to_owned(),
                policy.display().to_string(),
                "copy".into(),
                format!("dir:{}", image.display()),
                format!("dir:{}", dest.display()),
            ]
        };
        let a = copy(&ours);
        let b = copy(&theirs);
        let r1 = skiff(&a.iter().map(String::as_str).collect::<Vec<_>>());
        let r2 = skopeo(&b.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(r2.code == 0, *accepted, "skopeo {requirement}: {}", r2.stderr);
        assert_eq!(r1.code == 0, *accepted, "skiff {requirement}: {}", r1.stderr);
        if *accepted {
            assert_eq!(skiff_tests::harness::tree(&ours), skiff_tests::harness::tree(&theirs), "{requirement}");
        } else {
            assert!(r1.stderr.contains("Source image rejected"), "{}", r1.stderr);
            assert!(!ours.join("manifest.json").exists(), "nothing copied");
        }
    }
}

#[test]
fn copy_sign_by_signatures_are_accepted_by_skopeo() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let (plain, _) = signed_image(tmp.path());
    let key = exported(tmp.path(), &k.plain);
    let policy = tmp.path().join("policy.json");
    std::fs::write(
        &policy,
        format!(
            r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"{}","signedIdentity":{{"type":"matchRepository"}}}}],
               "transports":{{"dir":{{"":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"{}","signedIdentity":{{"type":"exactReference","dockerReference":"docker.io/library/mine:v2"}}}}]}}}}}}"#,
            key.display(),
            key.display()
        ),
    )
    .unwrap();
    // Into dir:, with --sign-identity (a dir: has no reference of its own).
    let ours = tmp.path().join("ours");
    let r = skiff(&[
        "--insecure-policy",
        "copy",
        "--sign-by",
        &k.plain,
        "--sign-identity",
        "docker.io/library/mine:v2",
        &format!("dir:{}", plain.display()),
        &format!("dir:{}", ours.display()),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("Creating signature: Signing image using simple signing"), "{}", r.stderr);
    assert!(ours.join("signature-1").exists());
    let out = tmp.path().join("out");
    skopeo(&["--policy", s(&policy), "copy", &format!("dir:{}", ours.display()), &format!("dir:{}", out.display())])
        .ok();
    // Without --sign-identity a dir: cannot be signed: refused before anything is copied.
    let nothing = tmp.path().join("nothing");
    let r = skiff(&[
        "--insecure-policy",
        "copy",
        "--sign-by",
        &k.plain,
        &format!("dir:{}", plain.display()),
        &format!("dir:{}", nothing.display()),
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Cannot determine canonical Docker reference"), "{}", r.stderr);
    assert!(!nothing.exists());

    // Into a registry, the signature in the lookaside storage registries.d names.
    let w = world();
    let d = lookaside_config(tmp.path());
    let image = format!("docker://{}/signed/by-skiff:v1", w.plain.host());
    let r = skiff(&[
        "--insecure-policy",
        "--registries.d",
        &d,
        "copy",
        "--dest-tls-verify=false",
        "--sign-by",
        &k.plain,
        &format!("dir:{}", plain.display()),
        &image,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pulled = tmp.path().join("pulled");
    skopeo(&[
        "--policy",
        s(&policy),
        "--registries.d",
        &d,
        "copy",
        "--src-tls-verify=false",
        &image,
        &format!("dir:{}", pulled.display()),
    ])
    .ok();
    // And skiff's own policy check agrees.
    let again = tmp.path().join("again");
    skiff(&[
        "--policy",
        s(&policy),
        "--registries.d",
        &d,
        "copy",
        "--src-tls-verify=false",
        &image,
        &format!("dir:{}", again.display()),
    ])
    .ok();
}

/// `--sign-by-key-file` (skiff's extension): an exported secret key signs
/// without gpg; skopeo (gpgme) accepts the signature; a protected key
/// needs its passphrase file, and a wrong one writes nothing.
#[test]
fn key_file_signatures_are_accepted_by_skopeo() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let (plain, _) = signed_image(tmp.path());
    let export = |fpr: &str, name: &str| {
        let path = tmp.path().join(name);
        let out = gpg(
            &k.home,
            &["--batch", "--pinentry-mode", "loopback", "--passphrase", "pw", "--export-secret-keys", "--armor", fpr],
        );
        std::fs::write(&path, out.stdout).unwrap();
        path
    };
    let plain_key = export(&k.plain, "plain.asc");
    let protected_key = export(&k.protected, "protected.asc");
    let policy = |fpr: &str, name: &str| {
        let p = tmp.path().join(format!("{name}.json"));
        std::fs::write(
            &p,
            format!(
                r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"{}","signedIdentity":{{"type":"exactReference","dockerReference":"docker.io/library/mine:v2"}}}}]}}"#,
                exported(tmp.path(), fpr).display()
            ),
        )
        .unwrap();
        p
    };
    let sign = |key: &Path, passphrase: Option<&Path>, out: &Path| {
        let mut args = vec!["--insecure-policy", "copy", "--sign-by-key-file", s(key)];
        if let Some(p) = passphrase {
            args.extend(["--sign-passphrase-file", s(p)]);
        }
        let (src, dest) = (format!("dir:{}", plain.display()), format!("dir:{}", out.display()));
        args.extend(["--sign-identity", "docker.io/library/mine:v2", &src, &dest]);
        skiff(&args)
    };
    let wrong = tmp.path().join("wrong.txt");
    std::fs::write(&wrong, "not it\n").unwrap();
    for (name, key, fpr, passphrase) in [
        ("plain", &plain_key, &k.plain, None),
        ("protected", &protected_key, &k.protected, Some(k.passphrase.as_path())),
    ] {
        let out = tmp.path().join(format!("signed-{name}"));
        let r = sign(key, passphrase, &out);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        assert!(r.stderr.contains("Creating signature: Signing image using simple signing"), "{}", r.stderr);
        let pulled = tmp.path().join(format!("pulled-{name}"));
        let policy = policy(fpr, name);
        skopeo(&[
            "--policy",
            s(&policy),
            "copy",
            &format!("dir:{}", out.display()),
            &format!("dir:{}", pulled.display()),
        ])
        .ok();
    }
    for (why, passphrase) in [("none", None), ("wrong", Some(wrong.as_path()))] {
        let out = tmp.path().join(format!("never-{why}"));
        let r = sign(&protected_key, passphrase, &out);
        assert_eq!(r.code, 1, "{why}");
        assert!(r.stderr.contains("signing with the key file failed"), "{why}: {}", r.stderr);
        assert!(!out.join("manifest.json").exists(), "{why}: nothing written");
    }
}

#[test]
fn sync_sign_by_signs_each_image_as_its_destination() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let w = world();
    let key = exported(tmp.path(), &k.plain);
    let policy = tmp.path().join("policy.json");
    std::fs::write(
        &policy,
        format!(r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"{}"}}]}}"#, key.display()),
    )
    .unwrap();
    let d = lookaside_config(tmp.path());
    let src = format!("{}/test/oci", w.plain.host());
    let dest = format!("{}/sync-signed", w.plain.host());
    let r = skiff(&[
        "--insecure-policy",
        "--registries.d",
        &d,
        "sync",
        "--src",
        "docker",
        "--dest",
        "docker",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--sign-by",
        &k.plain,
        &src,
        &dest,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The default identity rule: the signature names exactly this tag.
    let out = tmp.path().join("out");
    let image = format!("docker://{dest}/oci:v1");
    skopeo(&[
        "--policy",
        s(&policy),
        "--registries.d",
        &d,
        "copy",
        "--src-tls-verify=false",
        &image,
        &format!("dir:{}", out.display()),
    ])
    .ok();
}

/// `untrusted-signature-dump-without-verification`: the same claims and key
/// ID as skopeo prints (skopeo in UTC: skiff prints times in UTC), for
/// signatures each tool made; garbage is an error for both.
#[test]
fn untrusted_dumps_match_skopeos() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let (plain, signed) = signed_image(tmp.path());
    let ours = tmp.path().join("ours");
    skiff(&[
        "--insecure-policy",
        "copy",
        "--sign-by",
        &k.with_subkey,
        "--sign-identity",
        "docker.io/library/mine:v2",
        &format!("dir:{}", plain.display()),
        &format!("dir:{}", ours.display()),
    ])
    .ok();
    let skopeo_utc = |args: &[&str]| {
        let mut cmd = Command::new("skopeo");
        cmd.env("HOME", test_home()).env("GNUPGHOME", &k.home).env("TZ", "UTC").args(args);
        run(cmd)
    };
    for sig in [signed.join("signature-1"), ours.join("signature-1")] {
        let args = ["untrusted-signature-dump-without-verification", s(&sig)];
        let (a, b) = (skiff(&args).ok(), skopeo_utc(&args).ok());
        assert_eq!(a.stdout_str(), b.stdout_str(), "{}", sig.display());
        assert!(a.stdout_str().contains("\"UntrustedShortKeyIdentifier\""));
    }
    let garbage = tmp.path().join("garbage");
    std::fs::write(&garbage, b"not a signature").unwrap();
    let args = ["untrusted-signature-dump-without-verification", s(&garbage)];
    let (a, b) = (skiff(&args), skopeo_utc(&args));
    assert_eq!((a.code, b.code), (1, 1));
    assert!(a.stderr.contains("Error decoding untrusted signature"), "{}", a.stderr);
}

/// Runs `program` with its own GnuPG home.
fn in_home(program: &str, home: &Path, args: &[&str]) -> Run {
    let program = if program == "skiff" { skiff_path() } else { PathBuf::from(program) };
    let mut cmd = Command::new(program);
    cmd.env("HOME", test_home()).env("GNUPGHOME", home).args(args);
    run(cmd)
}

/// A key that has expired since it signed, a key revoked after it signed,
/// and a keyring with no keys: refused by both tools.
#[test]
fn expired_revoked_and_empty_keyrings_are_refused_by_both() {
    let home = PathBuf::from(format!("/tmp/sx{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path());
    let digest = skopeo(&["manifest-digest", s(&m)]).ok().stdout_str().trim().to_owned();
    let payload = tmp.path().join("payload.json");
    std::fs::write(
        &payload,
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"{REF}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"atomic container signature"}},"optional":{{}}}}"#
        ),
    )
    .unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let then = format!("{}!", now - 10 * 86400);
    let g = |args: &[&str]| gpg(&home, args);
    // Made ten days ago, good for one day, signing while it was good.
    g(&[
        "--batch",
        "--passphrase",
        "",
        "--faked-system-time",
        &then,
        "--quick-gen-key",
        "Expired <old@example.com>",
        "ed25519",
        "sign",
        "1d",
    ]);
    let expired = fingerprint(&home, "old@example.com");
    let expired_sig = tmp.path().join("expired.sig");
    g(&[
        "--batch",
        "--faked-system-time",
        &then,
        "--local-user",
        &expired,
        "--output",
        s(&expired_sig),
        "--sign",
        s(&payload),
    ]);
    // Good when it signed, revoked since.
    g(&["--batch", "--passphrase", "", "--quick-gen-key", "Revoked <gone@example.com>", "ed25519", "sign", "never"]);
    let revoked = fingerprint(&home, "gone@example.com");
    let revoked_sig = tmp.path().join("revoked.sig");
    g(&["--batch", "--local-user", &revoked, "--output", s(&revoked_sig), "--sign", s(&payload)]);
    let certificate = std::fs::read_to_string(home.join(format!("openpgp-revocs.d/{revoked}.rev"))).unwrap();
    let armed = tmp.path().join("revoke.asc");
    std::fs::write(
        &armed,
        certificate.replace(":-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP PUBLIC KEY BLOCK-----"),
    )
    .unwrap();
    g(&["--batch", "--import", s(&armed)]);
    for (fpr, sig) in [(&expired, &expired_sig), (&revoked, &revoked_sig)] {
        let args = ["standalone-verify", s(&m), REF, fpr.as_str(), s(sig)];
        let (ours, theirs) = (in_home("skiff", &home, &args), in_home("skopeo", &home, &args));
        assert_eq!(theirs.code, 1, "skopeo {fpr}: {}", theirs.stderr);
        assert_eq!(ours.code, 1, "skiff {fpr}: {}", ours.stderr);
        assert!(ours.stderr.contains("Error verifying signature"), "{}", ours.stderr);
        // The same key file as the keyring: no different with --public-key-file.
        let keyring = tmp.path().join(format!("{fpr}.gpg"));
        std::fs::write(&keyring, gpg(&home, &["--export", fpr]).stdout).unwrap();
        let r =
            in_home("skiff", &home, &["standalone-verify", "--public-key-file", s(&keyring), s(&m), REF, fpr, s(sig)]);
        assert_eq!(r.code, 1, "{}", r.stderr);
    }

    // A signedBy policy whose keyring holds no keys.
    let k = keys();
    let (_, signed) = signed_image(tmp.path());
    let empty = tmp.path().join("empty.gpg");
    std::fs::write(&empty, b"").unwrap();
    let policy = tmp.path().join("empty-policy.json");
    std::fs::write(
        &policy,
        format!(r#"{{"default":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":"{}"}}]}}"#, empty.display()),
    )
    .unwrap();
    for program in ["skiff", "skopeo"] {
        let out = tmp.path().join(format!("out-{program}"));
        let args =
            ["--policy", s(&policy), "copy", &format!("dir:{}", signed.display()), &format!("dir:{}", out.display())];
        let r = in_home(program, &k.home, &args);
        assert_eq!(r.code, 1, "{program}: {}", r.stderr);
        assert!(!out.join("manifest.json").exists(), "{program}");
    }
    let _ = Command::new("gpgconf").args(["--homedir", s(&home), "--kill", "gpg-agent"]).status();
    let _ = std::fs::remove_dir_all(&home);
}
