//! `sigstoreSigned`: an image is accepted when one of its sigstore
//! signatures verifies against the configured trust — public keys
//! (`keyPath`, `keyPaths`, `keyData`, `keyDatas`, optionally with Rekor
//! keys), a Fulcio CA with an OIDC identity and Rekor keys, or the user's
//! own CA (`pki`) — claims the manifest's digest and an identity
//! `signedIdentity` accepts: containers/image's `prSigstoreSigned`. The
//! cryptography is [`crate::signing::sigstore`]'s.

use base64::Engine as _;
use serde::Deserialize;

use super::identity::{SignedIdentity, any_accepted};
use crate::engine::Io;
use crate::error::{Error, Result};
use crate::files::read_local;
use crate::reference::ImageReference;
use crate::signature::SigstoreParts;
use crate::signing::public_key::{self, PublicKey};
use crate::signing::sigstore::{self, Trust};
use crate::signing::x509;

/// The most a key or certificate file may hold.
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
    pub fulcio: Option<Fulcio>,
    #[serde(default)]
    pub pki: Option<Pki>,
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

/// `fulcio`: the CA, and whose certificate it must be.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fulcio {
    #[serde(default)]
    pub ca_path: Option<String>,
    #[serde(default)]
    pub ca_data: Option<String>,
    #[serde(default)]
    pub oidc_issuer: Option<String>,
    #[serde(default)]
    pub subject_email: Option<String>,
}

/// `pki`: the user's CA roots and intermediates, and the subject.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pki {
    #[serde(default)]
    pub ca_roots_path: Option<String>,
    #[serde(default)]
    pub ca_roots_data: Option<String>,
    #[serde(default)]
    pub ca_intermediates_path: Option<String>,
    #[serde(default)]
    pub ca_intermediates_data: Option<String>,
    #[serde(default)]
    pub subject_email: Option<String>,
    #[serde(default)]
    pub subject_hostname: Option<String>,
}

/// Go's "present": a string field counts when it is not empty.
fn set(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !s.is_empty())
}

impl SigstoreSigned {
    /// containers/image's checks, in its order and words.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::invalid(m.to_owned()));
        let sources = [
            set(&self.key_path),
            self.key_paths.is_some(),
            self.key_data.is_some(),
            self.key_datas.is_some(),
            self.fulcio.is_some(),
            self.pki.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            return bad("exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki must be specified");
        }
        let rekor = [
            set(&self.rekor_public_key_path),
            self.rekor_public_key_paths.is_some(),
            self.rekor_public_key_data.is_some(),
            self.rekor_public_key_datas.is_some(),
        ];
        let rekor_count = rekor.iter().filter(|s| **s).count();
        if rekor_count > 1 {
            return bad(
                "at most one of rekorPublickeyPath, rekorPublicKeyPaths, rekorPublickeyData and rekorPublicKeyDatas can be used simultaneously",
            );
        }
        if self.fulcio.is_some() && rekor_count == 0 {
            return bad(
                "At least one of rekorPublickeyPath, rekorPublicKeyPaths, rekorPublickeyData and rekorPublicKeyDatas must be specified if fulcio is used",
            );
        }
        if self.pki.is_some() && rekor_count > 0 {
            return bad(
                "rekorPublickeyPath, rekorPublicKeyPaths, rekorPublickeyData and rekorPublicKeyDatas are not supported for pki",
            );
        }
        let empty = |v: &Option<Vec<String>>| v.as_ref().is_some_and(Vec::is_empty);
        for (list, name) in [
            (&self.key_paths, "keyPaths"),
            (&self.key_datas, "keyDatas"),
            (&self.rekor_public_key_paths, "rekorPublickeyPaths"),
            (&self.rekor_public_key_datas, "rekorPublickeyDatas"),
        ] {
            if empty(list) {
                return Err(Error::invalid(format!("{name:?} contains no entries")));
            }
        }
        if let Some(f) = &self.fulcio {
            match (set(&f.ca_path), f.ca_data.is_some()) {
                (true, true) => return bad("caPath and caData cannot be used simultaneously"),
                (false, false) => return bad("At least one of caPath and caData must be specified"),
                _ => {}
            }
            if !set(&f.oidc_issuer) {
                return bad("oidcIssuer not specified");
            }
            if !set(&f.subject_email) {
                return bad("subjectEmail not specified");
            }
        }
        if let Some(p) = &self.pki {
            match (set(&p.ca_roots_path), p.ca_roots_data.is_some()) {
                (true, true) => return bad("caRootsPath and caRootsData cannot be used simultaneously"),
                (false, false) => return bad("At least one of caRootsPath and caRootsData must be specified"),
                _ => {}
            }
            if set(&p.ca_intermediates_path) && p.ca_intermediates_data.is_some() {
                return bad("caIntermediatesPath and caIntermediatesData cannot be used simultaneously");
            }
            if !set(&p.subject_email) && !set(&p.subject_hostname) {
                return bad("At least one of subjectEmail, subjectHostname must be specified");
            }
        }
        self.signed_identity.validate()
    }

    /// The trust the policy configures, its files read.
    async fn trust(&self, io: &Io) -> Result<Trust> {
        if let Some(f) = &self.fulcio {
            let pem = source(io, f.ca_path.as_deref().filter(|p| !p.is_empty()), f.ca_data.as_deref()).await?;
            let roots = x509::pool_from_pem(&pem);
            if roots.is_empty() {
                return Err(Error::invalid("error loading Fulcio CA certificates"));
            }
            return Ok(Trust::Fulcio {
                roots,
                rekor: self.rekor_keys(io).await?.unwrap_or_default(),
                oidc_issuer: f.oidc_issuer.clone().unwrap_or_default(),
                subject_email: f.subject_email.clone().unwrap_or_default(),
            });
        }
        if let Some(p) = &self.pki {
            let pem = source(io, p.ca_roots_path.as_deref().filter(|p| !p.is_empty()), p.ca_roots_data.as_deref());
            let roots = x509::pool_from_pem(&pem.await?);
            if roots.is_empty() {
                return Err(Error::invalid("error loading PKI CA Roots certificates"));
            }
            let path = p.ca_intermediates_path.as_deref().filter(|p| !p.is_empty());
            let intermediates = match (path, p.ca_intermediates_data.as_deref()) {
                (None, None) => Vec::new(),
                (path, data) => x509::parse_all_strict(&source(io, path, data).await?)
                    .map_err(|e| Error::invalid(format!("loading trusted intermediate certificates: {e}")))?,
            };
            return Ok(Trust::Pki {
                roots,
                intermediates,
                subject_email: p.subject_email.clone().filter(|s| !s.is_empty()),
                subject_hostname: p.subject_hostname.clone().filter(|s| !s.is_empty()),
                now: io.now_ms() / 1000,
            });
        }
        let paths = self.key_path.iter().filter(|p| !p.is_empty()).chain(self.key_paths.iter().flatten());
        let keys = keys(io, paths, self.key_data.iter().chain(self.key_datas.iter().flatten()), "public key").await?;
        Ok(Trust::Keys { keys, rekor: self.rekor_keys(io).await? })
    }

    async fn rekor_keys(&self, io: &Io) -> Result<Option<Vec<PublicKey>>> {
        let paths: Vec<&String> = self
            .rekor_public_key_path
            .iter()
            .filter(|p| !p.is_empty())
            .chain(self.rekor_public_key_paths.iter().flatten())
            .collect();
        let datas: Vec<&String> =
            self.rekor_public_key_data.iter().chain(self.rekor_public_key_datas.iter().flatten()).collect();
        if paths.is_empty() && datas.is_empty() {
            return Ok(None);
        }
        let keys = keys(io, paths.into_iter(), datas.into_iter(), "Rekor public key").await?;
        if let Some(n) = keys.iter().position(|k| !k.is_ecdsa()) {
            return Err(Error::invalid(format!("Rekor public key {} is not using ECDSA", n + 1)));
        }
        Ok(Some(keys))
    }

    /// `Ok(Ok)` if one of the sigstore signatures is acceptable, else why each is not.
    pub(super) async fn judge_all(
        &self,
        io: &Io,
        image: &ImageReference,
        manifest: &[u8],
        signatures: &[SigstoreParts],
    ) -> Result<std::result::Result<(), Vec<String>>> {
        let trust = self.trust(io).await?;
        Ok(any_accepted(signatures, |parts| {
            let claims = sigstore::verify(parts, &trust)?;
            self.signed_identity.check_claims(image, manifest, &claims)
        }))
    }
}

/// A file's bytes, or base64 `data` decoded.
async fn source(io: &Io, path: Option<&str>, data: Option<&str>) -> Result<Vec<u8>> {
    match (path, data) {
        (Some(p), _) => read_local(io, p.to_owned(), MAX_KEY).await,
        (None, Some(d)) => base64::engine::general_purpose::STANDARD
            .decode(d)
            .map_err(|e| Error::invalid(format!("invalid base64 in the policy: {e}"))),
        (None, None) => Ok(Vec::new()),
    }
}

/// Public keys from files and base64 PEM data, numbered in messages as
/// containers/image numbers them.
async fn keys<'a>(
    io: &Io,
    paths: impl Iterator<Item = &'a String>,
    datas: impl Iterator<Item = &'a String>,
    what: &str,
) -> Result<Vec<PublicKey>> {
    let mut pems = Vec::new();
    for p in paths {
        pems.push(read_local(io, p.clone(), MAX_KEY).await?);
    }
    for d in datas {
        pems.push(source(io, None, Some(d)).await?);
    }
    pems.iter()
        .enumerate()
        .map(|(i, pem)| {
            public_key::from_pem(pem).map_err(|e| Error::invalid(format!("parsing {what} {}: {}", i + 1, e.message)))
        })
        .collect()
}
