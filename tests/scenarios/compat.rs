//! skiff and Debian's skopeo on the same images in a real registry.

use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::tools::{skiff, skopeo};

use super::assert_inspect_matches;

fn image(repo: &str) -> String {
    format!("docker://{}/{repo}:v1", world().plain.host())
}

/// The plain registry speaks HTTP, which skopeo (and skiff) allow only with this.
const NO_TLS: &str = "--tls-verify=false";

#[test]
fn inspect_json_matches_skopeo_for_oci_docker_and_index() {
    for repo in ["test/oci", "test/docker", "test/multi"] {
        let img = image(repo);
        let ours = skiff(&["inspect", NO_TLS, &img]).ok().json();
        let theirs = skopeo(&["inspect", NO_TLS, &img]).ok().json();
        // LayersData is checked against the manifest of the instance inspected.
        let mut manifest = skopeo(&["inspect", "--raw", NO_TLS, &img]).ok().stdout;
        if repo == "test/multi" {
            let idx: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
            let amd =
                idx["manifests"].as_array().unwrap().iter().find(|m| m["platform"]["architecture"] == "amd64").unwrap();
            let instance = format!("docker://{}/{repo}@{}", world().plain.host(), amd["digest"].as_str().unwrap());
            manifest = skopeo(&["inspect", "--raw", NO_TLS, &instance]).ok().stdout;
        }
        assert_inspect_matches(&ours, &theirs, &manifest);
    }
}

#[test]
fn inspect_bytes_identical_except_layers_data() {
    let img = image("test/oci");
    let ours = skiff(&["inspect", NO_TLS, &img]).ok().stdout_str();
    let theirs = skopeo(&["inspect", NO_TLS, &img]).ok().stdout_str();
    // Cut the LayersData block out of ours; the rest must be the same text,
    // HTML escaping (\u003c) included.
    let start = ours.find("    \"LayersData\": [").unwrap();
    let end = start + ours[start..].find("\n    ],\n").unwrap() + "\n    ],\n".len();
    let without = format!("{}{}", &ours[..start], &ours[end..]);
    assert_eq!(without, theirs);
    assert!(theirs.contains("\\u003c"), "fixture should exercise Go's HTML escaping");
}

#[test]
fn raw_manifest_and_config_are_byte_identical() {
    for repo in ["test/oci", "test/docker", "test/multi"] {
        let img = image(repo);
        for flags in [vec!["--raw"], vec!["--config", "--raw"], vec!["--config"]] {
            let mut args = vec!["inspect", NO_TLS];
            args.extend(&flags);
            args.push(&img);
            let ours = skiff(&args).ok();
            let theirs = skopeo(&args).ok();
            assert_eq!(ours.stdout_str(), theirs.stdout_str(), "{repo} {flags:?}");
            assert!(!ours.stdout.is_empty());
        }
    }
}

#[test]
fn platform_overrides_choose_the_same_instance() {
    let img = image("test/multi");
    for over in [
        vec!["--override-arch", "arm64"],
        vec!["--override-arch", "arm", "--override-variant", "v7"],
        vec!["--override-arch", "amd64"],
    ] {
        let mut args = over.clone();
        args.extend(["inspect", NO_TLS, "--config", "--raw", img.as_str()]);
        let ours = skiff(&args).ok();
        let theirs = skopeo(&args).ok();
        assert_eq!(ours.stdout, theirs.stdout, "{over:?}");
        let cfg: serde_json::Value = serde_json::from_slice(&ours.stdout).unwrap();
        assert_eq!(cfg["architecture"], over[1]);
    }
    let ours = skiff(&["--override-arch", "s390x", "inspect", NO_TLS, img.as_str()]);
    assert_eq!(ours.code, 2, "{}", ours.stderr);
    assert!(ours.stderr.contains("no image found in manifest list"), "{}", ours.stderr);
}

#[test]
fn digest_names_the_index_not_the_instance() {
    let ours = skiff(&["inspect", NO_TLS, &image("test/multi")]).ok().json();
    assert_eq!(ours["Digest"], world().multi_index_digest.as_str());
}

#[test]
fn format_templates_match_skopeo() {
    let img = image("test/oci");
    for f in [
        "{{.Name}}",
        "{{.Digest}} {{.Architecture}}/{{.Os}}",
        "{{range .Layers}}{{.}}\n{{end}}",
        "{{index .Labels \"org.opencontainers.image.title\"}}",
        "{{.Labels}}",
        "{{.Env}}",
        "{{.RepoTags}}",
        "{{.Created}}",
        "{{if .Tag}}tagged{{else}}untagged{{end}}",
    ] {
        let ours = skiff(&["inspect", NO_TLS, "--format", f, &img]).ok();
        let theirs = skopeo(&["inspect", NO_TLS, "--format", f, &img]).ok();
        assert_eq!(ours.stdout_str(), theirs.stdout_str(), "format {f:?}");
    }
    // `json` and `{{json .}}` mean the default JSON output.
    for f in ["json", "{{ json . }}"] {
        let mut ours = skiff(&["inspect", NO_TLS, "--format", f, &img]).ok().json();
        ours.as_object_mut().unwrap().remove("LayersData");
        assert_eq!(ours, skopeo(&["inspect", NO_TLS, "--format", f, &img]).ok().json(), "{f}");
    }
}

#[test]
fn json_template_function_as_upstream() {
    // skopeo 1.9.3 has no `json` template function; upstream (containers/common
    // report) prints compact JSON without HTML escaping.
    let img = image("test/oci");
    let full = skiff(&["inspect", NO_TLS, &img]).ok().json();
    let labels = skiff(&["inspect", NO_TLS, "--format", "{{json .Labels}}", &img]).ok().stdout_str();
    assert_eq!(labels, "{\"com.example.html\":\"<b>&</b>\",\"org.opencontainers.image.title\":\"skiff test\"}\n");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&labels).unwrap(), full["Labels"]);
    let layers = skiff(&["inspect", NO_TLS, "--format", "{{json .LayersData}}", &img]).ok().stdout_str();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&layers).unwrap(), full["LayersData"]);
}

#[test]
fn no_tags_and_created_time() {
    let img = image("test/docker");
    let ours = skiff(&["inspect", NO_TLS, "-n", &img]).ok().json();
    let theirs = skopeo(&["inspect", NO_TLS, "-n", &img]).ok().json();
    assert_eq!(ours["RepoTags"], serde_json::json!([]));
    assert_eq!(ours["RepoTags"], theirs["RepoTags"]);
    // Go re-prints the timestamp: trailing zeros of the fraction go.
    assert_eq!(ours["Created"], "2024-03-04T05:06:07.123456789Z");
    assert_eq!(ours["Created"], theirs["Created"]);
}

#[test]
fn manifest_digest_matches_skopeo() {
    let dir = tempfile::tempdir().unwrap();
    for repo in ["test/oci", "test/docker", "test/multi"] {
        let raw = skopeo(&["inspect", "--raw", NO_TLS, &image(repo)]).ok().stdout;
        let f = dir.path().join("m.json");
        std::fs::write(&f, &raw).unwrap();
        let ours = skiff(&["manifest-digest", f.to_str().unwrap()]).ok().stdout_str();
        let theirs = skopeo(&["manifest-digest", f.to_str().unwrap()]).ok().stdout_str();
        assert_eq!(ours, theirs, "{repo}");
        assert!(ours.starts_with("sha256:") && ours.ends_with('\n'));
    }
}

#[test]
fn schema1_images_match_skopeo() {
    use skiff_tests::harness::fixtures::push;
    use skiff_tests::harness::registry::{Options, Registry};
    let w = world();
    let r = Registry::start(&w.root.join("schema1"), Options { schema1: true, ..Options::default() });
    let img = format!("docker://{}/test/s1:v1", r.host());
    push(&w.single, "v1", &img, &["--format", "v2s1"]);
    let ours = skiff(&["inspect", NO_TLS, &img]).ok().json();
    let theirs = skopeo(&["inspect", NO_TLS, &img]).ok().json();
    let raw = skiff(&["inspect", "--raw", NO_TLS, &img]).ok().stdout;
    assert!(String::from_utf8_lossy(&raw).contains("\"signatures\""), "a signed schema 1 manifest");
    super::assert_inspect_matches(&ours, &theirs, &raw);
    assert_eq!(ours["Tag"], "v1", "schema 1 carries its tag");
    assert_eq!(ours["LayersData"][0]["Size"], -1);
    // The digest is of the payload without the JWS signature, as the registry computes it.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("m.json");
    std::fs::write(&f, &raw).unwrap();
    let d = skiff(&["manifest-digest", f.to_str().unwrap()]).ok().stdout_str();
    assert_eq!(d.trim(), ours["Digest"].as_str().unwrap());
    assert_eq!(d, skopeo(&["manifest-digest", f.to_str().unwrap()]).ok().stdout_str());
    assert_ne!(d.trim(), skiff_tests::harness::images::sha256(&raw), "signature stripped before hashing");
}

#[test]
fn registry_refusing_tag_list_is_tolerated() {
    use skiff_tests::harness::proxy::{Mode, Proxy};
    let proxy = Proxy::start(world().plain.port, Mode::DenyTags);
    let img = format!("docker://127.0.0.1:{}/test/oci:v1", proxy.port);
    let ours = skiff(&["inspect", NO_TLS, &img]).ok();
    assert!(ours.stderr.contains("Registry disallows tag list retrieval; skipping"), "{}", ours.stderr);
    let json = ours.json();
    // skopeo leaves RepoTags nil after the failed listing: JSON null.
    assert_eq!(json["RepoTags"], serde_json::Value::Null);
    let direct = skiff(&["inspect", NO_TLS, &image("test/oci")]).ok().json();
    assert_eq!(json["Digest"], direct["Digest"]);
    let list = skiff(&["list-tags", NO_TLS, &format!("docker://127.0.0.1:{}/test/oci", proxy.port)]);
    assert_eq!(list.code, 1);
    assert!(list.stderr.contains("listing tags is not allowed"), "{}", list.stderr);
}

/// `inspect --manifest-digest` (upstream; 1.9.3 has no such flag): the
/// `Digest` with another algorithm, computed here independently; without
/// the flag, the config digest's algorithm (sha256), as skopeo prints it.
#[test]
fn manifest_digest_chooses_the_algorithm() {
    use sha2::Digest as _;
    for repo in ["test/oci", "test/multi"] {
        let raw = skiff(&["inspect", NO_TLS, "--raw", &image(repo)]).ok().stdout;
        let sha512 = skiff(&["inspect", NO_TLS, "--manifest-digest", "sha512", &image(repo)]).ok().json();
        assert_eq!(sha512["Digest"], format!("sha512:{:x}", sha2::Sha512::digest(&raw)), "{repo}");
        let default = skiff(&["inspect", NO_TLS, &image(repo)]).ok().json();
        assert_eq!(default["Digest"], skopeo(&["inspect", NO_TLS, &image(repo)]).ok().json()["Digest"]);
        assert_eq!(default["Digest"], format!("sha256:{:x}", sha2::Sha256::digest(&raw)));
    }
    let r = skiff(&["inspect", NO_TLS, "--manifest-digest", "md5", &image("test/oci")]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("digest algorithm \"md5\" is not available"), "{}", r.stderr);
}

/// The deprecated `layers` command: the same directory as skopeo's (its
/// name aside), for every blob and for named layers; a bad digest fails.
#[test]
fn layers_writes_what_skopeo_writes() {
    let image = format!("oci:{}:v1", world().single.display());
    let manifest: serde_json::Value = skopeo(&["inspect", "--raw", &image]).ok().json();
    let first = manifest["layers"][0]["digest"].as_str().unwrap().to_owned();
    for named in [vec![], vec![first.trim_start_matches("sha256:").to_owned()]] {
        let (ours, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut args = vec!["layers".to_owned(), image.clone()];
        args.extend(named.iter().cloned());
        let mut a = skiff_tests::harness::tools::skiff_cmd();
        a.current_dir(ours.path()).args(&args);
        let mut b = std::process::Command::new("skopeo");
        b.current_dir(theirs.path()).args(&args);
        let (ra, rb) = (skiff_tests::harness::tools::run(a).ok(), skiff_tests::harness::tools::run(b).ok());
        assert!(ra.stderr.contains("DEPRECATED") && rb.stderr.contains("DEPRECATED"));
        let only = |d: &std::path::Path| {
            let entries: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()).collect();
            assert_eq!(entries.len(), 1, "one new directory in {}", d.display());
            assert!(entries[0].file_name().unwrap().to_str().unwrap().starts_with("layers-"));
            skiff_tests::harness::tree(&entries[0])
        };
        assert_eq!(only(ours.path()), only(theirs.path()), "{named:?}");
    }
    let bad = skiff(&["layers", &image, "sha256:zz"]);
    assert_eq!(bad.code, 1);
    assert!(!bad.stderr.contains("panicked"));
}

/// Every command skopeo 1.9.3 lists, and every flag each one (and skopeo
/// itself) takes, is in skiff's help: a script's flags are never refused
/// as unknown (issue 14).
#[test]
fn help_lists_every_command_and_flag_skopeo_has() {
    let flags = |text: &str| -> std::collections::BTreeSet<String> {
        text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '=' | '[' | '|'))
            .filter(|w| w.starts_with("--") && w.len() > 2 && w.as_bytes()[2].is_ascii_lowercase())
            .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()).to_owned())
            .collect()
    };
    let theirs = skopeo(&["--help"]).ok().stdout_str();
    let commands: Vec<String> = theirs
        .lines()
        .skip_while(|l| !l.starts_with("Available Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 10, "{theirs}");
    let ours = skiff(&["--help"]).ok().stdout_str();
    for c in &commands {
        assert!(
            ours.lines().any(|l| l.split_whitespace().next() == Some(c.as_str())),
            "skiff --help lacks {c}:\n{ours}"
        );
    }
    let missing: Vec<String> = flags(&theirs).difference(&flags(&ours)).cloned().collect();
    assert!(missing.is_empty(), "global flags skiff lacks: {missing:?}");
    for c in &commands {
        let theirs = skopeo(&[c, "--help"]).ok().stdout_str();
        let ours = skiff(&[c, "--help"]).ok().stdout_str();
        let missing: Vec<String> = flags(&theirs).difference(&flags(&ours)).cloned().collect();
        assert!(missing.is_empty(), "skiff {c} lacks {missing:?}");
    }
}
