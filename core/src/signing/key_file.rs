//! Simple signing without gpg (a skiff extension, `--sign-by-key-file`):
//! an exported OpenPGP secret key (`gpg --export-secret-keys [--armor]`)
//! signs in the core, so CI machines and the JavaScript host can sign. The
//! primary key signs; the message is an uncompressed signed message, which
//! gpgme and containers/image read like gpg's. The nonces and salts rPGP
//! needs come from the host's random bytes (ChaCha20 seeded with them).

use pgp::composed::{Deserializable, MessageBuilder, SignedSecretKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::ser::Serialize as _;
use pgp::types::Password;
use rand_chacha::rand_core::SeedableRng;

use super::openpgp;
use crate::error::{Error, Result};

/// Random bytes one signature needs: the seed of its generator.
pub const SEED_LEN: usize = 32;

/// An unlockable secret key, with its passphrase.
#[derive(Debug, Clone)]
pub struct KeyFile {
    key: SignedSecretKey,
    passphrase: Vec<u8>,
    /// The public half, to check what was signed (`gpg --export` form).
    public: Vec<u8>,
}

impl KeyFile {
    /// The one secret key in `bytes` (armored or binary).
    pub fn parse(bytes: &[u8], passphrase: Vec<u8>, path: &str) -> Result<KeyFile> {
        let bad = |e: String| Error::invalid(format!("reading the secret key in {path}: {e}"));
        let armored = bytes.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| *b == b'-');
        let key = match armored {
            true => SignedSecretKey::from_armor_single(bytes).map(|(k, _)| k),
            false => SignedSecretKey::from_bytes(bytes),
        }
        .map_err(|e| bad(e.to_string()))?;
        key.verify_bindings().map_err(|e| bad(format!("its self-signatures do not verify: {e}")))?;
        let public = key.to_public_key().to_bytes().map_err(|e| bad(e.to_string()))?;
        Ok(KeyFile { key, passphrase, public })
    }

    /// `payload` as a signed message, checked against the key's public half.
    pub fn sign(&self, payload: &[u8], seed: &[u8], now_unix: u64) -> Result<Vec<u8>> {
        let seed: [u8; SEED_LEN] = seed.try_into().map_err(|_| Error::other("a signing seed is 32 bytes"))?;
        let mut builder = MessageBuilder::from_bytes("", payload.to_vec());
        builder.sign(&self.key.primary_key, Password::from(self.passphrase.as_slice()), HashAlgorithm::Sha256);
        let message = builder
            .to_vec(rand_chacha::ChaCha20Rng::from_seed(seed))
            .map_err(|e| Error::invalid(format!("signing with the key file failed (a wrong passphrase?): {e}")))?;
        let verified = openpgp::verify(&self.public, &message, now_unix)?;
        if verified.payload != payload {
            return Err(Error::other("the key file's signature holds something else"));
        }
        Ok(message)
    }
}
