//! `signedIdentity`: which docker reference a signature may claim for the
//! image being used, as containers/image's `policy_reference_match.go`
//! decides it.

use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};
use crate::reference::{DockerReference, ImageReference};
use crate::signing::payload::Payload;

/// `Ok` as soon as `judge` accepts one of `blobs`, else each one's reason.
pub(super) fn any_accepted<T>(
    blobs: &[T],
    mut judge: impl FnMut(&T) -> Result<()>,
) -> std::result::Result<(), Vec<String>> {
    let mut reasons = Vec::new();
    for blob in blobs {
        match judge(blob) {
            Ok(()) => return Ok(()),
            Err(e) => reasons.push(e.message),
        }
    }
    Err(reasons)
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(tag = "type", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum SignedIdentity {
    #[serde(rename = "matchExact")]
    MatchExact,
    /// The default.
    #[default]
    #[serde(rename = "matchRepoDigestOrExact")]
    MatchRepoDigestOrExact,
    #[serde(rename = "matchRepository")]
    MatchRepository,
    #[serde(rename = "exactReference")]
    ExactReference { docker_reference: String },
    #[serde(rename = "exactRepository")]
    ExactRepository { docker_repository: String },
    #[serde(rename = "remapIdentity")]
    RemapIdentity { prefix: String, signed_prefix: String },
}

fn has_tag_or_digest(r: &DockerReference) -> bool {
    r.tag.is_some() || r.digest.is_some()
}

/// `matchRepoDigestOrExact` for an image known as `intended`.
fn repo_digest_or_exact(intended: &DockerReference, signed: &DockerReference) -> bool {
    if !has_tag_or_digest(signed) {
        return false;
    }
    match (&intended.tag, &intended.digest) {
        (Some(_), _) => signed.to_string() == intended.to_string(),
        // The digest itself is checked against the manifest elsewhere.
        (None, Some(_)) => signed.name() == intended.name(),
        (None, None) => false,
    }
}

/// containers/image's `refMatchesPrefix`: the prefix, then `/`, `:` or `@`.
fn matches_prefix(reference: &str, prefix: &str) -> bool {
    match reference.strip_prefix(prefix) {
        Some("") => true,
        Some(rest) => rest.starts_with(['/', ':', '@']),
        None => false,
    }
}

impl SignedIdentity {
    /// Whether verified `claims` fit `image` (whose manifest is
    /// `manifest`): the digest it names, the identity this rule accepts.
    pub fn check_claims(&self, image: &ImageReference, manifest: &[u8], claims: &Payload) -> Result<()> {
        let rejected = |m: String| Error::new(ErrorKind::Unauthorized, m);
        if crate::manifest::verify_manifest_digest(manifest, &claims.docker_manifest_digest).is_err() {
            return Err(rejected(format!("Signature for digest {} does not match", claims.docker_manifest_digest)));
        }
        if !self.accepts(image, &claims.docker_reference)? {
            return Err(rejected(format!("Signature for identity {:?} is not accepted", claims.docker_reference)));
        }
        Ok(())
    }

    /// Checks what a configuration must hold before any image is seen.
    pub fn validate(&self) -> Result<()> {
        let parse = |s: &str| DockerReference::parse_normalized(s).map(|_| ());
        match self {
            SignedIdentity::ExactReference { docker_reference } => parse(docker_reference),
            SignedIdentity::ExactRepository { docker_repository } => parse(docker_repository),
            SignedIdentity::RemapIdentity { prefix, signed_prefix } => parse(prefix).and(parse(signed_prefix)),
            _ => Ok(()),
        }
    }

    /// Whether a signature claiming `signed` may stand for `image`.
    pub fn accepts(&self, image: &ImageReference, signed: &str) -> Result<bool> {
        let Ok(signed) = DockerReference::parse_normalized(signed) else { return Ok(false) };
        let intended = || {
            image.docker_reference().ok_or_else(|| {
                Error::new(
                    ErrorKind::Unauthorized,
                    format!(
                        "Docker reference match attempted on a {}: image with no known Docker reference identity",
                        image.transport_name()
                    ),
                )
            })
        };
        Ok(match self {
            SignedIdentity::MatchExact => {
                let intended = intended()?;
                has_tag_or_digest(intended) && has_tag_or_digest(&signed) && signed.to_string() == intended.to_string()
            }
            SignedIdentity::MatchRepoDigestOrExact => repo_digest_or_exact(intended()?, &signed),
            SignedIdentity::MatchRepository => signed.name() == intended()?.name(),
            SignedIdentity::ExactReference { docker_reference } => {
                let want = DockerReference::parse_normalized(docker_reference)?;
                has_tag_or_digest(&want) && has_tag_or_digest(&signed) && signed.to_string() == want.to_string()
            }
            SignedIdentity::ExactRepository { docker_repository } => {
                signed.name() == DockerReference::parse_normalized(docker_repository)?.name()
            }
            SignedIdentity::RemapIdentity { prefix, signed_prefix } => {
                let intended = intended()?;
                let full = intended.to_string();
                let remapped = if matches_prefix(&full, prefix) {
                    DockerReference::parse_normalized(&format!("{signed_prefix}{}", &full[prefix.len()..]))?
                } else {
                    intended.clone()
                };
                repo_digest_or_exact(&remapped, &signed)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(s: &str) -> ImageReference {
        ImageReference::parse(s).unwrap()
    }

    const D: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn as_containers_image_matches() {
        let tagged = img("docker://reg.io/ns/app:v1");
        let by_digest = img(&format!("docker://reg.io/ns/app@{D}"));
        use SignedIdentity::*;
        let cases: Vec<(SignedIdentity, &ImageReference, &str, bool)> = vec![
            (MatchRepoDigestOrExact, &tagged, "reg.io/ns/app:v1", true),
            (MatchRepoDigestOrExact, &tagged, "reg.io/ns/app:v2", false),
            (MatchRepoDigestOrExact, &by_digest, "reg.io/ns/app:v2", true),
            (MatchRepoDigestOrExact, &by_digest, "reg.io/ns/app", false),
            (MatchExact, &tagged, "reg.io/ns/app:v1", true),
            (MatchExact, &by_digest, "reg.io/ns/app:v1", false),
            (MatchRepository, &tagged, "reg.io/ns/app:v9", true),
            (MatchRepository, &tagged, "reg.io/ns/other:v1", false),
            (ExactReference { docker_reference: "x.io/y:1".into() }, &tagged, "x.io/y:1", true),
            (ExactReference { docker_reference: "x.io/y:1".into() }, &tagged, "reg.io/ns/app:v1", false),
            (ExactRepository { docker_repository: "x.io/y".into() }, &tagged, "x.io/y:7", true),
            (
                RemapIdentity { prefix: "reg.io/ns".into(), signed_prefix: "up.io/team".into() },
                &tagged,
                "up.io/team/app:v1",
                true,
            ),
            (
                RemapIdentity { prefix: "reg.io/n".into(), signed_prefix: "up.io/team".into() },
                &tagged,
                "up.io/team/s/app:v1",
                false,
            ),
            (MatchRepoDigestOrExact, &tagged, "not a reference", false),
        ];
        for (rule, image, signed, want) in cases {
            assert_eq!(rule.accepts(image, signed).unwrap(), want, "{rule:?} {signed}");
        }
        // Without a docker reference only the exact rules can hold.
        let dir = img("dir:/tmp/x");
        assert!(MatchRepoDigestOrExact.accepts(&dir, "x.io/y:1").is_err());
        assert!(ExactReference { docker_reference: "x.io/y:1".into() }.accepts(&dir, "x.io/y:1").unwrap());
    }
}
