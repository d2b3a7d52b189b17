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
}

#[derive(Default, Clone)]
pub struct Options {
    pub tls_and_htpasswd: bool,
    /// Serve `Access-Control-Allow-*` headers (for browser tests).
    pub cors: bool,
    /// An `auth:` block delegating to a token issuer (see `token.rs`).
    pub token_auth: Option<String>,
}

impl Registry {
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn start(dir: &Path, opts: Options) -> Registry {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        );
        let (mut ca, mut cert_dir) = (None, None);
        if opts.tls_and_htpasswd {
            let (ca_path, dir_with_ca) = make_certs(dir);
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.join("server.crt").display(),
                dir.join("server.key").display()
            ));
            let htpasswd = dir.join("htpasswd");
            run("htpasswd", &["-Bbc", htpasswd.to_str().unwrap(), USER, PASSWORD]);
            config.push_str(&format!("auth:\n  htpasswd:\n    realm: skiff-test\n    path: {}\n", htpasswd.display()));
            ca = Some(ca_path);
            cert_dir = Some(dir_with_ca);
        }
        if let Some(auth) = &opts.token_auth {
            config.push_str(auth);
        }
        if opts.cors {
            config.push_str("  headers:\n    Access-Control-Allow-Origin: ['*']\n    Access-Control-Allow-Methods: ['GET', 'HEAD', 'OPTIONS']\n    Access-Control-Allow-Headers: ['Authorization', 'Accept']\n    Access-Control-Expose-Headers: ['Docker-Content-Digest', 'Link', 'WWW-Authenticate']\n");
        }
        // `headers` must sit under `http:`; keep the http block last for that reason.
        let cfg = dir.join("config.yml");
        std::fs::write(&cfg, reorder_http_last(&config)).unwrap();
        let service = Service::start(
            "docker-registry",
            "docker-registry",
            &["serve", cfg.to_str().unwrap()],
            &dir.join("registry.log"),
        );
        let r = Registry { _service: service, port, dir: dir.to_owned(), ca, cert_dir };
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

/// Moves the `http:` block (with any `tls`/`headers` lines) after `auth:`.
fn reorder_http_last(config: &str) -> String {
    let mut head = String::new();
    let mut http = String::new();
    let mut in_http = false;
    for line in config.lines() {
        if !line.starts_with(' ') {
            in_http = line.starts_with("http:");
        }
        if in_http {
            http.push_str(line);
            http.push('\n');
        } else {
            head.push_str(line);
            head.push('\n');
        }
    }
    head + &http
}

/// A CA and a server certificate for 127.0.0.1, made with openssl.
fn make_certs(dir: &Path) -> (PathBuf, PathBuf) {
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
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
            &p("ca.key"),
            "-out",
            &p("ca.crt"),
        ],
    );
    run(
        "openssl",
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &p("server.key"),
            "-out",
            &p("server.csr"),
        ],
    );
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
        .unwrap();
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &p("server.csr"),
            "-CA",
            &p("ca.crt"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &p("ext.cnf"),
            "-out",
            &p("server.crt"),
        ],
    );
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(dir.join("ca.crt"), certs.join("ca.crt")).unwrap();
    (dir.join("ca.crt"), certs)
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(out.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}
