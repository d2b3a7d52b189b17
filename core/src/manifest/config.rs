//! Image configs (OCI `config.json` and Docker's container image JSON) as
//! skopeo reads them for `inspect`, and the OCI form `inspect --config`
//! prints: Go's `imgspecv1.Image` re-encoded, so field order and `omitempty`
//! follow image-spec's Go structs and unknown fields are dropped.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::go::time::GoTime;

/// Go's `map[string]struct{}`: keys only, values always `{}`.
type KeySet = BTreeMap<String, Empty>;

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Empty {}

fn is_false(b: &bool) -> bool {
    !*b
}

fn none_or_empty<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_none_or(Vec::is_empty)
}

fn map_none_or_empty<K, V>(v: &Option<BTreeMap<K, V>>) -> bool {
    v.as_ref().is_none_or(BTreeMap::is_empty)
}

fn str_empty(v: &Option<String>) -> bool {
    v.as_deref().is_none_or(str::is_empty)
}

/// A timestamp re-printed the way Go prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct Timestamp(pub GoTime);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        GoTime::parse(&s).map(Timestamp).ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp {s:?}")))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.rfc3339())
    }
}

/// `imgspecv1.Image` (image-spec 1.1), which also reads Docker's configs.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "str_empty")]
    pub author: Option<String>,
    #[serde(default, serialize_with = "string_or_empty")]
    pub architecture: Option<String>,
    #[serde(default, serialize_with = "string_or_empty")]
    pub os: Option<String>,
    #[serde(rename = "os.version", default, skip_serializing_if = "str_empty")]
    pub os_version: Option<String>,
    #[serde(rename = "os.features", default, skip_serializing_if = "none_or_empty")]
    pub os_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "str_empty")]
    pub variant: Option<String>,
    #[serde(default, serialize_with = "config_or_empty")]
    pub config: Option<ContainerConfig>,
    #[serde(default, serialize_with = "rootfs_or_empty")]
    pub rootfs: Option<RootFs>,
    #[serde(default, skip_serializing_if = "none_or_empty")]
    pub history: Option<Vec<History>>,
    /// Docker only; not part of the OCI form.
    #[serde(default, skip_serializing)]
    pub docker_version: Option<String>,
}

fn string_or_empty<S: Serializer>(v: &Option<String>, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(v.as_deref().unwrap_or(""))
}

fn config_or_empty<S: Serializer>(v: &Option<ContainerConfig>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match v {
        Some(c) => c.serialize(s),
        None => ContainerConfig::default().serialize(s),
    }
}

fn rootfs_or_empty<S: Serializer>(v: &Option<RootFs>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match v {
        Some(r) => r.serialize(s),
        None => RootFs::default().serialize(s),
    }
}

/// `imgspecv1.ImageConfig`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ContainerConfig {
    #[serde(rename = "User", default, skip_serializing_if = "str_empty")]
    pub user: Option<String>,
    #[serde(rename = "ExposedPorts", default, skip_serializing_if = "map_none_or_empty")]
    pub exposed_ports: Option<KeySet>,
    #[serde(rename = "Env", default, skip_serializing_if = "none_or_empty")]
    pub env: Option<Vec<String>>,
    #[serde(rename = "Entrypoint", default, skip_serializing_if = "none_or_empty")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default, skip_serializing_if = "none_or_empty")]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "Volumes", default, skip_serializing_if = "map_none_or_empty")]
    pub volumes: Option<KeySet>,
    #[serde(rename = "WorkingDir", default, skip_serializing_if = "str_empty")]
    pub working_dir: Option<String>,
    #[serde(rename = "Labels", default, skip_serializing_if = "map_none_or_empty")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "StopSignal", default, skip_serializing_if = "str_empty")]
    pub stop_signal: Option<String>,
    #[serde(rename = "ArgsEscaped", default, skip_serializing_if = "is_false")]
    pub args_escaped: bool,
}

/// `imgspecv1.RootFS`: both fields always printed (`diff_ids` may be null).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RootFs {
    #[serde(rename = "type", default, serialize_with = "string_or_empty")]
    pub kind: Option<String>,
    #[serde(default)]
    pub diff_ids: Option<Vec<String>>,
}

/// `imgspecv1.History`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "str_empty")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "str_empty")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "str_empty")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub empty_layer: bool,
}

impl ImageConfig {
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| Error::invalid(format!("invalid image config: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn re_encodes_in_go_order() {
        let docker = br#"{"architecture":"amd64","config":{"Env":["A=1"],"Cmd":null,"Labels":{},"Hostname":"x"},
            "container_config":{},"created":"2020-01-01T00:00:00.000Z","docker_version":"20.10","os":"linux",
            "rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"created":"2020-01-01T00:00:00Z","empty_layer":true}]}"#;
        let c = ImageConfig::parse(docker).unwrap();
        assert_eq!(c.docker_version.as_deref(), Some("20.10"));
        let out = serde_json::to_string(&c).unwrap();
        assert_eq!(
            out,
            r#"{"created":"2020-01-01T00:00:00Z","architecture":"amd64","os":"linux","config":{"Env":["A=1"]},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"created":"2020-01-01T00:00:00Z","empty_layer":true}]}"#
        );
        let empty = serde_json::to_string(&ImageConfig::parse(b"{}").unwrap()).unwrap();
        assert_eq!(empty, r#"{"architecture":"","os":"","config":{},"rootfs":{"type":"","diff_ids":null}}"#);
        assert!(ImageConfig::parse(br#"{"created":"yesterday"}"#).is_err());
    }
}
