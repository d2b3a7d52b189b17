//! Sigstore private keys as cosign and containers/image keep them: a PEM
//! block (`ENCRYPTED COSIGN PRIVATE KEY` or `ENCRYPTED SIGSTORE PRIVATE
//! KEY`) around go-securesystemslib's JSON envelope — scrypt derives a
//! nacl/secretbox key from the passphrase, which seals the key's PKCS#8
//! DER. The envelope is written field for field as Go marshals it.

use base64::Engine as _;
use crypto_secretbox::XSalsa20Poly1305;
use crypto_secretbox::aead::{Aead, KeyInit};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The label containers/image writes (cosign's older name, which every
/// cosign release reads).
const LABEL_WRITTEN: &str = "ENCRYPTED COSIGN PRIVATE KEY";
const LABELS_READ: [&str; 2] = [LABEL_WRITTEN, "ENCRYPTED SIGSTORE PRIVATE KEY"];

/// go-securesystemslib's parameter sets: legacy, standard (written), OWASP.
/// Only these are accepted, so a hostile file cannot ask for a huge scrypt.
const SCRYPT_LOG_N: [u8; 3] = [15, 16, 17];
const SCRYPT_WRITTEN_LOG_N: u8 = 16;

pub const SALT_LEN: usize = 32;
pub const NONCE_LEN: usize = 24;
/// Random bytes [`generate`] needs: a candidate scalar, a salt, a nonce.
pub const GENERATE_RANDOM_LEN: usize = 32 + SALT_LEN + NONCE_LEN;

#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The bytes of the first PEM block labelled one of `labels` (text around
/// it is ignored, as Go's `pem.Decode` ignores it); its label too.
fn pem_block<'a>(text: &str, labels: &[&'a str]) -> Result<(&'a str, Vec<u8>)> {
    let start = text.find("-----BEGIN ").ok_or_else(|| Error::invalid("invalid pem block"))?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----").ok_or_else(|| Error::invalid("invalid pem block"))?;
    let Some(known) = labels.iter().find(|l| **l == label) else {
        return Err(Error::invalid(format!("unsupported pem type: {}", crate::error::sanitize(label))));
    };
    let end = format!("-----END {label}-----");
    let body = rest.split_once(&end).ok_or_else(|| Error::invalid("invalid pem block"))?.0;
    let body: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = b64().decode(body).map_err(|_| Error::invalid("invalid pem block"))?;
    Ok((known, bytes))
}

fn scrypt_key(passphrase: &[u8], salt: &[u8], log_n: u8) -> Result<[u8; 32]> {
    let params = scrypt::Params::new(log_n, 8, 1, 32).map_err(|_| Error::other("unsupported scrypt parameters"))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(passphrase, salt, &params, &mut key).map_err(|_| Error::other("scrypt failed"))?;
    Ok(key)
}

/// The signing key in `pem`, decrypted with `passphrase`; errors read as
/// containers/image's (`initializing private key: decrypt: …`).
pub fn decrypt(pem: &[u8], passphrase: &[u8]) -> Result<p256::ecdsa::SigningKey> {
    let init = |m: String| Error::invalid(format!("initializing private key: {m}"));
    let text = std::str::from_utf8(pem).map_err(|_| init("invalid pem block".to_owned()))?;
    let (_, envelope) = pem_block(text, &LABELS_READ).map_err(|e| init(e.message))?;
    let decrypt = |m: &str| init(format!("decrypt: {m}"));
    let envelope: Envelope = serde_json::from_slice(&envelope).map_err(|e| decrypt(&e.to_string()))?;
    if envelope.kdf.name != "scrypt" {
        return Err(decrypt(&format!("encrypted: unknown kdf name {:?}", envelope.kdf.name)));
    }
    if envelope.cipher.name != "nacl/secretbox" {
        return Err(decrypt(&format!("encrypted: unknown cipher name {:?}", envelope.cipher.name)));
    }
    let ScryptParams { n, r, p } = envelope.kdf.params;
    let log_n = SCRYPT_LOG_N
        .into_iter()
        .find(|l| 1u64 << l == n && r == 8 && p == 1)
        .ok_or_else(|| decrypt("unsupported scrypt parameters"))?;
    let field = |s: &str| b64().decode(s).map_err(|e| decrypt(&e.to_string()));
    let (salt, nonce, sealed) =
        (field(&envelope.kdf.salt)?, field(&envelope.cipher.nonce)?, field(&envelope.ciphertext)?);
    if nonce.len() != NONCE_LEN {
        return Err(decrypt("encrypted: incorrect nonce size"));
    }
    let key = scrypt_key(passphrase, &salt, log_n)?;
    let der = XSalsa20Poly1305::new(&key.into())
        .decrypt(nonce.as_slice().into(), sealed.as_slice())
        .map_err(|_| decrypt("encrypted: decryption failed"))?;
    let secret = p256::SecretKey::from_pkcs8_der(&der).map_err(|_| {
        init("unsupported key type: only ECDSA P-256 keys (what cosign and skopeo generate) can sign".to_owned())
    })?;
    Ok(p256::ecdsa::SigningKey::from(secret))
}

/// A new key pair from `random` ([`GENERATE_RANDOM_LEN`] bytes of the
/// host's): the encrypted private key file and the public key file, or
/// None in the 2^-32 case where the candidate is not a valid scalar (ask
/// again with new bytes).
pub fn generate(random: &[u8], passphrase: &[u8]) -> Result<Option<(String, String)>> {
    let (scalar, rest) = random.split_at(32);
    let (salt, nonce) = rest.split_at(SALT_LEN);
    let Ok(secret) = p256::SecretKey::from_slice(scalar) else { return Ok(None) };
    let der = secret.to_pkcs8_der().map_err(|e| Error::other(format!("Error generating key pair: {e}")))?;
    let key = scrypt_key(passphrase, salt, SCRYPT_WRITTEN_LOG_N)?;
    let sealed = XSalsa20Poly1305::new(&key.into())
        .encrypt(nonce.into(), der.as_bytes())
        .map_err(|_| Error::other("Error generating key pair: encryption failed"))?;
    let envelope = Envelope {
        kdf: Kdf {
            name: "scrypt".to_owned(),
            params: ScryptParams { n: 1 << SCRYPT_WRITTEN_LOG_N, r: 8, p: 1 },
            salt: b64().encode(salt),
        },
        cipher: Cipher { name: "nacl/secretbox".to_owned(), nonce: b64().encode(nonce) },
        ciphertext: b64().encode(sealed),
    };
    let json = serde_json::to_vec(&envelope).map_err(|e| Error::other(e.to_string()))?;
    let private = p256::pkcs8::der::pem::encode_string(LABEL_WRITTEN, LineEnding::LF, &json)
        .map_err(|e| Error::other(format!("Error generating key pair: {e}")))?;
    let public = secret
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| Error::other(format!("Error generating key pair: {e}")))?;
    Ok(Some((private, public)))
}

/// A passphrase file's first line, without its `\n` (a `\r` stays), as
/// containers/image's `ReadPassphraseFile` reads it.
pub fn passphrase_from_file(contents: &[u8]) -> Vec<u8> {
    match contents.iter().position(|&b| b == b'\n') {
        Some(i) => contents[..i].to_vec(),
        None => contents.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/sigstore/");

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}{name}")).unwrap()
    }

    fn public_b64(key: &p256::ecdsa::SigningKey) -> String {
        let der = key.verifying_key().to_public_key_der().unwrap();
        b64().encode(der.as_bytes())
    }

    #[test]
    fn keys_cosign_and_sigstore_rs_wrote_decrypt() {
        // The public halves were derived from the fixtures with other tools.
        let cosign = decrypt(&fixture("cosign_generated_encrypted_empty_private.key"), b"").unwrap();
        assert_eq!(
            public_b64(&cosign),
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGmsWpZNuu+SUX70n3lVK4JLsaoV7T+rhea2rQUu29EQiatoLB06QdsmSd+GsQGlQzfcDtsKPzb+B2zLggrWZjg=="
        );
        let legacy = decrypt(&fixture("ecdsa_encrypted_private.key"), b"123").unwrap();
        assert_eq!(
            public_b64(&legacy),
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEI3sxu+p/GFrJyfgmSWr4qMzwbnd/pRAShSG6tHcrlhBSoRCAiVYOoQR7514Uz6ft2tQlnoJLHmHcFqqy0/ERJA=="
        );
    }

    #[test]
    fn a_wrong_passphrase_is_refused_in_containers_image_words() {
        let e = decrypt(&fixture("ecdsa_encrypted_private.key"), b"124").unwrap_err();
        assert_eq!(e.message, "initializing private key: decrypt: encrypted: decryption failed");
        let e = decrypt(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", b"").unwrap_err();
        assert_eq!(e.message, "initializing private key: unsupported pem type: PUBLIC KEY");
        assert_eq!(decrypt(b"nothing", b"").unwrap_err().message, "initializing private key: invalid pem block");
    }

    #[test]
    fn hostile_scrypt_parameters_are_refused_before_any_work() {
        let text = String::from_utf8(fixture("ecdsa_encrypted_private.key")).unwrap();
        let (label, json) = pem_block(&text, &LABELS_READ).unwrap();
        let huge = String::from_utf8(json).unwrap().replace("\"N\":32768", "\"N\":1073741824");
        let pem = p256::pkcs8::der::pem::encode_string(label, LineEnding::LF, huge.as_bytes()).unwrap();
        let e = decrypt(pem.as_bytes(), b"123").unwrap_err();
        assert_eq!(e.message, "initializing private key: decrypt: unsupported scrypt parameters");
    }

    #[test]
    fn generated_keys_decrypt_and_sign() {
        let random: Vec<u8> = (0..GENERATE_RANDOM_LEN as u8).map(|i| i.wrapping_mul(7).wrapping_add(1)).collect();
        let (private, public) = generate(&random, b"pw").unwrap().unwrap();
        assert!(private.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"));
        let (_, json) = pem_block(&private, &LABELS_READ).unwrap();
        let json = String::from_utf8(json).unwrap();
        assert!(json.starts_with(r#"{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":""#), "{json}");
        let key = decrypt(private.as_bytes(), b"pw").unwrap();
        let verifying = crate::signing::public_key::from_pem(public.as_bytes()).unwrap();
        let signature: p256::ecdsa::Signature = key.sign(b"payload");
        assert!(verifying.verifies_sha256(b"payload", signature.to_der().as_bytes()));
        assert!(decrypt(private.as_bytes(), b"pW").is_err());
        // The scalar 0 is not a key: the caller asks for other bytes.
        let zero = [vec![0u8; 32], random[32..].to_vec()].concat();
        assert!(generate(&zero, b"").unwrap().is_none());
    }

    #[test]
    fn a_passphrase_is_the_files_first_line() {
        assert_eq!(passphrase_from_file(b"secret\nmore\n"), b"secret");
        assert_eq!(passphrase_from_file(b"crlf\r\n"), b"crlf\r");
        assert_eq!(passphrase_from_file(b"whole"), b"whole");
        assert_eq!(passphrase_from_file(b""), b"");
    }
}
