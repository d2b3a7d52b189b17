//! containers-certs.d(5): `*.crt` files are extra CAs, `*.cert`/`*.key`
//! pairs are client certificates. Read from `--cert-dir`, or else from
//! `/etc/containers/certs.d/<host:port>` and `/etc/docker/certs.d/<host:port>`.

use std::path::{Path, PathBuf};

use reqwest::{Certificate, ClientBuilder, Identity};

fn default_dirs(host_port: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".config/containers/certs.d").join(host_port));
    }
    dirs.push(Path::new("/etc/containers/certs.d").join(host_port));
    dirs.push(Path::new("/etc/docker/certs.d").join(host_port));
    dirs
}

pub fn configure(mut b: ClientBuilder, cert_dir: Option<&str>, host_port: &str) -> Result<ClientBuilder, String> {
    let dirs = match cert_dir {
        Some(d) => vec![PathBuf::from(d)],
        None => default_dirs(host_port),
    };
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for path in &names {
            match path.extension().and_then(|e| e.to_str()) {
                Some("crt") => {
                    let pem = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
                    for cert in Certificate::from_pem_bundle(&pem).map_err(|e| format!("{}: {e}", path.display()))? {
                        b = b.add_root_certificate(cert);
                    }
                }
                Some("cert") => {
                    let key = path.with_extension("key");
                    if !key.exists() {
                        return Err(format!("missing key {} for client certificate {}", key.display(), path.display()));
                    }
                    let mut pem = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
                    pem.push(b'\n');
                    pem.extend(std::fs::read(&key).map_err(|e| format!("reading {}: {e}", key.display()))?);
                    b = b.identity(Identity::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?);
                }
                Some("key") if !path.with_extension("cert").exists() => {
                    return Err(format!(
                        "missing client certificate {} for key {}",
                        path.with_extension("cert").display(),
                        path.display()
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(b)
}
