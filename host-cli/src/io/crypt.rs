//! ocicrypt's layer cipher for `copy --encryption-key/--decryption-key`:
//! AES-256-CTR over a layer file, file to file on the blocking pool, with
//! the input and output hashed and an HMAC-SHA256 of the ciphertext side,
//! all in one pass. The core chose the key and nonce and checks the rest.

use std::io::{BufReader, BufWriter, Read, Write};

use aes::cipher::{KeyIvInit, StreamCipher};
use ring::digest::{Context, SHA256, SHA512};
use ring::hmac;

use super::recompress::{hex, input_name, open_input};
use crate::runtime::wit::{Crypt, CryptDirection, Crypted, HashAlgorithm, Reply};

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

fn run(c: &Crypt) -> std::io::Result<Crypted> {
    let mut cipher = Aes256Ctr::new_from_slices(&c.key, &c.nonce)
        .map_err(|_| std::io::Error::other("the key must be 32 bytes and the nonce 16"))?;
    let mut mac = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, &c.key));
    let (algorithm, name) = match c.algorithm {
        HashAlgorithm::Sha256 => (&SHA256, "sha256"),
        HashAlgorithm::Sha512 => (&SHA512, "sha512"),
    };
    let (mut input_hash, mut output_hash) = (Context::new(algorithm), Context::new(algorithm));
    let mut input = BufReader::with_capacity(1 << 20, open_input(&c.input)?);
    let mut output = BufWriter::with_capacity(1 << 20, std::fs::File::create(&c.output)?);
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &mut buf[..n];
        input_hash.update(chunk);
        if c.direction == CryptDirection::Decrypt {
            mac.update(chunk);
        }
        cipher.apply_keystream(chunk);
        if c.direction == CryptDirection::Encrypt {
            mac.update(chunk);
        }
        output_hash.update(chunk);
        output.write_all(chunk)?;
        size += n as u64;
    }
    output.flush()?;
    Ok(Crypted {
        input_digest: format!("{name}:{}", hex(input_hash.finish())),
        output_digest: format!("{name}:{}", hex(output_hash.finish())),
        size,
        hmac: mac.sign().as_ref().to_vec(),
    })
}

pub async fn crypt(c: Crypt) -> Reply {
    let what = format!("encrypting or decrypting {}", input_name(&c.input));
    super::blocking_job(what, move || run(&c).map(Reply::Crypted)).await
}
