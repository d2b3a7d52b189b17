//! X.509 chains as Go's `crypto/x509` `Verify` builds them, for the
//! certificates of sigstore signatures (Fulcio, `pki`): a parent is a
//! certificate whose subject is byte for byte the child's issuer, that may
//! sign certificates and whose key verifies the child's signature; every
//! certificate of the chain is valid at the time asked about, has no
//! critical extension Go does not handle, and allows code signing.
//! ECDSA on P-256 and P-384 and RSA PKCS #1 v1.5 (what sigstore and
//! users' CAs issue); no RSA-PSS, no name
//! constraints (a CA that has them is refused, not half-checked).

use sha2::Digest as _;
use x509_cert::Certificate;
use x509_cert::der::asn1::ObjectIdentifier as Oid;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName};

use super::pem;
use super::public_key::{Hash, PublicKey};

const SAN: Oid = Oid::new_unwrap("2.5.29.17");
const BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
const KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
const EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
const NAME_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.30");
const ANY_EKU: Oid = Oid::new_unwrap("2.5.29.37.0");
const CODE_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.3");
/// The critical extensions Go's parser understands.
const HANDLED: [&str; 13] = [
    "2.5.29.14",
    "2.5.29.15",
    "2.5.29.17",
    "2.5.29.19",
    "2.5.29.30",
    "2.5.29.31",
    "2.5.29.32",
    "2.5.29.35",
    "2.5.29.37",
    "1.3.6.1.5.5.7.1.1",
    "2.5.29.33",
    "2.5.29.36",
    "2.5.29.54",
];
const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
const RSA_SHA256: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
const RSA_SHA384: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
const RSA_SHA512: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");

/// Chains longer than this are not looked for (Go stops at a similar depth).
const MAX_DEPTH: usize = 8;

/// A parsed certificate with the encodings the checks compare.
#[derive(Debug, Clone)]
pub struct Cert {
    der: Vec<u8>,
    cert: Certificate,
    subject: Vec<u8>,
    issuer: Vec<u8>,
}

impl PartialEq for Cert {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Cert {
    pub fn from_der(der: &[u8]) -> Result<Cert, String> {
        let cert = Certificate::from_der(der).map_err(|e| format!("x509: malformed certificate: {e}"))?;
        let tbs = &cert.tbs_certificate;
        let subject = tbs.subject.to_der().map_err(|e| e.to_string())?;
        let issuer = tbs.issuer.to_der().map_err(|e| e.to_string())?;
        let mut seen = std::collections::BTreeSet::new();
        if tbs.extensions.iter().flatten().any(|e| !seen.insert(e.extn_id)) {
            return Err("x509: certificate contains duplicate extensions".to_owned());
        }
        Ok(Cert { der: der.to_vec(), cert, subject, issuer })
    }

    /// The raw value of extension `oid`, if present.
    pub fn extension(&self, oid: &str) -> Option<&[u8]> {
        let oid = Oid::new(oid).ok()?;
        self.cert
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == oid)
            .map(|e| e.extn_value.as_bytes())
    }

    fn decoded<'a, T: Decode<'a>>(&'a self, oid: Oid) -> Option<T> {
        let ext = self.cert.tbs_certificate.extensions.iter().flatten().find(|e| e.extn_id == oid)?;
        T::from_der(ext.extn_value.as_bytes()).ok()
    }

    fn san(&self) -> Vec<GeneralName> {
        self.decoded::<SubjectAltName>(SAN).map(|s| s.0).unwrap_or_default()
    }

    /// The SAN's e-mail addresses (Go's `EmailAddresses`).
    pub fn emails(&self) -> Vec<String> {
        let names = self.san();
        names
            .iter()
            .filter_map(|n| if let GeneralName::Rfc822Name(e) = n { Some(e.to_string()) } else { None })
            .collect()
    }

    /// The SAN's DNS names and IP addresses (for `subjectHostname`).
    pub fn dns_names(&self) -> Vec<String> {
        let names = self.san();
        names.iter().filter_map(|n| if let GeneralName::DnsName(d) = n { Some(d.to_string()) } else { None }).collect()
    }

    pub fn ip_addresses(&self) -> Vec<std::net::IpAddr> {
        let names = self.san();
        names
            .iter()
            .filter_map(|n| match n {
                GeneralName::IpAddress(ip) => match ip.as_bytes().len() {
                    4 => <[u8; 4]>::try_from(ip.as_bytes()).ok().map(std::net::IpAddr::from),
                    16 => <[u8; 16]>::try_from(ip.as_bytes()).ok().map(std::net::IpAddr::from),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    pub fn public_key(&self) -> Result<PublicKey, String> {
        let spki = self.cert.tbs_certificate.subject_public_key_info.to_der().map_err(|e| e.to_string())?;
        PublicKey::from_spki_der(&spki).map_err(|e| e.message)
    }

    fn validity(&self) -> (u64, u64) {
        let v = &self.cert.tbs_certificate.validity;
        (v.not_before.to_unix_duration().as_secs(), v.not_after.to_unix_duration().as_secs())
    }

    fn basic_constraints(&self) -> Option<BasicConstraints> {
        self.decoded(BASIC_CONSTRAINTS)
    }

    /// Whether this certificate may be `child`'s parent, and signed it.
    fn signed(&self, child: &Cert) -> Result<(), String> {
        let v3 = self.cert.tbs_certificate.version == x509_cert::Version::V3;
        match self.basic_constraints() {
            Some(bc) if !bc.ca => return Err("x509: certificate is not authorized to sign other certificates".into()),
            None if v3 => return Err("x509: certificate is not authorized to sign other certificates".into()),
            _ => {}
        }
        if let Some(KeyUsage(usages)) = self.decoded::<KeyUsage>(KEY_USAGE)
            && !usages.contains(KeyUsages::KeyCertSign)
        {
            return Err("x509: certificate is not authorized to sign other certificates".into());
        }
        let tbs = child.cert.tbs_certificate.to_der().map_err(|e| e.to_string())?;
        let algorithm = child.cert.signature_algorithm.oid;
        let (hash, ecdsa) = match algorithm {
            a if a == ECDSA_SHA256 || a == RSA_SHA256 => (Hash::Sha256, a == ECDSA_SHA256),
            a if a == ECDSA_SHA384 || a == RSA_SHA384 => (Hash::Sha384, a == ECDSA_SHA384),
            a if a == ECDSA_SHA512 || a == RSA_SHA512 => (Hash::Sha512, a == ECDSA_SHA512),
            other => return Err(format!("x509: cannot verify signature: algorithm {other} is not supported by skiff")),
        };
        let digest = match hash {
            Hash::Sha256 => sha2::Sha256::digest(&tbs).to_vec(),
            Hash::Sha384 => sha2::Sha384::digest(&tbs).to_vec(),
            Hash::Sha512 => sha2::Sha512::digest(&tbs).to_vec(),
        };
        let signature = child.cert.signature.as_bytes().ok_or("x509: malformed signature")?;
        let key = self.public_key()?;
        if key.is_ecdsa() != ecdsa {
            return Err("x509: signature algorithm does not match the issuer's key".into());
        }
        match key.verifies(hash, &digest, signature) {
            true => Ok(()),
            false => Err(format!("x509: {} verification failure", if ecdsa { "ECDSA" } else { "RSA" })),
        }
    }

    /// Go's per-certificate checks: the time, and critical extensions.
    fn valid_at(&self, at: u64, ignore_critical_san: bool) -> Result<(), String> {
        let (not_before, not_after) = self.validity();
        let v = &self.cert.tbs_certificate.validity;
        let shown = |t: u64| {
            let t = time::OffsetDateTime::from_unix_timestamp(t as i64).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
        };
        if at < not_before {
            return Err(format!(
                "x509: certificate has expired or is not yet valid: current time {} is before {}",
                shown(at),
                v.not_before.to_date_time()
            ));
        }
        if at > not_after {
            return Err(format!(
                "x509: certificate has expired or is not yet valid: current time {} is after {}",
                shown(at),
                v.not_after.to_date_time()
            ));
        }
        for e in self.cert.tbs_certificate.extensions.iter().flatten().filter(|e| e.critical) {
            let id = e.extn_id.to_string();
            if !HANDLED.contains(&id.as_str()) {
                return Err("x509: unhandled critical extension".to_owned());
            }
            if e.extn_id == NAME_CONSTRAINTS {
                return Err("x509: name constraints are not supported by skiff".to_owned());
            }
            // Go leaves a critical SAN with no name it knows "unhandled".
            let known = |n: &GeneralName| {
                matches!(
                    n,
                    GeneralName::Rfc822Name(_)
                        | GeneralName::DnsName(_)
                        | GeneralName::IpAddress(_)
                        | GeneralName::UniformResourceIdentifier(_)
                )
            };
            if e.extn_id == SAN && !ignore_critical_san && !self.san().iter().any(known) {
                return Err("x509: unhandled critical extension".to_owned());
            }
        }
        Ok(())
    }

    /// Go's `checkChainForKeyUsage` for code signing, for this certificate.
    fn allows_code_signing(&self) -> bool {
        match self.decoded::<ExtendedKeyUsage>(EXT_KEY_USAGE) {
            None => true,
            Some(ExtendedKeyUsage(usages)) => usages.iter().any(|u| *u == ANY_EKU || *u == CODE_SIGNING),
        }
    }
}

/// Every certificate in `data`, all of which must parse (sigstore's
/// `UnmarshalCertificatesFromPEM`, for annotations).
pub fn parse_all_strict(data: &[u8]) -> Result<Vec<Cert>, String> {
    pem::decode_all_strict(data)?.iter().map(|b| Cert::from_der(&b.bytes)).collect()
}

/// The certificates Go's `CertPool.AppendCertsFromPEM` takes from `data`:
/// `CERTIFICATE` blocks without headers that parse; the rest is skipped.
pub fn pool_from_pem(data: &[u8]) -> Vec<Cert> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some((block, after)) = pem::decode(rest) {
        rest = after;
        if block.label == "CERTIFICATE"
            && !block.has_headers
            && let Ok(c) = Cert::from_der(&block.bytes)
        {
            out.push(c);
        }
    }
    out
}

/// What to verify a leaf against.
#[derive(Debug, Clone, Copy)]
pub struct Verify<'a> {
    pub roots: &'a [Cert],
    pub intermediates: &'a [Cert],
    /// Unix seconds: every certificate of the chain must be valid then.
    pub at: u64,
    /// Fulcio's leaves carry a critical SAN Go would not handle.
    pub ignore_critical_san: bool,
}

/// Checks that `leaf` chains to one of the roots (Go's `Verify` with
/// `KeyUsages: [CodeSigning]`); the error reads as Go's.
pub fn verify(leaf: &Cert, opts: Verify<'_>) -> Result<(), String> {
    leaf.valid_at(opts.at, opts.ignore_critical_san)?;
    let mut chain = vec![leaf];
    let mut last_problem = None;
    if opts.roots.contains(leaf) || extend(&mut chain, opts, &mut last_problem) {
        return Ok(());
    }
    Err(match last_problem {
        Some(p) if p.contains("key usage") => p,
        Some(p) => format!("x509: certificate signed by unknown authority (possibly because of {p:?})"),
        None => "x509: certificate signed by unknown authority".to_owned(),
    })
}

/// Depth-first search for a parent of the chain's last certificate, up to
/// a root; true when a chain that allows code signing was completed.
fn extend<'a>(chain: &mut Vec<&'a Cert>, opts: Verify<'a>, problem: &mut Option<String>) -> bool {
    let child = *chain.last().expect("a chain starts with its leaf");
    let parents = |pool: &'a [Cert]| pool.iter().filter(move |p| p.subject == child.issuer);
    for root in parents(opts.roots) {
        match check_parent(root, child, chain.len(), opts) {
            Ok(()) => {
                let complete: Vec<&Cert> = chain.iter().copied().chain([root]).collect();
                if complete.iter().all(|c| c.allows_code_signing()) {
                    return true;
                }
                *problem = Some("x509: certificate specifies an incompatible key usage".to_owned());
            }
            Err(e) => *problem = Some(e),
        }
    }
    if chain.len() >= MAX_DEPTH {
        return false;
    }
    for parent in parents(opts.intermediates) {
        if chain.contains(&parent) {
            continue;
        }
        match check_parent(parent, child, chain.len(), opts) {
            Ok(()) => {
                chain.push(parent);
                if extend(chain, opts, problem) {
                    return true;
                }
                chain.pop();
            }
            Err(e) => *problem = Some(e),
        }
    }
    false
}

/// `parent` above `child`, with `below` certificates under it (the leaf
/// counts one): time, extensions, path length, CA flags and signature.
fn check_parent(parent: &Cert, child: &Cert, below: usize, opts: Verify<'_>) -> Result<(), String> {
    parent.valid_at(opts.at, false)?;
    if let Some(max) = parent.basic_constraints().and_then(|b| b.path_len_constraint)
        && below - 1 > usize::from(max)
    {
        return Err("x509: too many intermediates for path length constraint".to_owned());
    }
    parent.signed(child)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/sigstore/");

    /// The Fulcio fixture's certificate annotations.
    fn fulcio_parts() -> (Cert, Vec<Cert>, Vec<Cert>) {
        let blob = std::fs::read(format!("{FIXTURES}dir-img-cosign-fulcio-rekor-valid/signature-1")).unwrap();
        let s = crate::signature::Signature::from_blob(blob).unwrap().sigstore_parts().unwrap();
        let leaf = parse_all_strict(s.annotation("dev.sigstore.cosign/certificate").unwrap().as_bytes()).unwrap();
        let chain = parse_all_strict(s.annotation("dev.sigstore.cosign/chain").unwrap().as_bytes()).unwrap();
        let roots = pool_from_pem(&std::fs::read(format!("{FIXTURES}fulcio_v1.crt.pem")).unwrap());
        (leaf[0].clone(), chain, roots)
    }

    /// When Rekor logged the fixture's signature (its SET's integratedTime).
    const LOGGED: u64 = 1674247893;

    #[test]
    fn the_fulcio_fixture_chains_to_its_root_when_it_was_logged() {
        let (leaf, chain, roots) = fulcio_parts();
        assert_eq!(leaf.emails(), ["mitr@redhat.com"]);
        let intermediates = &chain[..chain.len() - 1];
        let opts = Verify { roots: &roots, intermediates, at: LOGGED, ignore_critical_san: true };
        verify(&leaf, opts).unwrap();
        // Ten minutes later the leaf had expired; without the intermediate there is no chain.
        let late = verify(&leaf, Verify { at: LOGGED + 3600, ..opts }).unwrap_err();
        assert!(late.contains("expired or is not yet valid: current time 2023-01-20T21:51:33Z is after"), "{late}");
        let orphan = verify(&leaf, Verify { intermediates: &[], ..opts }).unwrap_err();
        assert!(orphan.starts_with("x509: certificate signed by unknown authority"), "{orphan}");
        // The chain annotation itself trusted as roots (the intermediate is then a root).
        verify(&leaf, Verify { roots: &chain, intermediates: &[], ..opts }).unwrap();
        // A root that is not the issuer's key does not verify it.
        let other = Verify { roots: std::slice::from_ref(&leaf), intermediates, ..opts };
        assert!(verify(&chain[0], other).is_err());
    }

    #[test]
    fn a_leaf_cannot_sign_and_unknown_critical_extensions_stop_a_chain() {
        let (leaf, chain, _) = fulcio_parts();
        // The leaf as a parent: not a CA.
        assert!(leaf.signed(&chain[0]).unwrap_err().contains("not authorized to sign"));
        // Fulcio's critical SAN is an email, which Go handles.
        leaf.valid_at(LOGGED, false).unwrap();
    }
}
