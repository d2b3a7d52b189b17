//! The configuration a user's machine holds, from the fuzzer, where the
//! core looks for it: policy.json (with a sigstore public key), auth.json,
//! registries.conf, a registries.d file, a sync YAML file. The first byte
//! chooses the file; the rest is its contents. Registry requests fail to
//! connect, so only the reading and the decisions on it run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use skiff_fuzz::{Host, environment};

const CONFIG: &str = "/home/u/.config/containers";

fuzz_target!(|data: &[u8]| {
    let Some((&which, input)) = data.split_first() else { return };
    let mut host = Host::default();
    // An image to copy from, so a policy that accepts reaches its signatures.
    host.files.insert("/d/version".into(), b"Directory Transport Version: 1.1\n".to_vec());
    host.files.insert("/d/manifest.json".into(), br#"{"schemaVersion":2,"config":{},"layers":[]}"#.to_vec());
    let copy = |source: &str| json!({"command": "copy", "source": source, "destination": "dir:/out"});
    let job = match which % 6 {
        0 => {
            host.files.insert(format!("{CONFIG}/policy.json"), input.to_vec());
            copy("dir:/d")
        }
        1 => {
            host.files.insert(format!("{CONFIG}/policy.json"), br#"{"default":[{"type":"sigstoreSigned","keyPath":"/key.pub"}]}"#.to_vec());
            host.files.insert("/key.pub".into(), input.to_vec());
            copy("docker://reg.test/app:v1")
        }
        2 => {
            host.files.insert("/run/user/1000/containers/auth.json".into(), input.to_vec());
            json!({"command": "inspect", "image": "docker://reg.test/app:v1", "raw": true})
        }
        3 => {
            host.files.insert(format!("{CONFIG}/registries.conf"), input.to_vec());
            json!({"command": "inspect", "image": "docker://app:v1", "raw": true})
        }
        4 => {
            host.files.insert(format!("{CONFIG}/policy.json"), br#"{"default":[{"type":"insecureAcceptAnything"}]}"#.to_vec());
            host.files.insert(format!("{CONFIG}/registries.d/fuzz.yaml"), input.to_vec());
            copy("docker://reg.test/app:v1")
        }
        _ => {
            host.files.insert("/sync.yaml".into(), input.to_vec());
            json!({"command": "sync", "source": "/sync.yaml", "destination": "/out", "source_kind": "yaml",
                "destination_kind": "dir", "dry_run": true, "policy": {"insecure": true}})
        }
    };
    host.run(&job, environment());
});
