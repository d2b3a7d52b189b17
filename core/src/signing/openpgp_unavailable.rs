//! [`openpgp`](super::openpgp) in a build without the `openpgp` feature
//! (skiff-js): the same functions, each refusing in words.

use crate::error::{Error, Result};

/// What a build without OpenPGP says when asked to read a signature.
pub(crate) fn unavailable() -> Error {
    Error::unsupported(
        "this build of skiff has no OpenPGP support (skiff-js is built without it): OpenPGP signatures cannot be read or verified here",
    )
}

/// A verified signed message (never made in this build).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub payload: Vec<u8>,
    pub primary: String,
    pub signer: String,
}

pub fn untrusted_contents(_message: &[u8]) -> Result<(Vec<u8>, String)> {
    Err(unavailable())
}

pub fn verify(_keyring: &[u8], _message: &[u8], _now_unix: u64) -> Result<Verified> {
    Err(unavailable())
}

pub fn primary_fingerprints(_keyring: &[u8]) -> Result<Vec<String>> {
    Err(unavailable())
}
