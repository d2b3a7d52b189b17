//! ECDSA public keys on the curves sigstore uses (P-256 for cosign keys,
//! Fulcio leaves and Rekor; P-384 for Fulcio's CAs), verified over a hash
//! the caller computed, as Go's `ecdsa.VerifyASN1` does.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};

use super::pem;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl EcKey {
    /// A SubjectPublicKeyInfo of an ECDSA key on P-256 or P-384.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(EcKey::P256(k));
        }
        if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Ok(EcKey::P384(k));
        }
        Err(Error::unsupported("not an ECDSA P-256 or P-384 public key (the only kinds skiff verifies)"))
    }

    /// The key as a SubjectPublicKeyInfo (what Rekor records, PEM-wrapped).
    pub fn to_spki_der(&self) -> Vec<u8> {
        let der = match self {
            EcKey::P256(k) => k.to_public_key_der(),
            EcKey::P384(k) => k.to_public_key_der(),
        };
        der.expect("an in-memory key encodes").into_vec()
    }

    /// Whether `signature` over `hash` is this key's: ASN.1 DER, or else the
    /// raw `r‖s` form sigstore's verifier also accepts.
    pub fn verifies(&self, hash: &[u8], signature: &[u8]) -> bool {
        match self {
            EcKey::P256(k) => p256::ecdsa::Signature::from_der(signature)
                .or_else(|_| p256::ecdsa::Signature::from_slice(signature))
                .is_ok_and(|s| k.verify_prehash(hash, &s).is_ok()),
            EcKey::P384(k) => p384::ecdsa::Signature::from_der(signature)
                .or_else(|_| p384::ecdsa::Signature::from_slice(signature))
                .is_ok_and(|s| k.verify_prehash(hash, &s).is_ok()),
        }
    }

    /// Whether `signature` is this key's over SHA-256(`message`), the
    /// hash sigstore uses for payloads and SETs whatever the curve.
    pub fn verifies_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        use sha2::Digest as _;
        self.verifies(&sha2::Sha256::digest(message), signature)
    }
}

/// The public key in a PEM file: its first block, which must be a
/// `PUBLIC KEY` (sigstore's `UnmarshalPEMToPublicKey`).
pub fn from_pem(data: &[u8]) -> Result<EcKey> {
    let (block, _) = pem::decode(data).ok_or_else(|| Error::invalid("PEM decoding failed"))?;
    if block.label != "PUBLIC KEY" {
        return Err(Error::invalid(format!(
            "unknown Public key PEM file type: {}. Are you passing the correct public key?",
            crate::error::sanitize(&block.label)
        )));
    }
    EcKey::from_spki_der(&block.bytes)
}
