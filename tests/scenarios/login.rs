//! `login` and `logout` against the HTTPS registry with htpasswd users,
//! cross-checked with skopeo: each reads the auth file the other wrote.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::process::Stdio;

use base64::Engine as _;
use serde_json::{Value, json};
use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::registry::{PASSWORD, USER};
use skiff_tests::harness::tools::{skiff, skiff_cmd, skopeo};

fn host() -> String {
    world().secure.host()
}

fn cert_dir() -> String {
    world().secure.cert_dir.as_ref().unwrap().display().to_string()
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn login_checks_then_stores_and_skopeo_reads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("auth.json");
    // Other entries and keys are kept as they are.
    std::fs::write(&file, r#"{"auths":{"other.example":{"auth":"eDp5"}},"credHelpers":{"gcr.io":"gcloud"}}"#).unwrap();
    let f = file.display().to_string();
    let r = skiff(&["login", "--authfile", &f, "--cert-dir", &cert_dir(), "-u", USER, "-p", PASSWORD, &host()]).ok();
    let theirs_file = tmp.path().join("skopeo.json");
    let t = theirs_file.display().to_string();
    let theirs =
        skopeo(&["login", "--authfile", &t, "--cert-dir", &cert_dir(), "-u", USER, "-p", PASSWORD, &host()]).ok();
    assert_eq!(r.stdout_str(), theirs.stdout_str(), "skopeo's words on stdout");
    let stored = read_json(&file);
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    assert_eq!(stored["auths"][host()]["auth"], json!(expected));
    assert_eq!(stored["auths"]["other.example"], json!({"auth": "eDp5"}));
    assert_eq!(stored["credHelpers"], json!({"gcr.io": "gcloud"}));
    assert_eq!(read_json(&theirs_file)["auths"][host()]["auth"], json!(expected), "the entry skopeo writes");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "owner only");
    // Each tool uses the file the other wrote.
    let image = format!("docker://{}/test/oci:v1", host());
    skopeo(&["inspect", "--raw", "--authfile", &f, "--cert-dir", &cert_dir(), &image]).ok();
    skiff(&["inspect", "--raw", "--authfile", &t, "--cert-dir", &cert_dir(), &image]).ok();
    // --get-login, then logout, as skopeo says them.
    let who = skiff(&["login", "--authfile", &f, "--get-login", &host()]).ok();
    assert_eq!(who.stdout_str().trim(), USER);
    assert_eq!(skopeo(&["login", "--authfile", &f, "--get-login", &host()]).ok().stdout_str().trim(), USER);
    let out = skiff(&["logout", "--authfile", &f, &host()]).ok();
    let theirs = skopeo(&["logout", "--authfile", &t, &host()]).ok();
    assert_eq!(out.stdout_str(), theirs.stdout_str());
    assert!(read_json(&file)["auths"].get(host()).is_none());
    assert_eq!(read_json(&file)["auths"]["other.example"], json!({"auth": "eDp5"}));
    let gone = skiff(&["login", "--authfile", &f, "--get-login", &host()]);
    assert_ne!(gone.code, 0);
    assert!(gone.stderr.contains("not logged into"), "{}", gone.stderr);
    let again = skiff(&["logout", "--authfile", &f, &host()]);
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("not logged into"), "{}", again.stderr);
    // --all empties the file's logins.
    skiff(&["logout", "--authfile", &f, "--all"]).ok();
    assert_eq!(read_json(&file)["auths"], json!({}));
}

#[test]
fn a_wrong_password_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("auth.json");
    let f = file.display().to_string();
    let r = skiff(&["login", "--authfile", &f, "--cert-dir", &cert_dir(), "-u", USER, "-p", "wrong", &host()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("invalid username/password"), "{}", r.stderr);
    assert!(!file.exists(), "nothing written");
    assert_ne!(
        skopeo(&["login", "--authfile", &f, "--cert-dir", &cert_dir(), "-u", USER, "-p", "wrong", &host()]).code,
        0
    );
}

#[test]
fn the_password_can_come_from_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("nested/dir/auth.json");
    let f = file.display().to_string();
    let mut cmd = skiff_cmd();
    cmd.args(["login", "--authfile", &f, "--cert-dir", &cert_dir(), "-u", USER, "--password-stdin", &host()]);
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Login Succeeded!\n");
    let dir_mode = std::fs::metadata(file.parent().unwrap()).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700, "a new directory for the file is the owner's only");
    // Without a terminal and without a password, a clear error and nothing asked.
    let mut cmd = skiff_cmd();
    cmd.args(["login", "--authfile", &f, "-u", USER, &host()]).stdin(Stdio::null());
    let r = cmd.output().unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("password is needed"));
}
