//! Image encryption as ocicrypt does it (`copy --encryption-key`,
//! `--encrypt-layer`, `--decryption-key`): each chosen layer's stored blob
//! is encrypted with AES-256-CTR under a fresh key, by the host
//! ([`crate::engine::Crypt`]); the key travels in the layer's annotations,
//! wrapped for every recipient in a JWE ([`jwe`]); [`layer`] holds the
//! formats. Decrypting unwraps the key with one of the user's private
//! keys and checks the HMAC and the plain blob's digest before the layer
//! is stored. The keys are read here ([`keys`]); randomness comes from the
//! host's `random`. Without the `encryption` feature (skiff-js leaves it
//! out, for size) a key given is an error.

#[cfg(feature = "encryption")]
pub mod jwe;
#[cfg(feature = "encryption")]
pub mod keys;
pub mod layer;
pub mod provider;
#[cfg(feature = "encryption")]
mod steps;

#[cfg(not(feature = "encryption"))]
mod absent;
#[cfg(not(feature = "encryption"))]
pub use absent::{decrypt_layer, encrypt_layer, keys};
#[cfg(feature = "encryption")]
pub use steps::{decrypt_layer, encrypt_layer};

use crate::config::Environment;
use crate::engine::{Io, IoErrorKind};
use crate::error::{Error, Result};
use keys::{PrivateKey, PublicKey};

/// The largest key file read.
const MAX_KEY_FILE: u64 = 1 << 20;

/// `--encryption-key` and `--encrypt-layer`.
#[derive(Debug)]
pub struct Encryption {
    pub recipients: Vec<PublicKey>,
    /// `provider:NAME[:PARAMETER]` recipients.
    pub providers: Vec<provider::Named>,
    /// The layers to encrypt; empty: every one.
    pub layers: Vec<i64>,
}

/// What a copy does to layers' encryption.
#[derive(Debug, Default)]
pub struct Crypto {
    pub encrypt: Option<Encryption>,
    /// `--decryption-key`: the private keys to try (none: encrypted layers
    /// are copied as they are).
    pub decrypt: Vec<PrivateKey>,
    /// `--decryption-key provider:NAME[:PARAMETER]`.
    pub decrypt_providers: Vec<provider::Named>,
}

async fn read_key_file(io: &Io, path: &str) -> std::result::Result<Vec<u8>, String> {
    io.read_file(path.to_owned(), MAX_KEY_FILE).await.map_err(|e| match e.kind {
        IoErrorKind::NotFound => format!("open {path}: no such file or directory"),
        _ => format!("{path}: {}", e.message),
    })
}

/// ocicrypt's password forms: `pass=TEXT`, `file=PATH` (the whole file),
/// `fd=N` (not supported by skiff), or the text itself.
async fn password(io: &Io, spec: &str) -> std::result::Result<Vec<u8>, String> {
    if let Some(p) = spec.strip_prefix("pass=") {
        return Ok(p.as_bytes().to_vec());
    }
    if let Some(path) = spec.strip_prefix("file=") {
        return read_key_file(io, path).await;
    }
    if spec.starts_with("fd=") {
        return Err("a password from a file descriptor (fd=) is not supported by skiff; use file= or pass=".to_owned());
    }
    Ok(spec.as_bytes().to_vec())
}

impl Crypto {
    /// The flags checked and the keys read, before anything is copied.
    pub async fn prepare(
        io: &Io,
        env: &Environment,
        encryption_keys: &[String],
        layers: &[i64],
        decryption_keys: &[String],
    ) -> Result<Self> {
        if !encryption_keys.is_empty() && !decryption_keys.is_empty() {
            return Err(Error::invalid("--encryption-key and --decryption-key cannot be specified together"));
        }
        if !layers.is_empty() && encryption_keys.is_empty() {
            return Err(Error::invalid("--encrypt-layer can only be used with --encryption-key"));
        }
        #[cfg(not(feature = "encryption"))]
        if !encryption_keys.is_empty() || !decryption_keys.is_empty() {
            return Err(Error::unsupported("this build of skiff cannot encrypt or decrypt images"));
        }
        let mut crypto = Crypto::default();
        let uses_providers = encryption_keys.iter().chain(decryption_keys).any(|k| k.starts_with("provider:"));
        let configured = match uses_providers {
            true => provider::Providers::configured(io, env).await?,
            false => provider::Providers::default(),
        };
        if !encryption_keys.is_empty() {
            let bad = |why: String| Error::invalid(format!("Invalid encryption keys: {why}"));
            let mut recipients = Vec::new();
            let mut providers = Vec::new();
            for k in encryption_keys {
                let Some((protocol, value)) = k.split_once(':') else {
                    return Err(bad("Invalid recipient format".to_owned()));
                };
                match protocol {
                    "jwe" => {
                        let bytes =
                            read_key_file(io, value).await.map_err(|e| bad(format!("Unable to read file: {e}")))?;
                        let key = keys::parse_public(&bytes)
                            .map_err(|e| bad(format!("File provided is not a public key: {value}: {e}")))?;
                        recipients.push(key);
                    }
                    "provider" => providers.push(value),
                    "pgp" | "pkcs7" | "pkcs11" => {
                        return Err(Error::unsupported(format!(
                            "--encryption-key {protocol}:…: skiff encrypts for jwe: recipients only ({protocol} is not supported)"
                        )));
                    }
                    _ => return Err(bad("Provided protocol not recognized".to_owned())),
                }
            }
            let providers = provider::named(&providers, &configured)?;
            crypto.encrypt = Some(Encryption { recipients, providers, layers: layers.to_vec() });
        }
        let mut providers = Vec::new();
        for k in decryption_keys {
            let bad = |why: String| Error::invalid(format!("Invalid decryption keys: {why}"));
            if let Some(p) = k.strip_prefix("provider:") {
                providers.push(p);
                continue;
            }
            // ocicrypt's `FILE[:PASSWORD]`, split at every `:` (more than one
            // means no password, as Go reads it).
            let parts: Vec<&str> = k.split(':').collect();
            let path = parts[0];
            let password = match parts.as_slice() {
                [_, spec] => Some(password(io, spec).await.map_err(bad)?),
                _ => None,
            };
            let bytes = read_key_file(io, path).await.map_err(bad)?;
            let key = keys::parse_private(&bytes, password.as_deref()).map_err(|e| bad(format!("{path}: {e}")))?;
            crypto.decrypt.push(key);
        }
        crypto.decrypt_providers = provider::named(&providers, &configured)?;
        Ok(crypto)
    }

    /// Which of `count` layers are to be encrypted (containers/image's
    /// choice: the listed indices, negative ones from the end; none listed:
    /// all).
    pub fn chosen(&self, count: usize) -> Result<Vec<bool>> {
        let Some(e) = &self.encrypt else { return Ok(vec![false; count]) };
        if e.layers.is_empty() {
            return Ok(vec![true; count]);
        }
        let mut chosen = vec![false; count];
        let n = count as i64;
        for &l in &e.layers {
            let i = if l < 0 { l + n } else { l };
            if !(0..n).contains(&i) {
                return Err(Error::invalid(format!(
                    "when choosing layers to encrypt, layer index {l} out of range ({count} layers exist)"
                )));
            }
            chosen[i as usize] = true;
        }
        Ok(chosen)
    }

    /// Whether a layer of this media type is decrypted by this copy.
    pub fn decrypts(&self, media_type: &str) -> bool {
        (!self.decrypt.is_empty() || !self.decrypt_providers.is_empty()) && layer::is_encrypted(media_type)
    }
}
