//! Real parts for the integration tests: the Distribution registry (Debian's
//! `docker-registry`), Debian's `skopeo` as the reference, OCI layouts built
//! byte-for-byte deterministically, and small stand-ins where no real
//! service exists (a paginating/lying proxy, a registry that never answers).

pub mod archives;
pub mod docker;
pub mod fixtures;
pub mod images;
pub mod node;
pub mod process;
pub mod proxy;
pub mod registry;
pub mod rootfs;
pub mod token;
pub mod tools;

use std::net::TcpListener;

/// Removes what earlier test processes left under the temp dir (`<prefix><pid>`
/// whose process is gone): shared fixtures live until the process exits, so
/// Rust never runs their destructors.
pub fn sweep_stale(prefix: &str) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(prefix).and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Every file under `dir`, by relative path, with its bytes (sorted), for
/// comparing what two tools wrote.
pub fn tree(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// A free loopback port (the OS picks it; the listener is closed at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("binding a loopback port").local_addr().unwrap().port()
}
