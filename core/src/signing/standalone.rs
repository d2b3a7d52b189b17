//! `standalone-sign` and `standalone-verify`: a simple signing signature
//! made or checked from local files, as skopeo's commands do. Signing runs
//! the user's `gpg` (its agent, smartcards and pinentry work as usual); the
//! core builds the payload and verifies what gpg made before writing it.
//! Verifying is all in the core, against `--public-key-file` or the keys
//! `gpg --export` lists.

use serde::Deserialize;

use super::{gpg, openpgp, payload};
use crate::engine::{Io, Request};
use crate::error::{Error, Result};
use crate::files::{fs_error, read_local};
use crate::manifest::{self, MAX_MANIFEST_SIZE};
use crate::reference::DockerReference;
use crate::signature::MAX_SIGNATURE_SIZE;

/// The most a keyring file may hold.
const MAX_KEYRING: u64 = 16 << 20;

/// `skopeo standalone-sign MANIFEST REFERENCE FINGERPRINT -o SIGNATURE`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandaloneSignJob {
    pub manifest: String,
    pub reference: String,
    pub fingerprint: String,
    pub output: String,
    #[serde(default)]
    pub passphrase_file: Option<String>,
}

/// `skopeo standalone-verify MANIFEST REFERENCE FINGERPRINTS SIGNATURE`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandaloneVerifyJob {
    pub manifest: String,
    pub reference: String,
    /// Comma-separated primary-key fingerprints, or `any`.
    pub fingerprints: String,
    pub signature: String,
    #[serde(default)]
    pub public_key_file: Option<String>,
}

pub async fn sign(io: Io, job: StandaloneSignJob) -> Result<Vec<u8>> {
    let manifest = read_local(&io, job.manifest.clone(), MAX_MANIFEST_SIZE)
        .await
        .map_err(|e| e.context(format!("Error reading {}", job.manifest)))?;
    let digest = manifest::manifest_digest(&manifest)?;
    let signed = payload::build(&digest, &job.reference, (io.now_ms() / 1000) as i64);
    let what = "Error creating signature";
    let signature = gpg::sign(&io, &signed, &job.fingerprint, job.passphrase_file.as_deref(), what).await?;
    io.fs(Request::WriteFile { path: job.output.clone(), data: signature })
        .await
        .map_err(fs_error(format!("Error writing signature to {}", job.output)))?;
    Ok(Vec::new())
}

pub async fn verify(io: Io, job: StandaloneVerifyJob) -> Result<Vec<u8>> {
    let mut accepted: Vec<String> = job.fingerprints.split(',').map(str::to_owned).collect();
    let any = accepted == ["any"];
    if any && job.public_key_file.is_none() {
        return Err(Error::invalid("Cannot use any fingerprint without a public key file"));
    }
    let manifest = read_local(&io, job.manifest.clone(), MAX_MANIFEST_SIZE)
        .await
        .map_err(|e| e.context(format!("Error reading manifest from {}", job.manifest)))?;
    let signature = read_local(&io, job.signature.clone(), MAX_SIGNATURE_SIZE)
        .await
        .map_err(|e| e.context(format!("Error reading signature from {}", job.signature)))?;
    let keyring = match &job.public_key_file {
        Some(f) => read_local(&io, f.clone(), MAX_KEYRING)
            .await
            .map_err(|e| e.context(format!("Error reading public keys from {f}")))?,
        None => gpg::run(&io, &["--batch", "--no-tty", "--export"], Vec::new(), "Error initializing GPG").await?,
    };
    if any {
        accepted = openpgp::primary_fingerprints(&keyring).map_err(|e| e.context("Error initializing GPG"))?;
    }
    let what = "Error verifying signature";
    let expected = DockerReference::parse_normalized(&job.reference).map_err(|e| e.context(what))?;
    let verified = openpgp::verify(&keyring, &signature, io.now_ms() / 1000).map_err(|e| e.context(what))?;
    let by = accepted
        .iter()
        .find(|f| f.eq_ignore_ascii_case(&verified.primary))
        .cloned()
        .or_else(|| accepted.iter().find(|f| f.eq_ignore_ascii_case(&verified.signer)).cloned());
    let Some(fingerprint) = by else {
        let message = if verified.signer == verified.primary {
            format!("signature by key {} is not accepted", verified.signer)
        } else {
            format!("signature by key {} of {} is not accepted", verified.signer, verified.primary)
        };
        return Err(Error::integrity(message).context(what));
    };
    // Only now is the payload trusted enough to read.
    let claims = payload::parse(&verified.payload).map_err(|e| e.context(what))?;
    if manifest::verify_manifest_digest(&manifest, &claims.docker_manifest_digest).is_err() {
        return Err(Error::integrity(format!(
            "Signature for docker digest {:?} does not match",
            claims.docker_manifest_digest.to_string()
        ))
        .context(what));
    }
    let signed = DockerReference::parse_normalized(&claims.docker_reference).map_err(|_| {
        Error::integrity(format!("Invalid docker reference {:?} in signature", claims.docker_reference)).context(what)
    })?;
    if signed.to_string() != expected.to_string() {
        return Err(Error::integrity(format!(
            "Docker reference {:?} does not match {:?}",
            claims.docker_reference, job.reference
        ))
        .context(what));
    }
    Ok(format!("Signature verified using fingerprint {fingerprint}, digest {}\n", claims.docker_manifest_digest)
        .into_bytes())
}
