//! containers-policy.json(5): which images may be used. The most specific
//! scope for the image's transport wins, else the transport's `""` scope,
//! else `default`; every requirement in the chosen list must hold.
//! Evaluated before any layer is read: [`check`] before anything at all,
//! then [`signed_by::verify`] once the manifest and its signatures are in.

mod identity;
mod signed_by;
mod sigstore_signed;
mod unique_keys;

pub use signed_by::SignedBy;
pub use sigstore_signed::SigstoreSigned;

use crate::engine::Io;
use crate::signature::Signature;

/// A requirement on an image's signatures, checked once they are read.
#[derive(Debug, Clone)]
pub enum SignatureRequirement {
    SignedBy(SignedBy),
    SigstoreSigned(Box<SigstoreSigned>),
}

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::reference::{ArchiveSelector, ImageReference};
use unique_keys::UniqueKeys;

/// The policy as the host found it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PolicyInput {
    /// `--insecure-policy`: accept anything, read no file.
    #[serde(default)]
    pub insecure: bool,
    /// Where the policy was looked for (for messages).
    #[serde(default)]
    pub path: String,
    /// The file's contents; None when no file exists.
    #[serde(default)]
    pub contents: Option<String>,
    /// `--require-signed`: a requirement that verifies signatures must apply.
    #[serde(default)]
    pub require_signed: bool,
}

/// policy.json, read as strictly as containers/image reads it: unknown
/// members and keys given twice are errors.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    default: Vec<Requirement>,
    #[serde(default)]
    transports: UniqueKeys<UniqueKeys<Vec<Requirement>>>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
enum Requirement {
    #[serde(rename = "insecureAcceptAnything")]
    InsecureAcceptAnything,
    #[serde(rename = "reject")]
    Reject,
    #[serde(rename = "signedBy")]
    SignedBy(SignedBy),
    #[serde(rename = "sigstoreSigned")]
    SigstoreSigned(Box<SigstoreSigned>),
}

/// Refuses `image` unless the policy may accept it; returns the signature
/// requirements it must then meet (none: accepted).
pub fn check(input: &PolicyInput, image: &ImageReference, shown: &str) -> Result<Vec<SignatureRequirement>> {
    if input.insecure {
        return Ok(Vec::new());
    }
    let contents = input.contents.as_deref().ok_or_else(|| {
        Error::invalid(format!(
            "Error loading trust policy: no policy.json file found at {} (use --policy, or --insecure-policy to skip the check)",
            input.path
        ))
    })?;
    let policy: PolicyFile = serde_json::from_str(contents)
        .map_err(|e| Error::invalid(format!("Error loading trust policy {}: invalid policy: {e}", input.path)))?;
    let requirements = choose(&policy, image);
    if requirements.is_empty() {
        return Err(Error::invalid(format!("Error loading trust policy {}: no requirements for {shown}", input.path)));
    }
    let mut signed = Vec::new();
    for r in requirements {
        match r {
            Requirement::InsecureAcceptAnything => {}
            Requirement::SignedBy(s) => {
                s.validate().map_err(|e| e.context(format!("Error loading trust policy {}", input.path)))?;
                signed.push(SignatureRequirement::SignedBy(s.clone()));
            }
            Requirement::SigstoreSigned(s) => {
                s.validate().map_err(|e| e.context(format!("Error loading trust policy {}", input.path)))?;
                signed.push(SignatureRequirement::SigstoreSigned(s.clone()));
            }
            Requirement::Reject => {
                return Err(Error::new(
                    crate::error::ErrorKind::Unauthorized,
                    format!("Source image rejected: Running image {shown} is rejected by policy."),
                ));
            }
        }
    }
    if input.require_signed && signed.is_empty() {
        let identity = scopes_of(image).into_iter().next().unwrap_or_default();
        return Err(Error::new(
            crate::error::ErrorKind::Unauthorized,
            format!(
                "Source image rejected: No signature verification policy found for image {}:{identity}",
                image.transport_name()
            ),
        ));
    }
    Ok(signed)
}

/// Accepts `image` (whose manifest is `manifest`) if every
/// requirement has an acceptable signature among `signatures`, as read
/// from the source: nothing in them is trusted before it is verified.
pub async fn verify_signatures(
    io: &Io,
    requirements: &[SignatureRequirement],
    image: &ImageReference,
    manifest: &[u8],
    signatures: &[Signature],
) -> Result<()> {
    let rejected = |m: String| Error::new(crate::error::ErrorKind::Unauthorized, format!("Source image rejected: {m}"));
    let none = |others: usize, attachments: usize| {
        let mut m = "A signature was required, but no signature exists".to_owned();
        if others + attachments > 0 {
            m.push_str(&format!(
                " ({others} non-sigstore signatures, {attachments} sigstore non-signature attachments)"
            ));
        }
        rejected(m)
    };
    for r in requirements {
        let judged = match r {
            SignatureRequirement::SignedBy(s) => {
                let blobs: Vec<&[u8]> = signatures
                    .iter()
                    .filter_map(|s| if let Signature::SimpleSigning(b) = s { Some(b.as_slice()) } else { None })
                    .collect();
                if blobs.is_empty() {
                    return Err(rejected("A signature was required, but no signature exists".to_owned()));
                }
                s.judge_all(io, image, manifest, &blobs).await
            }
            SignatureRequirement::SigstoreSigned(s) => {
                // Attachments of other kinds (attestations…) are not signatures.
                let all: Vec<_> = signatures.iter().filter_map(Signature::sigstore_parts).collect();
                let attachments = all.len();
                let parts: Vec<_> =
                    all.into_iter().filter(|p| p.mime_type == crate::signing::sigstore::PAYLOAD_MIME_TYPE).collect();
                if parts.is_empty() {
                    return Err(none(signatures.len() - attachments, attachments));
                }
                s.judge_all(io, image, manifest, &parts).await
            }
        };
        match judged.map_err(|e| rejected(e.message))? {
            Ok(()) => {}
            Err(reasons) => {
                return Err(rejected(format!("None of the signatures were accepted, reasons: {}", reasons.join("; "))));
            }
        }
    }
    Ok(())
}

fn choose<'a>(policy: &'a PolicyFile, image: &ImageReference) -> &'a [Requirement] {
    if let Some(UniqueKeys(scopes)) = policy.transports.0.get(image.transport_name()) {
        for scope in scopes_of(image) {
            if let Some(r) = scopes.get(&scope) {
                return r;
            }
        }
        if let Some(r) = scopes.get("") {
            return r;
        }
    }
    &policy.default
}

/// The policy scopes that name `image`, most specific first.
fn scopes_of(image: &ImageReference) -> Vec<String> {
    match image {
        ImageReference::Docker(r) => r.scopes(),
        ImageReference::Dir { path } => path_scopes(path, None),
        ImageReference::Oci(l) | ImageReference::OciArchive(l) => path_scopes(&l.path, l.ref_name.as_deref()),
        ImageReference::DockerArchive { path, selector } => {
            let tag = match selector {
                ArchiveSelector::Named(r) => Some(r.to_string()),
                _ => None,
            };
            path_scopes(path, tag.as_deref())
        }
        _ => vec![],
    }
}

/// `path:ref`, `path`, then each parent directory.
fn path_scopes(path: &str, reference: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = reference {
        out.push(format!("{path}:{r}"));
    }
    let mut p = path.trim_end_matches('/').to_owned();
    while !p.is_empty() {
        out.push(p.clone());
        match p.rfind('/') {
            Some(0) => {
                out.push("/".to_owned());
                break;
            }
            Some(i) => p.truncate(i),
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> PolicyInput {
        PolicyInput { insecure: false, path: "policy.json".into(), contents: Some(json.into()), require_signed: false }
    }

    fn img(s: &str) -> ImageReference {
        ImageReference::parse(s).unwrap()
    }

    #[test]
    fn most_specific_scope_wins() {
        let p = input(
            r#"{"default":[{"type":"reject"}],"transports":{"docker":{
                "r.io":[{"type":"insecureAcceptAnything"}],
                "r.io/team/bad":[{"type":"reject"}],
                "*.example.com":[{"type":"insecureAcceptAnything"}]},
              "dir":{"":[{"type":"insecureAcceptAnything"}]}}}"#,
        );
        assert!(check(&p, &img("docker://r.io/team/app:1"), "x").is_ok());
        assert!(check(&p, &img("docker://r.io/team/bad:1"), "x").is_err());
        assert!(check(&p, &img("docker://other.io/app"), "x").is_err());
        assert!(check(&p, &img("docker://reg.example.com:5000/a"), "x").is_ok());
        assert!(check(&p, &img("dir:/tmp/x"), "x").is_ok());
        assert!(check(&p, &img("oci:/tmp/x"), "x").is_err());
    }

    /// Item 35: what containers/image refuses when it loads a policy.
    #[test]
    fn unknown_members_and_keys_given_twice_are_errors() {
        let accept = r#"[{"type":"insecureAcceptAnything"}]"#;
        let bad = [
            (format!(r#"{{"default":{accept},"transport":{{}}}}"#), "unknown field `transport`"),
            (
                format!(
                    r#"{{"default":{accept},"transports":{{"docker":{{"r.io":{accept},"r.io":[{{"type":"reject"}}]}}}}}}"#
                ),
                "Duplicate key \"r.io\"",
            ),
            (
                format!(r#"{{"default":{accept},"transports":{{"docker":{{}},"docker":{{}}}}}}"#),
                "Duplicate key \"docker\"",
            ),
        ];
        for (json, words) in bad {
            let e = check(&input(&json), &img("docker://r.io/a:1"), "x").unwrap_err();
            assert!(e.message.contains(words), "{json}: {e}");
        }
    }

    #[test]
    fn require_signed_wants_a_requirement_that_verifies() {
        let anything =
            PolicyInput { require_signed: true, ..input(r#"{"default":[{"type":"insecureAcceptAnything"}]}"#) };
        let e = check(&anything, &img("docker://reg.example/a:v1"), "x").unwrap_err();
        assert_eq!(
            e.message,
            "Source image rejected: No signature verification policy found for image docker:reg.example/a:v1"
        );
        let signed = PolicyInput {
            require_signed: true,
            ..input(r#"{"default":[{"type":"insecureAcceptAnything"},{"type":"sigstoreSigned","keyPath":"/k"}]}"#)
        };
        assert_eq!(check(&signed, &img("docker://reg.example/a:v1"), "x").unwrap().len(), 1);
    }

    #[test]
    fn signatures_and_missing_files_are_refused() {
        let p = input(r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k"}]}"#);
        assert_eq!(check(&p, &img("docker://a/b"), "docker://a/b").unwrap().len(), 1, "verified later");
        for bad in [
            r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","keyData":"eA=="}]}"#,
            r#"{"default":[{"type":"signedBy","keyType":"GPGKeys"}]}"#,
            r#"{"default":[{"type":"signedBy","keyType":"X509Certificates","keyPath":"/k"}]}"#,
            r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","bogus":1}]}"#,
        ] {
            assert!(check(&input(bad), &img("docker://a/b"), "x").is_err(), "{bad}");
        }
        let p = input(r#"{"default":[{"type":"sigstoreSigned","keyPath":"/k"}]}"#);
        assert_eq!(check(&p, &img("docker://a/b"), "docker://a/b").unwrap().len(), 1, "verified later");
        let p = input(r#"{"default":[{"type":"sigstoreSigned","keyPath":"/k","rekorPublicKeyPath":"/r"}]}"#);
        assert_eq!(check(&p, &img("docker://a/b"), "docker://a/b").unwrap().len(), 1, "verified later");
        for (bad, why) in [
            (
                r#"{"type":"sigstoreSigned","fulcio":{"caPath":"/c","oidcIssuer":"i","subjectEmail":"e"}}"#,
                "At least one of rekorPublickeyPath",
            ),
            (
                r#"{"type":"sigstoreSigned","fulcio":{"caPath":"/c","caData":""},"rekorPublicKeyPath":"/r"}"#,
                "caPath and caData",
            ),
            (
                r#"{"type":"sigstoreSigned","fulcio":{"caPath":"/c","subjectEmail":"e"},"rekorPublicKeyPath":"/r"}"#,
                "oidcIssuer not specified",
            ),
            (r#"{"type":"sigstoreSigned","pki":{"caRootsPath":"/c"}}"#, "subjectEmail, subjectHostname"),
            (
                r#"{"type":"sigstoreSigned","pki":{"caRootsPath":"/c","subjectEmail":"e"},"rekorPublicKeyPath":"/r"}"#,
                "not supported for pki",
            ),
            (
                r#"{"type":"sigstoreSigned","keyPath":"/k","rekorPublicKeyPath":"/r","rekorPublicKeyData":""}"#,
                "at most one of",
            ),
            (r#"{"type":"sigstoreSigned","keyPaths":[]}"#, "\"keyPaths\" contains no entries"),
            (
                r#"{"type":"sigstoreSigned","fulcio":{"caPath":"/c","oidcIssuer":"i","subjectEmail":"e","x":1},"rekorPublicKeyPath":"/r"}"#,
                "unknown field",
            ),
        ] {
            let e = check(&input(&format!(r#"{{"default":[{bad}]}}"#)), &img("docker://a/b"), "x").unwrap_err();
            assert!(e.message.contains(why), "{bad}: {e}");
        }
        let none = PolicyInput {
            insecure: false,
            path: "/etc/containers/policy.json".into(),
            contents: None,
            require_signed: false,
        };
        assert!(check(&none, &img("docker://a/b"), "x").unwrap_err().message.contains("--insecure-policy"));
        assert!(check(&PolicyInput { insecure: true, ..none }, &img("docker://a/b"), "x").is_ok());
        assert!(check(&input(r#"{"default":[{"type":"bogus"}]}"#), &img("docker://a/b"), "x").is_err());
        assert!(check(&input("{"), &img("docker://a/b"), "x").is_err());
    }

    #[test]
    fn path_scopes_walk_up() {
        assert_eq!(path_scopes("/a/b", Some("t")), ["/a/b:t", "/a/b", "/a", "/"]);
    }
}
