//! OpenPGP verification of simple signing signatures, in pure Rust (rPGP):
//! a signed message (not a detached signature) checked against a keyring,
//! binary or armored. rPGP is low-level, so the rules gpgme applies for
//! skopeo are here: exactly one signature; a document signature with a
//! strong hash; made by a key of the keyring — the primary key or a signing
//! subkey validly bound to it (with its back-signature), as containers/image
//! accepts since 2025 — that is neither expired nor revoked when it signed
//! and now, on the host's clock (never the system's: this runs in wasm).

use std::io::Read;

use pgp::{
    composed::{Deserializable, Message, SignedPublicKey, SignedPublicSubKey},
    crypto::hash::HashAlgorithm,
    packet::{PublicKey, RevocationCode, Signature, SignatureType, SubpacketData},
    types::{KeyDetails, Tag},
};

/// Max accepted payload (protects against compression bombs).
const MAX_PAYLOAD: u64 = 64 * 1024 * 1024;
/// Tolerated clock skew for signatures "from the future".
const CLOCK_SKEW: u64 = 300;

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Parse a keyring: binary (`gpg --export`) or ASCII-armored (`gpg --export --armor`),
/// possibly several certificates, possibly several concatenated armor blocks.
/// Certificates that fail to parse are skipped.
fn parse_keyring(bytes: &[u8]) -> Result<Vec<SignedPublicKey>, String> {
    let first = *bytes.iter().find(|b| !b.is_ascii_whitespace()).ok_or("empty keyring")?;
    let mut certs = Vec::new();
    let mut errors = Vec::new();
    if first & 0x80 != 0 {
        // binary: a plain sequence of transferable public keys
        let iter = SignedPublicKey::from_bytes_many(bytes).map_err(|e| e.to_string())?;
        for c in iter {
            match c {
                Ok(c) => certs.push(c),
                Err(e) => errors.push(e.to_string()),
            }
        }
    } else {
        // armored: one armor block may hold many certs; several blocks may be concatenated
        const BEGIN: &[u8] = b"-----BEGIN PGP PUBLIC KEY BLOCK-----";
        let starts: Vec<usize> =
            bytes.windows(BEGIN.len()).enumerate().filter(|(_, w)| *w == BEGIN).map(|(i, _)| i).collect();
        if starts.is_empty() {
            return Err("no armored public key block found".into());
        }
        for (n, &s) in starts.iter().enumerate() {
            let end = starts.get(n + 1).copied().unwrap_or(bytes.len());
            match SignedPublicKey::from_armor_many(&bytes[s..end]) {
                Ok((iter, _headers)) => {
                    for c in iter {
                        match c {
                            Ok(c) => certs.push(c),
                            Err(e) => errors.push(e.to_string()),
                        }
                    }
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
    }
    if certs.is_empty() {
        return Err(format!("no usable certificate in keyring: {errors:?}"));
    }
    Ok(certs)
}

fn created(sig: &Signature) -> Option<u64> {
    sig.created().map(|t| t.as_secs() as u64)
}

/// Signature exists at time t (created <= t, not past its own expiration).
fn sig_alive_at(sig: &Signature, t: u64) -> bool {
    let Some(c) = created(sig) else { return false };
    if c > t {
        return false;
    }
    match sig.signature_expiration_time() {
        Some(d) if d.as_secs() != 0 => c + d.as_secs() as u64 > t,
        _ => true,
    }
}

/// Key (created at `key_created`) not expired at t according to `binding`'s Key Expiration Time.
fn key_alive_at(key_created: u64, binding: &Signature, t: u64) -> bool {
    if key_created > t {
        return false;
    }
    match binding.key_expiration_time() {
        Some(d) if d.as_secs() != 0 => key_created + d.as_secs() as u64 > t,
        _ => true,
    }
}

fn weak_hash(h: HashAlgorithm) -> bool {
    matches!(h, HashAlgorithm::None | HashAlgorithm::Md5 | HashAlgorithm::Sha1 | HashAlgorithm::Ripemd160)
}

/// Does a (cryptographically valid) revocation apply at time t?
/// Hard revocations (no reason / compromised / unknown) apply always,
/// soft ones (superseded / retired) only from their creation time on.
fn revocation_applies(rev: &Signature, t: u64) -> bool {
    match rev.revocation_reason_code() {
        Some(RevocationCode::KeySuperseded) | Some(RevocationCode::KeyRetired) => created(rev).is_some_and(|c| c <= t),
        _ => true,
    }
}

fn has_key_flags_subpacket(sig: &Signature) -> bool {
    sig.config().is_some_and(|c| c.hashed_subpackets().any(|p| matches!(p.data, SubpacketData::KeyFlags(_))))
}

fn newest<'a>(sigs: impl Iterator<Item = &'a Signature>) -> Option<&'a Signature> {
    sigs.max_by_key(|s| created(s).unwrap_or(0))
}

/// Newest valid self-signature over the primary key (direct-key sig or user-id self-cert),
/// if the primary key is live (not revoked, not expired) at time t.
fn primary_self_sig_at(cert: &SignedPublicKey, t: u64) -> Option<&Signature> {
    let pk: &PublicKey = &cert.primary_key;
    // key revocations made by the key itself
    if cert.details.revocation_signatures.iter().any(|r| r.verify_key(pk).is_ok() && revocation_applies(r, t)) {
        return None;
    }
    let direct = cert
        .details
        .direct_signatures
        .iter()
        .filter(|s| s.typ() == Some(SignatureType::Key))
        .filter(|s| sig_alive_at(s, t) && s.verify_key(pk).is_ok());
    let uid = cert.details.users.iter().flat_map(|u| {
        let ok = |s: &&Signature| sig_alive_at(s, t) && s.verify_certification(pk, Tag::UserId, &u.id).is_ok();
        let revoked = u.signatures.iter().filter(|s| s.typ() == Some(SignatureType::CertRevocation)).any(|s| ok(&s));
        u.signatures.iter().filter(move |s| !revoked && s.typ() != Some(SignatureType::CertRevocation)).filter(ok)
    });
    let sig = newest(direct.chain(uid))?;
    if weak_hash_binding(sig) || !key_alive_at(pk.created_at().as_secs() as u64, sig, t) {
        return None;
    }
    Some(sig)
}

fn weak_hash_binding(sig: &Signature) -> bool {
    // SHA-1 is still common on old self-signatures; only reject the truly broken ones.
    matches!(sig.hash_alg(), None | Some(HashAlgorithm::Md5) | Some(HashAlgorithm::None))
}

/// Primary key can sign at t: live, and its self-sig has the sign flag (or no key flags at all).
fn primary_can_sign_at(cert: &SignedPublicKey, t: u64) -> bool {
    match primary_self_sig_at(cert, t) {
        Some(s) => !has_key_flags_subpacket(s) || s.key_flags().sign(),
        None => false,
    }
}

/// Subkey is a validly bound, live signing subkey at t (needs a live primary, too).
fn subkey_can_sign_at(cert: &SignedPublicKey, sub: &SignedPublicSubKey, t: u64) -> bool {
    let pk = &cert.primary_key;
    if primary_self_sig_at(cert, t).is_none() {
        return false;
    }
    // subkey revocations (type 0x28), issued by the primary
    if sub.signatures.iter().any(|s| {
        s.typ() == Some(SignatureType::SubkeyRevocation)
            && s.verify_subkey_binding(pk, &sub.key).is_ok()
            && revocation_applies(s, t)
    }) {
        return false;
    }
    let binding = newest(sub.signatures.iter().filter(|s| {
        s.typ() == Some(SignatureType::SubkeyBinding)
            && sig_alive_at(s, t)
            && s.verify_subkey_binding(pk, &sub.key).is_ok()
    }));
    let Some(b) = binding else { return false };
    if weak_hash_binding(b) || !b.key_flags().sign() {
        return false;
    }
    // signing subkeys need a valid embedded primary-key-binding ("back") signature
    let Some(back) = b.embedded_signature() else { return false };
    if back.verify_primary_key_binding(&sub.key, pk).is_err() {
        return false;
    }
    key_alive_at(sub.key.created_at().as_secs() as u64, b, t)
}

/// Verifies an OpenPGP signed message (`gpg --sign`, binary or armored) against a keyring.
/// Returns (literal data, primary key fingerprint, signing key fingerprint), hex upper-case.
pub fn verify_signed_message(
    keyring: &[u8],
    message: &[u8],
    now_unix: u64,
) -> Result<(Vec<u8>, String, String), String> {
    let certs = parse_keyring(keyring)?;

    let (msg, data, sig) = read_signed(message)?;

    if !matches!(sig.typ(), Some(SignatureType::Binary) | Some(SignatureType::Text)) {
        return Err(format!("not a document signature: {:?}", sig.typ()));
    }
    match sig.hash_alg() {
        Some(h) if !weak_hash(h) => {}
        h => return Err(format!("unacceptable hash algorithm {h:?}")),
    }
    let t_sig = created(&sig).ok_or("signature has no creation time")?;
    if t_sig > now_unix + CLOCK_SKEW {
        return Err("signature created in the future".into());
    }
    if !sig_alive_at(&sig, now_unix.max(t_sig)) {
        return Err("signature expired".into());
    }

    // issuer hints (unhashed area is untrusted, but we verify cryptographically anyway)
    let issuer_ids = sig.issuer_key_id();
    let issuer_fps = sig.issuer_fingerprint();
    let no_issuer = issuer_ids.is_empty() && issuer_fps.is_empty();
    let matches = |k: &dyn KeyDetails| {
        no_issuer
            || issuer_fps.iter().any(|f| **f == k.fingerprint())
            || issuer_ids.iter().any(|i| **i == k.legacy_key_id())
    };

    let mut reasons = Vec::new();
    for cert in &certs {
        let primary_fp = hex_upper(cert.primary_key.fingerprint().as_bytes());
        // primary key
        if matches(&cert.primary_key) {
            if msg.verify(&cert.primary_key).is_ok() {
                if primary_can_sign_at(cert, t_sig) && primary_can_sign_at(cert, now_unix.max(t_sig)) {
                    return Ok((data, primary_fp.clone(), primary_fp));
                }
                reasons.push(format!("{primary_fp}: key not valid for signing (expired/revoked/no sign flag)"));
            } else {
                reasons.push(format!("{primary_fp}: bad signature"));
            }
        }
        // subkeys
        for sub in &cert.public_subkeys {
            if !matches(&sub.key) {
                continue;
            }
            let sub_fp = hex_upper(sub.key.fingerprint().as_bytes());
            if msg.verify(&sub.key).is_ok() {
                if subkey_can_sign_at(cert, sub, t_sig) && subkey_can_sign_at(cert, sub, now_unix.max(t_sig)) {
                    return Ok((data, primary_fp, sub_fp));
                }
                reasons.push(format!("{sub_fp} (of {primary_fp}): subkey not validly bound/live signing key"));
            } else {
                reasons.push(format!("{sub_fp} (of {primary_fp}): bad signature"));
            }
        }
    }
    if reasons.is_empty() {
        let ids: Vec<String> = issuer_fps
            .iter()
            .map(|f| hex_upper(f.as_bytes()))
            .chain(issuer_ids.iter().map(|i| hex_upper(i.as_ref())))
            .collect();
        return Err(format!("signing key not in keyring (issuer {ids:?})"));
    }
    Err(format!("verification failed: {reasons:?}"))
}

/// A verified signed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signed bytes (a simple signing payload, not yet parsed).
    pub payload: Vec<u8>,
    /// The primary key fingerprint (upper-case hex) of the signer's certificate.
    pub primary: String,
    /// The fingerprint of the key that signed (the primary or a subkey).
    pub signer: String,
}

/// The payload of a signed message and its one signature, read without
/// verifying anything: gpg's nesting (compression outside or inside the
/// signed part) unwrapped, exactly one signature over literal data.
fn read_signed(message: &[u8]) -> Result<(Message<'_>, Vec<u8>, Signature), String> {
    let (mut msg, _headers) = Message::from_reader(message).map_err(|e| format!("parse message: {e}"))?;

    // gpg --sign: Compressed{ OnePassSig, Literal, Sig } -> strip outer compression layers
    for _ in 0..4 {
        if !msg.is_compressed() {
            break;
        }
        msg = msg.decompress().map_err(|e| format!("decompress: {e}"))?;
    }
    // other producers: OPS, Compressed{ Literal }, Sig -> decompress the signed body
    for _ in 0..4 {
        match &msg {
            Message::Signed { reader, .. } if reader.get_ref().is_compressed() => {
                msg = msg.decompress().map_err(|e| format!("decompress: {e}"))?;
            }
            _ => break,
        }
    }
    match &msg {
        Message::Signed { reader, .. } => {
            if reader.num_signatures() != 1 {
                return Err(format!("expected exactly one signature, found {}", reader.num_signatures()));
            }
            if !reader.get_ref().is_literal() {
                return Err("signed content is not plain literal data (nested signature or encryption)".into());
            }
        }
        Message::Literal { .. } => return Err("message is not signed".into()),
        Message::Encrypted { .. } => return Err("message is encrypted".into()),
        Message::Compressed { .. } => return Err("too many compression layers".into()),
    }

    // Read the payload to the end: this drives hashing and parses the trailing Signature packet.
    let mut data = Vec::new();
    (&mut msg).take(MAX_PAYLOAD + 1).read_to_end(&mut data).map_err(|e| format!("read message: {e}"))?;
    if data.len() as u64 > MAX_PAYLOAD {
        return Err("payload too large".into());
    }

    let Message::Signed { reader, .. } = &msg else { unreachable!() };
    let sig = reader.signature(0).ok_or("missing signature packet")?.clone();
    Ok((msg, data, sig))
}

/// What a signed message says and the short ID of the key it names,
/// WITHOUT verifying it (`untrusted-signature-dump-without-verification`).
pub fn untrusted_contents(message: &[u8]) -> crate::error::Result<(Vec<u8>, String)> {
    let (_, payload, sig) = read_signed(message).map_err(crate::error::Error::invalid)?;
    let id = match (sig.issuer_key_id().first(), sig.issuer_fingerprint().first()) {
        (Some(id), _) => hex_upper(id.as_ref()),
        (None, Some(fp)) => {
            let bytes = fp.as_bytes();
            hex_upper(&bytes[bytes.len().saturating_sub(8)..])
        }
        (None, None) => String::new(),
    };
    Ok((payload, id))
}

/// Verifies `message` against `keyring` at `now_unix` (seconds).
pub fn verify(keyring: &[u8], message: &[u8], now_unix: u64) -> crate::error::Result<Verified> {
    verify_signed_message(keyring, message, now_unix)
        .map(|(payload, primary, signer)| Verified { payload, primary, signer })
        .map_err(crate::error::Error::integrity)
}

/// The primary-key fingerprints of every certificate in `keyring`.
pub fn primary_fingerprints(keyring: &[u8]) -> crate::error::Result<Vec<String>> {
    let certs = parse_keyring(keyring).map_err(crate::error::Error::invalid)?;
    Ok(certs.iter().map(|c| hex_upper(c.primary_key.fingerprint().as_bytes())).collect())
}
