//! The core's pure parsers of untrusted text, one chosen by the first byte:
//! manifests of every kind, configs, references, digests, Go times,
//! `WWW-Authenticate` challenges, token answers, inspect templates, simple
//! signing payloads, containers-storage tar-splits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_core::inspect::template::{Template, Value};

const TYPES: [Option<&str>; 6] = [
    None,
    Some("application/vnd.oci.image.manifest.v1+json"),
    Some("application/vnd.docker.distribution.manifest.v2+json"),
    Some("application/vnd.oci.image.index.v1+json"),
    Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
    Some("application/vnd.docker.distribution.manifest.list.v2+json"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, input)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(input);
    match which % 10 {
        0 => {
            for t in TYPES {
                let _ = skiff_core::manifest::Manifest::parse(input, t);
            }
            let _ = skiff_core::manifest::manifest_digest(input);
        }
        1 => {
            let _ = skiff_core::manifest::ImageConfig::parse(input);
        }
        2 => {
            let _ = skiff_core::reference::ImageReference::parse(&text);
        }
        3 => {
            let _ = skiff_core::digest::Digest::parse(&text);
        }
        4 => {
            let _ = skiff_core::go::time::GoTime::parse(&text);
        }
        5 => {
            let _ = skiff_core::registry::auth::parse_challenges(text.lines());
        }
        6 => {
            let _ = skiff_core::registry::auth::parse_token_response(input, 1_700_000_000_000);
        }
        7 => {
            let s = |v: &str| Value::Str(v.to_owned());
            let dot = Value::Struct(vec![
                ("Name".into(), s("a"), false),
                ("RepoTags".into(), Value::List(vec![s("x"), s("y")]), false),
                ("Labels".into(), Value::Map([("a".to_owned(), s("<b>"))].into()), false),
                ("Created".into(), Value::Nil, true),
            ]);
            if let Ok(t) = Template::parse(&text) {
                let _ = t.execute(&dot);
            }
        }
        8 => {
            let _ = skiff_core::signing::payload::parse(input);
        }
        _ => {
            let _ = skiff_core::storage::tar_split::pieces(input, "/var/lib/containers/storage/vfs/dir/abc");
        }
    }
});
