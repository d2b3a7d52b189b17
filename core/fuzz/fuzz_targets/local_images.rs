//! Images on disk whose files come from the fuzzer: an OCI layout, a `dir:`
//! image, a docker-archive and an oci-archive, read by inspect and copied
//! to `dir:` (the layout's `index.json`, manifests and configs, the
//! archive's `manifest.json`, tar member names, diff IDs). The input after
//! the first byte is split at `\n--\n`: the first part is the index or
//! manifest, the others are blobs filed under their digests; for archives
//! the whole input is the tar file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use skiff_fuzz::{Host, environment, split};

fuzz_target!(|data: &[u8]| {
    let Some((&which, input)) = data.split_first() else { return };
    let mut host = Host::default();
    let parts = split(input, b"\n--\n");
    let image = match which % 4 {
        0 => {
            host.files.insert("/l/oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec());
            host.files.insert("/l/index.json".into(), parts[0].to_vec());
            for p in &parts[1..] {
                host.blob("/l/blobs/sha256", p);
            }
            "oci:/l:v1"
        }
        1 => {
            host.files.insert("/d/version".into(), b"Directory Transport Version: 1.1\n".to_vec());
            host.files.insert("/d/manifest.json".into(), parts[0].to_vec());
            for p in &parts[1..] {
                host.blob("/d", p);
            }
            "dir:/d"
        }
        2 => {
            host.files.insert("/a.tar".into(), input.to_vec());
            "docker-archive:/a.tar"
        }
        _ => {
            host.files.insert("/a.tar".into(), input.to_vec());
            "oci-archive:/a.tar"
        }
    };
    let fresh = host.files.clone();
    host.run(&json!({"command": "inspect", "image": image}), environment());
    host.files = fresh;
    host.run(&json!({"command": "copy", "source": image, "destination": "dir:/out", "policy": {"insecure": true}}), environment());
});
