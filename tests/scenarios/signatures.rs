//! Signatures stored with a `dir:` image travel with it, as skopeo copies
//! them; destinations that cannot hold them, and changes that would break
//! them, are refused unless `--remove-signatures`.

use std::path::Path;

use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::tools::{Run, skiff, skopeo};
use skiff_tests::harness::tree;

const INSECURE: &str = "--insecure-policy";
/// An OpenPGP compressed-data packet's first bytes: read as simple signing.
const SIMPLE: &[u8] = b"\xa3\x01\x02not-really-pgp";
/// The newer format: a zero byte, the format's name, a newline, JSON.
const SIGSTORE: &[u8] = b"\x00sigstore-json\n{\"mimeType\":\"application/vnd.dev.cosign.simplesigning.v1+json\",\"payload\":\"e30=\",\"annotations\":{}}";

fn copy(tool: fn(&[&str]) -> Run, flags: &[&str], src: &Path, dest: &str) -> Run {
    let src = format!("dir:{}", src.display());
    let mut args = vec![INSECURE, "copy"];
    args.extend(flags);
    args.extend([src.as_str(), dest]);
    tool(&args)
}

/// A `dir:` copy of the world's single image (as skopeo writes it), with two signatures.
fn signed_dir(root: &Path) -> std::path::PathBuf {
    let dir = root.join("signed");
    let src = format!("oci:{}:v1", world().single.display());
    skopeo(&[INSECURE, "copy", "-q", &src, &format!("dir:{}", dir.display())]).ok();
    std::fs::write(dir.join("signature-1"), SIMPLE).unwrap();
    std::fs::write(dir.join("signature-2"), SIGSTORE).unwrap();
    dir
}

#[test]
fn dir_signatures_are_copied_like_skopeo() {
    let tmp = tempfile::tempdir().unwrap();
    let src = signed_dir(tmp.path());
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    let r = copy(skiff, &[], &src, &format!("dir:{}", ours.display())).ok();
    copy(skopeo, &["-q"], &src, &format!("dir:{}", theirs.display())).ok();
    assert_eq!(tree(&ours), tree(&theirs));
    assert_eq!(std::fs::read(ours.join("signature-2")).unwrap(), SIGSTORE);
    for line in ["Checking if image destination supports signatures", "Storing signatures"] {
        assert!(r.stderr.contains(line), "{line}: {}", r.stderr);
    }

    // --remove-signatures leaves them behind, and says nothing of them.
    let bare = tmp.path().join("bare");
    let r = copy(skiff, &["--remove-signatures"], &src, &format!("dir:{}", bare.display())).ok();
    assert!(!r.stderr.contains("signatures"), "{}", r.stderr);
    assert!(!bare.join("signature-1").exists() && bare.join("manifest.json").exists());
}

#[test]
fn list_and_instance_signatures_are_copied_like_skopeo() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("list");
    let layout = format!("oci:{}:v1", world().multi.display());
    skopeo(&[INSECURE, "copy", "-q", "--all", &layout, &format!("dir:{}", src.display())]).ok();
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(src.join("manifest.json")).unwrap()).unwrap();
    let first = index["manifests"][0]["digest"].as_str().unwrap();
    std::fs::write(src.join("signature-1"), SIMPLE).unwrap();
    std::fs::write(src.join(format!("{}.signature-1", &first[7..])), SIGSTORE).unwrap();
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    let r = copy(skiff, &["--all"], &src, &format!("dir:{}", ours.display())).ok();
    copy(skopeo, &["-q", "--all"], &src, &format!("dir:{}", theirs.display())).ok();
    assert_eq!(tree(&ours), tree(&theirs));
    assert!(ours.join(format!("{}.signature-1", &first[7..])).exists());
    for line in ["Getting image list signatures", "Copying image sha256:", "Storing list signatures"] {
        assert!(r.stderr.contains(line), "{line}: {}", r.stderr);
    }
}

#[test]
fn signatures_are_never_dropped_silently() {
    let tmp = tempfile::tempdir().unwrap();
    let src = signed_dir(tmp.path());
    // Destinations that cannot store signatures: refused by both tools, before any blob.
    for (dest, why) in [
        (
            format!("oci:{}:v1", tmp.path().join("layout").display()),
            "Pushing signatures for OCI images is not supported",
        ),
        (format!("docker-archive:{}", tmp.path().join("a.tar").display()), "Storing signatures for docker tar files"),
    ] {
        let ours = copy(skiff, &[], &src, &dest);
        assert_eq!(ours.code, 1, "{}", ours.stderr);
        assert!(ours.stderr.contains(&format!("Can not copy signatures to {dest}: {why}")), "{}", ours.stderr);
        assert!(!ours.stderr.contains("Copying blob"), "{}", ours.stderr);
        assert_ne!(copy(skopeo, &[], &src, &dest).code, 0, "skopeo refuses {dest} too");
        copy(skiff, &["-q", "--remove-signatures"], &src, &dest).ok();
    }
    // A change of manifest type would invalidate them.
    let converted = format!("dir:{}", tmp.path().join("v2s2").display());
    let r = copy(skiff, &["--format", "v2s2"], &src, &converted);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("would invalidate the source's signatures"), "{}", r.stderr);
    copy(skiff, &["-q", "--format", "v2s2", "--remove-signatures"], &src, &converted).ok();
    // A blob that is no signature format is refused, as skopeo refuses it.
    std::fs::write(src.join("signature-3"), b"plain text").unwrap();
    let dest = format!("dir:{}", tmp.path().join("bad").display());
    let r = copy(skiff, &[], &src, &dest);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("signature-3") && r.stderr.contains("unrecognized signature format"), "{}", r.stderr);
    assert_ne!(copy(skopeo, &[], &src, &dest).code, 0);
}

/// A registries.d directory whose default section stores signatures under `store`.
fn registries_d(root: &Path, name: &str, store: &str) -> String {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("default.yaml"),
        format!("default-docker:\n  sigstore: {store}\n  sigstore-staging: {store}\n"),
    )
    .unwrap();
    dir.display().to_string()
}

#[test]
fn registry_signatures_live_in_the_lookaside_like_skopeo() {
    let tmp = tempfile::tempdir().unwrap();
    let src = signed_dir(tmp.path());
    std::fs::write(src.join("signature-2"), b"\x89second-simple-signature").unwrap();
    let dest = format!("docker://{}/sigs/lookaside:v1", world().plain.host());
    let (ours, theirs) = (tmp.path().join("ours-store"), tmp.path().join("theirs-store"));
    let ours_d = registries_d(tmp.path(), "ours.d", &format!("file://{}", ours.display()));
    let theirs_d = registries_d(tmp.path(), "theirs.d", &format!("file://{}", theirs.display()));
    let push = |tool: fn(&[&str]) -> Run, config: &str| {
        let src = format!("dir:{}", src.display());
        tool(&[INSECURE, "--registries.d", config, "copy", "-q", "--dest-tls-verify=false", &src, &dest]).ok()
    };
    push(skiff, &ours_d);
    push(skopeo, &theirs_d);
    let stored = tree(&ours);
    assert_eq!(stored, tree(&theirs));
    assert_eq!(stored.len(), 2, "{:?}", stored.iter().map(|(n, _)| n).collect::<Vec<_>>());
    assert!(stored[0].0.starts_with("sigs/lookaside@sha256="), "{}", stored[0].0);

    // Read back: the registry's image comes with its lookaside signatures.
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let pull = |tool: fn(&[&str]) -> Run, out: &Path| {
        let out = format!("dir:{}", out.display());
        tool(&[INSECURE, "--registries.d", &ours_d, "copy", "-q", "--src-tls-verify=false", &dest, &out]).ok()
    };
    pull(skiff, &a);
    pull(skopeo, &b);
    assert_eq!(tree(&a), tree(&b));
    assert_eq!(std::fs::read(a.join("signature-2")).unwrap(), b"\x89second-simple-signature");

    // A web lookaside cannot be written to; sigstore signatures need attachments: both refused up front.
    let web = registries_d(tmp.path(), "web.d", "https://127.0.0.1:9/sigs");
    let s = format!("dir:{}", src.display());
    let r = skiff(&[INSECURE, "--registries.d", &web, "copy", "--dest-tls-verify=false", &s, &dest]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("lookaside-staging") && !r.stderr.contains("Copying blob"), "{}", r.stderr);
    std::fs::write(src.join("signature-2"), SIGSTORE).unwrap();
    let r = skiff(&[INSECURE, "--registries.d", &ours_d, "copy", "--dest-tls-verify=false", &s, &dest]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("sigstore attachments") && !r.stderr.contains("Copying blob"), "{}", r.stderr);
}
