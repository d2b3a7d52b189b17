//! registries.conf (containers-registries.conf(5)): mirrors, location
//! rewriting, `insecure` and `blocked`, given to skiff and skopeo alike with
//! `--registries-conf` (skopeo 1.9.3 predates `$CONTAINERS_REGISTRIES_CONF`,
//! which upstream and skiff read too).

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::registry::{Options, Registry};
use skiff_tests::harness::tools::{Run, run, skiff_cmd, test_home};

/// A plain registry holding nothing: the primary location a mirror stands in for.
fn empty() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry::start(&world().root.join("empty-primary"), Options::default()))
}

fn skopeo_cmd() -> Command {
    let mut cmd = Command::new("skopeo");
    cmd.env("HOME", test_home());
    cmd
}

/// `inspect --raw IMAGE` with `conf` as the registries.conf.
fn inspect(mut cmd: Command, conf: &Path, image: &str) -> Run {
    cmd.arg("--registries-conf").arg(conf).args(["inspect", "--raw", image]);
    run(cmd)
}

fn write_conf(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("registries.conf");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_mirror_serves_what_the_primary_lacks() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = write_conf(
        tmp.path(),
        &format!(
            "[[registry]]\nlocation = \"{}\"\ninsecure = true\n[[registry.mirror]]\nlocation = \"{}\"\ninsecure = true\n",
            empty().host(),
            world().plain.host()
        ),
    );
    let image = format!("docker://{}/test/oci:v1", empty().host());
    let ours = inspect(skiff_cmd(), &conf, &image);
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    let theirs = inspect(skopeo_cmd(), &conf, &image);
    assert_eq!(theirs.code, 0, "{}", theirs.stderr);
    assert_eq!(ours.stdout, theirs.stdout);
    // Without the mirror, the primary has no such image.
    let none = write_conf(tmp.path(), &format!("[[registry]]\nlocation = \"{}\"\ninsecure = true\n", empty().host()));
    let missing = inspect(skiff_cmd(), &none, &image);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
}

#[test]
fn a_prefix_is_rewritten_to_its_location() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = write_conf(
        tmp.path(),
        &format!(
            "[[registry]]\nprefix = \"images.example/team\"\nlocation = \"{}/test\"\ninsecure = true\n",
            world().plain.host()
        ),
    );
    let image = "docker://images.example/team/oci:v1";
    let ours = inspect(skiff_cmd(), &conf, image);
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    let theirs = inspect(skopeo_cmd(), &conf, image);
    assert_eq!(theirs.code, 0, "{}", theirs.stderr);
    assert_eq!(ours.stdout, theirs.stdout);
    // The same file through $CONTAINERS_REGISTRIES_CONF (upstream's variable).
    let mut cmd = skiff_cmd();
    cmd.env("CONTAINERS_REGISTRIES_CONF", &conf).args(["inspect", "--raw", image]);
    assert_eq!(run(cmd).ok().stdout, ours.stdout);
}

#[test]
fn a_blocked_registry_is_refused_before_any_request() {
    let tmp = tempfile::tempdir().unwrap();
    // Nothing listens there: a request would fail otherwise, not say "blocked".
    let conf = write_conf(tmp.path(), "[[registry]]\nlocation = \"127.0.0.1:1\"\nblocked = true\n");
    let image = "docker://127.0.0.1:1/test/oci:v1";
    let ours = inspect(skiff_cmd(), &conf, image);
    assert_eq!(ours.code, 1, "{}", ours.stderr);
    assert!(ours.stderr.contains("127.0.0.1:1 is blocked in"), "{}", ours.stderr);
    let theirs = inspect(skopeo_cmd(), &conf, image);
    assert_ne!(theirs.code, 0);
    assert!(theirs.stderr.contains("blocked"), "{}", theirs.stderr);
    // A malformed file is a clear error naming it.
    let bad = write_conf(tmp.path(), "[[registry]\nlocation = \n");
    let r = inspect(skiff_cmd(), &bad, image);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("parsing") && r.stderr.contains("registries.conf"), "{}", r.stderr);
}
