//! Sigstore signing with a key: `generate-sigstore-key` (its files read
//! back by PyNaCl, hashlib's scrypt and openssl, independent of skiff),
//! `copy`/`sync --sign-by-sigstore-private-key`, and the signatures'
//! journey through registries as attachments (registries.d
//! `use-sigstore-attachments`): skiff writes them, openssl checks the
//! ECDSA signature, Debian's skopeo 1.9.3 (sigstore verification patched
//! out, attachments still copied) carries them to another registry, where
//! skiff's policy accepts them and its bytes match what skopeo wrote.

use std::path::{Path, PathBuf};
use std::process::Command;

use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::tools::{Run, skiff, skopeo};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A key pair made by skiff under `dir` with passphrase `pw`; the prefix
/// and the passphrase file.
fn generated(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let pass = dir.join(format!("{name}.pass"));
    std::fs::write(&pass, "pw\nignored second line\n").unwrap();
    let prefix = dir.join(name);
    let r = skiff(&["generate-sigstore-key", "--output-prefix", s(&prefix), "--passphrase-file", s(&pass)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout_str(), format!("Key written to \"{0}.private\" and \"{0}.pub\"\n", prefix.display()));
    (prefix, pass)
}

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl").args(args).output().expect("openssl runs")
}

/// Decrypts a cosign-format key file with PyNaCl (Debian's python3-nacl,
/// hence the system Python) and hashlib, no skiff code, and prints the
/// public key openssl derives from it.
const DECRYPT: &str = r#"
import base64, hashlib, json, re, sys, subprocess
import nacl.secret
text = open(sys.argv[1]).read()
label = re.search(r"-----BEGIN ([A-Z ]+)-----", text).group(1)
assert label == "ENCRYPTED COSIGN PRIVATE KEY", label
body = "".join(l for l in text.splitlines() if not l.startswith("-----"))
env = json.loads(base64.b64decode(body))
p = env["kdf"]["params"]
assert (env["kdf"]["name"], env["cipher"]["name"], p) == ("scrypt", "nacl/secretbox", {"N": 65536, "r": 8, "p": 1}), env
key = hashlib.scrypt(sys.argv[2].encode(), salt=base64.b64decode(env["kdf"]["salt"]), n=p["N"], r=p["r"], p=p["p"], maxmem=128 << 20, dklen=32)
der = nacl.secret.SecretBox(key).decrypt(base64.b64decode(env["ciphertext"]), base64.b64decode(env["cipher"]["nonce"]))
out = subprocess.run(["openssl", "pkey", "-inform", "DER", "-pubout"], input=der, capture_output=True, check=True)
sys.stdout.write(out.stdout.decode())
"#;

/// Re-encrypts a skiff key (decrypted with PyNaCl) as cosign's newer
/// label and the strongest scrypt set go-securesystemslib reads (OWASP,
/// N=2^17): a key file skiff did not write.
const REENCRYPT: &str = r#"
import base64, hashlib, json, re, sys, os
import nacl.secret
text = open(sys.argv[1]).read()
body = "".join(l for l in text.splitlines() if not l.startswith("-----"))
env = json.loads(base64.b64decode(body))
p = env["kdf"]["params"]
key = hashlib.scrypt(b"pw", salt=base64.b64decode(env["kdf"]["salt"]), n=p["N"], r=8, p=1, maxmem=128 << 20, dklen=32)
der = nacl.secret.SecretBox(key).decrypt(base64.b64decode(env["ciphertext"]), base64.b64decode(env["cipher"]["nonce"]))
salt, nonce = os.urandom(32), os.urandom(24)
key = hashlib.scrypt(b"owasp", salt=salt, n=1 << 17, r=8, p=1, maxmem=256 << 20, dklen=32)
sealed = nacl.secret.SecretBox(key).encrypt(der, nonce).ciphertext
b64 = lambda b: base64.b64encode(b).decode()
env = {"kdf": {"name": "scrypt", "params": {"N": 1 << 17, "r": 8, "p": 1}, "salt": b64(salt)},
       "cipher": {"name": "nacl/secretbox", "nonce": b64(nonce)}, "ciphertext": b64(sealed)}
data = base64.b64encode(json.dumps(env).encode()).decode()
lines = "\n".join(data[i:i + 64] for i in range(0, len(data), 64))
open(sys.argv[2], "w").write(f"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n{lines}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
"#;

#[test]
fn keys_others_encrypted_sign() {
    let tmp = tempfile::tempdir().unwrap();
    let (prefix, _) = generated(tmp.path(), "k");
    let other = tmp.path().join("owasp.key");
    let out = Command::new("/usr/bin/python3")
        .args(["-c", REENCRYPT, &format!("{}.private", prefix.display()), s(&other)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pass = tmp.path().join("owasp.pass");
    std::fs::write(&pass, "owasp\n").unwrap();
    let signed = tmp.path().join("signed");
    let r = skiff(&[
        "--insecure-policy",
        "copy",
        "--sign-by-sigstore-private-key",
        s(&other),
        "--sign-passphrase-file",
        s(&pass),
        "--sign-identity",
        "example.com/app:v1",
        &format!("oci:{}:v1", world().single.display()),
        &format!("dir:{}", signed.display()),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let accept = policy_with(
        tmp.path(),
        "accept",
        &format!("{}.pub", prefix.display()),
        r#"{"type":"exactReference","dockerReference":"example.com/app:v1"}"#,
    );
    let back = tmp.path().join("back");
    let r = skiff(&[
        "--policy",
        s(&accept),
        "copy",
        &format!("dir:{}", signed.display()),
        &format!("dir:{}", back.display()),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn generated_keys_are_what_cosign_and_openssl_read() {
    let tmp = tempfile::tempdir().unwrap();
    let (prefix, pass) = generated(tmp.path(), "k");
    let private = format!("{}.private", prefix.display());
    let public = std::fs::read_to_string(format!("{}.pub", prefix.display())).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
    let out = Command::new("/usr/bin/python3").args(["-c", DECRYPT, &private, "pw"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), public, "the private key's public half is the .pub file");
    let text = openssl(&["pkey", "-pubin", "-in", &format!("{}.pub", prefix.display()), "-noout", "-text"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("prime256v1"));

    // Existing files are never replaced; no passphrase and no terminal is an error.
    let before = std::fs::read(&private).unwrap();
    let r = skiff(&["generate-sigstore-key", "--output-prefix", s(&prefix), "--passphrase-file", s(&pass)]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains(&format!("Refusing to overwrite existing \"{}.pub\"", prefix.display())), "{}", r.stderr);
    assert_eq!(std::fs::read(&private).unwrap(), before);
    let other = tmp.path().join("other");
    let r = skiff(&["generate-sigstore-key", "--output-prefix", s(&other)]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Cannot prompt for a passphrase for key"), "{}", r.stderr);
    assert!(!tmp.path().join("other.pub").exists() && !tmp.path().join("other.private").exists());
    let r = skiff(&["generate-sigstore-key"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Usage: generate-sigstore-key --output-prefix PREFIX"), "{}", r.stderr);

    // On a terminal the passphrase is asked for (once), and signing with
    // the key asks for it again.
    let typed = tmp.path().join("typed");
    let log = tmp.path().join("typescript");
    let on_terminal = |command: String| {
        let mut cmd = Command::new("sh");
        let script = format!("printf 'secret\\n' | script -qec {command:?} {}", log.display());
        cmd.args(["-c", &script]).env("HOME", skiff_tests::harness::tools::test_home());
        skiff_tests::harness::tools::run(cmd)
    };
    let skiff_bin = skiff_tests::harness::tools::skiff_path();
    on_terminal(format!("{} generate-sigstore-key --output-prefix {}", skiff_bin.display(), typed.display())).ok();
    let screen = std::fs::read_to_string(&log).unwrap();
    assert!(screen.contains(&format!("Passphrase for key {}.private:", typed.display())), "{screen}");
    // (The typed line shows in the typescript: `script` feeds it to the
    // terminal before the prompt turns echo off, so echo is not checked.)
    let private = format!("{}.private", typed.display());
    let out = Command::new("/usr/bin/python3").args(["-c", DECRYPT, &private, "secret"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let signed = tmp.path().join("signed-on-terminal");
    let source = format!("oci:{}:v1", world().single.display());
    on_terminal(format!(
        "{} --insecure-policy copy --sign-by-sigstore-private-key {private} --sign-identity example.com/app:v1 {source} dir:{}",
        skiff_bin.display(),
        signed.display()
    ))
    .ok();
    assert!(signed.join("signature-1").exists(), "{}", std::fs::read_to_string(&log).unwrap());
}

/// A registries.d turning attachments on everywhere; its path.
fn attachments_config(dir: &Path) -> String {
    let d = dir.join("registries.d");
    std::fs::create_dir_all(&d).unwrap();
    let lookaside = dir.join("lookaside");
    std::fs::write(
        d.join("default.yaml"),
        format!("default-docker:\n  use-sigstore-attachments: true\n  lookaside: file://{}\n", lookaside.display()),
    )
    .unwrap();
    d.display().to_string()
}

/// A policy accepting images signed by `key` as themselves (any tag of the repository).
fn policy(dir: &Path, name: &str, key: &str) -> PathBuf {
    policy_with(dir, name, key, r#"{"type":"matchRepository"}"#)
}

fn policy_with(dir: &Path, name: &str, key: &str, identity: &str) -> PathBuf {
    let p = dir.join(format!("{name}.json"));
    std::fs::write(
        &p,
        format!(r#"{{"default":[{{"type":"sigstoreSigned","keyPath":"{key}","signedIdentity":{identity}}}]}}"#),
    )
    .unwrap();
    p
}

/// skiff copies `image` from the plain registry to `dir:OUT` under `policy`.
fn pull_with(policy: &Path, registries_d: &str, image: &str, out: &Path) -> Run {
    skiff(&[
        "--policy",
        s(policy),
        "--registries.d",
        registries_d,
        "copy",
        "--src-tls-verify=false",
        image,
        &format!("dir:{}", out.display()),
    ])
}

/// The digest of the manifest `image` (a docker:// reference) names.
fn digest_of(image: &str) -> String {
    let r = skopeo(&["inspect", "--tls-verify=false", "--raw", image]).ok();
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), &r.stdout).unwrap();
    skopeo(&["manifest-digest", s(tmp.path())]).ok().stdout_str().trim().to_owned()
}

/// The raw attachment manifest of `image` (`repo:sha256-<hex>.sig`).
fn attachment(repository: &str, digest: &str) -> Run {
    skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("docker://{repository}:{}.sig", digest.replace(':', "-")),
    ])
}

#[test]
fn sigstore_signatures_travel_through_registries_as_attachments() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let (prefix, pass) = generated(tmp.path(), "signer");
    let (prefix2, pass2) = generated(tmp.path(), "second");
    let (key, key2) = (format!("{}.pub", prefix.display()), format!("{}.pub", prefix2.display()));
    let d = attachments_config(tmp.path());
    let host = w.plain.host();
    let source = format!("oci:{}:v1", w.single.display());
    let signed = format!("{host}/sigstore/signed");
    let r = skiff(&[
        "--insecure-policy",
        "--registries.d",
        &d,
        "copy",
        "--dest-tls-verify=false",
        "--sign-by-sigstore-private-key",
        &format!("{}.private", prefix.display()),
        "--sign-passphrase-file",
        s(&pass),
        &source,
        &format!("docker://{signed}:v1"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("Creating signature: Signing image using a sigstore signature"), "{}", r.stderr);
    let digest = digest_of(&format!("docker://{signed}:v1"));
    let ours = attachment(&signed, &digest).ok();
    let manifest: serde_json::Value = ours.json();
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
    let layer = &manifest["layers"][0];
    assert_eq!(layer["mediaType"], "application/vnd.dev.cosign.simplesigning.v1+json");

    // openssl checks the ECDSA signature over the payload with the .pub file.
    let att = tmp.path().join("attachment");
    skopeo(&[
        "--insecure-policy",
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{signed}:{}.sig", digest.replace(':', "-")),
        &format!("dir:{}", att.display()),
    ])
    .ok();
    let payload = att.join(layer["digest"].as_str().unwrap().trim_start_matches("sha256:"));
    let claims: serde_json::Value = serde_json::from_slice(&std::fs::read(&payload).unwrap()).unwrap();
    assert_eq!(claims["critical"]["image"]["docker-manifest-digest"], digest.as_str());
    assert_eq!(claims["critical"]["identity"]["docker-reference"], format!("{signed}:v1"));
    assert_eq!(claims["critical"]["type"], "cosign container image signature");
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(layer["annotations"]["dev.cosignproject.cosign/signature"].as_str().unwrap())
        .unwrap();
    let sig = tmp.path().join("sig.der");
    std::fs::write(&sig, der).unwrap();
    let v = openssl(&["dgst", "-sha256", "-verify", &key, "-signature", s(&sig), s(&payload)]);
    assert!(v.status.success(), "openssl: {}", String::from_utf8_lossy(&v.stdout));

    // skiff's policy accepts it from the registry, with this key only.
    let accept = policy(tmp.path(), "accept", &key);
    let cosign = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/sigstore/cosign.pub");
    let reject = policy(tmp.path(), "reject", s(&cosign));
    let pull = |policy: &Path, image: &str, out: &str| pull_with(policy, &d, image, &tmp.path().join(out));
    let r = pull(&accept, &format!("docker://{signed}:v1"), "pulled");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(tmp.path().join("pulled/signature-1").exists(), "the signature is kept in dir:");
    let r = pull(&reject, &format!("docker://{signed}:v1"), "refused");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Source image rejected"), "{}", r.stderr);
    assert!(!tmp.path().join("refused/manifest.json").exists());

    // skopeo carries the attachment to another repository: the same bytes
    // skiff wrote, and skiff's policy still accepts the image there.
    let carried = format!("{host}/sigstore/carried-by-skopeo");
    skopeo(&[
        "--insecure-policy",
        "--registries.d",
        &d,
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{signed}:v1"),
        &format!("docker://{carried}:v1"),
    ])
    .ok();
    assert_eq!(attachment(&carried, &digest).ok().stdout, ours.stdout, "skopeo's attachment manifest is skiff's");
    // It claims the repository it was signed for, not this one.
    let r = pull(&accept, &format!("docker://{carried}:v1"), "as-itself");
    assert!(r.stderr.contains("is not accepted"), "{}", r.stderr);
    let there = format!(r#"{{"type":"exactRepository","dockerRepository":"{signed}"}}"#);
    let r = pull(&policy_with(tmp.path(), "there", &key, &there), &format!("docker://{carried}:v1"), "from-skopeo");
    assert_eq!(r.code, 0, "{}", r.stderr);

    // A second signer extends the attachment; both keys are then accepted.
    let r = skiff(&[
        "--insecure-policy",
        "--registries.d",
        &d,
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--sign-by-sigstore-private-key",
        &format!("{}.private", prefix2.display()),
        "--sign-passphrase-file",
        s(&pass2),
        &format!("docker://{signed}:v1"),
        &format!("docker://{signed}:v1"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let extended: serde_json::Value = attachment(&signed, &digest).ok().json();
    assert_eq!(extended["layers"].as_array().unwrap().len(), 2, "{extended}");
    assert_eq!(extended["layers"][0], manifest["layers"][0], "the first signature is kept");
    let r = pull(&policy(tmp.path(), "second", &key2), &format!("docker://{signed}:v1"), "second");
    assert_eq!(r.code, 0, "{}", r.stderr);

    // --remove-signatures leaves the attachments behind.
    let bare = format!("{host}/sigstore/bare");
    let r = skiff(&[
        "--insecure-policy",
        "--registries.d",
        &d,
        "copy",
        "--remove-signatures",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{signed}:v1"),
        &format!("docker://{bare}:v1"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_ne!(attachment(&bare, &digest).code, 0, "no attachment was written");

    // Without attachments configured, a sigstore signature cannot go to a
    // registry: refused before the image is written.
    let plain_d = tmp.path().join("empty.d");
    std::fs::create_dir_all(&plain_d).unwrap();
    let nowhere = format!("{host}/sigstore/nowhere");
    let r = skiff(&[
        "--insecure-policy",
        "--registries.d",
        s(&plain_d),
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("dir:{}", tmp.path().join("pulled").display()),
        &format!("docker://{nowhere}:v1"),
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("writing sigstore attachments is disabled by configuration"), "{}", r.stderr);
    assert_ne!(skopeo(&["inspect", "--tls-verify=false", "--raw", &format!("docker://{nowhere}:v1")]).code, 0);
}

#[test]
fn signed_into_dir_then_pushed_by_skopeo_and_synced_signed() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let (prefix, pass) = generated(tmp.path(), "k");
    let key = format!("{}.pub", prefix.display());
    let private = format!("{}.private", prefix.display());
    let d = attachments_config(tmp.path());
    let host = w.plain.host();
    // Into dir:, with --sign-identity; a wrong passphrase fails before anything is written.
    let bad = tmp.path().join("bad.pass");
    std::fs::write(&bad, "not it\n").unwrap();
    let never = tmp.path().join("never");
    let source = format!("oci:{}:v1", w.single.display());
    let sign = |pass: &Path, out: &Path| {
        skiff(&[
            "--insecure-policy",
            "copy",
            "--sign-by-sigstore-private-key",
            &private,
            "--sign-passphrase-file",
            s(pass),
            "--sign-identity",
            &format!("{host}/sigstore/from-dir:v1"),
            &source,
            &format!("dir:{}", out.display()),
        ])
    };
    let r = sign(&bad, &never);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("initializing private key: decrypt: encrypted: decryption failed"), "{}", r.stderr);
    assert!(!never.exists());
    let signed = tmp.path().join("signed");
    assert_eq!(sign(&pass, &signed).code, 0);
    let blob = std::fs::read(signed.join("signature-1")).unwrap();
    assert!(blob.starts_with(b"\0sigstore-json\n{\"mimeType\":\"application/vnd.dev.cosign.simplesigning.v1+json\""));
    // skopeo pushes the dir: image and its sigstore signature (as an attachment).
    let pushed = format!("docker://{host}/sigstore/from-dir:v1");
    skopeo(&[
        "--insecure-policy",
        "--registries.d",
        &d,
        "copy",
        "--dest-tls-verify=false",
        &format!("dir:{}", signed.display()),
        &pushed,
    ])
    .ok();
    let accept = policy(tmp.path(), "accept", &key);
    let r = pull_with(&accept, &d, &pushed, &tmp.path().join("back"));
    assert_eq!(r.code, 0, "{}", r.stderr);

    // sync signs each image as its destination.
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
        "--sign-by-sigstore-private-key",
        &private,
        "--sign-passphrase-file",
        s(&pass),
        &format!("{host}/sigstore/from-dir:v1"),
        &format!("{host}/synced"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let synced = format!("docker://{host}/synced/from-dir:v1");
    let r = pull_with(&accept, &d, &synced, &tmp.path().join("synced"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let claims: Vec<String> = (1..=2)
        .filter_map(|n| std::fs::read(tmp.path().join(format!("synced/signature-{n}"))).ok())
        .map(|b| {
            let v: serde_json::Value = serde_json::from_slice(&b[15..]).unwrap();
            use base64::Engine as _;
            let p = base64::engine::general_purpose::STANDARD.decode(v["payload"].as_str().unwrap()).unwrap();
            let p: serde_json::Value = serde_json::from_slice(&p).unwrap();
            p["critical"]["identity"]["docker-reference"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(claims.contains(&format!("{host}/synced/from-dir:v1")), "{claims:?}");
}

/// Uploads `bytes` as a blob of `repository` on the plain registry (a
/// POST for a session, then one PUT); its digest.
fn upload(repository: &str, bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = format!("sha256:{:x}", sha2::Sha256::digest(bytes));
    let body = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(body.path(), bytes).unwrap();
    let base = format!("http://{}", world().plain.host());
    let out = Command::new("curl")
        .args(["-sf", "-o", "/dev/null", "-D", "-", "-X", "POST", &format!("{base}/v2/{repository}/blobs/uploads/")])
        .output()
        .unwrap();
    assert!(out.status.success(), "starting an upload: {}", String::from_utf8_lossy(&out.stderr));
    let headers = String::from_utf8_lossy(&out.stdout).into_owned();
    let location = headers
        .lines()
        .find_map(|l| l.strip_prefix("Location: ").or_else(|| l.strip_prefix("location: ")))
        .expect("a Location")
        .trim()
        .to_owned();
    let location = if location.starts_with('/') { format!("{base}{location}") } else { location };
    let sep = if location.contains('?') { '&' } else { '?' };
    let out = Command::new("curl")
        .args(["-sf", "-o", "/dev/null", "-X", "PUT", "-H", "Content-Type: application/octet-stream"])
        .args(["--data-binary", &format!("@{}", body.path().display()), &format!("{location}{sep}digest={digest}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "finishing an upload: {}", String::from_utf8_lossy(&out.stderr));
    digest
}

/// Puts an OCI manifest with `layers` under `tag`.
fn put_manifest(repository: &str, tag: &str, config: &str, layers: Vec<serde_json::Value>) {
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": layers,
    });
    let body = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(body.path(), serde_json::to_vec(&manifest).unwrap()).unwrap();
    let url = format!("http://{}/v2/{repository}/manifests/{tag}", world().plain.host());
    let out = Command::new("curl")
        .args([
            "-sS",
            "-w",
            "%{http_code}",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
        ])
        .args(["--data-binary", &format!("@{}", body.path().display()), &url])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    let short: String = said.chars().take(300).collect();
    assert!(said.ends_with("201"), "putting a manifest: {short} {}", String::from_utf8_lossy(&out.stderr));
}

/// Hostile attachments: ten thousand signature layers, a 5 MiB signature
/// (declared, or hidden behind a small declared size) — refused in words
/// before they are read, nothing written.
#[test]
fn hostile_attachments_are_refused_before_they_are_read() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let d = attachments_config(tmp.path());
    let repository = "sigstore/hostile";
    let image = format!("docker://{}/{repository}:v1", w.plain.host());
    let r = skiff(&[
        "--insecure-policy",
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", w.single.display()),
        &image,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let tag = format!("{}.sig", digest_of(&image).replace(':', "-"));
    let config = upload(repository, b"{}");
    let payload = upload(repository, b"{\"critical\":{}}");
    let layer = |digest: &str, size: usize| {
        serde_json::json!({
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": digest,
            "size": size,
            "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ=="},
        })
    };
    let pull = |name: &str| {
        let out = tmp.path().join(name);
        let r = skiff(&[
            "--insecure-policy",
            "--registries.d",
            &d,
            "copy",
            "--src-tls-verify=false",
            &image,
            &format!("dir:{}", out.display()),
        ]);
        assert_eq!(r.code, 1, "{name}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
        assert!(!out.join("manifest.json").exists(), "{name}: nothing written");
        r.stderr
    };
    put_manifest(repository, &tag, &config, vec![layer(&payload, 15); 10_000]);
    let e = pull("many");
    assert!(e.contains("more than 128 signatures"), "{e}");

    let big = vec![b'x'; 5 << 20];
    let big_digest = upload(repository, &big);
    put_manifest(repository, &tag, &config, vec![layer(&big_digest, big.len())]);
    let e = pull("big");
    assert!(e.contains("more than the 4194304 a signature may be"), "{e}");
    put_manifest(repository, &tag, &config, vec![layer(&big_digest, 100)]);
    let e = pull("lying");
    assert!(e.contains("too large") || e.contains("larger than"), "{e}");

    // The same 5 MiB as a dir: signature.
    let dir = tmp.path().join("dir");
    let r = skiff(&[
        "--insecure-policy",
        "copy",
        &format!("oci:{}:v1", w.single.display()),
        &format!("dir:{}", dir.display()),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut framed = b"\0sigstore-json\n".to_vec();
    framed.extend(&big);
    std::fs::write(dir.join("signature-1"), framed).unwrap();
    let out = tmp.path().join("dir-out");
    let r = skiff(&["--insecure-policy", "copy", &format!("dir:{}", dir.display()), &format!("dir:{}", out.display())]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!out.join("manifest.json").exists());
}
