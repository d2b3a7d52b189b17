//! What a failed request becomes: the distribution spec's error envelope
//! (`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"...","detail":...}]}`),
//! and the [`Error`] of the right kind for a status or a host failure.

use serde::Deserialize;

use crate::engine::{HttpResponse, IoError, IoErrorKind};
use crate::error::{Error, ErrorKind};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegistryErrors {
    #[serde(default)]
    pub errors: Vec<RegistryError>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegistryError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl RegistryErrors {
    /// Parses an error body; anything that is not the envelope yields no errors.
    pub fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    pub fn has_code(&self, code: &str) -> bool {
        self.errors.iter().any(|e| e.code == code)
    }

    /// `manifest unknown: manifest unknown`, the way docker/distribution's
    /// errcode prints (code in lower case with spaces, then the message).
    pub fn describe(&self) -> Option<String> {
        if self.errors.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .errors
            .iter()
            .map(|e| {
                let code = e.code.to_ascii_lowercase().replace('_', " ");
                match (code.is_empty(), e.message.is_empty()) {
                    (false, false) => format!("{code}: {}", sanitize(&e.message)),
                    (false, true) => code,
                    _ => sanitize(&e.message),
                }
            })
            .collect();
        Some(parts.join("; "))
    }
}

pub use crate::error::sanitize;

/// A host failure as an error: an oversized body is an integrity problem
/// (a hostile or broken registry), anything else an IO one.
pub fn io_error(e: IoError) -> Error {
    let kind = match e.kind {
        IoErrorKind::TooLarge => ErrorKind::Integrity,
        _ => ErrorKind::Io,
    };
    Error::new(kind, e.message)
}

/// Names what was too large, if that is what went wrong.
pub fn too_large(e: Error, what: &str) -> Error {
    if e.kind == ErrorKind::Integrity { e.context(format!("{what} is too large")) } else { e }
}

/// `: <the envelope's errors>`, or nothing when the body is not an envelope.
pub fn describe_body(resp: &HttpResponse) -> String {
    RegistryErrors::parse(&resp.body).describe().map(|d| format!(": {d}")).unwrap_or_default()
}

/// Turns a non-success status into an error of the right kind.
pub fn status_error(what: &str, resp: &HttpResponse) -> Error {
    let errors = RegistryErrors::parse(&resp.body);
    let detail = errors.describe().unwrap_or_else(|| match resp.status {
        401 => "authentication required".to_owned(),
        403 => "access denied".to_owned(),
        404 => "not found".to_owned(),
        s => format!("unexpected status {s}"),
    });
    let kind = match resp.status {
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Unauthorized,
        404 => ErrorKind::NotFound,
        _ if errors.has_code("DENIED") || errors.has_code("UNAUTHORIZED") => ErrorKind::Unauthorized,
        _ => ErrorKind::Other,
    };
    Error::new(kind, format!("{what}: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_envelope() {
        let e = RegistryErrors::parse(
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#,
        );
        assert!(e.has_code("MANIFEST_UNKNOWN"));
        assert_eq!(e.describe().unwrap(), "manifest unknown: manifest unknown");
        assert!(RegistryErrors::parse(b"<html>").describe().is_none());
        let hostile = RegistryErrors::parse(br#"{"errors":[{"code":"X","message":"a\u001b[31mb"}]}"#);
        assert_eq!(hostile.describe().unwrap(), "x: a [31mb");
    }
}
