//! The distribution spec's error envelope:
//! `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"...","detail":...}]}`.

use serde::Deserialize;

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

/// Keeps a registry's message printable and short: it ends up on a terminal.
pub fn sanitize(s: &str) -> String {
    let clean: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if clean.chars().count() > 512 { clean.chars().take(512).chain("…".chars()).collect() } else { clean }
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
