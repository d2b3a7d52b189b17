//! containers-certs.d(5): how to check a registry's TLS server. `*.crt`
//! files are extra CAs, `*.cert`/`*.key` pairs a client certificate, read
//! from `--cert-dir`, else from the first of `~/.config/containers/certs.d/HOST:PORT`,
//! `/etc/containers/certs.d/HOST:PORT` and `/etc/docker/certs.d/HOST:PORT`
//! that exists, as containers/image picks it.

use super::Environment;
use crate::engine::{ClientIdentity, Io, IoErrorKind, TlsConfig, join_all};
use crate::error::{Error, Result};
use crate::files::join;

fn directories(env: &Environment, cert_dir: Option<&str>, host_port: &str) -> Vec<String> {
    if let Some(d) = cert_dir {
        return vec![d.to_owned()];
    }
    let mut dirs: Vec<String> =
        env.home().map(|h| format!("{h}/.config/containers/certs.d/{host_port}")).into_iter().collect();
    dirs.push(format!("/etc/containers/certs.d/{host_port}"));
    dirs.push(format!("/etc/docker/certs.d/{host_port}"));
    dirs
}

/// The TLS settings for the registry at `host_port`.
pub async fn tls_for(
    io: &Io,
    env: &Environment,
    cert_dir: Option<&str>,
    tls_verify: Option<bool>,
    host_port: &str,
) -> Result<TlsConfig> {
    let mut tls = TlsConfig { insecure: tls_verify == Some(false), ..TlsConfig::default() };
    let dirs = directories(env, cert_dir, host_port);
    // All listed at once; the first that exists is used.
    let listings = join_all(dirs.iter().map(|d| io.list_dir(d.clone())).collect()).await;
    for (dir, listing) in dirs.into_iter().zip(listings) {
        let mut names = match listing {
            Ok(names) => names,
            Err(e) if e.kind == IoErrorKind::NotFound => continue,
            Err(e) => return Err(Error::invalid(format!("reading certificates in {dir}: {}", e.message))),
        };
        names.sort();
        let has = |name: &str| names.iter().any(|n| n == name);
        for n in &names {
            if n.ends_with(".crt") {
                tls.ca_files.push(join(&dir, n));
            } else if let Some(stem) = n.strip_suffix(".cert") {
                let key = format!("{stem}.key");
                if !has(&key) {
                    return Err(Error::invalid(format!("missing key {key} for client certificate {n} in {dir}")));
                }
                tls.client_identity = Some(ClientIdentity { certificate: join(&dir, n), key: join(&dir, &key) });
            } else if let Some(stem) = n.strip_suffix(".key")
                && !has(&format!("{stem}.cert"))
            {
                return Err(Error::invalid(format!("missing client certificate {stem}.cert for key {n} in {dir}")));
            }
        }
        // The first directory that exists is the one.
        break;
    }
    Ok(tls)
}
