//! Every parser that reads what a registry, an archive or a user hands the
//! core, fed thousands of mutations of valid inputs (bit flips, inserted
//! and deleted bytes, truncations, spliced repeats, from a fixed seed so a
//! failure replays): none may panic, whatever it decides (issue 15,
//! "fuzzed parsers"). No fuzzing engine is needed to run it; a failing
//! input is printed in hex.

use std::panic::{AssertUnwindSafe, catch_unwind};

use skiff_core::digest::Digest;
use skiff_core::manifest::{ImageConfig, Manifest};
use skiff_core::reference::ImageReference;

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that parsers treat specially, to make mutations reach deeper.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"\\u0000",
    b"\\ud800",
    b"null",
    b"-1",
    b"1e308",
    b"18446744073709551616",
    b"sha256:",
    b"sha512:",
    b"../",
    b"//",
    b"@",
    b"\xff\xfe",
    b"\x00",
    b"\n",
    b"{{",
    b"}}",
    b"=",
    b"\"realm\"",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            2 => {
                let end = (at + rng.below(16)).min(v.len());
                v.drain(at..end);
            }
            3 => v.truncate(at),
            4 if !v.is_empty() => {
                let start = rng.below(v.len());
                let end = (start + rng.below(64)).min(v.len());
                let piece = v[start..end].to_vec();
                v.splice(at..at, piece);
            }
            _ => v.insert(at, rng.next() as u8),
        }
    }
    v
}

/// Runs `parse` on `rounds` mutations of each seed; a panic fails the test
/// with the input that caused it.
fn fuzz(name: &str, seeds: &[&[u8]], rounds: usize, parse: impl Fn(&[u8])) {
    let mut rng = Rng(0x5EED_0000 ^ (name.len() as u64 * 0x9E37_79B9));
    for seed in seeds {
        parse(seed);
        for _ in 0..rounds {
            let input = mutate(&mut rng, seed);
            if catch_unwind(AssertUnwindSafe(|| parse(&input))).is_err() {
                let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
                panic!("{name} panicked on input (hex) {hex}");
            }
        }
    }
}

const OCI_MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:4609f8453d05314f15e6fc11f91c2fd1ad84ac8578b0b4a79fdb0d0e1dc7f2a2","size":421},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:b84a343f7125f443e534c5acb34737e917330564bb088afd4e6964d5371f3a88","size":119,"annotations":{"a":"b"}}],"annotations":{"org.opencontainers.image.ref.name":"v1"}}"#;
const DOCKER_MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32654,"digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f","urls":["https://x.example/l"]}]}"#;
const INDEX: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:535dbcd36ca83dc8e86456ab192e580b040ea074a73244287c02c7470da4ca5c","size":525,"platform":{"architecture":"arm64","os":"linux","variant":"v8","os.features":["x"]}}]}"#;
const SCHEMA1: &[u8] = br#"{"schemaVersion":1,"name":"a/b","tag":"v1","architecture":"amd64","fsLayers":[{"blobSum":"sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"}],"history":[{"v1Compatibility":"{\"id\":\"1\",\"created\":\"2020-01-01T00:00:00Z\",\"container_config\":{\"Cmd\":[\"sh\"]}}"}],"signatures":[{"header":{"jwk":{"crv":"P-256","kty":"EC","x":"a","y":"b"},"alg":"ES256"},"signature":"c","protected":"eyJmb3JtYXRMZW5ndGgiOjEwLCJmb3JtYXRUYWlsIjoiZlEifQ"}]}"#;
const CONFIG: &[u8] = br#"{"created":"2024-01-01T00:00:00.123456789+02:00","architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"],"ExposedPorts":{"80/tcp":{}},"Labels":{"a":"b"},"Volumes":{"/v":{}}},"rootfs":{"type":"layers","diff_ids":["sha256:2136c8b8fb36e56554aad1fa27ec2e0c4ed6c00bf4e6964d5371f3a88b84a343"]},"history":[{"created":"2024-01-01T00:00:00Z","created_by":"x","empty_layer":true}]}"#;

#[test]
fn manifests_and_configs() {
    let types = [
        None,
        Some("application/vnd.oci.image.manifest.v1+json"),
        Some("application/vnd.docker.distribution.manifest.v2+json"),
        Some("application/vnd.oci.image.index.v1+json"),
        Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
        Some("text/plain"),
    ];
    fuzz("Manifest::parse", &[OCI_MANIFEST, DOCKER_MANIFEST, INDEX, SCHEMA1], 5000, |b| {
        for t in types {
            let _ = Manifest::parse(b, t);
        }
        let _ = skiff_core::manifest::manifest_digest(b);
    });
    fuzz("ImageConfig::parse", &[CONFIG], 10_000, |b| {
        let _ = ImageConfig::parse(b);
    });
}

#[test]
fn references_digests_and_times() {
    let refs: &[&[u8]] = &[
        b"docker://quay.io/a/b:c@sha256:535dbcd36ca83dc8e86456ab192e580b040ea074a73244287c02c7470da4ca5c",
        b"oci:/tmp/x:v1",
        b"oci-archive:/tmp/x.tar:lib/app:v1",
        b"docker-archive:/tmp/x.tar:@2",
        b"containers-storage:[overlay@/var/lib/c+/run/c:a=b]localhost/app:v1@0123456789ab",
        b"dir:/tmp/x",
        b"docker-daemon:busybox:latest",
        b"tarball:/a.tar:/b.tar.gz",
    ];
    fuzz("ImageReference::parse", refs, 2000, |b| {
        let _ = ImageReference::parse(&String::from_utf8_lossy(b));
    });
    fuzz("Digest::parse", &[b"sha256:535dbcd36ca83dc8e86456ab192e580b040ea074a73244287c02c7470da4ca5c"], 3000, |b| {
        let _ = Digest::parse(&String::from_utf8_lossy(b));
    });
    fuzz("GoTime::parse", &[b"2024-01-01T00:00:00.123456789+02:00", b"2024-02-29T23:59:60Z"], 3000, |b| {
        let _ = skiff_core::go::time::GoTime::parse(&String::from_utf8_lossy(b));
    });
}

#[test]
fn registry_answers() {
    use skiff_core::registry::auth::{parse_challenges, parse_token_response};
    let challenges: &[&[u8]] = &[
        br#"Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push""#,
        br#"Basic realm="x", Bearer realm="https://a/t""#,
    ];
    fuzz("parse_challenges", challenges, 3000, |b| {
        let _ = parse_challenges(std::iter::once(String::from_utf8_lossy(b).as_ref()));
    });
    let tokens: &[&[u8]] = &[
        br#"{"token":"abc","expires_in":300,"issued_at":"2024-01-01T00:00:00Z"}"#,
        br#"{"access_token":"abc","expires_in":-5,"refresh_token":"r"}"#,
    ];
    fuzz("parse_token_response", tokens, 3000, |b| {
        let _ = parse_token_response(b, 1_700_000_000_000);
    });
}

#[test]
fn templates_and_signatures() {
    use skiff_core::inspect::template::Template;
    let templates: &[&[u8]] = &[
        b"{{.Name}} {{range .RepoTags}}{{.}},{{else}}none{{end}} {{json .Labels}}",
        b"{{if eq .Os \"linux\"}}{{printf \"%s/%d\" .Architecture 3}}{{end}}{{index .Labels \"a\"}}{{len .Layers}}",
    ];
    use skiff_core::inspect::template::Value;
    let s = |v: &str| Value::Str(v.to_owned());
    let dot = Value::Struct(vec![
        ("Name".into(), s("a"), false),
        ("RepoTags".into(), Value::List(vec![s("x"), s("y")]), false),
        ("Labels".into(), Value::Map([("a".to_owned(), s("<b>"))].into()), false),
        ("Os".into(), s("linux"), false),
        ("Architecture".into(), s("amd64"), false),
        ("Layers".into(), Value::List(vec![s("l")]), false),
        ("Created".into(), Value::Nil, true),
    ]);
    fuzz("Template", templates, 2000, |b| {
        if let Ok(t) = Template::parse(&String::from_utf8_lossy(b)) {
            let _ = t.execute(&dot);
        }
    });
    let payload: &[u8] = br#"{"critical":{"identity":{"docker-reference":"quay.io/a/b:c"},"image":{"docker-manifest-digest":"sha256:535dbcd36ca83dc8e86456ab192e580b040ea074a73244287c02c7470da4ca5c"},"type":"atomic container signature"},"optional":{"creator":"x","timestamp":1700000000}}"#;
    fuzz("payload::parse", &[payload], 3000, |b| {
        let _ = skiff_core::signing::payload::parse(b);
    });
}

#[test]
fn tar_splits() {
    use std::io::Write as _;
    // containers-storage's `.tar-split.gz`: NDJSON of raw segments and files, gzipped.
    let ndjson = concat!(
        r#"{"type":2,"payload":"dXN0YXIAMDA=","position":0}"#,
        "\n",
        r#"{"type":1,"name":"etc/hostname","size":5,"payload":"AAAAAAAAAAA=","position":1}"#,
        "\n",
        r#"{"type":1,"name_raw":"/w==","size":0,"position":2}"#,
        "\n",
    );
    let gz = |b: &[u8]| {
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(b).unwrap();
        z.finish().unwrap()
    };
    // Mutated inside the compression (the parser's input after gunzip) and outside it.
    fuzz("tar_split::pieces (inner)", &[ndjson.as_bytes()], 3000, |b| {
        let _ = skiff_core::storage::tar_split::pieces(&gz(b), "/var/lib/containers/storage/vfs/dir/abc");
    });
    let outer = gz(ndjson.as_bytes());
    fuzz("tar_split::pieces (gzip)", &[&outer], 3000, |b| {
        let _ = skiff_core::storage::tar_split::pieces(b, "/root");
    });
}

/// The harness itself: a parser that panics on some mutation is caught and
/// reported with its input.
#[test]
#[should_panic(expected = "a fragile parser panicked on input (hex)")]
fn the_harness_reports_a_panic() {
    fuzz("a fragile parser", &[b"{\"a\":1}"], 100, |b| assert!(b.len() >= 7, "too short"));
}
