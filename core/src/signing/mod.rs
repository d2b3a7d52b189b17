//! Simple signing (containers-signature(5)): the payload ([`payload`]),
//! OpenPGP verification in pure Rust ([`openpgp`]), and the standalone
//! commands ([`standalone`]); key-based sigstore signatures ([`sigstore`]).

pub mod dump;
pub mod generate_key;
pub mod gpg;
#[cfg_attr(not(feature = "openpgp"), path = "key_file_unavailable.rs")]
pub mod key_file;
#[cfg_attr(not(feature = "openpgp"), path = "openpgp_unavailable.rs")]
pub mod openpgp;
pub mod payload;
pub mod pem;
pub mod public_key;
pub mod rekor;
pub mod sigstore;
pub mod sigstore_key;
pub mod standalone;
pub mod x509;
