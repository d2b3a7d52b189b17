//! Simple signing without gpg (a skiff extension, `--sign-by-key-file`):
//! an exported OpenPGP secret key (`gpg --export-secret-keys [--armor]`)
//! signs in the core, so CI machines without gpg can sign. The
//! primary key signs; the message is an uncompressed signed message (one-
//! pass signature, literal data, signature), which gpgme and
//! containers/image read like gpg's. It is put together from packets here
//! because rPGP's message builder stamps times from the system clock,
//! which the core never reads (the signature's time is the host's), and
//! the raw signature is made by [`CoreSigner`] because rPGP's own signer
//! can reach P-521 signing, which draws an OS random nonce.

use pgp::composed::{Deserializable, SignedSecretKey};
use pgp::crypto::Signer as _;
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::SecretKey;
use pgp::packet::{OnePassSignature, PacketTrait as _, SignatureConfig, SignatureType, Subpacket, SubpacketData};
use pgp::ser::Serialize as _;
use pgp::types::{KeyDetails, Password, PlainSecretParams, PublicParams, SignatureBytes, Timestamp};

use super::openpgp;
use crate::error::{Error, Result};

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

    /// `payload` as a signed message made at `now_unix`, checked against
    /// the key's public half.
    pub fn sign(&self, payload: &[u8], now_unix: u64) -> Result<Vec<u8>> {
        let failed = |e: pgp::errors::Error| Error::invalid(format!("signing with the key file failed: {e}"));
        let key = &self.key.primary_key;
        let (algorithm, hash) = (key.algorithm(), HashAlgorithm::Sha256);
        let mut config = SignatureConfig::v4(SignatureType::Binary, algorithm, hash);
        let created = Timestamp::from_secs(u32::try_from(now_unix).unwrap_or(u32::MAX));
        config.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::SignatureCreationTime(created)).map_err(failed)?,
            Subpacket::regular(SubpacketData::IssuerFingerprint(key.fingerprint())).map_err(failed)?,
        ];
        config.unhashed_subpackets =
            vec![Subpacket::regular(SubpacketData::IssuerKeyId(key.legacy_key_id())).map_err(failed)?];
        let signature = config
            .sign(&CoreSigner(key), &Password::from(self.passphrase.as_slice()), payload)
            .map_err(|e| Error::invalid(format!("signing with the key file failed (a wrong passphrase?): {e}")))?;
        let mut message = Vec::new();
        OnePassSignature::v3(SignatureType::Binary, hash, algorithm, key.legacy_key_id())
            .to_writer_with_header(&mut message)
            .map_err(failed)?;
        literal_data(&mut message, payload);
        signature.to_writer_with_header(&mut message).map_err(failed)?;
        let verified = openpgp::verify(&self.public, &message, now_unix)?;
        if verified.payload != payload {
            return Err(Error::other("the key file's signature holds something else"));
        }
        Ok(message)
    }
}

/// rPGP's secret key signing only with deterministic algorithms — RSA
/// (PKCS #1 v1.5), Ed25519 and ECDSA on P-256/P-384 (RFC 6979) — so no
/// random source is ever needed or linked.
#[derive(Debug)]
struct CoreSigner<'a>(&'a SecretKey);

impl KeyDetails for CoreSigner<'_> {
    fn version(&self) -> pgp::types::KeyVersion {
        self.0.version()
    }
    fn legacy_key_id(&self) -> pgp::types::KeyId {
        self.0.legacy_key_id()
    }
    fn fingerprint(&self) -> pgp::types::Fingerprint {
        self.0.fingerprint()
    }
    fn algorithm(&self) -> pgp::crypto::public_key::PublicKeyAlgorithm {
        self.0.algorithm()
    }
    fn created_at(&self) -> Timestamp {
        self.0.created_at()
    }
    fn legacy_v3_expiration_days(&self) -> Option<u16> {
        self.0.legacy_v3_expiration_days()
    }
    fn public_params(&self) -> &PublicParams {
        self.0.public_params()
    }
}

impl pgp::types::SigningKey for CoreSigner<'_> {
    fn sign(&self, key_pw: &Password, hash: HashAlgorithm, data: &[u8]) -> pgp::errors::Result<SignatureBytes> {
        use p256::ecdsa::signature::hazmat::PrehashSigner as _;
        let mpis = |r: &[u8], s: &[u8]| {
            Ok(SignatureBytes::Mpis(vec![pgp::types::Mpi::from_slice(r), pgp::types::Mpi::from_slice(s)]))
        };
        self.0.unlock(key_pw, |_, secret| match secret {
            PlainSecretParams::RSA(k) => k.sign(hash, data),
            PlainSecretParams::Ed25519(k) => k.sign(hash, data),
            PlainSecretParams::EdDSALegacy(pgp::crypto::eddsa_legacy::SecretKey::Ed25519(k)) => k.sign(hash, data),
            PlainSecretParams::ECDSA(pgp::crypto::ecdsa::SecretKey::P256(k)) => {
                let signature: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(k).sign_prehash(data)?;
                let (r, s) = signature.split_bytes();
                mpis(&r, &s)
            }
            PlainSecretParams::ECDSA(pgp::crypto::ecdsa::SecretKey::P384(k)) => {
                let signature: p384::ecdsa::Signature = p384::ecdsa::SigningKey::from(k).sign_prehash(data)?;
                let (r, s) = signature.split_bytes();
                mpis(&r, &s)
            }
            _ => Err(pgp::errors::Error::Unsupported {
                message: "this kind of key cannot sign here (RSA, Ed25519 and ECDSA P-256/P-384 keys can)".to_owned(),
                backtrace: None,
            }),
        })?
    }

    fn hash_alg(&self) -> HashAlgorithm {
        HashAlgorithm::Sha256
    }
}

/// A binary literal data packet (RFC 9580 §5.9) holding `data`, no file
/// name, time zero: new-format header, then `b`, name length, time, data.
fn literal_data(out: &mut Vec<u8>, data: &[u8]) {
    let len = 6 + data.len();
    out.push(0xC0 | 11);
    match len {
        0..192 => out.push(len as u8),
        192..8384 => out.extend([(((len - 192) >> 8) + 192) as u8, ((len - 192) & 0xFF) as u8]),
        _ => {
            out.push(0xFF);
            out.extend((len as u32).to_be_bytes());
        }
    }
    out.extend([b'b', 0, 0, 0, 0, 0]);
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_packets_have_the_three_length_forms() {
        let lengths = |n: usize| {
            let mut out = Vec::new();
            literal_data(&mut out, &vec![7; n]);
            out[..6].to_vec()
        };
        assert_eq!(lengths(10), [0xCB, 16, b'b', 0, 0, 0]);
        assert_eq!(lengths(300), [0xCB, 192, 114, b'b', 0, 0], "306 bytes: 192 + 114");
        assert_eq!(lengths(9000), [0xCB, 0xFF, 0, 0, 0x23, 0x2E]);
    }
}
