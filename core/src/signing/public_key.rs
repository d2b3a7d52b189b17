//! The public keys sigstore signatures and certificates use: ECDSA on
//! P-256 (cosign keys, Fulcio leaves, Rekor) and P-384 (Fulcio's CAs), and
//! RSA with PKCS #1 v1.5 (users' own CAs, `pki`), each verified over a hash
//! the caller computed, as Go's `ecdsa.VerifyASN1` and
//! `rsa.VerifyPKCS1v15` do.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};

use super::pem;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
}

/// The hash a signature was made over (RSA's PKCS #1 v1.5 names it inside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl PublicKey {
    /// A SubjectPublicKeyInfo of an ECDSA key on P-256 or P-384.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::P256(k));
        }
        if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::P384(k));
        }
        if let Ok(k) = rsa::RsaPublicKey::from_public_key_der(der) {
            return Ok(PublicKey::Rsa(k));
        }
        Err(Error::unsupported("not an ECDSA P-256/P-384 or RSA public key (the kinds skiff verifies)"))
    }

    /// The key as a SubjectPublicKeyInfo (what Rekor records, PEM-wrapped).
    pub fn to_spki_der(&self) -> Vec<u8> {
        let der = match self {
            PublicKey::P256(k) => k.to_public_key_der(),
            PublicKey::P384(k) => k.to_public_key_der(),
            PublicKey::Rsa(k) => k.to_public_key_der(),
        };
        der.expect("an in-memory key encodes").into_vec()
    }

    pub fn is_ecdsa(&self) -> bool {
        !matches!(self, PublicKey::Rsa(_))
    }

    /// Whether `signature` over `hash` (made with `algorithm`) is this
    /// key's: for ECDSA, ASN.1 DER or else the raw `r‖s` form sigstore's
    /// verifier also accepts; for RSA, PKCS #1 v1.5.
    pub fn verifies(&self, algorithm: Hash, hash: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Rsa(k) => {
                let scheme = match algorithm {
                    Hash::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                    Hash::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                    Hash::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
                };
                k.verify(scheme, hash, signature).is_ok()
            }
            PublicKey::P256(k) => p256::ecdsa::Signature::from_der(signature)
                .or_else(|_| p256::ecdsa::Signature::from_slice(signature))
                .is_ok_and(|s| k.verify_prehash(hash, &s).is_ok()),
            PublicKey::P384(k) => p384::ecdsa::Signature::from_der(signature)
                .or_else(|_| p384::ecdsa::Signature::from_slice(signature))
                .is_ok_and(|s| k.verify_prehash(hash, &s).is_ok()),
        }
    }

    /// Whether `signature` is this key's over SHA-256(`message`), the
    /// hash sigstore uses for payloads and SETs whatever the curve.
    pub fn verifies_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        use sha2::Digest as _;
        self.verifies(Hash::Sha256, &sha2::Sha256::digest(message), signature)
    }
}

/// The public key in a PEM file: its first block, which must be a
/// `PUBLIC KEY` (sigstore's `UnmarshalPEMToPublicKey`).
pub fn from_pem(data: &[u8]) -> Result<PublicKey> {
    let (block, _) = pem::decode(data).ok_or_else(|| Error::invalid("PEM decoding failed"))?;
    if block.label != "PUBLIC KEY" {
        return Err(Error::invalid(format!(
            "unknown Public key PEM file type: {}. Are you passing the correct public key?",
            crate::error::sanitize(&block.label)
        )));
    }
    PublicKey::from_spki_der(&block.bytes)
}
