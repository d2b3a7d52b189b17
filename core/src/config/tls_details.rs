//! containers-tls-details.yaml(5) (`--tls-details FILE`, upstream 1.22):
//! the lowest TLS version, the TLS 1.2 cipher suites and the key-exchange
//! groups every TLS connection may use. Read strictly, as containers/image
//! reads it (unknown keys are errors); names as Go's crypto/tls knows them,
//! and a name skiff's TLS library cannot honour is an error, never ignored.

use serde::Deserialize;

use crate::engine::{Io, TlsConfig};
use crate::error::{Error, Result};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TlsDetailsFile {
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    named_groups: Option<Vec<String>>,
}

/// The TLS 1.2 suites skiff's TLS (rustls with ring) has, by their IANA names.
const TLS12_SUITES: &[&str] = &[
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];
/// TLS 1.3's suites: Go accepts their names and, as TLS 1.3 suites are not
/// configurable in Go, ignores them; so does skiff.
const TLS13_SUITES: &[&str] = &["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"];
/// Names Go knows that skiff's TLS does not implement (CBC, RSA key
/// exchange, 3DES, RC4): refused rather than silently dropped.
const GO_ONLY_SUITES: &[&str] = &[
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
];
/// Groups skiff's TLS has; containers/image also knows `secp521r1` and
/// `X25519MLKEM768`, which ring's provider lacks.
const GROUPS: &[&str] = &["x25519", "secp256r1", "secp384r1"];
const GO_ONLY_GROUPS: &[&str] = &["secp521r1", "X25519MLKEM768"];

/// Applies the file at `path` to `tls`.
pub async fn apply(io: &Io, path: &str, tls: &mut TlsConfig) -> Result<()> {
    let text = io
        .read_file(path.to_owned(), 1 << 20)
        .await
        .map_err(|e| Error::invalid(format!("reading {path:?}: {}", e.message)))?;
    let text = String::from_utf8(text).map_err(|_| Error::invalid(format!("parsing {path:?}: not UTF-8")))?;
    parse(&text, tls).map_err(|e| e.context(format!("parsing TLS details {path:?}")))
}

fn parse(text: &str, tls: &mut TlsConfig) -> Result<()> {
    // An empty document is "no settings", as yaml.v3 decodes it.
    let file: TlsDetailsFile = match text.trim() {
        "" => TlsDetailsFile::default(),
        _ => yaml_serde::from_str(text).map_err(|e| Error::invalid(e.to_string()))?,
    };
    if let Some(v) = file.min_version {
        tls.min_tls13 = match v.as_str() {
            // skiff never speaks below 1.2: "at least 1.0" is met.
            "1.0" | "1.1" | "1.2" => false,
            "1.3" => true,
            other => return Err(Error::invalid(format!("unrecognized TLS minimum version {other:?}"))),
        };
    }
    if let Some(suites) = file.cipher_suites {
        let mut tls12 = Vec::new();
        for s in suites {
            if TLS12_SUITES.contains(&s.as_str()) {
                tls12.push(s);
            } else if GO_ONLY_SUITES.contains(&s.as_str()) {
                return Err(Error::unsupported(format!("TLS cipher suite {s:?} is not available in skiff")));
            } else if !TLS13_SUITES.contains(&s.as_str()) {
                return Err(Error::invalid(format!("unrecognized TLS cipher suite {s:?}")));
            }
        }
        tls.cipher_suites = Some(tls12);
    }
    if let Some(groups) = file.named_groups {
        for g in &groups {
            if GO_ONLY_GROUPS.contains(&g.as_str()) {
                return Err(Error::unsupported(format!("TLS named group {g:?} is not available in skiff")));
            }
            if !GROUPS.contains(&g.as_str()) {
                return Err(Error::invalid(format!("unrecognized TLS named group {g:?}")));
            }
        }
        tls.named_groups = Some(groups);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<TlsConfig> {
        let mut tls = TlsConfig::default();
        parse(text, &mut tls).map(|()| tls)
    }

    #[test]
    fn the_upstream_fixtures_and_mistakes() {
        let t = parsed("minVersion: \"1.3\"\n").unwrap();
        assert!(t.min_tls13 && t.cipher_suites.is_none() && t.named_groups.is_none());
        assert_eq!(parsed("{} # No fields\n").unwrap(), TlsConfig::default());
        assert_eq!(parsed("").unwrap(), TlsConfig::default());
        let t = parsed(
            "cipherSuites: [TLS_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\nnamedGroups: [x25519]",
        )
        .unwrap();
        assert_eq!(t.cipher_suites.unwrap(), ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]);
        assert_eq!(t.named_groups.unwrap(), ["x25519"]);
        let e = parsed("minVersion: \"1.3\"\nnamedGroups:\n  - \"X25519MLKEM768\"\n").unwrap_err();
        assert!(e.message.contains("\"X25519MLKEM768\" is not available"), "{e}");
        assert!(parsed("minVersion: \"1.4\"").unwrap_err().message.contains("unrecognized TLS minimum version"));
        assert!(parsed("minversion: \"1.3\"").unwrap_err().message.contains("unknown field"));
        assert!(parsed("cipherSuites: [TLS_FOO]").unwrap_err().message.contains("unrecognized TLS cipher suite"));
        assert!(parsed("cipherSuites: [TLS_RSA_WITH_AES_128_CBC_SHA]").unwrap_err().message.contains("not available"));
    }
}
