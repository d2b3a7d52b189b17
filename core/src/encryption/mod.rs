//! Image encryption as ocicrypt does it (`copy --encryption-key`,
//! `--encrypt-layer`, `--decryption-key`): each chosen layer's stored blob
//! is encrypted with AES-256-CTR under a fresh key, by the host
//! ([`crate::engine::Crypt`]); the key travels in the layer's annotations,
//! wrapped for every recipient in a JWE ([`jwe`]); [`layer`] holds the
//! formats. Decrypting unwraps the key with one of the user's private
//! keys and checks the HMAC and the plain blob's digest before the layer
//! is stored. The keys are read here ([`keys`]); randomness comes from the
//! host's `random`.

pub mod jwe;
pub mod keys;
pub mod layer;

use std::collections::BTreeMap;

use crate::digest::Digest;
use crate::engine::{BlobSource, Crypt, CryptDirection, Io, IoErrorKind};
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::Descriptor;
use keys::{PrivateKey, PublicKey};

/// The largest key file read.
const MAX_KEY_FILE: u64 = 1 << 20;

/// `--encryption-key` and `--encrypt-layer`.
#[derive(Debug)]
pub struct Encryption {
    pub recipients: Vec<PublicKey>,
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
}

async fn read_key_file(io: &Io, path: &str) -> std::result::Result<Vec<u8>, String> {
    io.read_file(path.to_owned(), MAX_KEY_FILE).await.map_err(|e| match e.kind {
        IoErrorKind::NotFound => format!("open {path}: no such file or directory"),
        _ => format!("{path}: {}", e.message),
    })
}

impl Crypto {
    /// The flags checked and the keys read, before anything is copied.
    pub async fn prepare(
        io: &Io,
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
        let mut crypto = Crypto::default();
        if !encryption_keys.is_empty() {
            let bad = |why: String| Error::invalid(format!("Invalid encryption keys: {why}"));
            let mut recipients = Vec::new();
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
                    "pgp" | "pkcs7" | "pkcs11" | "provider" => {
                        return Err(Error::unsupported(format!(
                            "--encryption-key {protocol}:…: skiff encrypts for jwe: recipients only ({protocol} is not supported)"
                        )));
                    }
                    _ => return Err(bad("Provided protocol not recognized".to_owned())),
                }
            }
            crypto.encrypt = Some(Encryption { recipients, layers: layers.to_vec() });
        }
        for k in decryption_keys {
            let bad = |why: String| Error::invalid(format!("Invalid decryption keys: {why}"));
            if k.starts_with("provider:") {
                return Err(Error::unsupported(
                    "--decryption-key provider:…: key providers are not supported by skiff",
                ));
            }
            // ocicrypt's `FILE:PASSWORD` (the password only opens encrypted
            // keys, which skiff refuses below).
            let path = match k.split(':').collect::<Vec<_>>().as_slice() {
                [path, _] => *path,
                _ => k.as_str(),
            };
            let bytes = read_key_file(io, path).await.map_err(bad)?;
            crypto.decrypt.push(keys::parse_private(&bytes).map_err(|e| bad(format!("{path}: {e}")))?);
        }
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
        !self.decrypt.is_empty() && layer::is_encrypted(media_type)
    }
}

fn crypt_error<'a>(what: &'a str, d: &'a Digest) -> impl Fn(crate::engine::IoError) -> Error + 'a {
    move |e| Error::new(ErrorKind::Io, format!("{what} layer {d}: {}", e.message))
}

/// Encrypts the layer blob at `input` (described by `plain`, as it will be
/// listed) into `output` for `encryption`'s recipients; returns its new
/// descriptor.
pub async fn encrypt_layer(
    io: &Io,
    encryption: &Encryption,
    plain: &Descriptor,
    input: String,
    output: String,
) -> Result<Descriptor> {
    use rsa::rand_core::{RngCore, SeedableRng};
    let media_type = layer::encrypted_media_type(&plain.media_type).map_err(Error::unsupported)?;
    let seed =
        io.random(32).await.map_err(|e| Error::other(format!("no random bytes to encrypt with: {}", e.message)))?;
    let seed: [u8; 32] = seed.try_into().map_err(|_| Error::other("the host gave the wrong number of random bytes"))?;
    let mut rng = jwe::Rng::from_seed(seed);
    let mut key = layer::LayerKey { symkey: vec![0; 32], nonce: vec![0; 16] };
    rng.fill_bytes(&mut key.symkey);
    rng.fill_bytes(&mut key.nonce);
    let request = Crypt {
        input: BlobSource::File { path: input },
        output,
        key: key.symkey.clone(),
        nonce: key.nonce.clone(),
        direction: CryptDirection::Encrypt,
        algorithm: plain.digest.algorithm(),
    };
    let done = io.crypt(request).await.map_err(crypt_error("encrypting", &plain.digest))?;
    plain.check_transfer(&done.input_digest, done.size)?;
    let private = layer::private_options(&key, &plain.digest);
    let wrapped = jwe::wrap(&private, &encryption.recipients, &mut rng)
        .map_err(|e| Error::other(format!("encrypting blob {}: {e}", plain.digest)))?;
    let public = layer::public_options(&done.hmac);
    Ok(Descriptor {
        media_type,
        digest: Digest::parse(&done.output_digest)?,
        size: done.size as i64,
        urls: None,
        annotations: Some(layer::annotate(plain.annotations.as_ref(), &wrapped, &public)),
        platform: None,
    })
}

/// The layer key of an encrypted layer's annotations, unwrapped with one of
/// `keys`, its HMAC and the plain blob's digest.
fn unwrap_layer(
    annotations: Option<&BTreeMap<String, String>>,
    keys: &[PrivateKey],
) -> std::result::Result<(layer::LayerKey, Digest, Vec<u8>), String> {
    let Some(wrapped) = annotations.and_then(|a| a.get(layer::KEYS_JWE)) else {
        let others = layer::other_wrappers(annotations);
        return Err(match others.is_empty() {
            true => "missing private key needed for decryption: the layer names no key".to_owned(),
            false => format!("its keys are wrapped for {} only, which skiff does not support", others.join(", ")),
        });
    };
    let mut errors = Vec::new();
    for jwe in layer::jwes(wrapped)? {
        match jwe::unwrap(&jwe, keys) {
            Ok(private) => {
                let (key, digest) = layer::read_private(&private)?;
                let hmac = layer::read_public(annotations.and_then(|a| a.get(layer::PUBOPTS)).map(String::as_str))?;
                return Ok((key, digest, hmac));
            }
            Err(e) => errors.push(e),
        }
    }
    Err(format!("no suitable key found for decrypting layer key: {}", errors.join("; ")))
}

/// Decrypts the encrypted layer blob at `input` (described by `l`) into
/// `output` after checking its HMAC and digest; returns the descriptor of
/// the plain blob, as it was before encryption.
pub async fn decrypt_layer(
    io: &Io,
    keys: &[PrivateKey],
    l: &Descriptor,
    input: String,
    output: String,
) -> Result<Descriptor> {
    let (key, plain, hmac) = unwrap_layer(l.annotations.as_ref(), keys)
        .map_err(|e| Error::invalid(format!("decrypting layer {}: {e}", l.digest)))?;
    let media_type = layer::decrypted_media_type(&l.media_type).unwrap_or(&l.media_type).to_owned();
    let request = Crypt {
        input: BlobSource::File { path: input },
        output,
        key: key.symkey,
        nonce: key.nonce,
        direction: CryptDirection::Decrypt,
        algorithm: plain.algorithm(),
    };
    let done = io.crypt(request).await.map_err(crypt_error("decrypting", &l.digest))?;
    if done.hmac != hmac {
        return Err(Error::integrity(format!(
            "decrypting layer {}: could not properly decrypt byte stream; the HMAC does not match",
            l.digest
        )));
    }
    if done.output_digest != plain.to_string() {
        return Err(Error::integrity(format!(
            "decrypting layer {}: it decrypts to {}, but its key names {plain}",
            l.digest, done.output_digest
        )));
    }
    Ok(Descriptor {
        media_type,
        digest: plain,
        size: done.size as i64,
        urls: l.urls.clone(),
        annotations: layer::strip(l.annotations.as_ref()),
        platform: None,
    })
}
