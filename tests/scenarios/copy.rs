//! `copy` between registries, `oci:` layouts and `dir:` directories, with
//! Debian's skopeo as the reference for the bytes written.

use std::path::Path;

use skiff_tests::harness::archives::{docker_archive, member};
use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::images::{ImageSpec, Layout, noisy_layout, sha256};
use skiff_tests::harness::proxy::{Mode, Proxy};
use skiff_tests::harness::registry::{PASSWORD, USER};
use skiff_tests::harness::tools::{skiff, skopeo};
use skiff_tests::harness::tree;

use super::assert_inspect_matches;

const INSECURE: &str = "--insecure-policy";

fn plain(repo: &str) -> String {
    format!("docker://{}/{repo}", world().plain.host())
}

#[test]
fn registry_to_dir_and_oci_identical_to_skopeo() {
    let tmp = tempfile::tempdir().unwrap();
    for repo in ["test/oci:v1", "test/docker:v1", "test/multi:v1"] {
        let src = plain(repo);
        let ours = tmp.path().join(format!("ours-{}", repo.replace(['/', ':'], "-")));
        let theirs = tmp.path().join(format!("theirs-{}", repo.replace(['/', ':'], "-")));
        let r = skiff(&[INSECURE, "copy", "--src-tls-verify=false", &src, &format!("dir:{}", ours.display())]).ok();
        assert!(r.stdout.is_empty(), "progress goes to stderr");
        assert!(
            r.stderr.contains("Getting image source signatures")
                && r.stderr.contains("Writing manifest to image destination"),
            "{}",
            r.stderr
        );
        skopeo(&[INSECURE, "copy", "-q", "--src-tls-verify=false", &src, &format!("dir:{}", theirs.display())]).ok();
        assert_eq!(tree(&ours), tree(&theirs), "dir: tree of {repo}");
    }
    for repo in ["test/oci:v1", "test/multi:v1"] {
        let src = plain(repo);
        let ours = tmp.path().join(format!("oci-ours-{}", repo.replace(['/', ':'], "-")));
        let theirs = tmp.path().join(format!("oci-theirs-{}", repo.replace(['/', ':'], "-")));
        skiff(&[INSECURE, "copy", "-q", "--src-tls-verify=false", &src, &format!("oci:{}:v1", ours.display())]).ok();
        skopeo(&[INSECURE, "copy", "-q", "--src-tls-verify=false", &src, &format!("oci:{}:v1", theirs.display())]).ok();
        assert_eq!(tree(&ours), tree(&theirs), "oci: layout of {repo}");
    }
    // A Docker schema 2 image is converted for an OCI layout, as skopeo does.
    let ours = tmp.path().join("conv-ours");
    let theirs = tmp.path().join("conv-theirs");
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--src-tls-verify=false",
        &plain("test/docker:v1"),
        &format!("oci:{}:v1", ours.display()),
    ])
    .ok();
    skopeo(&[
        INSECURE,
        "copy",
        "-q",
        "--src-tls-verify=false",
        &plain("test/docker:v1"),
        &format!("oci:{}:v1", theirs.display()),
    ])
    .ok();
    assert_eq!(tree(&ours), tree(&theirs), "converted manifest and config");
}

#[test]
fn format_conversions_match_skopeo() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("v2s2", format!("oci:{}:v1", w.single.display())),
        ("oci", plain("test/docker:v1")),
        ("oci", plain("test/oci:v1")),
    ];
    for (i, (format, src)) in cases.iter().enumerate() {
        let ours = tmp.path().join(format!("ours{i}"));
        let theirs = tmp.path().join(format!("theirs{i}"));
        skiff(&[
            INSECURE,
            "copy",
            "-q",
            "--format",
            format,
            "--src-tls-verify=false",
            src,
            &format!("dir:{}", ours.display()),
        ])
        .ok();
        skopeo(&[
            INSECURE,
            "copy",
            "-q",
            "--format",
            format,
            "--src-tls-verify=false",
            src,
            &format!("dir:{}", theirs.display()),
        ])
        .ok();
        assert_eq!(tree(&ours), tree(&theirs), "--format {format} from {src}");
    }
    // Into a registry, converted: the digest is skopeo's too.
    let p = w.plain.host();
    let ours = format!("docker://{p}/fmt/ours:v1");
    let theirs = format!("docker://{p}/fmt/theirs:v1");
    let src = format!("oci:{}:v1", w.single.display());
    skiff(&[INSECURE, "copy", "-q", "--format", "v2s2", "--dest-tls-verify=false", &src, &ours]).ok();
    skopeo(&[INSECURE, "copy", "-q", "--format", "v2s2", "--dest-tls-verify=false", &src, &theirs]).ok();
    let raw = |img: &str| skopeo(&["inspect", "--raw", "--tls-verify=false", img]).ok().stdout;
    assert_eq!(raw(&ours), raw(&theirs));
    // --preserve-digests refuses a conversion.
    let r = skiff(&[
        INSECURE,
        "copy",
        "--preserve-digests",
        "--format",
        "v2s2",
        &src,
        &format!("dir:{}", tmp.path().join("p").display()),
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--preserve-digests"), "{}", r.stderr);
}

#[test]
fn round_trips_keep_digests() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let p = w.plain.host();
    // oci: → registry → dir: → registry → oci:
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", w.single.display()),
        &format!("docker://{p}/rt/a:v1"),
    ])
    .ok();
    let d1 = tmp.path().join("d1");
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--src-tls-verify=false",
        &format!("docker://{p}/rt/a:v1"),
        &format!("dir:{}", d1.display()),
    ])
    .ok();
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--dest-tls-verify=false",
        &format!("dir:{}", d1.display()),
        &format!("docker://{p}/rt/b:v1"),
    ])
    .ok();
    let d2 = tmp.path().join("d2");
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--src-tls-verify=false",
        &format!("docker://{p}/rt/b:v1"),
        &format!("dir:{}", d2.display()),
    ])
    .ok();
    assert_eq!(tree(&d1), tree(&d2));
    let o = tmp.path().join("o");
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--src-tls-verify=false",
        &format!("docker://{p}/rt/b:v1"),
        &format!("oci:{}:v1", o.display()),
    ])
    .ok();
    assert_eq!(tree(&o.join("blobs")), tree(&w.single.join("blobs")), "blobs back where they started");
    let digest = |img: &str| skiff(&["inspect", "--tls-verify=false", img]).ok().json()["Digest"].clone();
    assert_eq!(digest(&format!("docker://{p}/rt/a:v1")), digest(&format!("docker://{p}/rt/b:v1")));
}

#[test]
fn registry_to_registry_single_and_all() {
    let w = world();
    let p = w.plain.host();
    let src = format!("docker://{p}/test/multi:v1");
    // Default: only this machine's instance, stored by tag.
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &src,
        &format!("docker://{p}/r2r/one:v1"),
    ])
    .ok();
    let one = skiff(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{p}/r2r/one:v1")]).ok();
    assert!(one.stdout_str().contains("\"layers\""), "an image manifest, not the index");
    // Again: the destination already holds that manifest there, so nothing is copied.
    let again = [INSECURE, "copy", "--src-tls-verify=false", "--dest-tls-verify=false", &src];
    let r = skiff(&[&again[..], &[&format!("docker://{p}/r2r/one:v1")]].concat()).ok();
    assert!(r.stderr.contains("already present") && !r.stderr.contains("Copying blob"), "{}", r.stderr);
    // Under another tag it is written again (its blobs are found, not sent).
    let r = skiff(&[&again[..], &[&format!("docker://{p}/r2r/one:v2")]].concat()).ok();
    assert!(!r.stderr.contains("already present") && r.stderr.contains("skipped: already exists"), "{}", r.stderr);
    let v2 = skiff(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{p}/r2r/one:v2")]).ok();
    assert_eq!(v2.stdout, one.stdout);
    // --all: the index keeps its digest, and every instance is there.
    let digestfile = tempfile::NamedTempFile::new().unwrap();
    let r = skiff(&[
        INSECURE,
        "copy",
        "--all",
        "--digestfile",
        digestfile.path().to_str().unwrap(),
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &src,
        &format!("docker://{p}/r2r/all:v1"),
    ])
    .ok();
    assert!(r.stderr.contains("Writing manifest list to image destination"), "{}", r.stderr);
    let raw = skiff(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{p}/r2r/all:v1")]).ok().stdout;
    assert_eq!(raw, skopeo(&["inspect", "--raw", "--tls-verify=false", &src]).ok().stdout);
    assert_eq!(std::fs::read_to_string(digestfile.path()).unwrap(), w.multi_index_digest);
    let index: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    for m in index["manifests"].as_array().unwrap() {
        let inst = format!("docker://{p}/r2r/all@{}", m["digest"].as_str().unwrap());
        assert!(skopeo(&["inspect", "--raw", "--tls-verify=false", &inst]).code == 0, "instance {inst} copied");
    }
    assert_eq!(skiff(&[INSECURE, "copy", "--all", "--multi-arch", "all", &src, "dir:/tmp/x"]).code, 1);

    // --multi-arch index-only: the index alone, where its instances already are.
    let index_only = |dest: &str| {
        skiff(&[
            INSECURE,
            "copy",
            "--multi-arch",
            "index-only",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &src,
            dest,
        ])
    };
    let r = index_only(&format!("docker://{p}/r2r/all:index")).ok();
    assert!(r.stderr.contains("Writing manifest list") && !r.stderr.contains("Copying blob"), "{}", r.stderr);
    let copied = skiff(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{p}/r2r/all:index")]).ok().stdout;
    assert_eq!(copied, raw);
    // Into a repository without the instances, the registry refuses it and skiff says so.
    let r = index_only(&format!("docker://{p}/r2r/empty:index"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("manifest"), "{}", r.stderr);
}

/// `--all` with a list type change (OCI index ↔ Docker list, by `--format`
/// or because an OCI layout needs it): every instance converted and the list
/// rewritten byte for byte as skopeo writes it.
#[test]
fn whole_lists_are_converted_like_skopeo() {
    let tmp = tempfile::tempdir().unwrap();
    // Platforms without a CPU variant: skopeo 1.9.3 orders a converted
    // config's `variant` before `os` (image-spec 1.0); upstream, and skiff,
    // after `os.features` (image-spec 1.1), so only variant-free configs are
    // byte-identical to 1.9.3's.
    let layout_dir = tmp.path().join("multi");
    let mut layout = Layout::create(&layout_dir);
    let descs = ["amd64", "s390x", "ppc64le"]
        .iter()
        .map(|a| layout.add_image(&ImageSpec::small(a, None, &format!("list-{a}"))))
        .collect();
    let index = layout.add_index(descs);
    layout.tag(&index, "v1");
    let multi = format!("oci:{}:v1", layout_dir.display());
    let run_both = |args: &[&str], src: &str, name: &str| {
        let (ours, theirs) = (tmp.path().join(format!("{name}-ours")), tmp.path().join(format!("{name}-theirs")));
        for (tool, out) in [(skiff as fn(&[&str]) -> _, &ours), (skopeo, &theirs)] {
            let dest = if name.starts_with("oci") {
                format!("oci:{}:v1", out.display())
            } else {
                format!("dir:{}", out.display())
            };
            let mut a = vec![INSECURE, "copy", "-q", "--all"];
            a.extend(args);
            a.extend([src, dest.as_str()]);
            tool(&a).ok();
        }
        assert_eq!(tree(&ours), tree(&theirs), "{name}");
        ours
    };
    // OCI index → Docker list in dir:, then that Docker list → an OCI layout (converted back).
    let docker_list = run_both(&["--format", "v2s2"], &multi, "dir-v2s2");
    let m = std::fs::read_to_string(docker_list.join("manifest.json")).unwrap();
    assert!(m.contains("manifest.list.v2+json"), "{m}");
    run_both(&[], &format!("dir:{}", docker_list.display()), "oci-from-docker-list");
    // And --format oci on a Docker list kept in dir:.
    run_both(&["--format", "oci"], &format!("dir:{}", docker_list.display()), "dir-oci");
    // A destination that holds no lists says so.
    let r =
        skiff(&[INSECURE, "copy", "--all", &multi, &format!("docker-archive:{}", tmp.path().join("a.tar").display())]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("cannot store a manifest list"), "{}", r.stderr);
}

#[test]
fn plain_registry_to_tls_registry_with_per_side_flags() {
    let w = world();
    let certs = w.secure.cert_dir.as_ref().unwrap().display().to_string();
    let creds = format!("{USER}:{PASSWORD}");
    let dest = format!("docker://{}/copied/oci:v1", w.secure.host());
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--src-tls-verify=false",
        "--dest-cert-dir",
        &certs,
        "--dest-creds",
        &creds,
        &plain("test/oci:v1"),
        &dest,
    ])
    .ok();
    let ours = skopeo(&["inspect", "--raw", "--cert-dir", &certs, "--creds", &creds, &dest]).ok().stdout;
    assert_eq!(ours, skopeo(&["inspect", "--raw", "--tls-verify=false", &plain("test/oci:v1")]).ok().stdout);
    // Without the destination's credentials the push is refused.
    let r = skiff(&[
        INSECURE,
        "copy",
        "--src-tls-verify=false",
        "--dest-cert-dir",
        &certs,
        &plain("test/oci:v1"),
        &format!("docker://{}/copied/other:v1", w.secure.host()),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[test]
fn policy_is_checked_before_anything_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let with_policy = |name: &str, contents: Option<&str>| {
        let path = tmp.path().join(name);
        if let Some(c) = contents {
            std::fs::write(&path, c).unwrap();
        }
        let to = format!("dir:{}", dest.display());
        skiff(&["--policy", path.to_str().unwrap(), "copy", "-q", "--src-tls-verify=false", &plain("test/oci:v1"), &to])
    };
    let r = with_policy("reject.json", Some(r#"{"default":[{"type":"reject"}]}"#));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("rejected by policy"), "{}", r.stderr);
    assert!(!dest.exists(), "nothing written");
    let signed = r#"{"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{"":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k.gpg"}]}}}"#;
    // A signature requirement on an unsigned image refuses it, as skopeo words it.
    let r = with_policy("signed.json", Some(signed));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("Source image rejected: A signature was required, but no signature exists"),
        "{}",
        r.stderr
    );
    let r = with_policy("missing.json", None);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--insecure-policy"), "{}", r.stderr);
    assert!(!dest.exists());
    with_policy("accept.json", Some(r#"{"default":[{"type":"insecureAcceptAnything"}]}"#)).ok();
    assert!(dest.join("manifest.json").exists());
}

#[test]
fn tampered_layer_commits_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let mut l = Layout::create(&layout);
    let d = l.add_image(&ImageSpec::small("amd64", None, "tampered"));
    l.tag(&d, "v1");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(layout.join("blobs/sha256").join(&d["digest"].as_str().unwrap()[7..])).unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][1]["digest"].as_str().unwrap();
    let path = layout.join("blobs/sha256").join(&layer[7..]);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let dest = tmp.path().join("out");
    let r = skiff(&[INSECURE, "copy", &format!("oci:{}:v1", layout.display()), &format!("dir:{}", dest.display())]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("digest mismatch"), "{}", r.stderr);
    assert!(!dest.join("manifest.json").exists(), "no manifest: the copy does not look complete");
    assert!(!dest.join(&layer[7..]).exists(), "the bad blob was not committed");
    let p = world().plain.host();
    let r = skiff(&[
        INSECURE,
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{p}/tampered/x:v1"),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        skiff(&["inspect", "--tls-verify=false", &format!("docker://{p}/tampered/x:v1")]).code,
        2,
        "no manifest pushed"
    );
}

#[test]
fn refuses_to_overwrite_a_directory_that_is_not_an_image() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("precious.txt"), "keep me").unwrap();
    let r = skiff(&[
        INSECURE,
        "copy",
        "--src-tls-verify=false",
        &plain("test/oci:v1"),
        &format!("dir:{}", tmp.path().display()),
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Refusing to overwrite"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(tmp.path().join("precious.txt")).unwrap(), "keep me");
    // Item 31: a file named `version` that is not a dir: image's marker
    // protects nothing less; skopeo refuses it too.
    std::fs::write(tmp.path().join("version"), "Directory Transport Version: 9.9\n").unwrap();
    for tool in [skiff, skopeo] {
        let r = tool(&[
            INSECURE,
            "copy",
            "--src-tls-verify=false",
            &plain("test/oci:v1"),
            &format!("dir:{}", tmp.path().display()),
        ]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert_eq!(std::fs::read_to_string(tmp.path().join("precious.txt")).unwrap(), "keep me");
    }
    std::fs::remove_file(tmp.path().join("version")).unwrap();
    // An earlier dir: image is replaced.
    let img = tmp.path().join("img");
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--src-tls-verify=false",
        &plain("test/oci:v1"),
        &format!("dir:{}", img.display()),
    ])
    .ok();
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--src-tls-verify=false",
        &plain("test/docker:v1"),
        &format!("dir:{}", img.display()),
    ])
    .ok();
    let manifest = std::fs::read_to_string(img.join("manifest.json")).unwrap();
    assert!(manifest.contains("application/vnd.docker.distribution.manifest.v2+json"));
}

#[test]
fn progress_bars_on_a_terminal_lines_otherwise() {
    let tmp = tempfile::tempdir().unwrap();
    let skiff_bin = skiff_tests::harness::tools::skiff_path();
    let dest = tmp.path().join("tty");
    // `script` gives skiff a pseudo-terminal, as a person at a shell would.
    let command = format!(
        "{} --insecure-policy copy --src-tls-verify=false {} dir:{}",
        skiff_bin.display(),
        plain("test/oci:v1"),
        dest.display()
    );
    let log = tmp.path().join("typescript");
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &command]).arg(&log).env("HOME", skiff_tests::harness::tools::test_home());
    skiff_tests::harness::tools::run(cmd).ok();
    let screen = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    assert!(screen.contains("Copying blob sha256:"), "{screen}");
    assert!(screen.contains("\u{1b}[") && screen.contains(" B/"), "live bars with byte counts: {screen}");
    // Piped stderr: skopeo's plain lines, no terminal codes.
    let piped = skiff(&[
        INSECURE,
        "copy",
        "--src-tls-verify=false",
        &plain("test/oci:v1"),
        &format!("dir:{}", tmp.path().join("pipe").display()),
    ])
    .ok();
    assert!(!piped.stderr.contains('\u{1b}'), "{}", piped.stderr);
    assert!(
        piped
            .stderr
            .lines()
            .all(|l| l.starts_with("Getting image") || l.starts_with("Copying ") || l.starts_with("Writing manifest")),
        "{}",
        piped.stderr
    );
    let quiet = skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--src-tls-verify=false",
        &plain("test/oci:v1"),
        &format!("dir:{}", tmp.path().join("quiet").display()),
    ])
    .ok();
    assert!(quiet.stderr.is_empty() && quiet.stdout.is_empty());
}

#[test]
fn oci_archive_round_trip_with_skopeo() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let ours = tmp.path().join("ours.tar");
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        &format!("oci:{}:v1", w.single.display()),
        &format!("oci-archive:{}:v1", ours.display()),
    ])
    .ok();
    let names: Vec<_> =
        std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["ours.tar"], "no staging area or temporary file left");
    // skopeo reads ours; we read skopeo's.
    let a = format!("oci-archive:{}:v1", ours.display());
    let raw = skiff(&["inspect", "--raw", &a]).ok().stdout;
    assert_inspect_matches(&skiff(&["inspect", &a]).ok().json(), &skopeo(&["inspect", &a]).ok().json(), &raw);
    let theirs = tmp.path().join("theirs.tar");
    skopeo(&[
        INSECURE,
        "copy",
        "-q",
        &plain("test/docker:v1"),
        "--src-tls-verify=false",
        &format!("oci-archive:{}:v1", theirs.display()),
    ])
    .ok();
    let (d1, d2) = (tmp.path().join("d1"), tmp.path().join("d2"));
    let b = format!("oci-archive:{}:v1", theirs.display());
    skiff(&[INSECURE, "copy", "-q", &b, &format!("dir:{}", d1.display())]).ok();
    skopeo(&[INSECURE, "copy", "-q", &b, &format!("dir:{}", d2.display())]).ok();
    assert_eq!(tree(&d1), tree(&d2));
}

#[test]
fn hostile_archives_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // A layout whose index.json is a symlink out of the archive, plus members
    // named with `..` and absolute paths: none of them is ever read.
    let evil = tmp.path().join("evil.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&evil).unwrap());
    let mut add = |name: &str, data: &[u8], kind: tar::EntryType, link: Option<&str>| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        // Written raw so that hostile names are kept as they are.
        let name_field = &mut h.as_old_mut().name;
        name_field[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, data).unwrap();
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#, tar::EntryType::Regular, None);
    add("index.json", b"", tar::EntryType::Symlink, Some("/etc/passwd"));
    add("../index.json", br#"{"schemaVersion":2,"manifests":[]}"#, tar::EntryType::Regular, None);
    add("/index.json", br#"{"schemaVersion":2,"manifests":[]}"#, tar::EntryType::Regular, None);
    b.finish().unwrap();
    drop(b);
    let r = skiff(&["inspect", &format!("oci-archive:{}", evil.display())]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("index.json not found"), "{}", r.stderr);
    // A compressed archive is named as such.
    let gz = tmp.path().join("layout.tar.gz");
    std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]).unwrap();
    let r = skiff(&["inspect", &format!("oci-archive:{}", gz.display())]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("gzip"), "{}", r.stderr);
    // Nothing is extracted next to the archive.
    let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2);
}

/// Appends raw entries (names and link targets kept as given) to a copy
/// of the archive `from`.
fn with_entries(
    from: &Path,
    to: &Path,
    entries: &[(&str, &[u8], tar::EntryType, Option<&str>)],
    skip: &dyn Fn(&str) -> bool,
) {
    let mut b = tar::Builder::new(std::fs::File::create(to).unwrap());
    let mut a = tar::Archive::new(std::fs::File::open(from).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        if skip(&name) {
            continue;
        }
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        let mut h = e.header().clone();
        b.append_data(&mut h, &name, data.as_slice()).unwrap();
    }
    for (name, data, kind, link) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        let name_field = &mut h.as_old_mut().name;
        name_field[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.finish().unwrap();
}

/// Items 24, 28, 29: links inside archives are never followed. An
/// oci-archive with `evil -> <victim dir>` then `evil/pwned` writes nothing
/// into the victim (skiff reads archives in place; skopeo 1.9.3 extracts
/// them and is reported below); a blob or a config that is a hard or
/// symbolic link to `/etc/passwd` is a member that is not there.
#[test]
fn links_inside_archives_are_never_followed() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    let oci = tmp.path().join("oci.tar");
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        &format!("oci:{}:v1", w.single.display()),
        &format!("oci-archive:{}:v1", oci.display()),
    ])
    .ok();
    let through = tmp.path().join("through.tar");
    let target = victim.to_str().unwrap().to_owned();
    with_entries(
        &oci,
        &through,
        &[
            ("evil", b"", tar::EntryType::Symlink, Some(&target)),
            ("evil/pwned", b"written through a link", tar::EntryType::Regular, None),
            ("chain", b"", tar::EntryType::Symlink, Some("evil")),
            ("chain/pwned2", b"written through two links", tar::EntryType::Regular, None),
        ],
        &|_| false,
    );
    let out = tmp.path().join("out");
    skiff(&["inspect", &format!("oci-archive:{}:v1", through.display())]).ok();
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        &format!("oci-archive:{}:v1", through.display()),
        &format!("dir:{}", out.display()),
    ])
    .ok();
    assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0, "nothing written through the links");
    let theirs = skopeo(&["inspect", &format!("oci-archive:{}:v1", through.display())]);
    eprintln!(
        "skopeo 1.9.3 on the same archive: exit {}, victim now holds {:?}",
        theirs.code,
        std::fs::read_dir(&victim).unwrap().map(|e| e.unwrap().file_name()).collect::<Vec<_>>()
    );
    // A layer blob replaced by a hard link, then by a symlink, to /etc/passwd.
    let manifest: serde_json::Value =
        skiff(&["inspect", "--raw", &format!("oci-archive:{}:v1", oci.display())]).ok().json();
    let layer = format!("blobs/sha256/{}", &manifest["layers"][0]["digest"].as_str().unwrap()[7..]);
    for kind in [tar::EntryType::Link, tar::EntryType::Symlink] {
        let linked = tmp.path().join(format!("linked-{kind:?}.tar"));
        with_entries(&oci, &linked, &[(layer.as_str(), b"", kind, Some("../../../../etc/passwd"))], &|n| n == layer);
        let dest = tmp.path().join(format!("out-{kind:?}"));
        let r = skiff(&[
            INSECURE,
            "copy",
            &format!("oci-archive:{}:v1", linked.display()),
            &format!("dir:{}", dest.display()),
        ]);
        assert_ne!(r.code, 0, "{kind:?}");
        assert!(r.stderr.contains("not found"), "{kind:?}: {}", r.stderr);
        assert!(!dest.join("manifest.json").exists());
    }
    // A docker-archive whose config is a symlink to /etc/passwd.
    let docker = tmp.path().join("docker.tar");
    docker_archive(&docker);
    let listing: serde_json::Value = serde_json::from_slice(&member(&docker, "manifest.json")).unwrap();
    let config = listing[0]["Config"].as_str().unwrap().to_owned();
    let linked = tmp.path().join("docker-linked.tar");
    with_entries(&docker, &linked, &[(config.as_str(), b"", tar::EntryType::Symlink, Some("/etc/passwd"))], &|n| {
        n == config
    });
    let r = skiff(&["inspect", &format!("docker-archive:{}", linked.display())]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("not found"), "{}", r.stderr);
}

#[test]
fn lying_or_truncating_registry_commits_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for (mode, needle) in [(Mode::CorruptBlobs, "digest mismatch"), (Mode::TruncateBlobs, "blob")] {
        let proxy = Proxy::start(world().plain.port, mode);
        let dest = tmp.path().join(format!("{mode:?}"));
        let r = skiff(&[
            INSECURE,
            "copy",
            "--src-tls-verify=false",
            &format!("docker://127.0.0.1:{}/test/oci:v1", proxy.port),
            &format!("dir:{}", dest.display()),
        ]);
        assert_eq!(r.code, 1, "{mode:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{mode:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
        assert!(!dest.join("manifest.json").exists(), "{mode:?}: nothing looks complete");
        let blobs: Vec<_> = std::fs::read_dir(&dest)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        assert!(blobs.iter().all(|n| n == "version" || n.ends_with(".skiff-tmp") || n.len() == 64), "{blobs:?}");
        // No blob whose bytes are wrong was committed under its digest.
        for n in blobs.iter().filter(|n| n.len() == 64) {
            let bytes = std::fs::read(dest.join(n)).unwrap();
            assert_eq!(skiff_tests::harness::images::sha256(&bytes), format!("sha256:{n}"));
        }
    }
}

#[test]
fn blob_transfers_are_retried_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let flaky = Proxy::start(world().plain.port, Mode::FlakyBlobs(2));
    let src = format!("docker://127.0.0.1:{}/test/oci:v1", flaky.port);
    let r =
        skiff(&[INSECURE, "copy", "--src-tls-verify=false", &src, &format!("dir:{}", tmp.path().join("a").display())]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("503"), "{}", r.stderr);
    let flaky = Proxy::start(world().plain.port, Mode::FlakyBlobs(2));
    let src = format!("docker://127.0.0.1:{}/test/oci:v1", flaky.port);
    let out = tmp.path().join("b");
    let args = ["--retry-times", "3", "--retry-delay", "50ms", "--src-tls-verify=false"];
    let mut all = vec![INSECURE, "copy", "-q"];
    all.extend(args);
    let dest = format!("dir:{}", out.display());
    all.extend([src.as_str(), dest.as_str()]);
    skiff(&all).ok();
    let direct = tmp.path().join("direct");
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--src-tls-verify=false",
        &plain("test/oci:v1"),
        &format!("dir:{}", direct.display()),
    ])
    .ok();
    assert_eq!(tree(&out), tree(&direct));
}

/// A registry that drops each kept-alive connection as it is reused: every
/// request after the first on a connection meets a closed socket. Go sends
/// such GETs again on a new connection without `--retry-times`, so skopeo
/// copies; skiff must too (this failed behind tinyproxy in CI).
#[test]
fn connections_closed_as_they_are_reused_are_not_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(world().plain.port, Mode::CloseKeptAlive);
    let src = format!("docker://127.0.0.1:{}/test/oci:v1", proxy.port);
    let [ours, theirs] = ["skiff", "skopeo"].map(|who| tmp.path().join(who));
    let copy = |dest: &Path| {
        [INSECURE, "copy", "-q", "--src-tls-verify=false", &src, &format!("dir:{}", dest.display())].map(str::to_owned)
    };
    let args = copy(&ours);
    skiff(&args.iter().map(String::as_str).collect::<Vec<_>>()).ok();
    let args = copy(&theirs);
    skopeo(&args.iter().map(String::as_str).collect::<Vec<_>>()).ok();
    assert_eq!(tree(&ours), tree(&theirs));
}

/// An image with a 6 MiB incompressible layer pushed as `kill/NAME:v1`,
/// and its reference through a proxy serving blobs at about 3 MiB/s.
fn slow_image(tmp: &Path, name: &str, seed: u64) -> (Proxy, String) {
    let w = world();
    let layout = tmp.join(format!("layout-{name}"));
    noisy_layout(&layout, name, 6 << 20, seed);
    skiff_tests::harness::fixtures::push(&layout, "v1", &format!("docker://{}/kill/{name}:v1", w.plain.host()), &[]);
    let slow = Proxy::start(w.plain.port, Mode::SlowBlobs);
    let src = format!("docker://127.0.0.1:{}/kill/{name}:v1", slow.port);
    (slow, src)
}

/// Runs skiff with `args` and kills it (SIGKILL) 0.8 s in, while it copies.
fn killed_midway(args: &[&str]) {
    let mut child = skiff_tests::harness::tools::skiff_cmd().args(args).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert!(child.try_wait().unwrap().is_none(), "{args:?}: the copy was still running when killed");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn killed_copy_leaves_nothing_that_looks_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let (_slow, src) = slow_image(tmp.path(), "big", 0x2545_f491_4f6c_dd1d);
    for dest in
        [format!("dir:{}", tmp.path().join("dir").display()), format!("oci:{}:v1", tmp.path().join("oci").display())]
    {
        let scratch = tmp.path().join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        let tmpdir = scratch.to_str().unwrap();
        killed_midway(&["--tmpdir", tmpdir, INSECURE, "copy", "-q", "--src-tls-verify=false", &src, &dest]);
        let path = Path::new(dest.split_once(':').unwrap().1.trim_end_matches(":v1"));
        assert!(!path.join("manifest.json").exists(), "{dest}: no manifest after a kill");
        assert!(!path.join("index.json").exists(), "{dest}: no index after a kill");
        let left = || std::fs::read_dir(&scratch).unwrap().count();
        assert_eq!(left(), 1, "the killed run's scratch directory is still there");
        // A re-run completes (removing the dead run's scratch space), and the result is what skopeo makes.
        skiff(&["--tmpdir", tmpdir, INSECURE, "copy", "-q", "--src-tls-verify=false", &plain("kill/big:v1"), &dest])
            .ok();
        assert_eq!(left(), 0, "scratch space of the dead run and of the re-run removed");
        let theirs = tmp.path().join(format!("theirs-{}", path.file_name().unwrap().to_string_lossy()));
        let theirs_dest = dest.replace(path.to_str().unwrap(), theirs.to_str().unwrap());
        skopeo(&[INSECURE, "copy", "-q", "--src-tls-verify=false", &plain("kill/big:v1"), &theirs_dest]).ok();
        // The dead run's partial files are gone too (issue 15).
        assert_eq!(tree(path), tree(&theirs), "{dest}");
    }
}

/// `kill -9` in the middle of a copy into each archive transport and into
/// a registry (issue 15, items 37-38): an archive that was there keeps its
/// old bytes, none appears where there was none, the registry has no tag;
/// a re-run completes and its result reads back with the source's digest.
#[test]
fn killed_copies_into_archives_and_a_registry_leave_the_old_state() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let (_slow, src) = slow_image(tmp.path(), "archive", 0x9e37_79b9_7f4a_7c15);
    let digest = skopeo(&["inspect", "--tls-verify=false", "--format", "{{.Digest}}", &plain("kill/archive:v1")])
        .ok()
        .stdout_str();
    // An oci-archive already holding another image: after the kill it is unchanged.
    let old = tmp.path().join("old.tar");
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        &format!("oci:{}:v1", w.single.display()),
        &format!("oci-archive:{}:v1", old.display()),
    ])
    .ok();
    let mut old_bytes = std::fs::read(&old).unwrap();
    let registry_dest = format!("docker://{}/kill/pushed:v1", w.plain.host());
    // An OCI layout already holding v0: its index.json is kept byte for byte.
    let layout_dest = tmp.path().join("layout-with-v0");
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        &format!("oci:{}:v1", w.single.display()),
        &format!("oci:{}:v0", layout_dest.display()),
    ])
    .ok();
    let mut old_index = std::fs::read(layout_dest.join("index.json")).unwrap();
    for dest in [
        format!("oci:{}:v1", layout_dest.display()),
        format!("oci-archive:{}:v1", old.display()),
        format!("docker-archive:{}:kill/archive:v1", tmp.path().join("new.tar").display()),
        registry_dest.clone(),
    ] {
        killed_midway(&[INSECURE, "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", &src, &dest]);
        assert!(std::fs::read(&old).unwrap() == old_bytes, "{dest}: the old archive is untouched");
        assert!(
            std::fs::read(layout_dest.join("index.json")).unwrap() == old_index,
            "{dest}: the layout's index is untouched"
        );
        assert!(!tmp.path().join("new.tar").exists(), "{dest}: no docker-archive after a kill");
        let tagged = skopeo(&["inspect", "--raw", "--tls-verify=false", &registry_dest]);
        assert_ne!(tagged.code, 0, "{dest}: no tag in the registry after a kill");
        // What a run killed while writing the archive leaves beside it (a
        // pid above Linux's limit: no process has it) is removed by the re-run.
        let archive = dest.split(':').nth(1).filter(|_| dest.contains("-archive:")).map(Path::new);
        let dead = archive
            .map(|a| a.with_file_name(format!("{}.4194305-0.skiff-tmp", a.file_name().unwrap().to_string_lossy())));
        if let Some(dead) = &dead {
            std::fs::write(dead, b"a partial archive").unwrap();
        }
        // A re-run completes; skopeo reads back the source's image.
        skiff(&[
            INSECURE,
            "copy",
            "-q",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &plain("kill/archive:v1"),
            &dest,
        ])
        .ok();
        assert!(dead.is_none_or(|d| !d.exists()), "{dest}: the dead run's partial archive is removed");
        if dest.starts_with("docker-archive:") {
            // A docker-archive holds the layers uncompressed: the config (its diff IDs) is the source's.
            let ours = skopeo(&["inspect", "--config", "--raw", &dest]).ok();
            let theirs =
                skopeo(&["inspect", "--config", "--raw", "--tls-verify=false", &plain("kill/archive:v1")]).ok();
            assert_eq!(ours.json(), theirs.json(), "{dest}");
        } else {
            let ours = skopeo(&["inspect", "--tls-verify=false", "--format", "{{.Digest}}", &dest]).ok();
            assert_eq!(ours.stdout_str(), digest, "{dest}");
        }
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("skiff-tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{dest}: {leftovers:?}");
        let in_layout: Vec<_> =
            tree(&layout_dest).into_iter().map(|(p, _)| p).filter(|p| p.contains("skiff-tmp")).collect();
        assert!(in_layout.is_empty(), "{dest}: the killed run's partial blobs are swept: {in_layout:?}");
        if dest.starts_with("docker-archive:") {
            std::fs::remove_file(tmp.path().join("new.tar")).unwrap();
        }
        // The re-run replaced the oci-archive and added v1 to the layout:
        // that is the old state from now on.
        old_bytes = std::fs::read(&old).unwrap();
        old_index = std::fs::read(layout_dest.join("index.json")).unwrap();
        if dest.starts_with("oci:") {
            skopeo(&["inspect", "--raw", &format!("oci:{}:v0", layout_dest.display())]).ok();
        }
    }
}

#[test]
fn layer_compression_changes() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let dir = |n: &str| format!("dir:{}", tmp.path().join(n).display());
    // --dest-decompress: the same bytes as skopeo (the tar inside is unchanged).
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--dest-decompress",
        "--src-tls-verify=false",
        &plain("test/oci:v1"),
        &dir("de-ours"),
    ])
    .ok();
    skopeo(&[
        INSECURE,
        "copy",
        "-q",
        "--dest-decompress",
        "--src-tls-verify=false",
        &plain("test/oci:v1"),
        &dir("de-theirs"),
    ])
    .ok();
    assert_eq!(tree(&tmp.path().join("de-ours")), tree(&tmp.path().join("de-theirs")));

    // zstd into a layout and into a registry: skopeo reads both, and
    // decompressing gives back the original layers.
    let zoci = format!("oci:{}:v1", tmp.path().join("zstd-layout").display());
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--dest-compress-format",
        "zstd",
        "--src-tls-verify=false",
        &plain("test/oci:v1"),
        &zoci,
    ])
    .ok();
    let zreg = format!("docker://{}/zstd/app:v1", w.plain.host());
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--dest-compress-format",
        "zstd",
        "--dest-compress-level",
        "19",
        "--dest-tls-verify=false",
        &zoci,
        &zreg,
    ])
    .ok();
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &zreg]).ok().stdout_str();
    assert!(raw.contains("application/vnd.oci.image.layer.v1.tar+zstd"), "{raw}");
    for (i, src) in [zoci.as_str(), zreg.as_str()].iter().enumerate() {
        let back = format!("back{i}");
        skopeo(&[INSECURE, "copy", "-q", "--dest-decompress", "--src-tls-verify=false", src, &dir(&back)]).ok();
        let layers = |n: &str| -> Vec<(String, Vec<u8>)> {
            tree(&tmp.path().join(n)).into_iter().filter(|(name, _)| name.len() == 64).collect()
        };
        assert_eq!(layers(&back), layers("de-theirs"), "{src} decompresses to the original layers and config");
    }

    // dir: keeps layers as they come unless --dest-compress asks (skopeo's rule):
    // --dest-compress-format alone changes nothing there.
    for (n, tool) in [("fmt-ours", skiff as fn(&[&str]) -> _), ("fmt-theirs", skopeo)] {
        let d = dir(n);
        let a = [INSECURE, "copy", "-q", "--dest-compress-format", "zstd", "--src-tls-verify=false"];
        tool(&[&a[..], &[&plain("test/docker:v1"), &d]].concat()).ok();
    }
    assert_eq!(tree(&tmp.path().join("fmt-ours")), tree(&tmp.path().join("fmt-theirs")));

    // A Docker schema 2 image cannot carry zstd: OCI is written instead, unless v2s2 is demanded.
    let r = skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--dest-compress",
        "--dest-compress-format",
        "zstd",
        "--src-tls-verify=false",
        &plain("test/docker:v1"),
        &dir("docker-zstd"),
    ])
    .ok();
    assert!(r.stderr.is_empty());
    let m = std::fs::read_to_string(tmp.path().join("docker-zstd/manifest.json")).unwrap();
    assert!(m.contains("application/vnd.oci.image.manifest.v1+json") && m.contains("tar+zstd"), "{m}");
    let r = skiff(&[
        INSECURE,
        "copy",
        "--format",
        "v2s2",
        "--dest-compress",
        "--dest-compress-format",
        "zstd",
        "--src-tls-verify=false",
        &plain("test/docker:v1"),
        &dir("v2s2-zstd"),
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("zstd"), "{}", r.stderr);
    let r = skiff(&[
        INSECURE,
        "copy",
        "--dest-compress",
        &format!("oci:{}:v1", w.single.display()),
        &format!("oci:{}:v1", tmp.path().join("x").display()),
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("dir: destinations only"), "{}", r.stderr);
    let r = skiff(&[
        INSECURE,
        "copy",
        "--preserve-digests",
        "--dest-compress",
        "--dest-compress-format",
        "zstd",
        "--src-tls-verify=false",
        &plain("test/oci:v1"),
        &dir("keep"),
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--preserve-digests"), "{}", r.stderr);
    let r = skiff(&[INSECURE, "copy", "--dest-force-compress-format", &zoci, &dir("force")]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--dest-compress-format"), "{}", r.stderr);
}

/// Plain-tar layers (a `--dest-decompress` dir:) pushed to a registry or an
/// OCI layout are gzip-compressed as skopeo does; the layout keeps them with
/// `--dest-oci-accept-uncompressed-layers`. Every re-encoded layer is checked
/// against the config's diff IDs, so a layer whose content contradicts its
/// config is refused.
#[test]
fn uncompressed_layers_are_compressed_where_the_destination_wants() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let plain_dir = tmp.path().join("plain");
    let src = format!("dir:{}", plain_dir.display());
    skopeo(&[INSECURE, "copy", "-q", "--dest-decompress", "--src-tls-verify=false", &plain("test/oci:v1"), &src]).ok();
    let manifest_of = |layout: &Path| -> serde_json::Value {
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
        let d = index["manifests"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_owned();
        serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(d)).unwrap()).unwrap()
    };
    let media_types = |m: &serde_json::Value| -> Vec<String> {
        m["layers"].as_array().unwrap().iter().map(|l| l["mediaType"].as_str().unwrap().to_owned()).collect()
    };
    for (name, extra, want) in [
        ("compressed", None, "application/vnd.oci.image.layer.v1.tar+gzip"),
        ("kept", Some("--dest-oci-accept-uncompressed-layers"), "application/vnd.oci.image.layer.v1.tar"),
    ] {
        let (ours, theirs) = (tmp.path().join(format!("{name}-ours")), tmp.path().join(format!("{name}-theirs")));
        for (tool, out) in [(skiff as fn(&[&str]) -> _, &ours), (skopeo, &theirs)] {
            let d = format!("oci:{}:v1", out.display());
            let mut a = vec![INSECURE, "copy", "-q"];
            a.extend(extra);
            tool(&[&a[..], &[src.as_str(), d.as_str()]].concat()).ok();
        }
        let (m_ours, m_theirs) = (manifest_of(&ours), manifest_of(&theirs));
        assert_eq!(media_types(&m_ours), media_types(&m_theirs), "{name}");
        assert!(media_types(&m_ours).iter().all(|t| t == want), "{name}: {m_ours}");
        assert_eq!(m_ours["config"], m_theirs["config"], "{name}: the config is unchanged");
    }
    // To a registry: compressed, and skopeo reads back the original layers.
    let reg = format!("docker://{}/plain/pushed:v1", w.plain.host());
    let r = skiff(&[INSECURE, "copy", "--dest-precompute-digests", "--dest-tls-verify=false", &src, &reg]).ok();
    assert!(r.stderr.contains("Copying blob"), "{}", r.stderr);
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &reg]).ok().stdout_str();
    assert!(raw.contains("tar+gzip") && !raw.contains("v1.tar\""), "{raw}");
    let back = tmp.path().join("back");
    skopeo(&[
        INSECURE,
        "copy",
        "-q",
        "--dest-decompress",
        "--src-tls-verify=false",
        &reg,
        &format!("dir:{}", back.display()),
    ])
    .ok();
    let layers = |d: &Path| -> Vec<(String, Vec<u8>)> { tree(d).into_iter().filter(|(n, _)| n.len() == 64).collect() };
    assert_eq!(layers(&back), layers(&plain_dir));
    // The same push again: the re-encoded layer's digest is known before any upload, so it is skipped.
    let r = skiff(&[INSECURE, "copy", "--dest-precompute-digests", "--dest-tls-verify=false", &src, &reg]).ok();
    assert!(r.stderr.contains("skipped: already exists"), "{}", r.stderr);
    // --dest-force-compress-format: the layers end in zstd although gzip ones are already there.
    let r = skiff(&[
        INSECURE,
        "copy",
        "--dest-compress-format",
        "zstd",
        "--dest-force-compress-format",
        "--dest-tls-verify=false",
        &src,
        &reg,
    ])
    .ok();
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &reg]).ok().stdout_str();
    assert!(raw.contains("tar+zstd") && !raw.contains("tar+gzip"), "{raw}\n{}", r.stderr);

    // A layer whose bytes contradict the config's diff ID: refused, nothing written.
    let liar = tmp.path().join("liar");
    std::fs::create_dir(&liar).unwrap();
    for (name, bytes) in tree(&plain_dir) {
        std::fs::write(liar.join(name), bytes).unwrap();
    }
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(liar.join("manifest.json")).unwrap()).unwrap();
    let config_hex = m["config"]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_owned();
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(liar.join(&config_hex)).unwrap()).unwrap();
    config["rootfs"]["diff_ids"][0] = serde_json::json!(format!("sha256:{}", "0".repeat(64)));
    let new_config = serde_json::to_vec(&config).unwrap();
    let new_hex = sha256(&new_config).trim_start_matches("sha256:").to_owned();
    std::fs::remove_file(liar.join(&config_hex)).unwrap();
    std::fs::write(liar.join(&new_hex), &new_config).unwrap();
    let mut m = m;
    m["config"]["digest"] = serde_json::json!(format!("sha256:{new_hex}"));
    m["config"]["size"] = serde_json::json!(new_config.len());
    std::fs::write(liar.join("manifest.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    let out = tmp.path().join("liar-out");
    let r = skiff(&[INSECURE, "copy", &format!("dir:{}", liar.display()), &format!("oci:{}:v1", out.display())]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("image config says"), "{}", r.stderr);
    assert!(!out.join("index.json").exists());
}

/// `docker-archive:` output is byte for byte skopeo's (legacy layer
/// directories, `repositories`, fixed tar metadata), and skopeo reads it back.
#[test]
fn docker_archive_as_docker_save_writes_it() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    for (i, src) in [format!("oci:{}:v1", w.single.display()), plain("test/docker:v1")].iter().enumerate() {
        let ours = tmp.path().join(format!("ours{i}.tar"));
        let theirs = tmp.path().join(format!("theirs{i}.tar"));
        let extra = ["--additional-tag", "other/x:2", "--src-tls-verify=false"];
        let mut a = vec![INSECURE, "copy", "-q"];
        a.extend(extra);
        let ours_ref = format!("docker-archive:{}:myapp:1", ours.display());
        a.extend([src.as_str(), ours_ref.as_str()]);
        skiff(&a).ok();
        let mut b = vec![INSECURE, "copy", "-q"];
        b.extend(extra);
        let theirs_ref = format!("docker-archive:{}:myapp:1", theirs.display());
        b.extend([src.as_str(), theirs_ref.as_str()]);
        skopeo(&b).ok();
        // Entry for entry, header for header: the same bytes as skopeo's archive.
        let (mine, reference) = (std::fs::read(&ours).unwrap(), std::fs::read(&theirs).unwrap());
        assert!(mine == reference, "{src}: archives differ ({} vs {} bytes)", mine.len(), reference.len());
        // skopeo reads ours exactly as it reads its own.
        let (d1, d2) = (tmp.path().join(format!("d1-{i}")), tmp.path().join(format!("d2-{i}")));
        skopeo(&[
            INSECURE,
            "copy",
            "-q",
            &format!("docker-archive:{}", ours.display()),
            &format!("dir:{}", d1.display()),
        ])
        .ok();
        skopeo(&[
            INSECURE,
            "copy",
            "-q",
            &format!("docker-archive:{}", theirs.display()),
            &format!("dir:{}", d2.display()),
        ])
        .ok();
        assert_eq!(tree(&d1), tree(&d2), "{src}");
    }
    let names: Vec<_> =
        std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !n.contains("skiff-tmp")), "no staging left: {names:?}");
    let r = skiff(&[
        INSECURE,
        "copy",
        "--additional-tag",
        "x:1",
        &format!("oci:{}:v1", w.single.display()),
        &format!("dir:{}", tmp.path().join("d").display()),
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("docker-archive"), "{}", r.stderr);
}

/// Joins `docker save` archives into one multi-image archive (what `docker
/// save a b` makes): every member once, the `manifest.json` entries in order.
fn merge_archives(parts: &[&Path], out: &Path) {
    let mut entries = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    for part in parts {
        let mut a = tar::Archive::new(std::fs::File::open(part).unwrap());
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            if name == "manifest.json" {
                let v: Vec<serde_json::Value> = serde_json::from_slice(&data).unwrap();
                entries.extend(v);
            } else if e.header().entry_type().is_file() && seen.insert(name.clone()) {
                let mut h = e.header().clone();
                b.append_data(&mut h, &name, data.as_slice()).unwrap();
            }
        }
    }
    let listing = serde_json::to_vec(&entries).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(listing.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "manifest.json", listing.as_slice()).unwrap();
    b.finish().unwrap();
}

/// Reading `docker save` archives (one image or several, by name or `@index`):
/// the same trees and inspect output as skopeo; pushed to a registry, layers
/// are compressed and decompress to the archive's tars.
#[test]
fn docker_archive_is_read_as_skopeo_reads_it() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let (one, two, both) = (tmp.path().join("one.tar"), tmp.path().join("two.tar"), tmp.path().join("both.tar"));
    skopeo(&[
        INSECURE,
        "copy",
        "-q",
        &format!("oci:{}:v1", w.single.display()),
        &format!("docker-archive:{}:first/app:1", one.display()),
    ])
    .ok();
    skopeo(&[
        INSECURE,
        "copy",
        "-q",
        "--src-tls-verify=false",
        &plain("test/docker:v1"),
        &format!("docker-archive:{}:second/app:2", two.display()),
    ])
    .ok();
    merge_archives(&[&one, &two], &both);
    let archive = |sel: &str| format!("docker-archive:{}{sel}", both.display());
    for (i, sel) in [":first/app:1", ":docker.io/second/app:2", ":@0", ":@1"].iter().enumerate() {
        let (ours, theirs) = (tmp.path().join(format!("ours{i}")), tmp.path().join(format!("theirs{i}")));
        skiff(&[INSECURE, "copy", "-q", &archive(sel), &format!("dir:{}", ours.display())]).ok();
        skopeo(&[INSECURE, "copy", "-q", &archive(sel), &format!("dir:{}", theirs.display())]).ok();
        assert_eq!(tree(&ours), tree(&theirs), "{sel}");
        let raw = skiff(&["inspect", "--raw", &archive(sel)]).ok().stdout;
        assert_eq!(raw, skopeo(&["inspect", "--raw", &archive(sel)]).ok().stdout, "{sel}");
        let (mine, theirs) =
            (skiff(&["inspect", &archive(sel)]).ok().json(), skopeo(&["inspect", &archive(sel)]).ok().json());
        assert_inspect_matches(&mine, &theirs, &raw);
    }
    // Several images and no choice: refused, naming the ways to choose.
    let r = skiff(&["inspect", &archive("")]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("holds 2 images") && r.stderr.contains("@<index>"), "{}", r.stderr);
    let r = skiff(&["inspect", &archive(":@2")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = skiff(&["inspect", &archive(":third/app:3")]);
    assert_eq!(r.code, 2, "{}", r.stderr);

    // Into an OCI layout and a registry: layers gzip-compressed (as skopeo does), same config.
    let layout = tmp.path().join("layout");
    skiff(&[INSECURE, "copy", "-q", &archive(":@1"), &format!("oci:{}:v1", layout.display())]).ok();
    let reg = format!("docker://{}/from-archive/app:v1", w.plain.host());
    skiff(&[INSECURE, "copy", "-q", "--dest-tls-verify=false", &archive(":@1"), &reg]).ok();
    let theirs_reg = format!("docker://{}/from-archive/theirs:v1", w.plain.host());
    skopeo(&[INSECURE, "copy", "-q", "--dest-tls-verify=false", &archive(":@1"), &theirs_reg]).ok();
    let raw: serde_json::Value = skopeo(&["inspect", "--raw", "--tls-verify=false", &reg]).ok().json();
    let theirs_raw: serde_json::Value = skopeo(&["inspect", "--raw", "--tls-verify=false", &theirs_reg]).ok().json();
    assert_eq!(raw["config"], theirs_raw["config"]);
    assert_eq!(raw["mediaType"], theirs_raw["mediaType"]);
    let types = |m: &serde_json::Value| -> Vec<serde_json::Value> {
        m["layers"].as_array().unwrap().iter().map(|l| l["mediaType"].clone()).collect()
    };
    assert_eq!(types(&raw), types(&theirs_raw));
    // Decompressed again, each gives what skopeo's own copy gives (the archive's tars, the config).
    let theirs_layout = format!("oci:{}:v1", tmp.path().join("theirs-layout").display());
    skopeo(&[INSECURE, "copy", "-q", &archive(":@1"), &theirs_layout]).ok();
    let layers = |d: &Path| -> Vec<(String, Vec<u8>)> { tree(d).into_iter().filter(|(n, _)| n.len() == 64).collect() };
    let ours_layout = format!("oci:{}:v1", layout.display());
    for (i, (src, reference)) in [(&ours_layout, &theirs_layout), (&reg, &theirs_reg)].into_iter().enumerate() {
        let (back, want) = (tmp.path().join(format!("back{i}")), tmp.path().join(format!("want{i}")));
        for (s, d) in [(src, &back), (reference, &want)] {
            let d = format!("dir:{}", d.display());
            skopeo(&[INSECURE, "copy", "-q", "--dest-decompress", "--src-tls-verify=false", s, &d]).ok();
        }
        let (got, want) = (layers(&back), layers(&want));
        let names = |v: &[(String, Vec<u8>)]| v.iter().map(|(n, b)| (n.clone(), b.len())).collect::<Vec<_>>();
        assert!(got == want, "{src}: {:?} vs {:?}", names(&got), names(&want));
        let archived = layers(&tmp.path().join("theirs3"));
        assert!(archived.iter().filter(|(_, b)| b.len() > 1000).all(|a| got.contains(a)), "{src}: the archive's tars");
    }
}

/// Copies the regular files of tar `from` into `to`, each through `change(name, bytes)`.
fn rewrite_archive(from: &Path, to: &Path, change: &dyn Fn(&str, Vec<u8>) -> Vec<u8>) {
    let mut b = tar::Builder::new(std::fs::File::create(to).unwrap());
    let mut a = tar::Archive::new(std::fs::File::open(from).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if !e.header().entry_type().is_file() {
            continue;
        }
        let member = e.path().unwrap().display().to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        let data = change(&member, data);
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, &member, data.as_slice()).unwrap();
    }
    b.finish().unwrap();
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, data).unwrap();
    e.finish().unwrap()
}

/// Layer files compressed inside a `docker save` archive (other tools write
/// them): read decompressed, as skopeo reads them, with the same manifest;
/// one that does not decompress to its diff ID is refused.
#[test]
fn compressed_layers_in_docker_archives_are_read_like_skopeo() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let plain_archive = tmp.path().join("plain.tar");
    let src = format!("oci:{}:v1", w.single.display());
    skopeo(&[INSECURE, "copy", "-q", &src, &format!("docker-archive:{}:x/y:1", plain_archive.display())]).ok();
    let compressed = tmp.path().join("compressed.tar");
    rewrite_archive(&plain_archive, &compressed, &|member, data| match member.ends_with(".tar") {
        true => gzip(&data),
        false => data,
    });
    let archive = format!("docker-archive:{}", compressed.display());
    let raw = skiff(&["inspect", "--raw", &archive]).ok().stdout;
    assert_eq!(raw, skopeo(&["inspect", "--raw", &archive]).ok().stdout);
    assert_eq!(raw, skopeo(&["inspect", "--raw", &format!("docker-archive:{}", plain_archive.display())]).ok().stdout);
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    skiff(&[INSECURE, "copy", "-q", &archive, &format!("dir:{}", ours.display())]).ok();
    skopeo(&[INSECURE, "copy", "-q", &archive, &format!("dir:{}", theirs.display())]).ok();
    assert_eq!(tree(&ours), tree(&theirs));

    let wrong = tmp.path().join("wrong.tar");
    rewrite_archive(&plain_archive, &wrong, &|member, mut data| match member.ends_with(".tar") {
        true => {
            let n = data.len();
            data[n / 2] ^= 0xff;
            gzip(&data)
        }
        false => data,
    });
    let out = tmp.path().join("out");
    let r =
        skiff(&[INSECURE, "copy", &format!("docker-archive:{}", wrong.display()), &format!("dir:{}", out.display())]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("uncompresses to"), "{}", r.stderr);
    assert!(!out.join("manifest.json").exists());
}

/// A `docker save` listing that points outside the archive, or a layer
/// whose bytes are not its diff ID: refused, nothing written.
#[test]
fn hostile_docker_archives_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.tar");
    docker_archive(&good);
    let rewrite = |name: &str, change: &dyn Fn(&str, Vec<u8>) -> Vec<u8>| {
        let out = tmp.path().join(name);
        rewrite_archive(&good, &out, change);
        out
    };
    let escaping = rewrite("escape.tar", &|member, data| {
        if member != "manifest.json" {
            return data;
        }
        let mut v: serde_json::Value = serde_json::from_slice(&data).unwrap();
        v[0]["Layers"][0] = serde_json::json!("../../../etc/passwd");
        serde_json::to_vec(&v).unwrap()
    });
    let tampered = rewrite("tampered.tar", &|member, mut data| {
        if member.ends_with(".tar") {
            let n = data.len();
            data[n / 2] ^= 0xff;
        }
        data
    });
    // Item 23: the config's name escaping, relative and absolute.
    let config_escapes = ["../../../../etc/passwd", "/etc/passwd"].map(|name| {
        rewrite(&format!("config-{}.tar", name.len()), &|member, data| {
            if member != "manifest.json" {
                return data;
            }
            let mut v: serde_json::Value = serde_json::from_slice(&data).unwrap();
            v[0]["Config"] = serde_json::json!(name);
            serde_json::to_vec(&v).unwrap()
        })
    });
    let listing = |name: &str, change: &dyn Fn(&mut serde_json::Value)| {
        rewrite(name, &|member, data| {
            if member != "manifest.json" {
                return data;
            }
            let mut v: serde_json::Value = serde_json::from_slice(&data).unwrap();
            change(&mut v);
            serde_json::to_vec(&v).unwrap()
        })
    };
    // Item 27: a 2 MiB manifest.json (valid JSON, padded) is over containers/image's 1 MiB.
    let padded = rewrite("padded.tar", &|member, mut data| {
        if member == "manifest.json" {
            data.extend(std::iter::repeat_n(b' ', 2 << 20));
        }
        data
    });
    // Item 26: one layer fewer than the config's diff IDs; a layer file that is not there.
    let fewer = listing("fewer.tar", &|v| {
        v[0]["Layers"].as_array_mut().unwrap().pop();
    });
    let missing = listing("missing.tar", &|v| v[0]["Layers"][0] = serde_json::json!("nonesuch/layer.tar"));
    for (archive, words) in [
        (&escaping, "not a safe name"),
        (&tampered, "digest"),
        (&config_escapes[0], "not a safe name"),
        (&config_escapes[1], "not a safe name"),
        (&padded, "larger than 1048576 bytes"),
        (&fewer, "layers"),
        (&missing, "Some layer tarfiles are missing in the tarball"),
    ] {
        let out = tmp.path().join(format!("out-{}", archive.file_name().unwrap().to_string_lossy()));
        let r = skiff(&[
            INSECURE,
            "copy",
            &format!("docker-archive:{}", archive.display()),
            &format!("oci:{}:v1", out.display()),
        ]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains(words), "{}", r.stderr);
        assert!(!out.join("index.json").exists(), "{}: nothing that looks complete", archive.display());
    }
}

/// Item 25: an archive naming `manifest.json` twice, the second copy
/// pointing elsewhere: skiff reads the first, as skopeo does, so both
/// write the same image.
#[test]
fn an_archive_member_stored_twice_means_its_first_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.tar");
    docker_archive(&good);
    // A second manifest.json after the first, whose layer is a file outside the archive.
    let mut manifest: serde_json::Value = serde_json::from_slice(&member(&good, "manifest.json")).unwrap();
    manifest[0]["Layers"][0] = serde_json::json!("../../../etc/passwd");
    let second = serde_json::to_vec(&manifest).unwrap();
    let twice = tmp.path().join("twice.tar");
    with_entries(&good, &twice, &[("manifest.json", &second, tar::EntryType::Regular, None)], &|_| false);
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    let src = format!("docker-archive:{}", twice.display());
    skiff(&[INSECURE, "copy", "-q", &src, &format!("dir:{}", ours.display())]).ok();
    skopeo(&[INSECURE, "copy", "-q", &src, &format!("dir:{}", theirs.display())]).ok();
    assert_eq!(tree(&ours), tree(&theirs));
}

/// A source registry that sends blob downloads to another origin (as
/// registries send clients to a CDN): pulls and registry → registry copies
/// follow it, without credentials, and write what skopeo writes.
#[test]
fn redirected_blob_downloads_are_followed() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let moved = Proxy::start(w.plain.port, Mode::RedirectBlobs);
    let src = format!("docker://127.0.0.1:{}/test/docker:v1", moved.port);
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    skiff(&[INSECURE, "copy", "-q", "--src-tls-verify=false", &src, &format!("dir:{}", ours.display())]).ok();
    skopeo(&[INSECURE, "copy", "-q", "--src-tls-verify=false", &src, &format!("dir:{}", theirs.display())]).ok();
    assert_eq!(tree(&ours), tree(&theirs));
    let dest = plain("redirected/docker:v1");
    skiff(&[INSECURE, "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", &src, &dest]).ok();
    let back = tmp.path().join("back");
    skopeo(&[INSECURE, "copy", "-q", "--src-tls-verify=false", &dest, &format!("dir:{}", back.display())]).ok();
    assert_eq!(tree(&back), tree(&theirs));
}

/// A registry behind a proxy that refuses bodies over 1 MiB (413): skiff
/// sends a 3 MiB layer in chunks (PATCH with Content-Range, then PUT), from
/// a layout or from another registry; skopeo's single streamed PATCH is refused.
#[test]
fn uploads_fall_back_to_chunks_when_a_body_is_too_large() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    noisy_layout(&layout, "chunked", 3 << 20, 0x9e37_79b9_7f4a_7c15);
    let limited = Proxy::start(w.plain.port, Mode::BodyLimit(1 << 20));
    let src = format!("oci:{}:v1", layout.display());
    let dest = format!("docker://127.0.0.1:{}/chunked/app:v1", limited.port);
    let r = skopeo(&[INSECURE, "copy", "-q", "--dest-tls-verify=false", &src, &dest]);
    assert_ne!(r.code, 0, "skopeo's one-request upload is refused");
    skiff(&[INSECURE, "copy", "-q", "--dest-tls-verify=false", &src, &dest]).ok();
    // What the registry holds is the image, byte for byte.
    let back = tmp.path().join("back");
    skopeo(&[
        INSECURE,
        "copy",
        "-q",
        "--src-tls-verify=false",
        &plain("chunked/app:v1"),
        &format!("oci:{}:v1", back.display()),
    ])
    .ok();
    assert_eq!(tree(&back.join("blobs")), tree(&layout.join("blobs")));

    // Registry → registry: the chunks are ranged GETs of the source's blob.
    let r2r = format!("docker://127.0.0.1:{}/chunked/r2r:v1", limited.port);
    let r =
        skiff(&[INSECURE, "copy", "--src-tls-verify=false", "--dest-tls-verify=false", &plain("chunked/app:v1"), &r2r]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("skipped"), "uploaded, not found: {}", r.stderr);
    let again = tmp.path().join("again");
    let from = plain("chunked/r2r:v1");
    skopeo(&[INSECURE, "copy", "-q", "--src-tls-verify=false", &from, &format!("oci:{}:v1", again.display())]).ok();
    assert_eq!(tree(&again.join("blobs")), tree(&layout.join("blobs")));
}

/// A killed run leaves `<blob>.<pid>-<n>.skiff-tmp` files in a `dir:`
/// image (here with a pid above Linux's limit: a process that is gone).
/// Copying over that directory must succeed and leave none behind.
#[test]
fn a_killed_runs_temporary_files_are_cleared_by_the_next_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dir");
    let to = format!("dir:{}", dest.display());
    skiff(&[INSECURE, "copy", "-q", "--src-tls-verify=false", &plain("test/docker:v1"), &to]).ok();
    // Every blob of the next image, as a first temporary name of a process.
    let next = tmp.path().join("next");
    skiff(&[
        INSECURE,
        "copy",
        "-q",
        "--src-tls-verify=false",
        &plain("test/multi:v1"),
        &format!("dir:{}", next.display()),
    ])
    .ok();
    for e in std::fs::read_dir(&next).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if name.len() == 64 {
            std::fs::write(dest.join(format!("{name}.4194305-0.skiff-tmp")), b"partial").unwrap();
        }
    }
    skiff(&[INSECURE, "copy", "-q", "--src-tls-verify=false", &plain("test/multi:v1"), &to]).ok();
    let names: Vec<String> =
        std::fs::read_dir(&dest).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(names.iter().all(|n| !n.ends_with(".skiff-tmp")), "{names:?}");
    assert_eq!(tree(&dest), tree(&next));
}

/// Issue 15, item 3: a download that breaks off half way (the connection
/// closed after half the announced bytes, by a proxy in front of the real
/// registry) is carried on with `Range` on the retry `--retry-times`
/// allows; Distribution answers 206 with the exact range, and the copy
/// ends with the same files as a copy that never broke.
#[test]
fn broken_downloads_are_resumed_with_range() {
    let tmp = tempfile::tempdir().unwrap();
    let clean = tmp.path().join("clean");
    let src = format!("docker://{}/test/oci:v1", world().plain.host());
    skiff(&[INSECURE, "copy", "-q", "--src-tls-verify=false", &src, &format!("dir:{}", clean.display())]).ok();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(clean.join("manifest.json")).unwrap()).unwrap();
    let layers = manifest["layers"].as_array().unwrap();

    let proxy = Proxy::start(world().plain.port, Mode::TruncateFirstBlobs(1 + layers.len()));
    let out = tmp.path().join("resumed");
    let src = format!("docker://127.0.0.1:{}/test/oci:v1", proxy.port);
    let args = ["--retry-times", "2", "--retry-delay", "50ms", "--src-tls-verify=false"];
    let r = skiff(&[&[INSECURE, "copy", "-q"][..], &args, &[&src, &format!("dir:{}", out.display())]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let seen = proxy.requests(false);
    for l in layers {
        let digest = l["digest"].as_str().unwrap();
        let half = l["size"].as_u64().unwrap() / 2;
        let gets: Vec<&String> = seen.iter().filter(|s| s.starts_with("GET ") && s.contains(digest)).collect();
        assert_eq!(gets.len(), 2, "{digest}: {seen:#?}");
        assert!(gets[1].ends_with(&format!("(Range: bytes={half}-)")), "resumed at the break: {}", gets[1]);
    }
    for name in std::fs::read_dir(&clean).unwrap().map(|e| e.unwrap().file_name()) {
        assert_eq!(std::fs::read(clean.join(&name)).unwrap(), std::fs::read(out.join(&name)).unwrap(), "{name:?}");
    }
}

/// Issue 15, item 4: nothing hangs. A registry that accepts connections and
/// never answers, one that trickles a manifest a byte at a time (under
/// the idle bound, over the whole-answer bound), and one that stalls
/// longer than the idle bound each fail within the timeout the flags set,
/// with a sentence that says which wait ran out.
#[test]
fn silent_and_trickling_registries_time_out() {
    let image = |port: u16| format!("docker://127.0.0.1:{port}/test/oci:v1");
    let cases: [(Mode, &[&str], &str); 3] = [
        (Mode::Hang, &["--connect-timeout", "1s", "--response-timeout", "1s"], "no answer within 1s"),
        (Mode::TrickleManifests(200), &["--request-timeout", "2s"], "no complete answer within 2s"),
        (Mode::TrickleManifests(1500), &["--idle-timeout", "1s"], "the answer stalled: nothing for 1s"),
    ];
    for (mode, flags, needle) in cases {
        let proxy = Proxy::start(world().plain.port, mode);
        let started = std::time::Instant::now();
        let r = skiff(&[flags, &["inspect", "--raw", "--tls-verify=false", &image(proxy.port)][..]].concat());
        let took = started.elapsed();
        assert_eq!(r.code, 1, "{mode:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{mode:?}: {}", r.stderr);
        assert!(took < std::time::Duration::from_secs(15), "{mode:?} took {took:?}");
    }
}

/// Upstream's `--multi-arch OS/ARCH[/VARIANT],…` (skopeo#2874, 1.9.3 has
/// none): only those platforms' instances are copied; the list goes as it
/// is (a sparse index, its digest kept), or with `--strip-removed-platforms`
/// names only what was copied — which a registry that checks every
/// reference (Distribution 2.8) then accepts.
#[test]
fn multi_arch_copies_the_platforms_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let w = world();
    let src = format!("oci:{}:v1", w.multi.display());
    let index: serde_json::Value = skiff(&["inspect", "--raw", &src]).ok().json();
    let platform_of = |d: &serde_json::Value| {
        let p = &d["platform"];
        let v = p["variant"].as_str().map(|v| format!("/{v}")).unwrap_or_default();
        format!("{}/{}{v}", p["os"].as_str().unwrap(), p["architecture"].as_str().unwrap())
    };
    // `linux/arm64` names any variant of it (the list has arm64/v8).
    let wanted = ["linux/arm64/v8", "linux/arm/v7"];
    let sparse = tmp.path().join("sparse");
    let r = skiff(&[
        INSECURE,
        "copy",
        "--multi-arch",
        "linux/arm64,linux/arm/v7",
        &src,
        &format!("oci:{}:v1", sparse.display()),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("Copying 2 of 3 images in list"), "{}", r.stderr);
    let written: serde_json::Value = skiff(&["inspect", "--raw", &format!("oci:{}:v1", sparse.display())]).ok().json();
    assert_eq!(written, index, "the index as it was: sparse, same digest");
    for d in index["manifests"].as_array().unwrap() {
        let digest = d["digest"].as_str().unwrap();
        let blob = sparse.join("blobs/sha256").join(&digest[7..]);
        assert_eq!(blob.exists(), wanted.contains(&platform_of(d).as_str()), "{}", platform_of(d));
    }

    let stripped = tmp.path().join("stripped");
    let r = skiff(&[
        INSECURE,
        "copy",
        "--multi-arch",
        "linux/arm64,linux/arm/v7",
        "--strip-removed-platforms",
        &src,
        &format!("oci:{}:v1", stripped.display()),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let written: serde_json::Value =
        skiff(&["inspect", "--raw", &format!("oci:{}:v1", stripped.display())]).ok().json();
    let platforms: Vec<String> = written["manifests"].as_array().unwrap().iter().map(platform_of).collect();
    assert_eq!(platforms, wanted, "only what was copied, in the list's order");

    // Into a registry that refuses sparse lists: stripped, it is accepted,
    // and skopeo reads every instance it names.
    let dest = format!("docker://{}/test/subset:v1", w.plain.host());
    let r = skiff(&[
        INSECURE,
        "copy",
        "--dest-tls-verify=false",
        "--multi-arch",
        "linux/arm64",
        "--strip-removed-platforms",
        &src,
        &dest,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list: serde_json::Value = skopeo(&["inspect", "--raw", "--tls-verify=false", &dest]).ok().json();
    assert_eq!(list["manifests"].as_array().unwrap().len(), 1);
    skopeo(&["--override-arch", "arm64", "inspect", "--tls-verify=false", &dest]).ok();

    for (args, needle) in [
        (&["--multi-arch", "linux"][..], "unknown multi-arch option"),
        (&["--multi-arch", "linux/"][..], "is not a platform"),
        (&["--strip-removed-platforms"][..], "applies to --multi-arch with a list of platforms"),
        (&["--multi-arch", "linux/s390x"][..], "no image in the list is for the platforms listed"),
    ] {
        let out = tmp.path().join("bad");
        let r = skiff(&[&[INSECURE, "copy"][..], args, &[&src, &format!("oci:{}:v1", out.display())]].concat());
        assert_ne!(r.code, 0, "{args:?}");
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
        assert!(!out.join("index.json").exists(), "{args:?}: nothing written");
    }
}
