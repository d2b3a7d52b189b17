//! The keys of `--encryption-key jwe:FILE` and `--decryption-key FILE`,
//! read as ocicrypt reads them: a public key is PKIX (SubjectPublicKeyInfo),
//! DER or in any PEM block; a private key is PKCS#8, PKCS#1 (RSA) or SEC1
//! (EC), DER or PEM. RSA keys and P-256 EC keys are supported.

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};

#[derive(Debug, Clone)]
pub enum PublicKey {
    Rsa(rsa::RsaPublicKey),
    P256(p256::PublicKey),
}

#[derive(Debug, Clone)]
pub enum PrivateKey {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::SecretKey),
}

/// The DER inside the first PEM block of `bytes` (text before it skipped,
/// as Go's `pem.Decode` skips it), with its label; none when there is no
/// PEM block.
fn pem_block(bytes: &[u8]) -> Option<(String, Vec<u8>)> {
    let start = bytes.windows(11).position(|w| w == b"-----BEGIN ")?;
    let (label, der) = p256::pkcs8::der::pem::decode_vec(&bytes[start..]).ok()?;
    Some((label.to_owned(), der))
}

/// An RSA key's, or the ID of an EC curve's, PKIX public key in `der`.
fn public_from_der(der: &[u8]) -> Result<PublicKey, String> {
    if let Ok(k) = rsa::RsaPublicKey::from_public_key_der(der) {
        return Ok(PublicKey::Rsa(k));
    }
    match p256::PublicKey::from_public_key_der(der) {
        Ok(k) => Ok(PublicKey::P256(k)),
        Err(_) if is_other_ec(der) => Err("only P-256 EC keys are supported by skiff".to_owned()),
        Err(_) => Err("not a PKIX public key (RSA or P-256 EC)".to_owned()),
    }
}

/// Whether `der` is an EC key on a curve other than P-256 (for the message).
fn is_other_ec(der: &[u8]) -> bool {
    use p256::pkcs8::der::Decode;
    p256::pkcs8::spki::SubjectPublicKeyInfoRef::from_der(der)
        .is_ok_and(|s| s.algorithm.oid == p256::elliptic_curve::ALGORITHM_OID)
}

/// A public key from a key file's bytes: DER, else the first PEM block.
pub fn parse_public(bytes: &[u8]) -> Result<PublicKey, String> {
    match public_from_der(bytes) {
        Ok(k) => Ok(k),
        Err(e) => match pem_block(bytes) {
            Some((_, der)) => public_from_der(&der),
            None if bytes.trim_ascii_start().starts_with(b"{") => {
                Err("JWK key files are not supported by skiff (use PEM or DER)".to_owned())
            }
            None => Err(e),
        },
    }
}

fn private_from_der(der: &[u8]) -> Option<PrivateKey> {
    if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_der(der) {
        return Some(PrivateKey::Rsa(Box::new(k)));
    }
    if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
        return Some(PrivateKey::P256(k));
    }
    if let Ok(k) = rsa::RsaPrivateKey::from_pkcs1_der(der) {
        return Some(PrivateKey::Rsa(Box::new(k)));
    }
    p256::SecretKey::from_sec1_der(der).ok().map(PrivateKey::P256)
}

/// A private key from a key file's bytes, opened with `password` if it is
/// encrypted (PKCS#8 `ENCRYPTED PRIVATE KEY`, or OpenSSL's legacy
/// `Proc-Type: 4,ENCRYPTED` PEM as Go's `x509.DecryptPEMBlock` reads it),
/// or why it is not one. SEC1 EC keys in PEM are read too (ocicrypt skips
/// them, then reports that no private key was given).
pub fn parse_private(bytes: &[u8], password: Option<&[u8]>) -> Result<PrivateKey, String> {
    if let Some(k) = private_from_der(bytes) {
        return Ok(k);
    }
    if let Some(der) = legacy_encrypted(bytes, password)? {
        return private_from_der(&der).ok_or_else(|| "Wrong password: could not decrypt private key".to_owned());
    }
    let Some((label, der)) = pem_block(bytes) else {
        return Err("not a private key (PEM or DER: PKCS#8, PKCS#1 or SEC1)".to_owned());
    };
    if label == "ENCRYPTED PRIVATE KEY" {
        let password = password.ok_or("Missing password for encrypted private key")?;
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
            .map_err(|e| format!("an encrypted private key skiff cannot read: {e}"))?;
        let plain = info.decrypt(password).map_err(|_| "Wrong password: could not decrypt private key".to_owned())?;
        return private_from_der(plain.as_bytes())
            .ok_or_else(|| "Wrong password: could not decrypt private key".to_owned());
    }
    private_from_der(&der).ok_or_else(|| match public_from_der(&der) {
        Ok(_) => "a public key, not a private key".to_owned(),
        Err(_) => format!("a PEM block {label:?} that is not a private key skiff reads (RSA or P-256 EC)"),
    })
}

/// The DER of a PEM block encrypted the legacy OpenSSL way (`Proc-Type:
/// 4,ENCRYPTED`, `DEK-Info: CIPHER,IV`), decrypted with `password`; none
/// when the file is not one. The key is OpenSSL's `EVP_BytesToKey` (MD5,
/// one round, the IV's first 8 bytes as salt), as Go derives it.
fn legacy_encrypted(bytes: &[u8], password: Option<&[u8]>) -> Result<Option<Vec<u8>>, String> {
    use base64::Engine as _;
    use cbc::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
    use md5::Digest as _;
    let text = String::from_utf8_lossy(bytes);
    if !text.contains("Proc-Type: 4,ENCRYPTED") {
        return Ok(None);
    }
    let info =
        text.lines().find_map(|l| l.strip_prefix("DEK-Info:")).ok_or("an encrypted PEM block without DEK-Info")?.trim();
    let (cipher, iv) = info.split_once(',').ok_or("an invalid DEK-Info")?;
    let iv = data_encoding::HEXUPPER_PERMISSIVE.decode(iv.trim().as_bytes()).map_err(|_| "an invalid DEK-Info IV")?;
    let key_len = match cipher {
        "AES-128-CBC" => 16,
        "AES-192-CBC" => 24,
        "AES-256-CBC" => 32,
        "DES-EDE3-CBC" => 24,
        other => return Err(format!("PEM encryption {other:?} is not supported by skiff")),
    };
    let password = password.ok_or("Missing password for encrypted private key")?;
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .skip_while(|l| l.contains(':'))
        .take_while(|l| !l.starts_with("-----END"))
        .map(str::trim)
        .collect();
    let sealed =
        base64::engine::general_purpose::STANDARD.decode(body).map_err(|_| "the encrypted PEM body is not base64")?;
    if iv.len() < 8 {
        return Err("an invalid DEK-Info IV".to_owned());
    }
    let mut key = Vec::new();
    let mut last: Vec<u8> = Vec::new();
    while key.len() < key_len {
        let mut h = md5::Md5::new();
        h.update(&last);
        h.update(password);
        h.update(&iv[..8]);
        last = h.finalize().to_vec();
        key.extend_from_slice(&last);
    }
    key.truncate(key_len);
    let wrong = |_| "Wrong password: could not decrypt private key".to_owned();
    let bad_iv = |_| "an invalid DEK-Info IV".to_owned();
    let plain = match key_len {
        _ if cipher == "DES-EDE3-CBC" => cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
            .map_err(bad_iv)?
            .decrypt_padded_vec_mut::<Pkcs7>(&sealed)
            .map_err(wrong)?,
        16 => cbc::Decryptor::<aes_gcm::aes::Aes128>::new_from_slices(&key, &iv)
            .map_err(bad_iv)?
            .decrypt_padded_vec_mut::<Pkcs7>(&sealed)
            .map_err(wrong)?,
        24 => cbc::Decryptor::<aes_gcm::aes::Aes192>::new_from_slices(&key, &iv)
            .map_err(bad_iv)?
            .decrypt_padded_vec_mut::<Pkcs7>(&sealed)
            .map_err(wrong)?,
        _ => cbc::Decryptor::<aes_gcm::aes::Aes256>::new_from_slices(&key, &iv)
            .map_err(bad_iv)?
            .decrypt_padded_vec_mut::<Pkcs7>(&sealed)
            .map_err(wrong)?,
    };
    Ok(Some(plain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

    fn seeded() -> rand_chacha::ChaCha20Rng {
        rand_core::SeedableRng::from_seed([7; 32])
    }

    #[test]
    fn every_encoding_of_an_rsa_key_is_read() {
        let key = rsa::RsaPrivateKey::new(&mut seeded(), 1024).unwrap();
        let public = key.to_public_key();
        let forms: Vec<Vec<u8>> = vec![
            key.to_pkcs8_der().unwrap().as_bytes().to_vec(),
            key.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes().to_vec(),
            key.to_pkcs1_der().unwrap().as_bytes().to_vec(),
            format!("junk before\n{}", &*key.to_pkcs1_pem(LineEnding::LF).unwrap()).into_bytes(),
        ];
        for f in forms {
            assert!(matches!(parse_private(&f, None), Ok(PrivateKey::Rsa(k)) if *k == key));
        }
        let pem = public.to_public_key_pem(LineEnding::LF).unwrap();
        assert!(matches!(parse_public(pem.as_bytes()), Ok(PublicKey::Rsa(k)) if k == public));
        assert!(parse_private(pem.as_bytes(), None).unwrap_err().contains("a public key, not a private key"));
        assert!(parse_public(b"{\"kty\":\"RSA\"}").unwrap_err().contains("JWK"));
        assert!(parse_public(b"nothing").is_err());
    }

    #[test]
    fn ec_keys_in_pkcs8_and_sec1() {
        let key = p256::SecretKey::from_slice(&[3; 32]).unwrap();
        let pkcs8 = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let sec1 = key.to_sec1_pem(LineEnding::LF).unwrap();
        for f in [pkcs8.as_bytes(), sec1.as_bytes()] {
            assert!(matches!(parse_private(f, None), Ok(PrivateKey::P256(k)) if k == key));
        }
        let encrypted = key.to_pkcs8_encrypted_pem(&mut seeded(), b"secret", LineEnding::LF).unwrap();
        assert!(matches!(parse_private(encrypted.as_bytes(), Some(b"secret")), Ok(PrivateKey::P256(k)) if k == key));
        assert!(parse_private(encrypted.as_bytes(), Some(b"wrong")).unwrap_err().contains("Wrong password"));
        assert!(parse_private(encrypted.as_bytes(), None).unwrap_err().contains("Missing password"));
        let p384 = p384::SecretKey::from_slice(&[3; 48]).unwrap().public_key();
        let pem = p384.to_public_key_pem(LineEnding::LF).unwrap();
        assert!(parse_public(pem.as_bytes()).unwrap_err().contains("only P-256"));
    }
}
