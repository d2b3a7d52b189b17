//! `sync` against the real registries, with Debian's skopeo as the
//! reference for what lands where and for the lines on stderr; skiff's own
//! additions (incremental runs, reports, plans, shards, OCI layouts) are
//! checked through a recording proxy and the registries' contents.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;
use skiff_tests::harness::fixtures::{http, push, world};
use skiff_tests::harness::images::{ImageSpec, Layout, sha256};
use skiff_tests::harness::proxy::{Mode, Proxy};
use skiff_tests::harness::registry::{Options, PASSWORD, Registry, USER};
use skiff_tests::harness::tools::{Run, skiff, skopeo};
use skiff_tests::harness::tree;

const INSECURE: &str = "--insecure-policy";
const TAGS: [&str; 4] = ["1.0.0", "1.2.0", "2.0.0", "latest"];
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// `sync/app` with four tags (distinct images) in both suite registries.
struct Source {
    /// The digest of each tag's manifest.
    digests: Vec<(String, String)>,
}

fn source() -> &'static Source {
    static S: OnceLock<Source> = OnceLock::new();
    S.get_or_init(|| {
        let w = world();
        let dir = w.root.join("layouts/sync");
        let mut l = Layout::create(&dir);
        for tag in TAGS {
            let d = l.add_image(&ImageSpec::small("amd64", None, &format!("sync-{tag}")));
            l.tag(&d, tag);
        }
        let creds = format!("{USER}:{PASSWORD}");
        let certs = w.secure.cert_dir.clone().unwrap();
        let mut digests = Vec::new();
        for tag in TAGS {
            push(&dir, tag, &format!("docker://{}/sync/app:{tag}", w.plain.host()), &[]);
            push(
                &dir,
                tag,
                &format!("docker://{}/sync/app:{tag}", w.secure.host()),
                &["--dest-creds", &creds, "--dest-cert-dir", certs.to_str().unwrap()],
            );
            digests.push((tag.to_owned(), manifest_digest(&w.plain.host(), "sync/app", tag).unwrap()));
        }
        Source { digests }
    })
}

fn plain_app() -> String {
    source();
    format!("{}/sync/app", world().plain.host())
}

/// The digest of `repo:tag` at `host`, if it is there.
fn manifest_digest(host: &str, repo: &str, tag: &str) -> Option<String> {
    let (status, body) = http(host, "GET", &format!("/v2/{repo}/manifests/{tag}"), &[("Accept", ACCEPT)], b"");
    (status == 200).then(|| sha256(&body))
}

fn tags(host: &str, repo: &str) -> BTreeSet<String> {
    let (status, body) = http(host, "GET", &format!("/v2/{repo}/tags/list"), &[], b"");
    if status != 200 {
        return BTreeSet::new();
    }
    let v: Value = serde_json::from_slice(&body).unwrap();
    v["tags"].as_array().into_iter().flatten().map(|t| t.as_str().unwrap().to_owned()).collect()
}

fn fresh_registry(tmp: &Path, name: &str) -> Registry {
    Registry::start(&tmp.join(name), Options::default())
}

/// The logrus lines of a run without their time stamps (and without
/// skiff's summary line, which skopeo has not), with `from` put for `to`.
fn lines(stderr: &str, from: &str, to: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with("time=\""))
        .filter_map(|l| l.split_once("\" ").map(|(_, rest)| rest.replace(from, to)))
        .filter(|l| !l.starts_with("level=info msg=\"Sync summary\""))
        .collect()
}

/// `TOOL --insecure-policy sync --src S --dest D EXTRA… SRC DEST`, with
/// plain HTTP allowed on a registry side.
fn sync_with(tool: fn(&[&str]) -> Run, (s, d): (&str, &str), extra: &[&str], src: &str, dest: &str) -> Run {
    let mut a = vec![INSECURE, "sync", "--src", s, "--dest", d];
    if s == "docker" {
        a.push("--src-tls-verify=false");
    }
    if d == "docker" {
        a.push("--dest-tls-verify=false");
    }
    a.extend(extra);
    a.extend([src, dest]);
    tool(&a)
}

fn run_both(args: &[&str], ours: &Path, theirs: &Path) -> (Run, Run) {
    let with = |dest: &Path| {
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a.push(dest.display().to_string());
        a
    };
    let a = with(ours);
    let b = with(theirs);
    let r1 = skiff(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let r2 = skopeo(&b.iter().map(String::as_str).collect::<Vec<_>>());
    (r1, r2)
}

#[test]
fn registry_to_dir_trees_and_lines_as_skopeos() {
    let tmp = tempfile::tempdir().unwrap();
    let src = plain_app();
    for (i, extra) in [vec![], vec!["--scoped"]].into_iter().enumerate() {
        let (ours, theirs) = (tmp.path().join(format!("ours{i}")), tmp.path().join(format!("theirs{i}")));
        let mut args = vec![INSECURE, "sync", "--src", "docker", "--dest", "dir", "--src-tls-verify=false"];
        args.extend(&extra);
        args.push(&src);
        let (a, b) = run_both(&args, &ours, &theirs);
        assert_eq!(a.code, 0, "{extra:?}: {}", a.stderr);
        assert_eq!(b.code, 0, "{extra:?}: {}", b.stderr);
        assert!(a.stdout.is_empty(), "progress goes to stderr");
        assert_eq!(tree(&ours), tree(&theirs), "{extra:?}");
        let theirs_s = theirs.display().to_string();
        let ours_s = ours.display().to_string();
        assert_eq!(lines(&a.stderr, "", ""), lines(&b.stderr, &theirs_s, &ours_s), "{extra:?}");
        assert!(a.stderr.contains("Synced 4 images from 1 sources"), "{}", a.stderr);
        let names: BTreeSet<String> =
            std::fs::read_dir(&ours).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        let want: BTreeSet<String> = match i {
            0 => TAGS.iter().map(|t| format!("app:{t}")).collect(),
            _ => BTreeSet::from([world().plain.host()]),
        };
        assert_eq!(names, want, "{extra:?}");
    }
    // --append-suffix (skopeo 1.11; 1.9.3 has not got it): the same tree,
    // each image's name suffixed.
    let out = tmp.path().join("suffixed");
    let r = sync_with(skiff, ("docker", "dir"), &["--append-suffix", "-mirror"], &src, out.to_str().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let renamed: Vec<(String, Vec<u8>)> =
        tree(&tmp.path().join("ours0")).into_iter().map(|(p, b)| (p.replacen('/', "-mirror/", 1), b)).collect();
    assert_eq!(tree(&out), renamed);
}

#[test]
fn dir_tree_to_registry_holds_what_skopeos_sync_pushes() {
    let tmp = tempfile::tempdir().unwrap();
    let tree_dir = tmp.path().join("bundle");
    sync_with(skiff, ("docker", "dir"), &[], &plain_app(), tree_dir.to_str().unwrap()).ok();
    let (ra, rb) = (fresh_registry(tmp.path(), "a"), fresh_registry(tmp.path(), "b"));
    let dest = |r: &Registry| format!("{}/mirror", r.host());
    let a = sync_with(skiff, ("dir", "docker"), &[], tree_dir.to_str().unwrap(), &dest(&ra));
    let b = sync_with(skopeo, ("dir", "docker"), &[], tree_dir.to_str().unwrap(), &dest(&rb));
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert_eq!(lines(&a.stderr, &ra.host(), "HOST"), lines(&b.stderr, &rb.host(), "HOST"));
    let want: BTreeSet<String> = TAGS.iter().map(|t| t.to_string()).collect();
    assert_eq!(tags(&ra.host(), "mirror/app"), want);
    assert_eq!(tags(&rb.host(), "mirror/app"), want);
    for (tag, digest) in &source().digests {
        assert_eq!(manifest_digest(&ra.host(), "mirror/app", tag).as_ref(), Some(digest), "{tag}");
        assert_eq!(manifest_digest(&rb.host(), "mirror/app", tag).as_ref(), Some(digest), "{tag}");
    }
}

fn yaml_file(dir: &Path, body: &str) -> String {
    let path = dir.join(format!("sync-{}.yaml", sha256(body.as_bytes())[7..19].to_owned()));
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

fn dir_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().file_name().into_string().unwrap()).collect())
        .unwrap_or_default()
}

#[test]
fn yaml_with_tags_digests_regex_credentials_and_certs_against_the_tls_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let w = world();
    let digest_200 = &source().digests.iter().find(|(t, _)| t == "2.0.0").unwrap().1;
    let certs = w.secure.cert_dir.clone().unwrap();
    let yaml = yaml_file(
        tmp.path(),
        &format!(
            "{host}:\n  images:\n    sync/app:\n      - latest\n      - \"{digest_200}\"\n  images-by-tag-regex:\n    sync/app: ^1\\.\n  credentials:\n    username: {USER}\n    password: {PASSWORD}\n  cert-dir: {certs}\n",
            host = w.secure.host(),
            certs = certs.display()
        ),
    );
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    let (a, b) = run_both(&[INSECURE, "sync", "--src", "yaml", "--dest", "dir", &yaml], &ours, &theirs);
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert_eq!(tree(&ours), tree(&theirs));
    // skopeo 1.9.3 also says "Start filtering using the regular
    // expression"; upstream no longer does, nor does skiff.
    let mut theirs_lines = lines(&b.stderr, &theirs.display().to_string(), &ours.display().to_string());
    theirs_lines.retain(|l| !l.contains("msg=\"Start filtering"));
    assert_eq!(lines(&a.stderr, "", ""), theirs_lines);
    let want: BTreeSet<String> =
        ["app:latest".to_owned(), format!("app@{digest_200}"), "app:1.0.0".to_owned(), "app:1.2.0".to_owned()].into();
    assert_eq!(dir_names(&ours), want);
    assert!(a.stderr.contains("Synced 4 images from 2 sources"), "{}", a.stderr);

    // images-by-semver (skopeo 1.15+, not in 1.9.3); tls-verify: false in
    // the file stands in for the CA.
    let yaml = yaml_file(
        tmp.path(),
        &format!(
            "{host}:\n  images-by-semver:\n    sync/app: \">= 1.1.0\"\n  credentials:\n    username: {USER}\n    password: {PASSWORD}\n  tls-verify: false\n",
            host = w.secure.host()
        ),
    );
    let out = tmp.path().join("semver");
    let r = sync_with(skiff, ("yaml", "dir"), &[], &yaml, out.to_str().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(dir_names(&out), BTreeSet::from(["app:1.2.0".to_owned(), "app:2.0.0".to_owned()]));
    // Without the override the registry's CA is not trusted.
    let yaml = yaml_file(tmp.path(), &format!("{}:\n  images:\n    sync/app: [latest]\n", w.secure.host()));
    let r = sync_with(skiff, ("yaml", "dir"), &[], &yaml, tmp.path().join("none").to_str().unwrap());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("certificate"), "{}", r.stderr);
}

#[test]
fn bad_yaml_and_bad_command_lines_are_clean_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let yaml = yaml_file(tmp.path(), "reg.test:\n  images:\n    app: []\n  tls-verfiy: false\n");
    let r = sync_with(skiff, ("yaml", "dir"), &[], &yaml, out.to_str().unwrap());
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("tls-verfiy") && r.stderr.contains("line 4"), "{}", r.stderr);
    let yaml = yaml_file(tmp.path(), "reg.test:\n  images: [\n");
    let r = sync_with(skiff, ("yaml", "dir"), &[], &yaml, out.to_str().unwrap());
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("line"), "{}", r.stderr);
    // As skopeo words them.
    for (args, needle) in [
        (vec!["--src", "dir", "--dest", "dir", "/nonexistent", "/tmp/x"], "sync from 'dir' to 'dir' not implemented"),
        (vec!["--dest", "dir", "a", "b"], "A source transport must be specified"),
        (vec!["--src", "docker", "a", "b"], "A destination transport must be specified"),
        (vec!["--src", "tarball", "--dest", "dir", "a", "b"], "is not a valid source transport"),
    ] {
        let mut all = vec![INSECURE, "sync"];
        all.extend(&args);
        let (ours, theirs) = (skiff(&all), skopeo(&all));
        for (who, r) in [("skiff", &ours), ("skopeo", &theirs)] {
            assert_eq!(r.code, 1, "{who} {args:?}: {}", r.stderr);
            assert!(r.stderr.contains(needle), "{who} {args:?}: {}", r.stderr);
        }
    }
    for shard in ["3/3", "x", "1/0"] {
        let r = sync_with(skiff, ("docker", "dir"), &["--shard", shard], "reg.test/app", out.to_str().unwrap());
        assert_eq!(r.code, 1);
        assert!(r.stderr.contains("--shard"), "{}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
    }
    assert!(!out.exists(), "nothing written");
}

#[test]
fn dry_run_writes_and_uploads_nothing_but_checks_the_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = fresh_registry(tmp.path(), "dest");
    let front = Proxy::start(dest.port, Mode::Record);
    let to = format!("127.0.0.1:{}/mirror", front.port);
    let r = skiff(&[
        INSECURE,
        "sync",
        "--dry-run",
        "--src",
        "docker",
        "--dest",
        "docker",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &plain_app(),
        &to,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for i in 1..=4 {
        assert!(r.stderr.contains(&format!("Would have copied image ref {i}/4")), "{}", r.stderr);
    }
    assert!(r.stderr.contains("Would have synced 4 images from 1 sources"), "{}", r.stderr);
    let sent = front.requests(false);
    assert!(
        sent.iter().all(|l| !l.starts_with("PUT") && !l.starts_with("POST") && !l.starts_with("PATCH")),
        "{sent:?}"
    );
    assert!(tags(&dest.host(), "mirror/app").is_empty());
    let out = tmp.path().join("dir");
    let r = skiff(&[
        INSECURE,
        "sync",
        "--dry-run",
        "--src",
        "docker",
        "--dest",
        "dir",
        "--src-tls-verify=false",
        &plain_app(),
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!out.exists(), "a dry run creates no directory");
    // A tag the registry does not have is found out, not listed as copied.
    let yaml = yaml_file(
        tmp.path(),
        &format!("{}:\n  tls-verify: false\n  images:\n    sync/app: [latest, no-such-tag]\n", world().plain.host()),
    );
    let r = skiff(&[INSECURE, "sync", "--dry-run", "--src", "yaml", "--dest", "dir", &yaml, out.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("Would have copied image ref 1/2") && r.stderr.contains("no-such-tag"), "{}", r.stderr);
}

#[test]
fn a_second_run_with_nothing_changed_uploads_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = fresh_registry(tmp.path(), "dest");
    let front = Proxy::start(dest.port, Mode::Record);
    let to = format!("127.0.0.1:{}/mirror", front.port);
    let args =
        [INSECURE, "sync", "--src", "docker", "--dest", "docker", "--src-tls-verify=false", "--dest-tls-verify=false"];
    let run = |report: &Path| {
        let mut a = args.to_vec();
        let report = report.to_str().unwrap();
        let app = plain_app();
        a.extend(["--report", report, &app, &to]);
        let r = skiff(&a);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
        v
    };
    let first = run(&tmp.path().join("r1.json"));
    assert_eq!(first["summary"]["copied"], 4, "{first}");
    let uploads = front.requests(true);
    assert!(uploads.iter().filter(|l| l.starts_with("PUT /v2/mirror/app/manifests/")).count() == 4, "{uploads:?}");
    // The repository was new: one tag list (404) stood for every manifest and blob check.
    assert_eq!(uploads.iter().filter(|l| l.starts_with("GET /v2/mirror/app/tags/list")).count(), 1, "{uploads:?}");
    assert!(!uploads.iter().any(|l| l.starts_with("HEAD")), "{uploads:?}");
    let second = run(&tmp.path().join("r2.json"));
    assert_eq!(second["summary"]["skipped"], 4, "{second}");
    assert_eq!(second["summary"]["bytes"], 0);
    let sent = front.requests(true);
    // One tag list, then one HEAD per image (its tag is listed), nothing else.
    let listing = |l: &&String| l.starts_with("GET /v2/mirror/app/tags/list");
    assert_eq!(sent.iter().filter(listing).count(), 1, "{sent:?}");
    assert!(
        sent.iter().all(|l| l == "GET /v2/" || listing(&l) || l.starts_with("HEAD /v2/mirror/app/manifests/")),
        "{sent:?}"
    );
    assert_eq!(sent.iter().filter(|l| l.starts_with("HEAD")).count(), 4, "{sent:?}");
    for e in second["images"].as_array().unwrap() {
        assert_eq!(e["status"], "skipped");
        assert!(e["digest"].as_str().unwrap().starts_with("sha256:"));
    }
    // The same for a dir: bundle: nothing rewritten the second time.
    let out = tmp.path().join("bundle");
    let dir_args = [INSECURE, "sync", "--src", "docker", "--dest", "dir", "--src-tls-verify=false"];
    let mut a = dir_args.to_vec();
    let app = plain_app();
    a.extend([app.as_str(), out.to_str().unwrap()]);
    skiff(&a).ok();
    let before = tree(&out);
    let mtime = std::fs::metadata(out.join("app:latest/manifest.json")).unwrap().modified().unwrap();
    let r = skiff(&a).ok();
    assert!(r.stderr.contains("skipped=4"), "{}", r.stderr);
    assert_eq!(tree(&out), before);
    assert_eq!(std::fs::metadata(out.join("app:latest/manifest.json")).unwrap().modified().unwrap(), mtime);
}

/// A dir: bundle with one image broken (a layer removed).
fn broken_bundle(tmp: &Path) -> std::path::PathBuf {
    let out = tmp.join("broken");
    sync_with(skiff, ("docker", "dir"), &[], &plain_app(), out.to_str().unwrap()).ok();
    let image = out.join("app:1.2.0");
    let m: Value = serde_json::from_slice(&std::fs::read(image.join("manifest.json")).unwrap()).unwrap();
    let layer = m["layers"][0]["digest"].as_str().unwrap().strip_prefix("sha256:").unwrap().to_owned();
    std::fs::remove_file(image.join(layer)).unwrap();
    out
}

#[test]
fn keep_going_copies_the_rest_and_says_what_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = broken_bundle(tmp.path());
    let bundle = bundle.to_str().unwrap();
    let (ra, rb, rc) =
        (fresh_registry(tmp.path(), "a"), fresh_registry(tmp.path(), "b"), fresh_registry(tmp.path(), "c"));
    let base = [INSECURE, "sync", "--src", "dir", "--dest", "docker", "--dest-tls-verify=false"];
    // Without --keep-going: the first failure stops the sync.
    let mut a = base.to_vec();
    let to_c = format!("{}/m", rc.host());
    a.extend([bundle, to_c.as_str()]);
    let r = skiff(&a);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("Error copying ref \\\"dir:") || r.stderr.contains("Error copying ref \"dir:"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("app:1.2.0"), "{}", r.stderr);
    // With it: everything else is copied, the failure is reported, exit 1.
    let report = tmp.path().join("report.json");
    let (to_a, to_b) = (format!("{}/m", ra.host()), format!("{}/m", rb.host()));
    let mut a = base.to_vec();
    a.extend(["--keep-going", "--report", report.to_str().unwrap(), bundle, to_a.as_str()]);
    let ours = skiff(&a);
    let mut b = base.to_vec();
    b.extend(["--keep-going", bundle, to_b.as_str()]);
    let theirs = skopeo(&b);
    for (who, r) in [("skiff", &ours), ("skopeo", &theirs)] {
        assert_eq!(r.code, 1, "{who}: {}", r.stderr);
        assert!(
            r.stderr.contains("Sync failed due to previous reported error(s) for one or more images"),
            "{who}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("level=error msg=\"Error copying ref \\\"dir:"), "{who}: {}", r.stderr);
    }
    let want: BTreeSet<String> = ["1.0.0", "2.0.0", "latest"].map(str::to_owned).into();
    assert_eq!(tags(&ra.host(), "m/app"), want);
    assert_eq!(tags(&rb.host(), "m/app"), want);
    let v: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!((v["summary"]["copied"].as_u64(), v["summary"]["failed"].as_u64()), (Some(3), Some(1)), "{v}");
    let failed: Vec<&Value> = v["images"].as_array().unwrap().iter().filter(|e| e["status"] == "failed").collect();
    assert!(failed[0]["source"].as_str().unwrap().ends_with("app:1.2.0"), "{v}");
    assert!(!failed[0]["error"].as_str().unwrap().is_empty());
}

#[test]
fn a_registry_failing_mid_sync_is_reported_and_a_rerun_completes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let flaky = Proxy::start(world().plain.port, Mode::FlakyBlobs(2));
    source();
    let src = format!("127.0.0.1:{}/sync/app", flaky.port);
    let dest = fresh_registry(tmp.path(), "dest");
    let to = format!("{}/m", dest.host());
    let report = tmp.path().join("r.json");
    let args = [
        INSECURE,
        "sync",
        "--keep-going",
        "--src",
        "docker",
        "--dest",
        "docker",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--report",
        report.to_str().unwrap(),
        &src,
        &to,
    ];
    let first = skiff(&args);
    assert_eq!(first.code, 1, "{}", first.stderr);
    let v: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let failed = v["summary"]["failed"].as_u64().unwrap();
    assert!((1..=2).contains(&failed), "{v}");
    assert_eq!(v["summary"]["copied"].as_u64().unwrap() + failed, 4, "{v}");
    for e in v["images"].as_array().unwrap().iter().filter(|e| e["status"] == "failed") {
        assert!(e["error"].as_str().unwrap().contains("503"), "{e}");
    }
    let second = skiff(&args);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let v: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(v["summary"]["copied"].as_u64(), Some(failed), "{v}");
    assert_eq!(v["summary"]["skipped"].as_u64(), Some(4 - failed), "{v}");
    assert_eq!(tags(&dest.host(), "m/app").len(), 4);
}

#[test]
fn shards_run_at_once_cover_the_plan_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let w = world();
    let src = format!("{}/test/tags", w.plain.host());
    let dest = fresh_registry(tmp.path(), "dest");
    let front = Proxy::start(dest.port, Mode::Record);
    let to = format!("127.0.0.1:{}/mirror", front.port);
    let base =
        [INSECURE, "sync", "--src", "docker", "--dest", "docker", "--src-tls-verify=false", "--dest-tls-verify=false"];
    let plan = |extra: &[&str], file: &Path| -> Vec<(String, String)> {
        let mut a = base.to_vec();
        a.extend(extra);
        a.extend(["--plan", file.to_str().unwrap(), &src, &to]);
        skiff(&a).ok();
        let v: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        v["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["source"].as_str().unwrap().to_owned(), e["destination"].as_str().unwrap().to_owned()))
            .collect()
    };
    let full = plan(&[], &tmp.path().join("full.json"));
    assert_eq!(full.len(), skiff_tests::harness::fixtures::MANY_TAGS);
    assert!(front.requests(true).is_empty(), "a plan touches no destination");
    let shards: Vec<String> = (0..3).map(|i| format!("{i}/3")).collect();
    let mut union = Vec::new();
    for s in &shards {
        union.extend(plan(&["--shard", s], &tmp.path().join(format!("plan-{}.json", &s[..1]))));
    }
    union.sort();
    let mut sorted = full.clone();
    sorted.sort();
    assert_eq!(union, sorted, "the shards' plans are disjoint and cover the whole plan");
    // The three shards at once, as three pods of an Indexed Job would run.
    let children: Vec<_> = shards
        .iter()
        .map(|s| {
            let mut cmd = skiff_tests::harness::tools::skiff_cmd();
            // Distribution 2.8 can lose one of two uploads of a blob made at
            // once by separate processes; --retry-times copies such an image again.
            cmd.args(base).args(["-q", "--retry-times", "3", "--retry-delay", "200ms", "--shard", s, &src, &to]);
            cmd.stderr(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let puts: Vec<String> = front
        .answered(false)
        .into_iter()
        .filter(|(l, status)| l.starts_with("PUT /v2/mirror/tags/manifests/") && *status == Some(201))
        .map(|(l, _)| l)
        .collect();
    assert_eq!(puts.len(), full.len(), "each image written once");
    assert_eq!(puts.iter().collect::<BTreeSet<_>>().len(), full.len(), "no image written twice");
    assert_eq!(tags(&dest.host(), "mirror/tags").len(), full.len());
}

#[test]
fn an_oci_layout_bundle_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("bundle");
    let r = sync_with(skiff, ("docker", "oci"), &[], &plain_app(), layout.to_str().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let names: BTreeSet<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, TAGS.iter().map(|t| format!("app:{t}")).collect());
    // skopeo reads each image of the bundle.
    for t in TAGS {
        skopeo(&["inspect", "--raw", &format!("oci:{}:app:{t}", layout.display())]).ok();
    }
    let dest = fresh_registry(tmp.path(), "dest");
    let to = format!("{}/restored", dest.host());
    let r = sync_with(skiff, ("oci", "docker"), &[], layout.to_str().unwrap(), &to);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for (tag, digest) in &source().digests {
        assert_eq!(manifest_digest(&dest.host(), "restored/app", tag).as_ref(), Some(digest), "{tag}");
    }
}

/// skopeo 1.17 added `--digestfile` to sync (1.9.3 has it for copy only):
/// one `DIGEST DESTINATION` line per image copied.
#[test]
fn digestfile_lists_each_image_copied() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = fresh_registry(tmp.path(), "a");
    let file = tmp.path().join("digests.txt");
    let to = format!("{}/m", dest.host());
    let r = sync_with(skiff, ("docker", "docker"), &["--digestfile", file.to_str().unwrap()], &plain_app(), &to);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // In the order of the registry's tag list, as skopeo writes it.
    let want: BTreeSet<String> =
        source().digests.iter().map(|(tag, d)| format!("{d} docker://{}/m/app:{tag}", dest.host())).collect();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.ends_with('\n'), "{text}");
    assert_eq!(text.lines().map(str::to_owned).collect::<BTreeSet<_>>(), want);
}

#[test]
fn skip_existing_trusts_the_destinations_tags() {
    let tmp = tempfile::tempdir().unwrap();
    source();
    let src_front = Proxy::start(world().plain.port, Mode::Record);
    let dest = fresh_registry(tmp.path(), "dest");
    let dest_front = Proxy::start(dest.port, Mode::Record);
    let from = format!("127.0.0.1:{}/sync/app", src_front.port);
    let to = format!("127.0.0.1:{}/m", dest_front.port);
    let base =
        [INSECURE, "sync", "--src", "docker", "--dest", "docker", "--src-tls-verify=false", "--dest-tls-verify=false"];
    // Two tags there already; the other two are copied.
    for tag in ["1.0.0", "latest"] {
        let r = skiff(&[
            INSECURE,
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &format!("docker://{from}:{tag}"),
            &format!("docker://{to}/app:{tag}"),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    src_front.requests(true);
    dest_front.requests(true);
    let report = tmp.path().join("r.json");
    let mut a = base.to_vec();
    a.extend(["--skip-existing", "--report", report.to_str().unwrap(), &from, &to]);
    let r = skiff(&a);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!((v["summary"]["copied"].as_u64(), v["summary"]["skipped"].as_u64()), (Some(2), Some(2)), "{v}");
    let read: Vec<String> = src_front.requests(true).into_iter().filter(|l| l.contains("/manifests/")).collect();
    // Only the two missing images are read.
    assert!(read.iter().any(|l| l.ends_with("/1.2.0")) && read.iter().any(|l| l.ends_with("/2.0.0")), "{read:?}");
    assert!(read.iter().all(|l| l.ends_with("/1.2.0") || l.ends_with("/2.0.0")), "{read:?}");
    let listed = dest_front.requests(true).iter().filter(|l| l.starts_with("GET /v2/m/app/tags/list")).count();
    assert_eq!(listed, 1, "one tag list for the repository");
    assert_eq!(tags(&dest.host(), "m/app").len(), 4);
}

#[test]
fn a_terminal_gets_a_bar_for_the_sync_and_a_line_per_image_in_flight() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("tty");
    // `script` gives skiff a pseudo-terminal, as a person at a shell would.
    let command = format!(
        "{} --insecure-policy sync --src docker --dest dir --src-tls-verify=false {} {}",
        skiff_tests::harness::tools::skiff_path().display(),
        plain_app(),
        dest.display()
    );
    let log = tmp.path().join("typescript");
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &command]).arg(&log).env("HOME", skiff_tests::harness::tools::test_home());
    skiff_tests::harness::tools::run(cmd).ok();
    let screen = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    assert!(screen.contains("\u{1b}[") && screen.contains("images"), "a bar for the whole: {screen}");
    assert!(screen.contains(&format!("dir:{}/app:", dest.display())), "a line per image: {screen}");
    assert!(!screen.contains("blob sha256:"), "no bar per blob: {screen}");
    assert!(screen.contains("Synced 4 images from 1 sources"), "{screen}");
    // Quiet: nothing at all, on a terminal or not.
    let r = skiff(&[
        INSECURE,
        "sync",
        "-q",
        "--src",
        "docker",
        "--dest",
        "dir",
        "--src-tls-verify=false",
        &plain_app(),
        tmp.path().join("q").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.is_empty() && r.stdout.is_empty(), "{}", r.stderr);
}

#[test]
fn all_and_format_as_skopeo_applies_them() {
    let tmp = tempfile::tempdir().unwrap();
    let w = world();
    let multi = format!("{}/test/multi", w.plain.host());
    for (i, (extra, src)) in
        [(vec!["--all"], multi.clone()), (vec![], multi), (vec!["-f", "v2s2"], plain_app())].into_iter().enumerate()
    {
        let (ours, theirs) = (tmp.path().join(format!("ours{i}")), tmp.path().join(format!("theirs{i}")));
        let mut args = vec![INSECURE, "sync", "--src", "docker", "--dest", "dir", "--src-tls-verify=false"];
        args.extend(&extra);
        args.push(&src);
        let (a, b) = run_both(&args, &ours, &theirs);
        assert_eq!(a.code, 0, "{extra:?}: {}", a.stderr);
        assert_eq!(b.code, 0, "{extra:?}: {}", b.stderr);
        assert_eq!(tree(&ours), tree(&theirs), "{extra:?}");
    }
    // --all kept the whole list: its manifest and one per platform.
    let names = dir_names(&tmp.path().join("ours0/multi:v1"));
    assert_eq!(names.iter().filter(|n| n.ends_with(".manifest.json")).count(), 3, "{names:?}");
}
