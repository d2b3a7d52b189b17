//! Builds without the `encryption` feature: no key can be read, so no
//! layer is ever encrypted or decrypted.

use super::{Crypto, Encryption};
use crate::engine::Io;
use crate::error::{Error, Result};
use crate::manifest::Descriptor;

const ABSENT: &str = "this build of skiff cannot encrypt or decrypt images";

pub mod keys {
    #[derive(Debug, Clone)]
    pub enum PublicKey {}

    #[derive(Debug, Clone)]
    pub enum PrivateKey {}

    pub fn parse_public(_: &[u8]) -> Result<PublicKey, String> {
        Err(super::ABSENT.to_owned())
    }

    pub fn parse_private(_: &[u8], _: Option<&[u8]>) -> Result<PrivateKey, String> {
        Err(super::ABSENT.to_owned())
    }
}

pub async fn encrypt_layer(_: &Io, _: &Encryption, _: &Descriptor, _: String, _: String) -> Result<Descriptor> {
    Err(Error::unsupported(ABSENT))
}

pub async fn decrypt_layer(_: &Io, _: &Crypto, _: &Descriptor, _: String, _: String) -> Result<Descriptor> {
    Err(Error::unsupported(ABSENT))
}
