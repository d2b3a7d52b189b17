//! Credential helpers (docker-credential-helpers protocol) named by an auth
//! file's `credHelpers` or `credsStore`, with a helper executable of the
//! suite's that speaks the real protocol and logs what it was asked.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::registry::{PASSWORD, USER};
use skiff_tests::harness::tools::{run, skiff_cmd};

/// A directory holding `docker-credential-skifftest`, which knows the
/// secure registry's credentials and logs each request to `log`.
fn helper_dir(tmp: &Path) -> (PathBuf, PathBuf) {
    let log = tmp.join("helper.log");
    let script = format!(
        "#!/bin/sh\nread server\necho \"$1 $server\" >> {log}\nif [ \"$1\" = get ] && [ \"$server\" = \"{host}\" ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\nelse\n  echo 'credentials not found in native keychain'\n  exit 1\nfi\n",
        log = log.display(),
        host = world().secure.host()
    );
    let dir = tmp.join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("docker-credential-skifftest");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, log)
}

fn with_path(mut cmd: Command, dir: &Path) -> Command {
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    cmd.env("PATH", path);
    cmd
}

fn inspect_raw(tool: Command, dir: &Path, authfile: &Path) -> skiff_tests::harness::tools::Run {
    let mut cmd = with_path(tool, dir);
    let image = format!("docker://{}/test/oci:v1", world().secure.host());
    let certs = world().secure.cert_dir.as_ref().unwrap();
    cmd.args(["inspect", "--raw", "--authfile"]).arg(authfile).arg("--cert-dir").arg(certs).arg(&image);
    run(cmd)
}

fn skopeo_cmd() -> Command {
    let mut cmd = Command::new("skopeo");
    cmd.env("HOME", skiff_tests::harness::tools::test_home());
    cmd
}

#[test]
fn cred_helpers_are_asked_as_skopeo_asks_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, log) = helper_dir(tmp.path());
    let auth = tmp.path().join("auth.json");
    std::fs::write(&auth, format!(r#"{{"credHelpers":{{"{}":"skifftest"}}}}"#, world().secure.host())).unwrap();
    let ours = inspect_raw(skiff_cmd(), &dir, &auth).ok();
    let asked = std::fs::read_to_string(&log).unwrap();
    assert_eq!(asked, format!("get {}\n", world().secure.host()), "one get, for the registry");
    let theirs = inspect_raw(skopeo_cmd(), &dir, &auth).ok();
    assert_eq!(ours.stdout, theirs.stdout);
}

#[test]
fn a_creds_store_holds_what_auths_leaves_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = helper_dir(tmp.path());
    let auth = tmp.path().join("config.json");
    // As Docker writes it: an empty entry, the secret in the store.
    std::fs::write(&auth, format!(r#"{{"auths":{{"{}":{{}}}},"credsStore":"skifftest"}}"#, world().secure.host()))
        .unwrap();
    let r = inspect_raw(skiff_cmd(), &dir, &auth);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout_str().contains("schemaVersion"));
}

#[test]
fn a_missing_helper_or_missing_credentials_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = helper_dir(tmp.path());
    let auth = tmp.path().join("auth.json");
    std::fs::write(&auth, format!(r#"{{"credHelpers":{{"{}":"nonesuch"}}}}"#, world().secure.host())).unwrap();
    let r = inspect_raw(skiff_cmd(), &dir, &auth);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("docker-credential-nonesuch") && r.stderr.contains("not installed"), "{}", r.stderr);
    // A store without credentials for the registry: skiff goes on without
    // any (here to a port where nothing listens), the helper's "not found" is no error.
    let other = tmp.path().join("other.json");
    std::fs::write(&other, r#"{"credsStore":"skifftest"}"#).unwrap();
    let mut cmd = with_path(skiff_cmd(), &dir);
    cmd.args(["inspect", "--raw", "--authfile"]).arg(&other).arg("--cert-dir");
    cmd.arg(world().secure.cert_dir.as_ref().unwrap()).arg("docker://127.0.0.1:1/none:1");
    let r = run(cmd);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("credential helper"), "no credentials is not a helper failure: {}", r.stderr);
}

/// registries.conf's `credential-helpers` list, asked in order, as skopeo asks it.
#[test]
fn registries_conf_names_the_helpers_to_ask() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, log) = helper_dir(tmp.path());
    let conf = tmp.path().join("registries.conf");
    std::fs::write(&conf, "credential-helpers = [\"skifftest\", \"containers-auth.json\"]\n").unwrap();
    let image = format!("docker://{}/test/oci:v1", world().secure.host());
    let certs = world().secure.cert_dir.as_ref().unwrap();
    let inspect = |tool: Command| {
        let mut cmd = with_path(tool, &dir);
        cmd.arg("--registries-conf").arg(&conf).args(["inspect", "--raw", "--cert-dir"]).arg(certs).arg(&image);
        run(cmd)
    };
    let ours = inspect(skiff_cmd());
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), format!("get {}\n", world().secure.host()));
    let theirs = inspect(skopeo_cmd());
    assert_eq!(theirs.code, 0, "{}", theirs.stderr);
    assert_eq!(ours.stdout, theirs.stdout);
}
