//! Certificates for a TLS client, from the files the core named (it found
//! them in `--cert-dir` or certs.d): extra CAs and a client identity.

use reqwest::{Certificate, ClientBuilder, Identity};

use crate::runtime::wit::TlsConfig;

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("reading {path}: {e}"))
}

pub fn configure(mut b: ClientBuilder, tls: &TlsConfig) -> Result<ClientBuilder, String> {
    for path in &tls.ca_files {
        for cert in Certificate::from_pem_bundle(&read(path)?).map_err(|e| format!("{path}: {e}"))? {
            b = b.add_root_certificate(cert);
        }
    }
    if let Some(id) = &tls.client_identity {
        let mut pem = read(&id.certificate)?;
        pem.push(b'\n');
        pem.extend(read(&id.key)?);
        b = b.identity(Identity::from_pem(&pem).map_err(|e| format!("{}: {e}", id.certificate))?);
    }
    Ok(b)
}
