//! Bearer token responses (docker token authentication spec).

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// The token in a token endpoint's answer (`token`, or OAuth2's `access_token`).
pub fn parse_token_response(body: &[u8]) -> Result<String> {
    let w: Wire = serde_json::from_slice(body).map_err(|e| Error::other(format!("invalid token response: {e}")))?;
    w.token
        .filter(|t| !t.is_empty())
        .or(w.access_token.filter(|t| !t.is_empty()))
        .ok_or_else(|| Error::other("token response has no token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_either_field() {
        assert_eq!(parse_token_response(br#"{"token":"a","expires_in":60}"#).unwrap(), "a");
        assert_eq!(parse_token_response(br#"{"access_token":"b"}"#).unwrap(), "b");
        assert!(parse_token_response(br#"{"token":""}"#).is_err());
        assert!(parse_token_response(b"nope").is_err());
    }
}
