//! Simple signing (containers-signature(5)): the payload ([`payload`]),
//! OpenPGP verification in pure Rust ([`openpgp`]), and the standalone
//! commands ([`standalone`]); key-based sigstore signatures ([`sigstore`]).

pub mod gpg;
pub mod openpgp;
pub mod payload;
pub mod sigstore;
pub mod standalone;
