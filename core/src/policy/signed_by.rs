//! `signedBy` (GPG keys): an image is accepted when one of its simple
//! signing signatures is by a key of the configured keyring, claims the
//! manifest's digest, and claims an identity `signedIdentity` accepts —
//! containers/image's `prSignedBy`, with the OpenPGP work in
//! [`crate::signing::openpgp`].

use base64::Engine as _;
use serde::Deserialize;

use super::identity::{SignedIdentity, any_accepted};
use crate::engine::Io;
use crate::error::{Error, ErrorKind, Result};
use crate::files::read_local;
use crate::reference::ImageReference;
use crate::signing::{openpgp, payload};

/// The most a keyring file may hold.
const MAX_KEYRING: u64 = 16 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedBy {
    pub key_type: String,
    #[serde(default)]
    pub key_path: Option<String>,
    #[serde(default)]
    pub key_paths: Option<Vec<String>>,
    #[serde(default)]
    pub key_data: Option<String>,
    #[serde(default)]
    pub signed_identity: SignedIdentity,
}

fn rejected(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unauthorized, message.into())
}

impl SignedBy {
    /// What containers/image refuses when it reads the policy.
    pub fn validate(&self) -> Result<()> {
        if self.key_type != "GPGKeys" {
            return Err(Error::invalid(format!("Unknown key type {:?}", self.key_type)));
        }
        let sources = [self.key_path.is_some(), self.key_paths.is_some(), self.key_data.is_some()];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(Error::invalid("exactly one of keyPath, keyPaths and keyData must be specified"));
        }
        if self.key_paths.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::invalid("keyPaths is empty"));
        }
        self.signed_identity.validate()
    }

    /// The keyrings the requirement names.
    async fn keyrings(&self, io: &Io) -> Result<Vec<Vec<u8>>> {
        if let Some(data) = &self.key_data {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| Error::invalid(format!("keyData is not base64: {e}")))?;
            return Ok(vec![bytes]);
        }
        let paths: Vec<&String> = self.key_path.iter().chain(self.key_paths.iter().flatten()).collect();
        let mut out = Vec::new();
        for p in paths {
            out.push(read_local(io, p.clone(), MAX_KEYRING).await?);
        }
        Ok(out)
    }

    /// Why `signature` is not accepted for `image` (whose manifest is
    /// `manifest`), if it is not.
    fn judge(
        &self,
        keyrings: &[Vec<u8>],
        image: &ImageReference,
        manifest: &[u8],
        blob: &[u8],
        now_s: u64,
    ) -> Result<()> {
        let mut last = None;
        let verified = keyrings.iter().find_map(|k| match openpgp::verify(k, blob, now_s) {
            Ok(v) => Some(v),
            Err(e) => {
                last = Some(e);
                None
            }
        });
        let Some(verified) = verified else {
            return Err(last.unwrap_or_else(|| Error::invalid("No public keys imported")));
        };
        let claims = payload::parse(&verified.payload)?;
        self.signed_identity.check_claims(image, manifest, &claims)
    }
}

impl SignedBy {
    /// `Ok(Ok)` if one of the simple signing `blobs` is acceptable, else
    /// why each is not.
    pub(super) async fn judge_all(
        &self,
        io: &Io,
        image: &ImageReference,
        manifest: &[u8],
        blobs: &[&[u8]],
    ) -> Result<std::result::Result<(), Vec<String>>> {
        let keyrings = self.keyrings(io).await?;
        if keyrings.iter().all(|k| openpgp::primary_fingerprints(k).map_or(true, |f| f.is_empty())) {
            return Err(rejected("No public keys imported"));
        }
        let now_s = io.now_ms() / 1000;
        Ok(any_accepted(blobs, |blob| self.judge(&keyrings, image, manifest, blob, now_s)))
    }
}
