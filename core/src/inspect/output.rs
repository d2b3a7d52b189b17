//! The object `skopeo inspect` prints (upstream's `inspect.Output`), with
//! its null and empty conventions, and its view for `--format` templates.

use std::collections::BTreeMap;

use serde::Serialize;

use super::template::Value;
use crate::manifest::config::Timestamp;

#[derive(Debug, Clone, Serialize)]
pub struct Output {
    #[serde(rename = "Name", skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "Tag", skip_serializing_if = "String::is_empty")]
    pub tag: String,
    #[serde(rename = "Digest")]
    pub digest: String,
    /// None when the registry refused to list tags (skopeo prints null then).
    #[serde(rename = "RepoTags")]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Created")]
    pub created: Option<Timestamp>,
    #[serde(rename = "DockerVersion")]
    pub docker_version: String,
    #[serde(rename = "Labels")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "Architecture")]
    pub architecture: String,
    #[serde(rename = "Os")]
    pub os: String,
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
    #[serde(rename = "LayersData")]
    pub layers_data: Vec<LayerData>,
    #[serde(rename = "Env")]
    pub env: Option<Vec<String>>,
}

/// `types.ImageInspectLayer`.
#[derive(Debug, Clone, Serialize)]
pub struct LayerData {
    #[serde(rename = "MIMEType")]
    pub mime_type: String,
    #[serde(rename = "Digest")]
    pub digest: String,
    #[serde(rename = "Size")]
    pub size: i64,
    #[serde(rename = "Annotations")]
    pub annotations: Option<BTreeMap<String, String>>,
}

fn strings(v: &Option<Vec<String>>) -> Value {
    match v {
        Some(v) => Value::List(v.iter().cloned().map(Value::Str).collect()),
        None => Value::NilList,
    }
}

fn string_map(m: &Option<BTreeMap<String, String>>) -> Value {
    match m {
        Some(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), Value::Str(v.clone()))).collect()),
        None => Value::NilMap,
    }
}

impl Output {
    /// The output as Go's template engine sees the struct.
    pub fn template_value(&self) -> Value {
        let layers_data = self
            .layers_data
            .iter()
            .map(|l| {
                Value::Struct(vec![
                    ("MIMEType".into(), Value::Str(l.mime_type.clone()), false),
                    ("Digest".into(), Value::Str(l.digest.clone()), false),
                    ("Size".into(), Value::Int(l.size), false),
                    ("Annotations".into(), string_map(&l.annotations), false),
                ])
            })
            .collect();
        Value::Struct(vec![
            ("Name".into(), Value::Str(self.name.clone()), true),
            ("Tag".into(), Value::Str(self.tag.clone()), true),
            ("Digest".into(), Value::Str(self.digest.clone()), false),
            ("RepoTags".into(), strings(&self.repo_tags), false),
            ("Created".into(), self.created.as_ref().map(|t| Value::Time(t.0.clone())).unwrap_or(Value::Nil), false),
            ("DockerVersion".into(), Value::Str(self.docker_version.clone()), false),
            ("Labels".into(), string_map(&self.labels), false),
            ("Architecture".into(), Value::Str(self.architecture.clone()), false),
            ("Os".into(), Value::Str(self.os.clone()), false),
            ("Layers".into(), Value::List(self.layers.iter().cloned().map(Value::Str).collect()), false),
            ("LayersData".into(), Value::List(layers_data), false),
            ("Env".into(), strings(&self.env), false),
        ])
    }
}
