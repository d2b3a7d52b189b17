mod archive_outputs;
mod auth;
mod bad_input;
mod bearer;
mod compat;
mod concurrency;
mod copy;
mod core_cache;
mod cred_helpers;
mod daemon;
mod delete;
mod encryption;
mod gpg_signing;
mod host_js;
mod image_proxy;
mod layout_fixes;
mod list_tags;
mod local;
mod login;
mod proxy_env;
mod registries_conf;
mod schema1_copy;
mod self_signed;
mod signatures;
mod sigstore_keys;
mod sigstore_signing;
mod storage;
mod storage_write;
mod sync;
mod tarball;
mod zstd_chunked;

use serde_json::Value;

/// skopeo 1.9.3 predates `LayersData`: compare everything else, and check
/// that `LayersData` agrees with `Layers` and with the manifest.
pub fn assert_inspect_matches(skiff: &Value, skopeo: &Value, raw_manifest: &[u8]) {
    let mut ours = skiff.clone();
    let layers_data = ours.as_object_mut().unwrap().remove("LayersData").expect("LayersData present");
    assert_eq!(&ours, skopeo, "inspect output differs from skopeo's");
    let layers: Vec<&str> = skiff["Layers"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    let data_digests: Vec<&str> =
        layers_data.as_array().unwrap().iter().map(|l| l["Digest"].as_str().unwrap()).collect();
    assert_eq!(layers, data_digests);
    let manifest: Value = serde_json::from_slice(raw_manifest).unwrap();
    if let Some(ml) = manifest["layers"].as_array() {
        for (m, d) in ml.iter().zip(layers_data.as_array().unwrap()) {
            assert_eq!(m["mediaType"], d["MIMEType"]);
            assert_eq!(m["size"], d["Size"]);
        }
    }
}
