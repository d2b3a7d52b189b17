//! Image encryption (ocicrypt: `--encryption-key jwe:`, `--encrypt-layer`,
//! `--decryption-key`) against Debian's skopeo 1.9.3 both ways: what one
//! tool encrypts the other decrypts back to the original manifest digest,
//! with RSA and PKCS#8 EC keys, one and several recipients, a subset of
//! layers, through `oci:`, `dir:`, `docker-archive:` and the registry.
//! Hostile encrypted layers fail cleanly and name no image.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use serde_json::Value;

use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::images::{name_manifest, sha256};
use skiff_tests::harness::tools::{Run, run, skiff, skopeo};
use skiff_tests::harness::tree;

const INSECURE: &str = "--insecure-policy";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Key files made by openssl, once per test process.
struct Keys {
    rsa_priv: String,
    rsa_pub: String,
    /// PKCS#8, which skopeo 1.9.3 reads (it skips SEC1 PEM files).
    ec_priv: String,
    ec_pub: String,
    /// The same EC key in SEC1 form (`BEGIN EC PRIVATE KEY`): skiff reads it.
    ec_sec1: String,
    /// An RSA key no image here is encrypted for.
    stranger: String,
}

fn openssl(args: &[&str]) {
    let r = run({
        let mut c = Command::new("openssl");
        c.args(args);
        c
    });
    assert_eq!(r.code, 0, "openssl {args:?}: {}", r.stderr);
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = world().root.join("encryption-keys");
        std::fs::create_dir_all(&dir).unwrap();
        let p = |name: &str| dir.join(name).display().to_string();
        openssl(&["genrsa", "-out", &p("rsa.pem"), "2048"]);
        openssl(&["rsa", "-in", &p("rsa.pem"), "-pubout", "-out", &p("rsa.pub")]);
        openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &p("ec-sec1.pem")]);
        openssl(&["pkcs8", "-topk8", "-nocrypt", "-in", &p("ec-sec1.pem"), "-out", &p("ec.pem")]);
        openssl(&["ec", "-in", &p("ec-sec1.pem"), "-pubout", "-out", &p("ec.pub")]);
        openssl(&["genrsa", "-out", &p("stranger.pem"), "2048"]);
        Keys {
            rsa_priv: p("rsa.pem"),
            rsa_pub: p("rsa.pub"),
            ec_priv: p("ec.pem"),
            ec_pub: p("ec.pub"),
            ec_sec1: p("ec-sec1.pem"),
            stranger: p("stranger.pem"),
        }
    })
}

fn oci(dir: &Path) -> String {
    format!("oci:{}:v1", dir.display())
}

fn single() -> String {
    oci(&world().single)
}

/// The digest `index.json` of a layout names (one image).
fn named_digest(dir: &Path) -> String {
    let index: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 1, "{index}");
    manifests[0]["digest"].as_str().unwrap().to_owned()
}

fn blob(dir: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))).unwrap()
}

fn manifest(dir: &Path) -> Value {
    serde_json::from_slice(&blob(dir, &named_digest(dir))).unwrap()
}

fn copy(tool: fn(&[&str]) -> Run, flags: &[&str], from: &str, to: &str) -> Run {
    let mut args = vec![INSECURE, "copy", "-q"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[from, to]);
    tool(&args)
}

/// The JWE of a layer's `enc.keys.jwe` annotation.
fn jwe(layer: &Value) -> Value {
    let a = layer["annotations"]["org.opencontainers.image.enc.keys.jwe"].as_str().expect("a JWE annotation");
    serde_json::from_slice(&B64.decode(a).unwrap()).unwrap()
}

#[test]
fn skopeo_decrypts_what_skiff_encrypts() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let source = manifest(&world().single);
    let source_digest = named_digest(&world().single);
    let (rsa, ec) = (format!("jwe:{}", k.rsa_pub), format!("jwe:{}", k.ec_pub));
    let cases: [(&str, Vec<&str>, Vec<&str>); 3] = [
        ("rsa", vec!["--encryption-key", &rsa], vec![&k.rsa_priv]),
        ("ec", vec!["--encryption-key", &ec], vec![&k.ec_priv]),
        ("both", vec!["--encryption-key", &rsa, "--encryption-key", &ec], vec![&k.rsa_priv, &k.ec_priv]),
    ];
    for (name, flags, private) in cases {
        let enc = tmp.path().join(format!("enc-{name}"));
        copy(skiff, &flags, &single(), &oci(&enc)).ok();
        let m = manifest(&enc);
        assert_eq!(m["config"], source["config"], "the config is not encrypted");
        for (l, s) in m["layers"].as_array().unwrap().iter().zip(source["layers"].as_array().unwrap()) {
            assert_eq!(l["mediaType"], format!("{}+encrypted", s["mediaType"].as_str().unwrap()));
            assert_eq!(l["size"], s["size"], "AES-CTR keeps the length");
            assert_ne!(l["digest"], s["digest"]);
            assert_eq!(
                l["annotations"]["org.example.layer"], s["annotations"]["org.example.layer"],
                "own annotations stay"
            );
            let pubopts =
                B64.decode(l["annotations"]["org.opencontainers.image.enc.pubopts"].as_str().unwrap()).unwrap();
            assert!(String::from_utf8(pubopts).unwrap().starts_with(r#"{"cipher":"AES_256_CTR_HMAC_SHA256","hmac":""#));
            let j = jwe(l);
            match name {
                "both" => assert_eq!(j["recipients"].as_array().unwrap().len(), 2, "general form: {j}"),
                _ => assert!(j.get("encrypted_key").is_some() && j.get("recipients").is_none(), "flattened: {j}"),
            }
        }
        for key in private {
            let out = tmp.path().join(format!("dec-{name}-{}", Path::new(key).file_name().unwrap().to_str().unwrap()));
            copy(skopeo, &["--decryption-key", key], &oci(&enc), &oci(&out)).ok();
            assert_eq!(named_digest(&out), source_digest, "skopeo decrypts {name} with {key} to the original");
        }
    }
}

#[test]
fn skiff_decrypts_what_skopeo_encrypts() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let source_digest = named_digest(&world().single);
    let enc = tmp.path().join("enc");
    let flags = ["--encryption-key", &format!("jwe:{}", k.rsa_pub), "--encryption-key", &format!("jwe:{}", k.ec_pub)];
    copy(skopeo, &flags, &single(), &oci(&enc)).ok();
    for key in [&k.rsa_priv, &k.ec_priv, &k.ec_sec1] {
        let out = tmp.path().join(format!("dec-{}", Path::new(key).file_name().unwrap().to_str().unwrap()));
        copy(skiff, &["--decryption-key", key], &oci(&enc), &oci(&out)).ok();
        assert_eq!(named_digest(&out), source_digest, "skiff decrypts with {key} to the original");
    }
    // Into dir:, byte for byte what skopeo writes decrypting the same image.
    let (ours, theirs) = (tmp.path().join("dir-ours"), tmp.path().join("dir-theirs"));
    copy(skiff, &["--decryption-key", &k.ec_priv], &oci(&enc), &format!("dir:{}", ours.display())).ok();
    copy(skopeo, &["--decryption-key", &k.ec_priv], &oci(&enc), &format!("dir:{}", theirs.display())).ok();
    assert!(tree(&ours) == tree(&theirs), "dir: trees differ");
    // Without a key the image is copied still encrypted, unchanged.
    let (kept, kept_theirs) = (tmp.path().join("kept"), tmp.path().join("kept-theirs"));
    copy(skiff, &[], &oci(&enc), &oci(&kept)).ok();
    copy(skopeo, &[], &oci(&enc), &oci(&kept_theirs)).ok();
    assert_eq!(named_digest(&kept), named_digest(&enc));
    assert!(tree(&kept) == tree(&kept_theirs), "an encrypted image copied without a key");
}

#[test]
fn a_subset_of_layers_is_encrypted_as_skopeo_encrypts_it() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let source = manifest(&world().single);
    let rsa = format!("jwe:{}", k.rsa_pub);
    for (index, encrypted) in [("-1", 1usize), ("0", 0)] {
        let (ours, theirs) = (tmp.path().join(format!("ours{index}")), tmp.path().join(format!("theirs{index}")));
        let flags = ["--encryption-key", rsa.as_str(), "--encrypt-layer", index];
        copy(skiff, &flags, &single(), &oci(&ours)).ok();
        copy(skopeo, &flags, &single(), &oci(&theirs)).ok();
        let (o, t) = (manifest(&ours), manifest(&theirs));
        for i in 0..2 {
            let (ol, tl, sl) = (&o["layers"][i], &t["layers"][i], &source["layers"][i]);
            assert_eq!(ol["mediaType"], tl["mediaType"], "layer {i} with --encrypt-layer {index}");
            if i == encrypted {
                assert_ne!(ol["digest"], sl["digest"]);
            } else {
                assert_eq!(ol, sl, "layer {i} is left as it was");
                assert_eq!(ol, tl);
            }
        }
        // Each tool decrypts the other's.
        let (a, b) = (tmp.path().join(format!("a{index}")), tmp.path().join(format!("b{index}")));
        copy(skopeo, &["--decryption-key", &k.rsa_priv], &oci(&ours), &oci(&a)).ok();
        copy(skiff, &["--decryption-key", &k.rsa_priv], &oci(&theirs), &oci(&b)).ok();
        assert_eq!(named_digest(&a), named_digest(&world().single));
        assert_eq!(named_digest(&b), named_digest(&world().single));
    }
    // Out of range: upstream's error (1.9.3 ignored such an index), nothing named.
    let out = tmp.path().join("range");
    let r = copy(skiff, &["--encryption-key", &rsa, "--encrypt-layer", "2"], &single(), &oci(&out));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("when choosing layers to encrypt, layer index 2 out of range (2 layers exist)"),
        "{}",
        r.stderr
    );
    assert!(!out.join("index.json").exists());
}

#[test]
fn encrypted_images_travel_through_a_registry() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let host = world().plain.host();
    let source_digest = named_digest(&world().single);
    let tls = "--dest-tls-verify=false";
    let ours = format!("docker://{host}/enc/by-skiff:v1");
    copy(skiff, &[tls, "--encryption-key", &format!("jwe:{}", k.ec_pub)], &single(), &ours).ok();
    let out = tmp.path().join("from-skiff");
    copy(skopeo, &["--src-tls-verify=false", "--decryption-key", &k.ec_priv], &ours, &oci(&out)).ok();
    assert_eq!(named_digest(&out), source_digest, "skopeo pulls and decrypts what skiff pushed");

    let theirs = format!("docker://{host}/enc/by-skopeo:v1");
    copy(skopeo, &[tls, "--encryption-key", &format!("jwe:{}", k.rsa_pub)], &single(), &theirs).ok();
    let out = tmp.path().join("from-skopeo");
    copy(skiff, &["--src-tls-verify=false", "--decryption-key", &k.rsa_priv], &theirs, &oci(&out)).ok();
    assert_eq!(named_digest(&out), source_digest, "skiff pulls and decrypts what skopeo pushed");
    // Registry to registry, decrypted on the way.
    let plain_again = format!("docker://{host}/enc/decrypted:v1");
    copy(skiff, &["--src-tls-verify=false", tls, "--decryption-key", &k.rsa_priv], &theirs, &plain_again).ok();
    let r = skopeo(&["inspect", "--raw", "--tls-verify=false", &plain_again]).ok();
    assert_eq!(sha256(&r.stdout), source_digest);
}

#[test]
fn encrypted_layers_need_an_oci_manifest() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let enc = tmp.path().join("enc");
    copy(skiff, &["--encryption-key", &format!("jwe:{}", k.rsa_pub)], &single(), &oci(&enc)).ok();
    // A docker-archive cannot describe encrypted layers.
    let archive = tmp.path().join("x.tar");
    let r = copy(skiff, &[], &oci(&enc), &format!("docker-archive:{}", archive.display()));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("encrypted layers can be described only by an OCI manifest"), "{}", r.stderr);
    assert!(!archive.exists(), "no archive is left");
    let r = copy(
        skiff,
        &["--format", "v2s2", "--encryption-key", &format!("jwe:{}", k.rsa_pub)],
        &single(),
        &oci(&tmp.path().join("v2s2")),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("only by an OCI manifest"), "{}", r.stderr);
    // Decrypted, it converts (upstream strips `+encrypted` before converting;
    // 1.9.3 fails with "Unknown media type during manifest conversion"): the
    // archive holds what skopeo writes from the image before encryption.
    let (ours, theirs) = (tmp.path().join("ours.tar"), tmp.path().join("theirs.tar"));
    copy(skiff, &["--decryption-key", &k.rsa_priv], &oci(&enc), &format!("docker-archive:{}", ours.display())).ok();
    copy(skopeo, &[], &single(), &format!("docker-archive:{}", theirs.display())).ok();
    let inspect = |p: &PathBuf| skopeo(&["inspect", &format!("docker-archive:{}", p.display())]).ok().json();
    assert_eq!(inspect(&ours), inspect(&theirs));
}

#[test]
fn encryption_flags_are_checked_as_skopeo_checks_them() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.pem").display().to_string();
    let (rsa, as_public) = (format!("jwe:{}", k.rsa_pub), format!("jwe:{}", k.rsa_priv));
    let cases: [(Vec<&str>, &str); 5] = [
        (
            vec!["--encryption-key", &rsa, "--decryption-key", &k.rsa_priv],
            "--encryption-key and --decryption-key cannot be specified together",
        ),
        (vec!["--encrypt-layer", "0"], "--encrypt-layer can only be used with --encryption-key"),
        (vec!["--encryption-key", "nocolon"], "Invalid encryption keys: Invalid recipient format"),
        (vec!["--encryption-key", &as_public], "Invalid encryption keys: File provided is not a public key"),
        (vec!["--encryption-key", "rot13:x"], "Invalid encryption keys: Provided protocol not recognized"),
    ];
    for (i, (flags, message)) in cases.iter().enumerate() {
        for (name, tool) in [("skiff", skiff as fn(&[&str]) -> Run), ("skopeo", skopeo)] {
            let out = tmp.path().join(format!("{name}-{i}"));
            let r = copy(tool, flags, &single(), &oci(&out));
            assert_eq!(r.code, 1, "{name} {flags:?}: {}", r.stderr);
            assert!(r.stderr.contains(message), "{name} {flags:?}: {}", r.stderr);
            assert!(!out.exists(), "{name} {flags:?} wrote its destination");
        }
    }
    let jwe_missing = format!("jwe:{missing}");
    for (flags, message) in [
        (vec!["--encryption-key", jwe_missing.as_str()], "Invalid encryption keys: Unable to read file: open"),
        (vec!["--decryption-key", missing.as_str()], "Invalid decryption keys: open"),
        (vec!["--encryption-key", "pgp:someone@example.com"], "pgp is not supported"),
        (vec!["--encryption-key", "pkcs7:cert.pem"], "pkcs7 is not supported"),
        (vec!["--decryption-key", "provider:kms"], "key provider \"kms\" is not configured"),
        (vec!["--decryption-key", &k.rsa_pub], "a public key, not a private key"),
    ] {
        let out = tmp.path().join("refused");
        let r = copy(skiff, &flags, &single(), &oci(&out));
        assert_eq!(r.code, 1, "{flags:?}: {}", r.stderr);
        assert!(r.stderr.contains(message) && r.stderr.lines().count() == 1, "{flags:?}: {}", r.stderr);
        assert!(!out.exists());
    }
}

/// `enc` (a layout of one image) copied to `at` with its manifest's first
/// layer changed by `edit`; the blobs, manifest and index follow.
fn tampered(enc: &Path, at: &Path, edit: impl Fn(&mut Value, &Path)) {
    let _ = std::fs::remove_dir_all(at);
    let r = run({
        let mut c = Command::new("cp");
        c.arg("-r").arg(enc).arg(at);
        c
    });
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut m = manifest(at);
    edit(&mut m["layers"][0], at);
    name_manifest(at, &m);
}

fn set_jwe(layer: &mut Value, jwe: &str) {
    layer["annotations"]["org.opencontainers.image.enc.keys.jwe"] = B64.encode(jwe).into();
}

#[test]
fn hostile_encrypted_layers_fail_cleanly_and_write_nothing() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let enc = tmp.path().join("enc");
    copy(skiff, &["--encryption-key", &format!("jwe:{}", k.rsa_pub)], &single(), &oci(&enc)).ok();
    let original = jwe(&manifest(&enc)["layers"][0]);
    let plain_layers: Vec<String> = manifest(&world().single)["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_owned())
        .collect();
    type Edit = Box<dyn Fn(&mut Value, &Path)>;
    let truncated = original.to_string();
    let cases: Vec<(&str, Edit, &str, &str)> = vec![
        ("wrong key", Box::new(|_, _| {}), &k.stranger, "No suitable private key found for decryption"),
        (
            "truncated JWE",
            Box::new(move |l, _| set_jwe(l, &truncated[..truncated.len() / 2])),
            &k.rsa_priv,
            "the JWE is not valid JSON",
        ),
        (
            "bad tag",
            Box::new({
                let j = original.clone();
                move |l, _| {
                    let mut j = j.clone();
                    j["tag"] = "AAAAAAAAAAAAAAAAAAAAAA".into();
                    set_jwe(l, &j.to_string());
                }
            }),
            &k.rsa_priv,
            "No suitable private key found for decryption",
        ),
        (
            "HMAC mismatch",
            Box::new(|l, at| {
                // Another ciphertext, stored and listed under its own digest.
                let mut bytes = blob(at, l["digest"].as_str().unwrap());
                bytes[0] ^= 1;
                let d = sha256(&bytes);
                std::fs::write(at.join("blobs/sha256").join(&d[7..]), &bytes).unwrap();
                l["digest"] = d.into();
            }),
            &k.rsa_priv,
            "the HMAC does not match",
        ),
        (
            "no key annotation",
            Box::new(|l, _| {
                l["annotations"].as_object_mut().unwrap().remove("org.opencontainers.image.enc.keys.jwe");
            }),
            &k.rsa_priv,
            "the layer names no key",
        ),
    ];
    for (name, edit, key, message) in cases {
        let src = tmp.path().join(format!("src-{name}"));
        tampered(&enc, &src, edit);
        let out = tmp.path().join(format!("out-{name}"));
        let r = copy(skiff, &["--decryption-key", key], &oci(&src), &oci(&out));
        assert_eq!(r.code, 1, "{name}: {}", r.stderr);
        assert!(r.stderr.contains(message), "{name}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{name}: {}", r.stderr);
        assert!(!out.join("index.json").exists(), "{name}: an image was named");
        let blobs: Vec<String> = std::fs::read_dir(out.join("blobs/sha256"))
            .map(|d| d.map(|e| format!("sha256:{}", e.unwrap().file_name().to_str().unwrap())).collect())
            .unwrap_or_default();
        assert!(!blobs.contains(&plain_layers[0]), "{name}: the first layer was stored decrypted");
        assert!(blobs.iter().all(|b| !b.contains("skiff-tmp")), "{name}: scratch files left: {blobs:?}");
    }
}

/// A key provider for the tests (ocicrypt's command protocol): it logs each
/// request to the file named by its argument and "wraps" the options by
/// XOR with its secret behind a `testkms:` prefix.
const KEY_PROVIDER: &str = r#"#!/usr/bin/env python3
import base64, json, sys
req = json.load(sys.stdin)
with open(sys.argv[1], "a") as log:
    log.write(json.dumps(req) + "\n")
SECRET = b"skiff-test-kms"
def xor(b):
    return bytes(x ^ SECRET[i % len(SECRET)] for i, x in enumerate(b))
if req["op"] == "keywrap":
    opts = base64.b64decode(req["keywrapparams"]["optsdata"])
    out = {"keywrapresults": {"annotation": base64.b64encode(b"testkms:" + xor(opts)).decode()}}
else:
    ann = base64.b64decode(req["keyunwrapparams"]["annotation"])
    if not ann.startswith(b"testkms:"):
        sys.stderr.write("this key was not wrapped by testkms")
        sys.exit(3)
    out = {"keyunwrapresults": {"optsdata": base64.b64encode(xor(ann[8:])).decode()}}
json.dump(out, sys.stdout)
"#;

/// Runs `tool` with `OCICRYPT_KEYPROVIDER_CONFIG` naming the test provider.
fn with_provider(tool: &str, config: &Path, args: &[&str]) -> Run {
    let mut cmd = skiff_tests::harness::tools::tool_cmd(tool);
    cmd.env("OCICRYPT_KEYPROVIDER_CONFIG", config).args(args);
    run(cmd)
}

/// The requests the provider logged since the last call, with the wrapped
/// bytes (random) blanked.
fn logged(log: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let _ = std::fs::remove_file(log);
    text.lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            for p in ["/keywrapparams/optsdata", "/keyunwrapparams/annotation"] {
                if let Some(x) = v.pointer_mut(p).filter(|x| x.is_string()) {
                    *x = "…".into();
                }
            }
            v
        })
        .collect()
}

#[test]
fn key_providers_speak_ocicrypts_command_protocol() {
    use std::os::unix::fs::PermissionsExt as _;
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("testkms");
    std::fs::write(&script, KEY_PROVIDER).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = tmp.path().join("requests.log");
    let config = tmp.path().join("ocicrypt.json");
    let cfg = serde_json::json!({"key-providers": {
        "testkms": {"cmd": {"path": script, "args": [log]}},
        "remote": {"grpc": "127.0.0.1:1"},
    }});
    std::fs::write(&config, cfg.to_string()).unwrap();
    let source_digest = named_digest(&world().single);
    let copy_with = |tool: &str, flags: &[&str], from: &str, to: &str| {
        let mut args = vec![INSECURE, "copy", "-q"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[from, to]);
        with_provider(tool, &config, &args)
    };

    // Debian's skopeo 1.9.3 predates key providers ("Provided protocol not
    // recognized"), so the requests are checked against ocicrypt's protocol
    // (keyprovider.go: Go's JSON of its structs), and skopeo reads the JWE
    // recipient of an image wrapped for both.
    let ours = tmp.path().join("ours");
    let rsa = format!("jwe:{}", k.rsa_pub);
    copy_with("skiff", &["--encryption-key", "provider:testkms", "--encryption-key", &rsa], &single(), &oci(&ours))
        .ok();
    let wraps = logged(&log);
    let enabled = B64.encode("Enabled");
    let wrap = serde_json::json!({"op": "keywrap",
        "keywrapparams": {"ec": {"Parameters": {"testkms": [enabled]}, "DecryptConfig": {"Parameters": null}}, "optsdata": "…"},
        "keyunwrapparams": {"dc": null, "annotation": null}});
    assert_eq!(wraps, vec![wrap.clone(), wrap], "one keywrap request per layer");
    let m = manifest(&ours);
    for l in m["layers"].as_array().unwrap() {
        let a = l["annotations"]["org.opencontainers.image.enc.keys.provider.testkms"].as_str().unwrap();
        assert!(B64.decode(a).unwrap().starts_with(b"testkms:"), "the provider's answer is stored: {a}");
        assert!(l["annotations"]["org.opencontainers.image.enc.keys.jwe"].is_string());
    }
    let out = tmp.path().join("ours-skopeo");
    copy_with("skopeo", &["--decryption-key", &k.rsa_priv], &oci(&ours), &oci(&out)).ok();
    assert_eq!(named_digest(&out), source_digest, "skopeo decrypts the JWE recipient");
    let _ = logged(&log);
    // Decrypted through the provider alone (the JWE removed, so only it can).
    let provider_only = tmp.path().join("provider-only");
    tampered(&ours, &provider_only, |_, _| {});
    let mut m = manifest(&provider_only);
    for l in m["layers"].as_array_mut().unwrap() {
        l["annotations"].as_object_mut().unwrap().remove("org.opencontainers.image.enc.keys.jwe");
    }
    name_manifest(&provider_only, &m);
    let out = tmp.path().join("provider-dec");
    copy_with("skiff", &["--decryption-key", "provider:testkms"], &oci(&provider_only), &oci(&out)).ok();
    assert_eq!(named_digest(&out), source_digest, "the provider's key restores the image");
    let unwrap = serde_json::json!({"op": "keyunwrap",
        "keywrapparams": {"ec": null, "optsdata": null},
        "keyunwrapparams": {"dc": {"Parameters": {"testkms": [enabled]}}, "annotation": "…"}});
    assert_eq!(logged(&log), vec![unwrap.clone(), unwrap], "one keyunwrap request per layer");

    // Failures are sentences: a provider that refuses, one not configured, a gRPC one.
    let jwe_only = tmp.path().join("jwe-only");
    copy(skiff, &["--encryption-key", &rsa], &single(), &oci(&jwe_only)).ok();
    for (flags, from, message) in [
        (vec!["--decryption-key", "provider:nonesuch"], oci(&ours), "key provider \"nonesuch\" is not configured"),
        (vec!["--encryption-key", "provider:remote"], single(), "gRPC service, which skiff does not support"),
        (vec!["--decryption-key", "provider:testkms"], oci(&jwe_only), "the layer names no key this copy was given"),
    ] {
        let out = tmp.path().join("refused");
        let r = copy_with("skiff", &flags, &from, &oci(&out));
        assert_eq!(r.code, 1, "{flags:?}: {}", r.stderr);
        assert!(r.stderr.contains(message), "{flags:?}: {}", r.stderr);
        assert!(!out.join("index.json").exists());
    }
    // A provider that exits non-zero: its stderr in the message.
    let forged = tmp.path().join("forged");
    tampered(&ours, &forged, |l, _| {
        l["annotations"]["org.opencontainers.image.enc.keys.provider.testkms"] = B64.encode(b"not-ours").into();
        l["annotations"].as_object_mut().unwrap().remove("org.opencontainers.image.enc.keys.jwe");
    });
    let out = tmp.path().join("forged-out");
    let r = copy_with("skiff", &["--decryption-key", "provider:testkms"], &oci(&forged), &oci(&out));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("this key was not wrapped by testkms"), "{}", r.stderr);
    assert!(!out.join("index.json").exists());
}

#[test]
fn passphrase_protected_decryption_keys_open_with_ocicrypts_password_forms() {
    let k = keys();
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name).display().to_string();
    // OpenSSL's legacy PEM encryption (AES and 3DES, as Go's x509 reads it) and PKCS#8 PBES2.
    openssl(&["rsa", "-in", &k.rsa_priv, "-aes256", "-traditional", "-passout", "pass:s3cret", "-out", &p("aes.pem")]);
    openssl(&["rsa", "-in", &k.rsa_priv, "-des3", "-traditional", "-passout", "pass:s3cret", "-out", &p("des3.pem")]);
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        &k.ec_priv,
        "-v2",
        "aes-256-cbc",
        "-passout",
        "pass:s3cret",
        "-out",
        &p("pkcs8.pem"),
    ]);
    std::fs::write(p("password"), "s3cret").unwrap();
    let enc = tmp.path().join("enc");
    let flags = ["--encryption-key", &format!("jwe:{}", k.rsa_pub), "--encryption-key", &format!("jwe:{}", k.ec_pub)];
    copy(skopeo, &flags, &single(), &oci(&enc)).ok();
    let source_digest = named_digest(&world().single);
    let password_file = format!("file={}", p("password"));
    for (i, (key, password)) in
        [("aes.pem", "pass=s3cret"), ("des3.pem", "s3cret"), ("pkcs8.pem", password_file.as_str())].iter().enumerate()
    {
        let out = tmp.path().join(format!("dec{i}"));
        copy(skiff, &["--decryption-key", &format!("{}:{password}", p(key))], &oci(&enc), &oci(&out)).ok();
        assert_eq!(named_digest(&out), source_digest, "{key} with {password}");
    }
    for (arg, message) in [
        (format!("{}:pass=nope", p("aes.pem")), "Wrong password: could not decrypt private key"),
        (format!("{}:nope", p("pkcs8.pem")), "Wrong password: could not decrypt private key"),
        (p("des3.pem"), "Missing password for encrypted private key"),
        (format!("{}:fd=3", p("aes.pem")), "file descriptor (fd=) is not supported"),
    ] {
        let out = tmp.path().join("refused");
        let r = copy(skiff, &["--decryption-key", &arg], &oci(&enc), &oci(&out));
        assert_eq!(r.code, 1, "{arg}: {}", r.stderr);
        assert!(r.stderr.contains(message), "{arg}: {}", r.stderr);
        assert!(!out.exists());
    }
}
