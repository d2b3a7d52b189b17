//! The layer steps of a copy that encrypts or decrypts: the host's
//! `crypt` over the blob, the key wrapped for the recipients or unwrapped
//! with the user's keys, the HMAC and digests checked.

use std::collections::BTreeMap;

use super::{Crypto, Encryption, jwe, layer, provider};
use crate::digest::Digest;
use crate::engine::{BlobSource, Crypt, CryptDirection, Io};
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::Descriptor;

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
    let failed = |e: String| Error::other(format!("encrypting blob {}: {e}", plain.digest));
    let mut wrapped = Vec::new();
    if !encryption.recipients.is_empty() {
        let jwe = jwe::wrap(&private, &encryption.recipients, &mut rng).map_err(failed)?;
        wrapped.push((layer::KEYS_JWE.to_owned(), jwe.into_bytes()));
    }
    for p in &encryption.providers {
        let annotation = provider::wrap(io, p, &private).await.map_err(failed)?;
        wrapped.push((format!("{}{}", provider::ANNOTATION_PREFIX, p.name), annotation));
    }
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
/// the user's keys (JWE) or providers, its HMAC and the plain blob's digest.
async fn unwrap_layer(
    io: &Io,
    annotations: Option<&BTreeMap<String, String>>,
    crypto: &Crypto,
) -> std::result::Result<(layer::LayerKey, Digest, Vec<u8>), String> {
    let annotation = |name: &str| annotations.and_then(|a| a.get(name));
    let mut errors = Vec::new();
    let mut tried = false;
    let mut private = None;
    if let Some(wrapped) = annotation(layer::KEYS_JWE).filter(|_| !crypto.decrypt.is_empty()) {
        tried = true;
        for jwe in layer::jwes(wrapped)? {
            match jwe::unwrap(&jwe, &crypto.decrypt) {
                Ok(p) => {
                    private = Some(p);
                    break;
                }
                Err(e) => errors.push(e),
            }
        }
    }
    for p in &crypto.decrypt_providers {
        if private.is_some() {
            break;
        }
        let Some(wrapped) = annotation(&format!("{}{}", provider::ANNOTATION_PREFIX, p.name)) else { continue };
        tried = true;
        for a in layer::jwes(wrapped)? {
            match provider::unwrap(io, p, &a).await {
                Ok(opts) => {
                    private = Some(opts);
                    break;
                }
                Err(e) => errors.push(e),
            }
        }
    }
    let Some(private) = private else {
        let others = layer::other_wrappers(annotations);
        return Err(match (tried, others.is_empty()) {
            (true, _) => format!("no suitable key found for decrypting layer key: {}", errors.join("; ")),
            (false, true) => {
                "missing private key needed for decryption: the layer names no key this copy was given".to_owned()
            }
            (false, false) => {
                format!("its keys are wrapped for {} only, which skiff does not support", others.join(", "))
            }
        });
    };
    let (key, digest) = layer::read_private(&private)?;
    let hmac = layer::read_public(annotation(layer::PUBOPTS).map(String::as_str))?;
    Ok((key, digest, hmac))
}

/// Decrypts the encrypted layer blob at `input` (described by `l`) into
/// `output` after checking its HMAC and digest; returns the descriptor of
/// the plain blob, as it was before encryption.
pub async fn decrypt_layer(
    io: &Io,
    crypto: &Crypto,
    l: &Descriptor,
    input: String,
    output: String,
) -> Result<Descriptor> {
    let (key, plain, hmac) = unwrap_layer(io, l.annotations.as_ref(), crypto)
        .await
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
