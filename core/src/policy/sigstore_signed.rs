//! `sigstoreSigned` with keys (`keyPath`, `keyPaths`, `keyData`,
//! `keyDatas`): an image is accepted when one of its sigstore signatures
//! verifies with one of the keys, claims the manifest's digest and an
//! identity `signedIdentity` accepts — containers/image's
//! `prSigstoreSigned` without Fulcio, PKI or Rekor, which are refused
//! when the policy asks for them rather than ignored.

use base64::Engine as _;
use serde::Deserialize;

use super::identity::{SignedIdentity, any_accepted};
use crate::engine::Io;
use crate::error::{Error, Result};
use crate::files::read_local;
use crate::reference::ImageReference;
use crate::signing::sigstore;

/// The most a key file may hold.
const MAX_KEY: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SigstoreSigned {
    #[serde(default)]
    pub key_path: Option<String>,
    #[serde(default)]
    pub key_paths: Option<Vec<String>>,
    #[serde(default)]
    pub key_data: Option<String>,
    #[serde(default)]
    pub key_datas: Option<Vec<String>>,
    #[serde(default)]
    pub fulcio: Option<serde_json::Value>,
    #[serde(default)]
    pub pki: Option<serde_json::Value>,
    #[serde(default)]
    pub rekor_public_key_path: Option<String>,
    #[serde(default)]
    pub rekor_public_key_paths: Option<Vec<String>>,
    #[serde(default)]
    pub rekor_public_key_data: Option<String>,
    #[serde(default)]
    pub rekor_public_key_datas: Option<Vec<String>>,
    #[serde(default)]
    pub signed_identity: SignedIdentity,
}

impl SigstoreSigned {
    pub fn validate(&self) -> Result<()> {
        let sources = [
            self.key_path.is_some(),
            self.key_paths.is_some(),
            self.key_data.is_some(),
            self.key_datas.is_some(),
            self.fulcio.is_some(),
            self.pki.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(Error::invalid(
                "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio and pki must be specified",
            ));
        }
        if self.fulcio.is_some()
            || self.pki.is_some()
            || self.rekor_public_key_path.is_some()
            || self.rekor_public_key_paths.is_some()
            || self.rekor_public_key_data.is_some()
            || self.rekor_public_key_datas.is_some()
        {
            return Err(Error::unsupported(
                "sigstoreSigned with fulcio, pki or a Rekor key is not supported by this version of skiff",
            ));
        }
        if self.key_paths.as_ref().is_some_and(Vec::is_empty) || self.key_datas.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::invalid("keyPaths and keyDatas must not be empty"));
        }
        self.signed_identity.validate()
    }

    async fn keys(&self, io: &Io) -> Result<Vec<p256::ecdsa::VerifyingKey>> {
        let mut pems = Vec::new();
        for p in self.key_path.iter().chain(self.key_paths.iter().flatten()) {
            pems.push(read_local(io, p.clone(), MAX_KEY).await?);
        }
        for d in self.key_data.iter().chain(self.key_datas.iter().flatten()) {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(d)
                .map_err(|e| Error::invalid(format!("keyData is not base64: {e}")))?;
            pems.push(bytes);
        }
        let mut keys = Vec::new();
        for pem in pems {
            keys.extend(sigstore::public_keys(&pem)?);
        }
        Ok(keys)
    }

    /// `Ok(Ok)` if one of the sigstore `blobs` is acceptable, else why each is not.
    pub(super) async fn judge_all(
        &self,
        io: &Io,
        image: &ImageReference,
        manifest: &[u8],
        blobs: &[&[u8]],
    ) -> Result<std::result::Result<(), Vec<String>>> {
        let keys = self.keys(io).await?;
        Ok(any_accepted(blobs, |blob| {
            let claims = sigstore::verify(blob, &keys)?;
            self.signed_identity.check_claims(image, manifest, &claims)
        }))
    }
}
