//! A registry whose every answer comes from the fuzzer: the core's whole
//! Distribution client (ping, challenges, tokens, manifests, configs, tag
//! pages and `Link`, error envelopes, redirects, retries) for the command
//! the first byte chooses. Answers are separated by `\n--\n`, each written
//! `STATUS\nName: value\n…\n\nbody`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use skiff_fuzz::{Host, answer, environment, split};

const AUTH: &[u8] = br#"{"auths":{"reg.test":{"auth":"dXNlcjpwYXNz"}}}"#;

fuzz_target!(|data: &[u8]| {
    let Some((&which, input)) = data.split_first() else { return };
    let mut host = Host::default();
    host.files.insert("/run/user/1000/containers/auth.json".into(), AUTH.to_vec());
    host.answers = split(input, b"\n--\n").into_iter().map(answer).collect();
    let image = "docker://reg.test/app:v1";
    let job = match which % 6 {
        0 => json!({"command": "inspect", "image": image, "raw": true}),
        1 => json!({"command": "inspect", "image": image}),
        2 => json!({"command": "inspect", "image": image, "config": true}),
        3 => json!({"command": "list-tags", "repository": "docker://reg.test/app"}),
        4 => json!({"command": "copy", "source": image, "destination": "dir:/out", "policy": {"insecure": true}}),
        _ => json!({"command": "copy", "source": "dir:/src", "destination": image, "policy": {"insecure": true}}),
    };
    if which % 6 == 5 {
        // A small dir: image to push.
        let layer = host.blob("/src", b"layer");
        let config = host.blob("/src", br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#);
        let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 79},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 5}]});
        host.files.insert("/src/manifest.json".into(), serde_json::to_vec(&manifest).unwrap());
        host.files.insert("/src/version".into(), b"Directory Transport Version: 1.1\n".to_vec());
    }
    host.run(&job, environment());
});
