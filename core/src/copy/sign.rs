//! Signing what copy and sync write: the signers are set up once, before
//! anything is copied (a wrong passphrase fails first, as in skopeo), then
//! each image's top-level manifest is signed with each of them in
//! containers/image's order — GPG (`--sign-by`), then skiff's OpenPGP key
//! file (`--sign-by-key-file`), then a sigstore private key
//! (`--sign-by-sigstore-private-key`).

use serde::Deserialize;

use crate::digest::Digest;
use crate::engine::Io;
use crate::error::{Error, Result};
use crate::files::read_local;
use crate::reference::ImageReference;
use crate::signature::Signature;
use crate::signing::key_file::KeyFile;
use crate::signing::{gpg, payload, sigstore, sigstore_key};

/// The most a private key or passphrase file may hold.
const MAX_KEY_FILE: u64 = 1 << 20;

/// The signing flags copy and sync share.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignOptions {
    /// `--sign-by FINGERPRINT`: the user's gpg signs (simple signing).
    #[serde(default)]
    pub sign_by: Option<String>,
    /// `--sign-by-key-file PATH` (skiff's): an exported OpenPGP secret key
    /// signs in the core, without gpg.
    #[serde(default)]
    pub sign_by_key_file: Option<String>,
    /// `--sign-by-sigstore-private-key PATH`: a cosign-format key signs.
    #[serde(default)]
    pub sign_by_sigstore_private_key: Option<String>,
    /// `--sign-passphrase-file`: for whichever one signer is named.
    #[serde(default)]
    pub sign_passphrase_file: Option<String>,
    /// The passphrase the host asked the user for (a terminal, no file).
    #[serde(default)]
    pub sign_passphrase: Option<String>,
}

/// Ready to sign: the gpg key named, the sigstore key decrypted.
#[derive(Debug, Clone)]
pub struct Signers {
    gpg: Option<(String, Option<String>)>,
    key_file: Option<KeyFile>,
    sigstore: Option<p256::ecdsa::SigningKey>,
}

impl Signers {
    /// The signers `options` name, if any; the sigstore key is read and
    /// decrypted now.
    pub async fn prepare(io: &Io, options: &SignOptions) -> Result<Option<Signers>> {
        let SignOptions {
            sign_by,
            sign_by_key_file,
            sign_by_sigstore_private_key: key_path,
            sign_passphrase_file,
            sign_passphrase,
        } = options;
        let named = [sign_by.is_some(), sign_by_key_file.is_some(), key_path.is_some()];
        if sign_passphrase_file.is_some() && named.iter().filter(|n| **n).count() > 1 {
            let flags = match sign_by_key_file {
                Some(_) => "--sign-by, --sign-by-key-file, --sign-by-sq-fingerprint and --sign-by-sigstore-private-key",
                None => "--sign-by, --sign-by-sq-fingerprint and --sign-by-sigstore-private-key",
            };
            return Err(Error::invalid(format!("Only one of {flags} can be used with --sign-passphrase-file")));
        }
        // Read here only for the core's own signers (gpg reads it itself).
        let passphrase_file = match sign_passphrase_file {
            Some(f) if sign_by_key_file.is_some() || key_path.is_some() => {
                Some(sigstore_key::passphrase_from_file(&read_local(io, f.clone(), MAX_KEY_FILE).await?))
            }
            _ => None,
        };
        let sigstore = match key_path {
            None => None,
            Some(path) => {
                let passphrase = match (&passphrase_file, sign_passphrase) {
                    (Some(p), _) => p.clone(),
                    (None, Some(p)) => p.clone().into_bytes(),
                    (None, None) => {
                        return Err(Error::invalid(format!(
                            "Cannot prompt for a passphrase for key {path}, standard input is not a TTY"
                        )));
                    }
                };
                let pem = read_local(io, path.clone(), MAX_KEY_FILE)
                    .await
                    .map_err(|e| e.context(format!("reading private key from {path}")))?;
                Some(sigstore_key::decrypt(&pem, &passphrase)?)
            }
        };
        let key_file = match sign_by_key_file {
            None => None,
            Some(path) => {
                let bytes = read_local(io, path.clone(), MAX_KEY_FILE).await?;
                // An unprotected key needs no passphrase; a protected one a file.
                Some(KeyFile::parse(&bytes, passphrase_file.clone().unwrap_or_default(), path)?)
            }
        };
        let gpg = sign_by.clone().map(|k| (k, sign_passphrase_file.clone()));
        let any = gpg.is_some() || key_file.is_some() || sigstore.is_some();
        Ok(any.then_some(Signers { gpg, key_file, sigstore }))
    }

    /// Signatures of the manifest whose digest is `digest`, claiming `identity`.
    pub async fn sign(&self, io: &Io, digest: &Digest, identity: &str) -> Result<Vec<Signature>> {
        let several =
            [self.gpg.is_some(), self.key_file.is_some(), self.sigstore.is_some()].iter().filter(|s| **s).count() > 1;
        let mut out = Vec::new();
        let timestamp = (io.now_ms() / 1000) as i64;
        let heading =
            |n: usize| if several { format!("Creating signature {n}") } else { "Creating signature".to_owned() };
        if let Some((key, passphrase_file)) = &self.gpg {
            let what = heading(out.len() + 1);
            io.note(format!("{what}: Signing image using simple signing"));
            let payload = payload::build(digest, identity, timestamp);
            let what = what.to_lowercase();
            out.push(Signature::SimpleSigning(gpg::sign(io, &payload, key, passphrase_file.as_deref(), &what).await?));
        }
        if let Some(key) = &self.key_file {
            io.note(format!("{}: Signing image using simple signing", heading(out.len() + 1)));
            let payload = payload::build(digest, identity, timestamp);
            out.push(Signature::SimpleSigning(key.sign(&payload, io.now_ms() / 1000)?));
        }
        if let Some(key) = &self.sigstore {
            io.note(format!("{}: Signing image using a sigstore signature", heading(out.len() + 1)));
            out.push(sigstore::sign(key, digest, identity, timestamp)?);
        }
        Ok(out)
    }
}

/// The signers, and the identity the signatures claim.
#[derive(Debug, Clone)]
pub struct SignWith {
    pub signers: Signers,
    /// The reference the signature claims (a full one, with a tag or digest).
    pub identity: String,
}

impl SignWith {
    /// containers/image's rules for the identity: `--sign-identity` if
    /// given (a full reference), else the destination's docker reference.
    pub fn new(signers: &Signers, identity: Option<&str>, dest: &ImageReference, shown: &str) -> Result<Self> {
        let identity = match identity {
            Some(i) => {
                let r = crate::reference::DockerReference::parse_normalized(i)?;
                if r.tag.is_none() && r.digest.is_none() {
                    return Err(Error::invalid(format!("Sign identity must be a fully specified reference {r}")));
                }
                r.to_string()
            }
            None => dest.docker_reference().map(ToString::to_string).ok_or_else(|| {
                Error::invalid(format!("Cannot determine canonical Docker reference for destination {shown}"))
            })?,
        };
        Ok(SignWith { signers: signers.clone(), identity })
    }
}
