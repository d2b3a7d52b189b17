//! The shared test world, built once per test process: a plain-HTTP
//! registry, an HTTPS registry with htpasswd users, and images pushed into
//! both with Debian's skopeo.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::images::{ImageSpec, Layout, OCI_MANIFEST};
use super::registry::{self, Options, Registry};
use super::tools::skopeo;

/// How many tags `test/tags` has (enough for several pages behind the proxy).
pub const MANY_TAGS: usize = 120;

pub struct World {
    pub root: PathBuf,
    pub plain: Registry,
    pub secure: Registry,
    /// An OCI layout holding one image, named `v1`.
    pub single: PathBuf,
    /// An OCI layout holding a three-platform index, named `v1`.
    pub multi: PathBuf,
    pub multi_index_digest: String,
}

pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(build)
}

fn build() -> World {
    super::sweep_stale("skiff-world-");
    super::sweep_stale("skiff-test-home-");
    let root = std::env::temp_dir().join(format!("skiff-world-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();

    let single = root.join("layouts/single");
    let mut l = Layout::create(&single);
    let d = l.add_image(&ImageSpec::small("amd64", None, "single"));
    l.tag(&d, "v1");

    let multi = root.join("layouts/multi");
    let mut l = Layout::create(&multi);
    let platforms = [("amd64", None), ("arm64", Some("v8")), ("arm", Some("v7"))];
    let descs = platforms.iter().map(|(a, v)| l.add_image(&ImageSpec::small(a, *v, &format!("multi-{a}")))).collect();
    let index = l.add_index(descs);
    l.tag(&index, "v1");
    let multi_index_digest = index["digest"].as_str().unwrap().to_owned();

    let plain = Registry::start(&root.join("plain"), Options::default());
    let secure = Registry::start(&root.join("secure"), Options { tls_and_htpasswd: true, ..Options::default() });

    let p = plain.host();
    push(&single, "v1", &format!("docker://{p}/test/oci:v1"), &[]);
    push(&single, "v1", &format!("docker://{p}/test/docker:v1"), &["--format", "v2s2"]);
    push(&multi, "v1", &format!("docker://{p}/test/multi:v1"), &["--all"]);
    push(&single, "v1", &format!("docker://{p}/test/tags:t000"), &[]);
    let manifest = get(&p, "/v2/test/tags/manifests/t000", OCI_MANIFEST);
    for i in 1..MANY_TAGS {
        put_manifest(&p, "test/tags", &format!("t{i:03}"), &manifest, OCI_MANIFEST);
    }
    let s = secure.host();
    let creds = format!("{}:{}", registry::USER, registry::PASSWORD);
    let certs = secure.cert_dir.clone().unwrap();
    push(
        &single,
        "v1",
        &format!("docker://{s}/test/oci:v1"),
        &["--dest-creds", &creds, "--dest-cert-dir", certs.to_str().unwrap()],
    );

    World { root, plain, secure, single, multi, multi_index_digest }
}

/// Copies `layout:name` to `dest` with skopeo.
pub fn push(layout: &Path, name: &str, dest: &str, extra: &[&str]) {
    let src = format!("oci:{}:{name}", layout.display());
    let mut args = vec!["--insecure-policy", "copy", "-q", "--dest-tls-verify=false"];
    args.extend_from_slice(extra);
    args.push(&src);
    args.push(dest);
    skopeo(&args).ok();
}

/// A bare HTTP/1.1 exchange with the plain registry (no client library needed).
pub fn http(host: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(host).unwrap();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").expect("HTTP response head");
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut body = resp[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 4 + n..];
    }
}

pub fn get(host: &str, path: &str, accept: &str) -> Vec<u8> {
    let (status, body) = http(host, "GET", path, &[("Accept", accept)], b"");
    assert_eq!(status, 200, "GET {path}: {}", String::from_utf8_lossy(&body));
    body
}

pub fn put_manifest(host: &str, repo: &str, tag: &str, bytes: &[u8], media_type: &str) {
    let (status, body) =
        http(host, "PUT", &format!("/v2/{repo}/manifests/{tag}"), &[("Content-Type", media_type)], bytes);
    assert_eq!(status, 201, "PUT manifest {repo}:{tag}: {}", String::from_utf8_lossy(&body));
}
