//! Authentication: challenges, credentials from the auth file chain, tokens.

mod challenge;
mod credentials;
pub mod helper;
mod token;

pub use challenge::{Challenge, parse_challenges};
pub use credentials::{AuthFile, Credentials, Source, lookup, lookup_credentials};
pub use token::{MINIMUM_TOKEN_LIFETIME_S, Token, parse_token_response};
