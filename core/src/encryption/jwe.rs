//! JWE (RFC 7516), as ocicrypt's `jwe` key wrapper (go-jose) writes and
//! reads it: the layer's private options encrypted with A256GCM under a
//! content key that is wrapped for each recipient, RSA-OAEP (SHA-1) for RSA
//! keys and ECDH-ES+A256KW (RFC 7518 §4.6) for P-256 keys. One recipient
//! gives the flattened JSON form (its header merged into the protected
//! one), several the general form. Reading accepts both, the compact form,
//! RSA-OAEP-256, ECDH-ES+A128KW/A192KW and A128GCM/A192GCM, as go-jose does
//! for ocicrypt.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use rsa::Oaep;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::Digest as _;

use super::keys::{PrivateKey, PublicKey};

const B64U: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// More recipients than this in one JWE is refused: each costs a private
/// key operation per key tried.
const MAX_RECIPIENTS: usize = 100;

pub type Rng = rand_chacha::ChaCha20Rng;

fn b64u(bytes: &[u8]) -> String {
    B64U.encode(bytes)
}

#[derive(Serialize)]
struct Flattened {
    protected: String,
    encrypted_key: String,
    iv: String,
    ciphertext: String,
    tag: String,
}

#[derive(Serialize)]
struct General {
    protected: String,
    recipients: Vec<RecipientOut>,
    iv: String,
    ciphertext: String,
    tag: String,
}

#[derive(Serialize)]
struct RecipientOut {
    header: Value,
    encrypted_key: String,
}

/// RFC 7518 §4.6.2's Concat KDF (one SHA-256 round per 32 bytes).
fn concat_kdf(z: &[u8], alg: &str, apu: &[u8], apv: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut counter = 1u32;
    while out.len() < len {
        let mut h = sha2::Sha256::new();
        h.update(counter.to_be_bytes());
        h.update(z);
        for part in [alg.as_bytes(), apu, apv] {
            h.update((part.len() as u32).to_be_bytes());
            h.update(part);
        }
        h.update(((len * 8) as u32).to_be_bytes());
        out.extend_from_slice(&h.finalize());
        counter += 1;
    }
    out.truncate(len);
    out
}

fn aes_kw_wrap(kek: &[u8], cek: &[u8]) -> Result<Vec<u8>, String> {
    let kek: [u8; 32] = kek.try_into().map_err(|_| "bad key-encryption key length".to_owned())?;
    aes_kw::KekAes256::from(kek).wrap_vec(cek).map_err(|e| format!("AES key wrap: {e}"))
}

fn aes_kw_unwrap(kek: &[u8], wrapped: &[u8]) -> Option<Vec<u8>> {
    match kek.len() {
        16 => aes_kw::KekAes128::from(<[u8; 16]>::try_from(kek).ok()?).unwrap_vec(wrapped).ok(),
        24 => aes_kw::KekAes192::from(<[u8; 24]>::try_from(kek).ok()?).unwrap_vec(wrapped).ok(),
        32 => aes_kw::KekAes256::from(<[u8; 32]>::try_from(kek).ok()?).unwrap_vec(wrapped).ok(),
        _ => None,
    }
}

fn epk(public: &p256::PublicKey) -> Value {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let point = public.to_encoded_point(false);
    let (x, y) = (point.x().map(|x| b64u(x)), point.y().map(|y| b64u(y)));
    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y})
}

/// The recipient's header and the content key wrapped for it.
fn wrap_for(recipient: &PublicKey, cek: &[u8], rng: &mut Rng) -> Result<(Map<String, Value>, Vec<u8>), String> {
    let mut header = Map::new();
    let wrapped = match recipient {
        PublicKey::Rsa(k) => {
            header.insert("alg".into(), "RSA-OAEP".into());
            k.encrypt(rng, Oaep::new::<sha1::Sha1>(), cek).map_err(|e| format!("RSA-OAEP: {e}"))?
        }
        PublicKey::P256(k) => {
            let ephemeral = p256::SecretKey::random(rng);
            let shared = p256::ecdh::diffie_hellman(ephemeral.to_nonzero_scalar(), k.as_affine());
            let kek = concat_kdf(shared.raw_secret_bytes(), "ECDH-ES+A256KW", b"", b"", 32);
            header.insert("alg".into(), "ECDH-ES+A256KW".into());
            header.insert("epk".into(), epk(&ephemeral.public_key()));
            aes_kw_wrap(&kek, cek)?
        }
    };
    Ok((header, wrapped))
}

/// `plaintext` encrypted for every one of `recipients`, serialised as
/// go-jose's `FullSerialize` does.
pub fn wrap(plaintext: &[u8], recipients: &[PublicKey], rng: &mut Rng) -> Result<String, String> {
    use rsa::rand_core::RngCore;
    let mut cek = [0u8; 32];
    rng.fill_bytes(&mut cek);
    let mut iv = [0u8; 12];
    rng.fill_bytes(&mut iv);
    let mut wrapped = Vec::new();
    for r in recipients {
        wrapped.push(wrap_for(r, &cek, rng)?);
    }
    let mut protected = Map::new();
    if let [(header, _)] = wrapped.as_slice() {
        protected.insert("alg".into(), header["alg"].clone());
        protected.insert("enc".into(), "A256GCM".into());
        if let Some(epk) = header.get("epk") {
            protected.insert("epk".into(), epk.clone());
        }
    } else {
        protected.insert("enc".into(), "A256GCM".into());
    }
    let protected = b64u(Value::Object(protected).to_string().as_bytes());
    let sealed = aes_gcm::Aes256Gcm::new(&cek.into())
        .encrypt(&iv.into(), Payload { msg: plaintext, aad: protected.as_bytes() })
        .map_err(|_| "AES-GCM encryption failed".to_owned())?;
    let (ciphertext, tag) = sealed.split_at(sealed.len() - 16);
    let (iv, ciphertext, tag) = (b64u(&iv), b64u(ciphertext), b64u(tag));
    let out = match wrapped.len() {
        1 => serde_json::to_string(&Flattened { protected, encrypted_key: b64u(&wrapped[0].1), iv, ciphertext, tag }),
        _ => serde_json::to_string(&General {
            protected,
            recipients: wrapped
                .into_iter()
                .map(|(h, k)| RecipientOut { header: Value::Object(h), encrypted_key: b64u(&k) })
                .collect(),
            iv,
            ciphertext,
            tag,
        }),
    };
    out.map_err(|e| e.to_string())
}

#[derive(Deserialize)]
struct Parsed {
    #[serde(default)]
    protected: Option<String>,
    #[serde(default)]
    unprotected: Option<Map<String, Value>>,
    #[serde(default)]
    header: Option<Map<String, Value>>,
    #[serde(default)]
    encrypted_key: Option<String>,
    #[serde(default)]
    recipients: Option<Vec<Recipient>>,
    #[serde(default)]
    aad: Option<String>,
    iv: String,
    ciphertext: String,
    tag: String,
}

#[derive(Deserialize)]
struct Recipient {
    #[serde(default)]
    header: Option<Map<String, Value>>,
    #[serde(default)]
    encrypted_key: Option<String>,
}

fn parse(jwe: &[u8]) -> Result<Parsed, String> {
    let text = std::str::from_utf8(jwe).map_err(|_| "the JWE is not UTF-8 text".to_owned())?.trim();
    if text.starts_with('{') {
        return serde_json::from_str(text).map_err(|e| format!("the JWE is not valid JSON: {e}"));
    }
    let parts: Vec<&str> = text.split('.').collect();
    let [protected, key, iv, ciphertext, tag] = parts.as_slice() else {
        return Err("the JWE is neither JSON nor in compact form".to_owned());
    };
    Ok(Parsed {
        protected: Some((*protected).to_owned()),
        unprotected: None,
        header: None,
        encrypted_key: Some((*key).to_owned()),
        recipients: None,
        aad: None,
        iv: (*iv).to_owned(),
        ciphertext: (*ciphertext).to_owned(),
        tag: (*tag).to_owned(),
    })
}

fn decode(field: &str, value: &str) -> Result<Vec<u8>, String> {
    B64U.decode(value.trim_end_matches('=')).map_err(|_| format!("the JWE's {field} is not base64url"))
}

fn header_bytes(header: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    match header.get(name).and_then(Value::as_str) {
        Some(v) => decode(name, v),
        None => Ok(Vec::new()),
    }
}

fn epk_of(header: &Map<String, Value>) -> Option<p256::PublicKey> {
    let epk = header.get("epk")?.as_object()?;
    if epk.get("kty")?.as_str()? != "EC" || epk.get("crv")?.as_str()? != "P-256" {
        return None;
    }
    let x = decode("epk", epk.get("x")?.as_str()?).ok()?;
    let y = decode("epk", epk.get("y")?.as_str()?).ok()?;
    if x.len() != 32 || y.len() != 32 {
        return None;
    }
    let point = p256::EncodedPoint::from_affine_coordinates(x.as_slice().into(), y.as_slice().into(), false);
    use p256::elliptic_curve::sec1::FromEncodedPoint;
    Option::from(p256::PublicKey::from_encoded_point(&point))
}

/// The content key `key` unwraps from one recipient, if it can.
fn unwrap_cek(header: &Map<String, Value>, encrypted_key: &[u8], key: &PrivateKey) -> Option<Vec<u8>> {
    let alg = header.get("alg")?.as_str()?;
    match (alg, key) {
        ("RSA-OAEP", PrivateKey::Rsa(k)) => k.decrypt(Oaep::new::<sha1::Sha1>(), encrypted_key).ok(),
        ("RSA-OAEP-256", PrivateKey::Rsa(k)) => k.decrypt(Oaep::new::<sha2::Sha256>(), encrypted_key).ok(),
        ("ECDH-ES+A128KW" | "ECDH-ES+A192KW" | "ECDH-ES+A256KW", PrivateKey::P256(k)) => {
            let len = match alg {
                "ECDH-ES+A128KW" => 16,
                "ECDH-ES+A192KW" => 24,
                _ => 32,
            };
            let peer = epk_of(header)?;
            let shared = p256::ecdh::diffie_hellman(k.to_nonzero_scalar(), peer.as_affine());
            let apu = header_bytes(header, "apu").ok()?;
            let apv = header_bytes(header, "apv").ok()?;
            let kek = concat_kdf(shared.raw_secret_bytes(), alg, &apu, &apv, len);
            aes_kw_unwrap(&kek, encrypted_key)
        }
        _ => None,
    }
}

fn open(enc: &str, cek: &[u8], iv: &[u8], sealed: &[u8], aad: &[u8]) -> Result<Option<Vec<u8>>, String> {
    if iv.len() != 12 {
        return Err("the JWE's iv is not 12 bytes".to_owned());
    }
    let payload = Payload { msg: sealed, aad };
    let opened = match (enc, cek.len()) {
        ("A128GCM", 16) => aes_gcm::Aes128Gcm::new(cek.into()).decrypt(iv.into(), payload),
        ("A192GCM", 24) => aes_gcm::AesGcm::<aes_gcm::aes::Aes192, aes_gcm::aead::consts::U12>::new(cek.into())
            .decrypt(iv.into(), payload),
        ("A256GCM", 32) => aes_gcm::Aes256Gcm::new(cek.into()).decrypt(iv.into(), payload),
        ("A128GCM" | "A192GCM" | "A256GCM", _) => return Ok(None),
        (other, _) => return Err(format!("JWE content encryption {other:?} is not supported by skiff")),
    };
    Ok(opened.ok())
}

/// The plaintext of `jwe` for the first of `keys` that opens it.
pub fn unwrap(jwe: &[u8], keys: &[PrivateKey]) -> Result<Vec<u8>, String> {
    let p = parse(jwe)?;
    let protected_text = p.protected.clone().unwrap_or_default();
    let protected: Map<String, Value> = match protected_text.as_str() {
        "" => Map::new(),
        t => serde_json::from_slice(&decode("protected header", t)?)
            .map_err(|_| "the JWE's protected header is not a JSON object".to_owned())?,
    };
    let recipients = match p.recipients {
        Some(r) => r,
        None => vec![Recipient { header: p.header, encrypted_key: p.encrypted_key }],
    };
    if recipients.len() > MAX_RECIPIENTS {
        return Err(format!("the JWE names {} recipients, more than skiff reads ({MAX_RECIPIENTS})", recipients.len()));
    }
    let (iv, tag) = (decode("iv", &p.iv)?, decode("tag", &p.tag)?);
    let mut sealed = decode("ciphertext", &p.ciphertext)?;
    sealed.extend_from_slice(&tag);
    let aad = match &p.aad {
        Some(a) => format!("{protected_text}.{a}"),
        None => protected_text.clone(),
    };
    for key in keys {
        for r in &recipients {
            let mut header = protected.clone();
            for extra in [&p.unprotected, &r.header].into_iter().flatten() {
                header.extend(extra.clone());
            }
            let Some(ek) = r.encrypted_key.as_deref() else { continue };
            let Some(cek) = unwrap_cek(&header, &decode("encrypted_key", ek)?, key) else { continue };
            let enc = header.get("enc").and_then(Value::as_str).unwrap_or_default();
            if let Some(plain) = open(enc, &cek, &iv, &sealed, aad.as_bytes())? {
                return Ok(plain);
            }
        }
    }
    Err("JWE: No suitable private key found for decryption".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: u8) -> Rng {
        rand_core::SeedableRng::from_seed([seed; 32])
    }

    #[test]
    fn rfc_7518_appendix_c_concat_kdf() {
        // ECDH-ES key agreement of RFC 7518 Appendix C (A128GCM, apu "Alice", apv "Bob").
        let z = [
            158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49, 110, 163, 218, 128,
            106, 72, 246, 218, 167, 121, 140, 254, 144, 196,
        ];
        let k = concat_kdf(&z, "A128GCM", b"Alice", b"Bob", 16);
        assert_eq!(b64u(&k), "VqqN6vgjbSBcIijNcacQGg");
    }

    #[test]
    fn one_and_several_recipients_round_trip() {
        let rsa_key = rsa::RsaPrivateKey::new(&mut rng(1), 1024).unwrap();
        let ec_key = p256::SecretKey::from_slice(&[9; 32]).unwrap();
        let other = p256::SecretKey::from_slice(&[8; 32]).unwrap();
        let (rsa_pub, ec_pub) = (PublicKey::Rsa(rsa_key.to_public_key()), PublicKey::P256(ec_key.public_key()));

        let one = wrap(b"private options", std::slice::from_ref(&ec_pub), &mut rng(2)).unwrap();
        let v: Value = serde_json::from_str(&one).unwrap();
        assert!(v.get("recipients").is_none() && v.get("encrypted_key").is_some(), "flattened: {one}");
        let header: Value = serde_json::from_slice(&B64U.decode(v["protected"].as_str().unwrap()).unwrap()).unwrap();
        assert_eq!(header["alg"], "ECDH-ES+A256KW");
        assert_eq!(header["enc"], "A256GCM");
        assert_eq!(unwrap(one.as_bytes(), &[PrivateKey::P256(ec_key.clone())]).unwrap(), b"private options");

        let both = wrap(b"opts", &[rsa_pub, ec_pub], &mut rng(3)).unwrap();
        let v: Value = serde_json::from_str(&both).unwrap();
        assert_eq!(v["recipients"].as_array().unwrap().len(), 2);
        assert_eq!(v["recipients"][0]["header"]["alg"], "RSA-OAEP");
        for key in [PrivateKey::Rsa(Box::new(rsa_key)), PrivateKey::P256(ec_key)] {
            assert_eq!(unwrap(both.as_bytes(), &[PrivateKey::P256(other.clone()), key]).unwrap(), b"opts");
        }
        let e = unwrap(both.as_bytes(), &[PrivateKey::P256(other)]).unwrap_err();
        assert!(e.contains("No suitable private key"), "{e}");
    }

    #[test]
    fn tampered_and_hostile_jwes_are_refused() {
        let key = p256::SecretKey::from_slice(&[5; 32]).unwrap();
        let jwe = wrap(b"x", &[PublicKey::P256(key.public_key())], &mut rng(4)).unwrap();
        let mut v: Value = serde_json::from_str(&jwe).unwrap();
        v["ciphertext"] = "AA".into();
        let keys = [PrivateKey::P256(key)];
        assert!(unwrap(v.to_string().as_bytes(), &keys).is_err(), "a changed ciphertext fails the tag");
        for bad in ["", "{", "a.b.c", "{\"iv\":\"!\",\"ciphertext\":\"\",\"tag\":\"\"}", "\u{0}"] {
            assert!(unwrap(bad.as_bytes(), &keys).is_err(), "{bad:?}");
        }
        let many: Vec<Value> = (0..101).map(|_| json!({"encrypted_key": ""})).collect();
        let crowd = json!({"protected": "", "recipients": many, "iv": "", "ciphertext": "", "tag": ""});
        assert!(unwrap(crowd.to_string().as_bytes(), &keys).unwrap_err().contains("recipients"));
    }
}
