//! The payload of a simple signing signature (containers-signature(5)):
//! written as containers/image writes it (Go's compact JSON, keys sorted,
//! HTML characters escaped) and read as strictly as it reads it — exactly
//! the documented members, no duplicate keys, an integer timestamp — and
//! only ever after the OpenPGP signature around it was verified.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::go::json::html_escape;

/// What `critical.type` must say in a simple signing payload.
pub const SIGNATURE_TYPE: &str = "atomic container signature";
/// What it says in a sigstore (cosign) payload.
pub const SIGSTORE_TYPE: &str = "cosign container image signature";

/// The claims of a verified signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub docker_manifest_digest: Digest,
    pub docker_reference: String,
    pub creator: Option<String>,
    pub timestamp: Option<i64>,
}

/// The payload skiff signs: `creator` is `skiff <version>`, `timestamp`
/// the host's clock in seconds.
pub fn build(digest: &Digest, docker_reference: &str, timestamp: i64) -> Vec<u8> {
    build_typed(digest, docker_reference, timestamp, SIGNATURE_TYPE)
}

/// The same payload with another `critical.type` (a sigstore one's).
pub fn build_typed(digest: &Digest, docker_reference: &str, timestamp: i64, kind: &str) -> Vec<u8> {
    let v = serde_json::json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest.to_string()},
            "type": kind,
        },
        "optional": {
            "creator": format!("skiff {}", env!("CARGO_PKG_VERSION")),
            "timestamp": timestamp,
        },
    });
    // `json!` keeps the order written above, which is Go's sorted order.
    html_escape(&v.to_string()).into_bytes()
}

/// A JSON value whose objects keep their members in order and never hold
/// a key twice (containers/image's paranoid decoding).
#[derive(Debug, Clone, PartialEq)]
enum Strict {
    Int(i64),
    Str(String),
    Object(Vec<(String, Strict)>),
    Null,
    /// Anything else (a bool, a fraction, a list): never a valid member here.
    Other,
}

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strict;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> std::result::Result<Strict, E> {
                Ok(Strict::Null)
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<Strict, E> {
                Ok(Strict::Other)
            }
            fn visit_i64<E>(self, n: i64) -> std::result::Result<Strict, E> {
                Ok(Strict::Int(n))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> std::result::Result<Strict, E> {
                i64::try_from(n).map(Strict::Int).map_err(|_| E::custom("number out of range"))
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<Strict, E> {
                Ok(Strict::Other)
            }
            fn visit_str<E>(self, s: &str) -> std::result::Result<Strict, E> {
                Ok(Strict::Str(s.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Strict, A::Error> {
                // Read through (duplicates inside are refused all the same).
                while seq.next_element::<Strict>()?.is_some() {}
                Ok(Strict::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Strict, A::Error> {
                let mut out: Vec<(String, Strict)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Strict>()? {
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(de::Error::custom(format!("Duplicate key {k:?}")));
                    }
                    out.push((k, v));
                }
                Ok(Strict::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::integrity(format!("invalid signature: {}", message.into()))
}

/// The members of an object, which must be exactly `names`.
fn exactly<'a>(v: &'a Strict, names: &[&str]) -> Result<Vec<&'a Strict>> {
    let Strict::Object(members) = v else { return Err(invalid("expected a JSON object")) };
    if let Some((k, _)) = members.iter().find(|(k, _)| !names.contains(&k.as_str())) {
        return Err(invalid(format!("JSON object contains unknown field {k:?}")));
    }
    names
        .iter()
        .map(|n| {
            members
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v)
                .ok_or_else(|| invalid(format!("Key {n:?} missing in a JSON object")))
        })
        .collect()
}

fn string(v: &Strict, what: &str) -> Result<String> {
    match v {
        Strict::Str(s) => Ok(s.clone()),
        _ => Err(invalid(format!("{what} is not a string"))),
    }
}

/// Reads a simple signing payload whose signature has been verified.
pub fn parse(bytes: &[u8]) -> Result<Payload> {
    parse_typed(bytes, SIGNATURE_TYPE)
}

/// Reads a payload of `kind` (simple signing or cosign's) whose signature
/// has been verified; cosign writes `"optional": null`.
pub fn parse_typed(bytes: &[u8], kind: &str) -> Result<Payload> {
    let expected = kind;
    let v: Strict = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    let [critical, optional] = exactly(&v, &["critical", "optional"])?[..] else { unreachable!() };
    let [kind, image, identity] = exactly(critical, &["type", "image", "identity"])?[..] else { unreachable!() };
    let kind = string(kind, "critical.type")?;
    if kind != expected {
        return Err(invalid(format!("Unrecognized signature type {kind}")));
    }
    let [digest] = exactly(image, &["docker-manifest-digest"])?[..] else { unreachable!() };
    let docker_manifest_digest = Digest::parse(&string(digest, "docker-manifest-digest")?)
        .map_err(|e| invalid(format!("docker-manifest-digest: {}", e.message)))?;
    let [reference] = exactly(identity, &["docker-reference"])?[..] else { unreachable!() };
    let docker_reference = string(reference, "docker-reference")?;
    let optional = match optional {
        Strict::Object(members) => members.as_slice(),
        Strict::Null => &[],
        _ => return Err(invalid("optional is not a JSON object")),
    };
    let mut creator = None;
    let mut timestamp = None;
    for (k, v) in optional {
        match (k.as_str(), v) {
            ("creator", v) => creator = Some(string(v, "optional.creator")?),
            ("timestamp", Strict::Int(n)) => timestamp = Some(*n),
            ("timestamp", _) => return Err(invalid("optional.timestamp is not an integer")),
            _ => {}
        }
    }
    Ok(Payload { docker_manifest_digest, docker_reference, creator, timestamp })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:962b71f8a6a53234c7b80b1d47c4c2c6a07bd8d2d8e4e0c5c8cc6ec4e3e4d6e1";

    #[test]
    fn written_as_containers_image_writes_it() {
        let d = Digest::parse(D).unwrap();
        let got = String::from_utf8(build(&d, "docker.io/library/busybox:latest", 1796111556)).unwrap();
        let want = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"docker.io/library/busybox:latest"}},"image":{{"docker-manifest-digest":"{D}"}},"type":"atomic container signature"}},"optional":{{"creator":"skiff {}","timestamp":1796111556}}}}"#,
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(got, want);
        let p = parse(got.as_bytes()).unwrap();
        assert_eq!(p.docker_reference, "docker.io/library/busybox:latest");
        assert_eq!(p.docker_manifest_digest, d);
        assert_eq!(p.timestamp, Some(1796111556));
    }

    #[test]
    fn read_strictly() {
        let ok = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"docker-manifest-digest":"{D}"}},"type":"atomic container signature"}},"optional":{{"creator":"atomic 5.23.1","extra":1}}}}"#
        );
        assert!(parse(ok.as_bytes()).is_ok());
        for (bad, needle) in [
            (ok.replace(r#""optional""#, r#""extra":{},"optional""#), "unknown field"),
            (ok.replace(r#","optional":{"creator":"atomic 5.23.1","extra":1}"#, ""), "missing"),
            (ok.replace(r#""type":"atomic container signature""#, r#""type":"other""#), "Unrecognized"),
            (
                ok.replace(r#"{"docker-reference":"r"}"#, r#"{"docker-reference":"r","docker-reference":"s"}"#),
                "Duplicate",
            ),
            (ok.replace(r#""extra":1"#, r#""timestamp":1.5"#), "integer"),
            (ok.replace(D, "sha256:abc"), "docker-manifest-digest"),
            ("[]".to_owned(), "object"),
            ("not json".to_owned(), "invalid signature"),
        ] {
            let e = parse(bad.as_bytes()).unwrap_err();
            assert!(e.message.contains(needle), "{bad}: {e}");
        }
    }
}
