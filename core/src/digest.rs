//! Content digests (`algorithm:hex`) as the OCI image-spec defines them.
//!
//! A digest is validated before it is ever used to build a URL or a path
//! (CVE-2024-3727): only `sha256` and `sha512`, exact hex length, lowercase.

use std::fmt;

use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{Error, Result};

/// Hash algorithms we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }
    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "sha256" => Ok(Algorithm::Sha256),
            "sha512" => Ok(Algorithm::Sha512),
            other => Err(Error::invalid(format!("unsupported digest algorithm {other:?}"))),
        }
    }
}

/// A validated digest. Its string form is safe to put in a path or URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// Parses `algorithm:hex`, refusing anything that is not exactly a known
    /// algorithm followed by the right number of lowercase hex digits.
    pub fn parse(s: &str) -> Result<Self> {
        let (alg, hex) =
            s.split_once(':').ok_or_else(|| Error::invalid(format!("invalid digest {s:?}: missing algorithm")))?;
        let algorithm = Algorithm::parse(alg).map_err(|e| e.context(format!("invalid digest {s:?}")))?;
        if hex.len() != algorithm.hex_len() {
            return Err(Error::invalid(format!(
                "invalid digest {s:?}: {} needs {} hex digits",
                algorithm.name(),
                algorithm.hex_len()
            )));
        }
        if !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(Error::invalid(format!("invalid digest {s:?}: not lowercase hex")));
        }
        Ok(Digest { algorithm, hex: hex.to_owned() })
    }

    /// The digest of `bytes` with `algorithm`.
    pub fn of(algorithm: Algorithm, bytes: &[u8]) -> Self {
        let mut d = Digester::new(algorithm);
        d.update(bytes);
        d.finish()
    }

    pub fn sha256(bytes: &[u8]) -> Self {
        Self::of(Algorithm::Sha256, bytes)
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Checks `bytes` against this digest; `what` names the content in the error.
    pub fn verify(&self, bytes: &[u8], what: &str) -> Result<()> {
        let actual = Digest::of(self.algorithm, bytes);
        if &actual != self {
            return Err(Error::integrity(format!("digest mismatch for {what}: expected {self}, got {actual}")));
        }
        Ok(())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Incremental hashing, for content that arrives in chunks.
pub struct Digester {
    state: State,
}

enum State {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl fmt::Debug for Digester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digester")
    }
}

impl Digester {
    pub fn new(algorithm: Algorithm) -> Self {
        let state = match algorithm {
            Algorithm::Sha256 => State::Sha256(Sha256::new()),
            Algorithm::Sha512 => State::Sha512(Sha512::new()),
        };
        Digester { state }
    }
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.state {
            State::Sha256(h) => h.update(bytes),
            State::Sha512(h) => h.update(bytes),
        }
    }
    pub fn finish(self) -> Digest {
        let (algorithm, bytes) = match self.state {
            State::Sha256(h) => (Algorithm::Sha256, h.finalize().to_vec()),
            State::Sha512(h) => (Algorithm::Sha512, h.finalize().to_vec()),
        };
        Digest { algorithm, hex: to_hex(&bytes) }
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn hashes_and_round_trips() {
        assert_eq!(Digest::sha256(b"").to_string(), EMPTY);
        assert_eq!(Digest::parse(EMPTY).unwrap().to_string(), EMPTY);
        let mut d = Digester::new(Algorithm::Sha256);
        d.update(b"ab");
        d.update(b"c");
        assert_eq!(d.finish(), Digest::sha256(b"abc"));
    }

    #[test]
    fn rejects_hostile_and_malformed() {
        for bad in [
            "sha256:../../x",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0",
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "",
            "sha256:",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn verify_detects_mismatch() {
        let d = Digest::parse(EMPTY).unwrap();
        assert!(d.verify(b"", "x").is_ok());
        let e = d.verify(b"x", "blob").unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Integrity);
    }

    #[test]
    fn sha512_length_enforced() {
        let d = Digest::of(Algorithm::Sha512, b"abc");
        assert_eq!(d.hex().len(), 128);
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
    }
}
