//! The HTTPS registry with a private CA and htpasswd users.

use base64::Engine as _;
use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::registry::{PASSWORD, USER};
use skiff_tests::harness::tools::{run, skiff, skiff_cmd, skopeo};

use super::assert_inspect_matches;

fn image() -> String {
    format!("docker://{}/test/oci:v1", world().secure.host())
}

fn cert_dir() -> String {
    world().secure.cert_dir.as_ref().unwrap().display().to_string()
}

fn creds() -> String {
    format!("{USER}:{PASSWORD}")
}

#[test]
fn creds_and_cert_dir_match_skopeo() {
    let args = ["inspect", "--creds", &creds(), "--cert-dir", &cert_dir(), &image()];
    let ours = skiff(&args).ok().json();
    let theirs = skopeo(&args).ok().json();
    let raw = skopeo(&["inspect", "--raw", "--creds", &creds(), "--cert-dir", &cert_dir(), &image()]).ok().stdout;
    assert_inspect_matches(&ours, &theirs, &raw);
    let ours_tags = skiff(&[
        "list-tags",
        "--creds",
        &creds(),
        "--cert-dir",
        &cert_dir(),
        &format!("docker://{}/test/oci", world().secure.host()),
    ])
    .ok();
    assert_eq!(ours_tags.json()["Tags"], serde_json::json!(["v1"]));
}

#[test]
fn username_password_flags() {
    let r =
        skiff(&["inspect", "--raw", "--username", USER, "--password", PASSWORD, "--cert-dir", &cert_dir(), &image()])
            .ok();
    assert!(r.stdout_str().contains("schemaVersion"));
    let half = skiff(&["inspect", "--username", USER, "--cert-dir", &cert_dir(), &image()]);
    assert_eq!(half.code, 1);
    assert!(half.stderr.contains("--username and --password"), "{}", half.stderr);
}

#[test]
fn auth_file_from_flag_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(creds());
    let file = dir.path().join("auth.json");
    std::fs::write(&file, format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, world().secure.host())).unwrap();
    let ours =
        skiff(&["inspect", "--raw", "--authfile", file.to_str().unwrap(), "--cert-dir", &cert_dir(), &image()]).ok();
    assert!(ours.stdout_str().contains("schemaVersion"));
    let mut cmd = skiff_cmd();
    cmd.env("REGISTRY_AUTH_FILE", &file).args(["inspect", "--raw", "--cert-dir", &cert_dir(), &image()]);
    assert_eq!(run(cmd).ok().stdout, ours.stdout);
    // --no-creds ignores the file, so the registry refuses us.
    let anon =
        skiff(&["inspect", "--no-creds", "--authfile", file.to_str().unwrap(), "--cert-dir", &cert_dir(), &image()]);
    assert_eq!(anon.code, 1, "{}", anon.stderr);
}

#[test]
fn wrong_or_missing_credentials_fail_cleanly() {
    for args in [vec!["inspect", "--creds", "skiffuser:wrong", "--cert-dir"], vec!["inspect", "--cert-dir"]] {
        let mut a = args.clone();
        let cd = cert_dir();
        let img = image();
        a.push(&cd);
        a.push(&img);
        let r = skiff(&a);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.to_lowercase().contains("authentication required") || r.stderr.contains("unauthorized"),
            "{}",
            r.stderr
        );
        assert!(r.stdout.is_empty());
        assert!(!r.stderr.contains("wrong"), "the password must not be echoed");
    }
}

#[test]
fn tls_is_verified_unless_disabled() {
    // The private CA is unknown without --cert-dir.
    let r = skiff(&["inspect", "--creds", &creds(), &image()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.to_lowercase().contains("certificate"), "{}", r.stderr);
    let r = skiff(&["inspect", "--raw", "--tls-verify=false", "--creds", &creds(), &image()]).ok();
    assert!(r.stdout_str().contains("schemaVersion"));
}

#[test]
fn client_certificate_pairs_from_cert_dir() {
    use skiff_tests::harness::registry::{Options, Registry};
    let w = world();
    let r = Registry::start(
        &w.root.join("mtls"),
        Options { tls_and_htpasswd: true, client_certs: true, ..Options::default() },
    );
    let certs = r.client_cert_dir.as_ref().unwrap().to_str().unwrap().to_owned();
    skiff_tests::harness::fixtures::push(
        &w.single,
        "v1",
        &format!("docker://{}/test/oci:v1", r.host()),
        &["--dest-creds", &creds(), "--dest-cert-dir", &certs],
    );
    let img = format!("docker://{}/test/oci:v1", r.host());
    let args = ["inspect", "--config", "--creds", &creds(), "--cert-dir", &certs, &img];
    assert_eq!(skiff(&args).ok().stdout, skopeo(&args).ok().stdout);
    // Only the CA, no client pair: the server refuses the handshake.
    let ca_only = r.cert_dir.as_ref().unwrap().to_str().unwrap().to_owned();
    let refused = skiff(&["inspect", "--creds", &creds(), "--cert-dir", &ca_only, &img]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stdout.is_empty());
}

/// Docker's old `~/.dockercfg` (no `auths` wrapper) is the chain's last
/// file, as in containers/image: skiff and skopeo both log in with it.
#[test]
fn the_legacy_dockercfg_is_read() {
    let home = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(creds());
    let cfg = format!(r#"{{"https://{}":{{"auth":"{auth}","email":"ci@example.com"}}}}"#, world().secure.host());
    std::fs::write(home.path().join(".dockercfg"), cfg).unwrap();
    let inspect = |program: std::process::Command| {
        let mut cmd = program;
        cmd.env("HOME", home.path()).env_remove("REGISTRY_AUTH_FILE").env_remove("XDG_RUNTIME_DIR");
        cmd.args(["inspect", "--raw", "--cert-dir", &cert_dir(), &image()]);
        run(cmd)
    };
    let ours = inspect(skiff_cmd());
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    let theirs = inspect(std::process::Command::new("skopeo"));
    assert_eq!(theirs.code, 0, "{}", theirs.stderr);
    assert_eq!(ours.stdout, theirs.stdout);
}

/// Item 34: an auth file with credentials that other users can read is
/// used, with a warning saying so; made private (0600), it is used quietly.
#[test]
fn an_auth_file_others_can_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let auth = tmp.path().join("auth.json");
    let token = base64::engine::general_purpose::STANDARD.encode(creds());
    let host = world().secure.host();
    std::fs::write(&auth, serde_json::json!({"auths": {host.clone(): {"auth": token}}}).to_string()).unwrap();
    let inspect =
        || skiff(&["inspect", "--raw", "--authfile", auth.to_str().unwrap(), "--cert-dir", &cert_dir(), &image()]).ok();
    std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = inspect();
    let warnings: Vec<&str> = open.stderr.lines().filter(|l| l.contains("other users can read it")).collect();
    assert_eq!(warnings.len(), 1, "one warning, naming the file and its mode: {}", open.stderr);
    assert!(warnings[0].contains(auth.to_str().unwrap()) && warnings[0].contains("0644"), "{}", warnings[0]);
    std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o600)).unwrap();
    let private = inspect();
    assert!(!private.stderr.contains("other users"), "{}", private.stderr);
    assert_eq!(open.stdout, private.stdout);
}
