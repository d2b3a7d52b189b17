//! A registry with a self-signed certificate, set up exactly as Docker's
//! documentation shows, trusted by copying that certificate into certs.d or
//! a `--cert-dir` (issue #10's first item). skopeo accepts it; skiff must,
//! still checking the name, and must say clearly what is wrong otherwise.

use std::sync::OnceLock;

use skiff_tests::harness::fixtures::{push, world};
use skiff_tests::harness::registry::{Options, PASSWORD, Registry, USER};
use skiff_tests::harness::tools::{skiff, skopeo, test_home};

use super::assert_inspect_matches;

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| {
        let w = world();
        let r = Registry::start(
            &w.root.join("self-signed"),
            Options { tls_and_htpasswd: true, self_signed: true, ..Options::default() },
        );
        let creds = format!("{USER}:{PASSWORD}");
        let certs = r.cert_dir.clone().unwrap();
        push(
            &w.single,
            "v1",
            &format!("docker://{}/test/app:v1", r.host()),
            &["--dest-creds", &creds, "--dest-cert-dir", certs.to_str().unwrap()],
        );
        r
    })
}

fn creds() -> String {
    format!("{USER}:{PASSWORD}")
}

#[test]
fn a_self_signed_registry_is_trusted_through_cert_dir_as_skopeo_trusts_it() {
    let r = registry();
    let image = format!("docker://{}/test/app:v1", r.host());
    let cert_dir = r.cert_dir.as_ref().unwrap().display().to_string();
    let args = ["inspect", "--creds", &creds(), "--cert-dir", &cert_dir, &image];
    let ours = skiff(&args).ok().json();
    let theirs = skopeo(&args).ok().json();
    let raw = skopeo(&["inspect", "--raw", "--creds", &creds(), "--cert-dir", &cert_dir, &image]).ok().stdout;
    assert_inspect_matches(&ours, &theirs, &raw);
    // And through the user's certs.d, found by the core from HOME.
    let certs_d = test_home().join(".config/containers/certs.d").join(r.host());
    std::fs::create_dir_all(&certs_d).unwrap();
    std::fs::copy(r.cert_dir.as_ref().unwrap().join("ca.crt"), certs_d.join("ca.crt")).unwrap();
    let found = skiff(&["inspect", "--raw", "--creds", &creds(), &image]);
    std::fs::remove_dir_all(&certs_d).unwrap();
    assert_eq!(found.code, 0, "{}", found.stderr);
    assert_eq!(found.stdout, raw);
}

#[test]
fn the_self_signed_certificate_is_still_checked_and_failures_read_as_sentences() {
    let r = registry();
    let cert_dir = r.cert_dir.as_ref().unwrap().display().to_string();
    // Its name: the certificate is for 127.0.0.1 only, not for localhost.
    let by_name = format!("docker://localhost:{}/test/app:v1", r.port);
    let e = skiff(&["inspect", "--raw", "--creds", &creds(), "--cert-dir", &cert_dir, &by_name]);
    assert_eq!(e.code, 1, "{}", e.stderr);
    assert!(e.stderr.contains("not valid for this host name"), "{}", e.stderr);
    assert_eq!(skopeo(&["inspect", "--raw", "--creds", &creds(), "--cert-dir", &cert_dir, &by_name]).code, 1);
    // Not configured at all: which registry, what is wrong, what to do; no Debug dump.
    let image = format!("docker://{}/test/app:v1", r.host());
    let e = skiff(&["inspect", "--raw", "--creds", &creds(), &image]);
    assert_eq!(e.code, 1, "{}", e.stderr);
    for part in [r.host().as_str(), "TLS handshake failed", "not trusted", "certs.d", "--cert-dir"] {
        assert!(e.stderr.contains(part), "{part:?} in {}", e.stderr);
    }
    for dump in ["Other(", "OtherError", "UnknownIssuer", "CaUsedAsEndEntity", "{ "] {
        assert!(!e.stderr.contains(dump), "{dump:?} in {}", e.stderr);
    }
    // Another registry's certificate in the directory does not vouch for this one.
    let other = world().secure.cert_dir.as_ref().unwrap().display().to_string();
    let e = skiff(&["inspect", "--raw", "--creds", &creds(), "--cert-dir", &other, &image]);
    assert_eq!(e.code, 1, "{}", e.stderr);
    assert!(e.stderr.contains("not trusted"), "{}", e.stderr);
}

/// `--tls-details` (containers-tls-details.yaml(5), upstream 1.22; 1.9.3
/// has none), with upstream's own fixtures: `minVersion: "1.3"` still
/// reaches the TLS registry (Distribution speaks 1.3) and is refused by a
/// server that speaks only TLS 1.2 (`openssl s_server -tls1_2` with the
/// registry's certificate), which without it completes the handshake; a
/// file with a mistake, or a name skiff's TLS cannot honour, is a clear
/// error before any connection.
#[test]
fn tls_details_set_the_lowest_version_and_are_read_strictly() {
    use skiff_tests::harness::fixtures::world;
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let tls13 = file("1.3.yaml", "minVersion: \"1.3\"\n");
    let anything = file("anything.yaml", "{} # No fields\n");
    let certs = w.secure.cert_dir.clone().unwrap();
    let certs = certs.to_str().unwrap();
    let image = format!("docker://{}/test/oci:v1", w.secure.host());
    let creds = format!("{}:{}", skiff_tests::harness::registry::USER, skiff_tests::harness::registry::PASSWORD);
    for details in [&tls13, &anything] {
        skiff(&["--tls-details", details, "inspect", "--raw", "--cert-dir", certs, "--creds", &creds, &image]).ok();
    }

    let dir = &w.secure.dir;
    let (mut server, port) = tls_server(&dir.join("server.crt"), &dir.join("server.key"), &["-tls1_2"]);
    let old = format!("docker://127.0.0.1:{port}/test/oci:v1");
    let refused = skiff(&["--tls-details", &tls13, "inspect", "--raw", "--cert-dir", certs, &old]);
    let plain = skiff(&["inspect", "--raw", "--cert-dir", certs, &old]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("TLS handshake failed"), "{}", refused.stderr);
    // By default TLS 1.2 is fine: the handshake completes (s_server then
    // answers every request with its status page).
    assert!(!plain.stderr.contains("TLS handshake failed"), "{}", plain.stderr);

    for (text, needle) in [
        ("minVersion: \"1.4\"\n", "unrecognized TLS minimum version \"1.4\""),
        ("minversion: \"1.3\"\n", "unknown field"),
        ("minVersion: \"1.3\"\nnamedGroups:\n  - \"X25519MLKEM768\"\n", "is not available in skiff"),
        ("cipherSuites: [TLS_NOPE]\n", "unrecognized TLS cipher suite"),
    ] {
        let bad = file("bad.yaml", text);
        let r = skiff(&["--tls-details", &bad, "inspect", "--raw", "--cert-dir", certs, &image]);
        assert_eq!(r.code, 1, "{text}");
        assert!(r.stderr.contains("parsing TLS details") && r.stderr.contains(needle), "{text}: {}", r.stderr);
    }
}

/// Item 22: a registry whose certificate has expired (issued by a CA the
/// user trusts, for the right address) is refused with a sentence saying
/// so, by skiff as by skopeo, and never retried over plain HTTP while TLS
/// verification is on.
#[test]
fn an_expired_certificate_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(d).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let certs = d.join("certs");
    std::fs::create_dir(&certs).unwrap();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "certs/ca.crt",
        "-subj",
        "/CN=skiff test CA",
        "-days",
        "3650",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(d.join("index.txt"), "").unwrap();
    std::fs::write(d.join("serial"), "1000\n").unwrap();
    std::fs::write(
        d.join("ca.cnf"),
        "[ca]\ndefault_ca = c\n[c]\ndir = .\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n[ext]\nsubjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "ca",
        "-batch",
        "-config",
        "ca.cnf",
        "-cert",
        "certs/ca.crt",
        "-keyfile",
        "ca.key",
        "-in",
        "srv.csr",
        "-out",
        "srv.crt",
        "-startdate",
        "20200101000000Z",
        "-enddate",
        "20210101000000Z",
        "-extensions",
        "ext",
        "-notext",
    ]);
    let (mut server, port) = tls_server(&d.join("srv.crt"), &d.join("srv.key"), &[]);
    let image = format!("docker://127.0.0.1:{port}/test/app:v1");
    let certs = certs.to_str().unwrap();
    let ours = skiff(&["--debug", "inspect", "--raw", "--cert-dir", certs, &image]);
    let theirs = skopeo(&["inspect", "--raw", "--cert-dir", certs, &image]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(ours.code, 1, "{}", ours.stderr);
    assert!(ours.stderr.contains("expired"), "{}", ours.stderr);
    assert!(!ours.stderr.contains(&format!("http://127.0.0.1:{port}")), "no plain-HTTP fallback: {}", ours.stderr);
    assert_eq!(theirs.code, 1, "{}", theirs.stderr);
    assert!(theirs.stderr.contains("expired"), "{}", theirs.stderr);
}

/// `openssl s_server` answering HTTPS on a free loopback port with this
/// certificate (its status page for every request), once it accepts.
fn tls_server(cert: &std::path::Path, key: &std::path::Path, extra: &[&str]) -> (std::process::Child, u16) {
    let port = skiff_tests::harness::free_port();
    let server = std::process::Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept", &port.to_string()])
        .args(extra)
        .arg("-cert")
        .arg(cert)
        .arg("-key")
        .arg(key)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    (server, port)
}
