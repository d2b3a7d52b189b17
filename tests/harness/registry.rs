//! The CNCF Distribution registry (Debian package `docker-registry`), plain
//! HTTP or HTTPS with a throw-away CA and htpasswd users.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::free_port;
use super::process::Service;

pub const USER: &str = "skiffuser";
pub const PASSWORD: &str = "s3cret-pass";

pub struct Registry {
    _service: Service,
    pub port: u16,
    pub dir: PathBuf,
    /// `Some(ca.crt)` for the TLS registry.
    pub ca: Option<PathBuf>,
    /// A `--cert-dir` holding the CA, for the TLS registry.
    pub cert_dir: Option<PathBuf>,
    /// A `--cert-dir` holding the CA and a client `.cert`/`.key` pair.
    pub client_cert_dir: Option<PathBuf>,
}

#[derive(Default, Clone)]
pub struct Options {
    pub tls_and_htpasswd: bool,
    /// Serve `Access-Control-Allow-*` headers (for browser tests).
    pub cors: bool,
    /// An `auth:` block delegating to a token issuer (see `token.rs`).
    pub token_auth: Option<String>,
    /// Accept (signed) schema 1 manifests, which Distribution refuses by default.
    pub schema1: bool,
    /// With `tls_and_htpasswd`: also demand a client certificate signed by the CA.
    pub client_certs: bool,
    /// With `tls_and_htpasswd`: serve a self-signed certificate made as
    /// Docker's documentation shows (`CA:TRUE`, the trust anchor and the
    /// server's certificate at once) instead of one issued by a test CA.
    pub self_signed: bool,
}

impl Registry {
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn start(dir: &Path, opts: Options) -> Registry {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        // Top-level sections and the `http:` section are built apart, then joined.
        let mut top = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n",
            dir.join("data").display()
        );
        let mut http = format!("http:\n  addr: 127.0.0.1:{port}\n");
        let (mut ca, mut cert_dir, mut client_cert_dir) = (None, None, None);
        if opts.schema1 {
            top.push_str("compatibility:\n  schema1:\n    enabled: true\n");
        }
        if opts.tls_and_htpasswd {
            let (ca_path, dir_with_ca) = if opts.self_signed { make_self_signed(dir) } else { make_certs(dir) };
            http.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.join("server.crt").display(),
                dir.join("server.key").display()
            ));
            if opts.client_certs {
                http.push_str(&format!("    clientcas:\n      - {}\n", ca_path.display()));
                client_cert_dir = Some(make_client_certs(dir));
            }
            let htpasswd = dir.join("htpasswd");
            run("htpasswd", &["-Bbc", htpasswd.to_str().unwrap(), USER, PASSWORD]);
            top.push_str(&format!("auth:\n  htpasswd:\n    realm: skiff-test\n    path: {}\n", htpasswd.display()));
            ca = Some(ca_path);
            cert_dir = Some(dir_with_ca);
        }
        if let Some(auth) = &opts.token_auth {
            top.push_str(auth);
        }
        if opts.cors {
            http.push_str("  headers:\n    Access-Control-Allow-Origin: ['*']\n    Access-Control-Allow-Methods: ['GET', 'HEAD', 'OPTIONS']\n    Access-Control-Allow-Headers: ['Authorization', 'Accept']\n    Access-Control-Expose-Headers: ['Docker-Content-Digest', 'Link', 'WWW-Authenticate']\n");
        }
        let cfg = dir.join("config.yml");
        std::fs::write(&cfg, top + &http).unwrap();
        let service = Service::start(
            "docker-registry",
            "docker-registry",
            &["serve", cfg.to_str().unwrap()],
            &dir.join("registry.log"),
        );
        let r = Registry { _service: service, port, dir: dir.to_owned(), ca, cert_dir, client_cert_dir };
        r.wait_ready();
        r
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default();
        panic!("registry on port {} did not start:\n{log}", self.port);
    }
}

/// A CA and a server certificate for 127.0.0.1, made with openssl.
fn make_certs(dir: &Path) -> (PathBuf, PathBuf) {
    let ca_key = dir.join("ca.key");
    let ca = dir.join("ca.crt");
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=skiff test CA",
            "-keyout",
            s(&ca_key),
            "-out",
            s(&ca),
        ],
    );
    issue(
        dir,
        "/CN=127.0.0.1",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        &dir.join("server.key"),
        &dir.join("server.crt"),
    );
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(&ca, certs.join("ca.crt")).unwrap();
    (ca, certs)
}

/// The setup of Docker's "test an insecure registry" guide: `openssl req
/// -newkey rsa:4096 -nodes -keyout domain.key -x509 -days 365 -out
/// domain.crt -addext subjectAltName=IP:127.0.0.1`, served by the registry
/// and copied as `ca.crt` into a certs.d-style directory.
fn make_self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (key, cert) = (dir.join("server.key"), dir.join("server.crt"));
    run(
        "openssl",
        &[
            "req",
            "-newkey",
            "rsa:4096",
            "-nodes",
            "-keyout",
            s(&key),
            "-x509",
            "-days",
            "365",
            "-subj",
            "/CN=127.0.0.1",
            "-out",
            s(&cert),
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
    );
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(&cert, certs.join("ca.crt")).unwrap();
    (cert, certs)
}

/// A client key and certificate signed by the test CA, in a certs.d-style directory.
fn make_client_certs(dir: &Path) -> PathBuf {
    let out = dir.join("client-certs");
    std::fs::create_dir_all(&out).unwrap();
    issue(dir, "/CN=skiff client", "extendedKeyUsage=clientAuth", &out.join("client.key"), &out.join("client.cert"));
    std::fs::copy(dir.join("ca.crt"), out.join("ca.crt")).unwrap();
    out
}

/// A new key at `key` and a certificate for it at `cert`, signed by the CA in `dir`.
fn issue(dir: &Path, subject: &str, extension: &str, key: &Path, cert: &Path) {
    let csr = cert.with_extension("csr");
    let ext = cert.with_extension("ext");
    run("openssl", &["req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", s(key), "-out", s(&csr)]);
    std::fs::write(&ext, format!("{extension}\nbasicConstraints=CA:FALSE\n")).unwrap();
    let (ca, ca_key) = (dir.join("ca.crt"), dir.join("ca.key"));
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            s(&csr),
            "-CA",
            s(&ca),
            "-CAkey",
            s(&ca_key),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            s(&ext),
            "-out",
            s(cert),
        ],
    );
}

fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(out.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}
