//! Bearer token responses (docker token authentication spec), and how long
//! a token may be used.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};

/// containers/image uses a token for at least this long, and for this long
/// when the response does not say (`expires_in` missing or smaller).
pub const MINIMUM_TOKEN_LIFETIME_S: u64 = 60;

#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    issued_at: Option<String>,
}

/// A bearer token and the end of its life, on the host's clock.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub value: String,
    /// Unix milliseconds after which a new token is fetched.
    pub expires_at_ms: u64,
}

impl std::fmt::Debug for Token {
    // A token is a credential: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").field("expires_at_ms", &self.expires_at_ms).finish_non_exhaustive()
    }
}

impl Token {
    pub fn expired(&self, now_ms: u64) -> bool {
        now_ms >= self.expires_at_ms
    }
}

/// The token in a token endpoint's answer (`token`, or OAuth2's
/// `access_token`), valid from `issued_at` (else `now_ms`) for `expires_in`
/// seconds, at least a minute.
pub fn parse_token_response(body: &[u8], now_ms: u64) -> Result<Token> {
    let w: Wire = serde_json::from_slice(body).map_err(|e| Error::other(format!("invalid token response: {e}")))?;
    let value = w
        .token
        .filter(|t| !t.is_empty())
        .or(w.access_token.filter(|t| !t.is_empty()))
        .ok_or_else(|| Error::other("token response has no token"))?;
    // Registries send an integer; anything else counts as missing.
    let lifetime_s = w.expires_in.and_then(|v| v.as_u64()).unwrap_or(0).max(MINIMUM_TOKEN_LIFETIME_S);
    let issued_ms = w
        .issued_at
        .and_then(|s| OffsetDateTime::parse(&s, &Rfc3339).ok())
        .and_then(|t| u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok())
        .unwrap_or(now_ms);
    Ok(Token { value, expires_at_ms: issued_ms.saturating_add(lifetime_s.saturating_mul(1000)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_either_field() {
        assert_eq!(parse_token_response(br#"{"token":"a","expires_in":60}"#, 0).unwrap().value, "a");
        assert_eq!(parse_token_response(br#"{"access_token":"b"}"#, 0).unwrap().value, "b");
        assert!(parse_token_response(br#"{"token":""}"#, 0).is_err());
        assert!(parse_token_response(b"nope", 0).is_err());
    }

    #[test]
    fn lifetimes() {
        let at = |body: &str| parse_token_response(body.as_bytes(), 5_000).unwrap().expires_at_ms;
        assert_eq!(at(r#"{"token":"t","expires_in":300}"#), 305_000);
        assert_eq!(at(r#"{"token":"t"}"#), 65_000, "missing: a minute");
        assert_eq!(at(r#"{"token":"t","expires_in":10}"#), 65_000, "at least a minute");
        assert_eq!(at(r#"{"token":"t","expires_in":"300"}"#), 65_000, "not a number");
        assert_eq!(at(r#"{"token":"t","expires_in":-3}"#), 65_000);
        assert_eq!(
            at(r#"{"token":"t","expires_in":300,"issued_at":"2015-10-21T07:28:00.5Z"}"#),
            1_445_412_480_500 + 300_000
        );
        assert_eq!(at(r#"{"token":"t","expires_in":300,"issued_at":"yesterday"}"#), 305_000);
        assert!(parse_token_response(br#"{"token":"t"}"#, 0).unwrap().expired(60_000));
        assert!(!parse_token_response(br#"{"token":"t"}"#, 0).unwrap().expired(59_999));
    }
}
