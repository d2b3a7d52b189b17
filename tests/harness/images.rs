//! Deterministic OCI image layouts: every byte (tar headers, gzip header,
//! JSON) is fixed, so digests are stable from run to run.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// What goes into one test image.
#[derive(Clone)]
pub struct ImageSpec {
    pub os: &'static str,
    pub arch: &'static str,
    pub variant: Option<&'static str>,
    /// Each layer is a list of (path, contents).
    pub layers: Vec<Vec<(String, Vec<u8>)>>,
    pub labels: Vec<(&'static str, &'static str)>,
    pub env: Vec<&'static str>,
    pub created: Option<&'static str>,
    pub layer_annotations: bool,
    /// The config's `history`; one entry naming the harness when None.
    pub history: Option<Value>,
}

impl ImageSpec {
    pub fn small(arch: &'static str, variant: Option<&'static str>, seed: &str) -> Self {
        ImageSpec {
            os: "linux",
            arch,
            variant,
            layers: vec![
                vec![("etc/hostname".into(), format!("{seed}\n").into_bytes())],
                vec![("app/data.txt".into(), format!("payload of {seed} <&>\n").repeat(50).into_bytes())],
            ],
            labels: vec![("org.opencontainers.image.title", "skiff test"), ("com.example.html", "<b>&</b>")],
            env: vec!["PATH=/usr/bin:/bin", "GREETING=hello <world> & co"],
            created: Some("2024-03-04T05:06:07.123456789Z"),
            layer_annotations: true,
            history: None,
        }
    }
}

/// `len` incompressible bytes, the same for the same `seed` (xorshift).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// An OCI layout at `dir` holding one image, tagged `v1`, whose layers
/// include `noise.bin` of `len` incompressible bytes.
pub fn noisy_layout(dir: &std::path::Path, name: &str, len: usize, seed: u64) {
    let mut l = Layout::create(dir);
    let mut spec = ImageSpec::small("amd64", None, name);
    spec.layers.push(vec![("noise.bin".into(), noise(len, seed))]);
    let d = l.add_image(&spec);
    l.tag(&d, "v1");
}

pub fn sha256(bytes: &[u8]) -> String {
    let h = Sha256::digest(bytes);
    format!("sha256:{}", h.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Stores `manifest` as a blob of the layout at `dir` and makes it the one
/// image `index.json` names, as `v1` (a test's edited copy of a layout);
/// returns its digest.
pub fn name_manifest(dir: &Path, manifest: &Value) -> String {
    let bytes = serde_json::to_vec(manifest).unwrap();
    let d = sha256(&bytes);
    std::fs::write(dir.join("blobs/sha256").join(&d[7..]), &bytes).unwrap();
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": d, "size": bytes.len(),
        "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    d
}

/// An OCI image layout directory being built.
pub struct Layout {
    pub dir: PathBuf,
    index: Vec<Value>,
}

impl Layout {
    pub fn create(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let l = Layout { dir: dir.to_owned(), index: vec![] };
        l.write_index();
        l
    }

    pub fn add_blob(&self, bytes: &[u8]) -> (String, usize) {
        let d = sha256(bytes);
        std::fs::write(self.dir.join("blobs/sha256").join(&d[7..]), bytes).unwrap();
        (d, bytes.len())
    }

    /// Writes config, layers and manifest; returns the manifest descriptor.
    pub fn add_image(&self, spec: &ImageSpec) -> Value {
        let tars: Vec<Vec<u8>> = spec.layers.iter().map(|files| tar_of(files)).collect();
        self.add_image_of_tars(spec, &tars)
    }

    /// The same with these layer tars instead of `spec.layers`.
    pub fn add_image_of_tars(&self, spec: &ImageSpec, tars: &[Vec<u8>]) -> Value {
        let mut layers = vec![];
        let mut diff_ids = vec![];
        for (i, tar) in tars.iter().enumerate() {
            diff_ids.push(sha256(tar));
            let gz = gzip(tar);
            let (d, size) = self.add_blob(&gz);
            let mut desc = json!({"mediaType": OCI_LAYER_GZIP, "digest": d, "size": size});
            if spec.layer_annotations {
                desc["annotations"] = json!({"org.example.layer": format!("layer-{i}")});
            }
            layers.push(desc);
        }
        let labels: serde_json::Map<String, Value> =
            spec.labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        let mut config = json!({
            "architecture": spec.arch,
            "os": spec.os,
            "config": {"Env": spec.env, "Cmd": ["/bin/sh"], "Labels": labels},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": spec.history.clone().unwrap_or_else(|| json!([{"created": spec.created, "created_by": "skiff test harness"}])),
        });
        if let Some(c) = spec.created {
            config["created"] = json!(c);
        }
        if let Some(v) = spec.variant {
            config["variant"] = json!(v);
        }
        let config_bytes = serde_json::to_vec(&config).unwrap();
        let (cd, cs) = self.add_blob(&config_bytes);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": cs},
            "layers": layers,
        });
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let (md, ms) = self.add_blob(&bytes);
        let mut platform = json!({"architecture": spec.arch, "os": spec.os});
        if let Some(v) = spec.variant {
            platform["variant"] = json!(v);
        }
        json!({"mediaType": OCI_MANIFEST, "digest": md, "size": ms, "platform": platform})
    }

    /// Writes an image index over `manifests`; returns its descriptor.
    pub fn add_index(&self, manifests: Vec<Value>) -> Value {
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        let (d, s) = self.add_blob(&serde_json::to_vec(&index).unwrap());
        json!({"mediaType": OCI_INDEX, "digest": d, "size": s})
    }

    /// Names `desc` in `index.json` as `name`.
    pub fn tag(&mut self, desc: &Value, name: &str) {
        let mut d = desc.clone();
        if let Some(o) = d.as_object_mut() {
            o.remove("platform");
        }
        d["annotations"] = json!({"org.opencontainers.image.ref.name": name});
        self.index.push(d);
        self.write_index();
    }

    fn write_index(&self) {
        let index = json!({"schemaVersion": 2, "manifests": self.index});
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    }
}

fn tar_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        b.append_data(&mut h, path, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}
