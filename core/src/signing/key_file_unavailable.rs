//! [`key_file`](super::key_file) in a build without the `openpgp` feature
//! (skiff-js): `--sign-by-key-file` refuses in words.

use crate::error::Result;

/// An OpenPGP secret key (never read in this build).
#[derive(Debug, Clone)]
pub struct KeyFile;

impl KeyFile {
    pub fn parse(_bytes: &[u8], _passphrase: Vec<u8>, _path: &str) -> Result<KeyFile> {
        Err(super::openpgp::unavailable())
    }

    pub fn sign(&self, _payload: &[u8], _now_unix: u64) -> Result<Vec<u8>> {
        Err(super::openpgp::unavailable())
    }
}
