//! The cache of the core's compiled code: the binary carries the code made at
//! build time and has no compiler, so every way the cache can be missing,
//! damaged or unwritable must still end in a working run.

use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::tools::{run, skiff_cmd, skopeo};

/// `skiff manifest-digest` of a fixture manifest with `cache` as XDG_CACHE_HOME.
fn digest_with_cache(cache: &std::path::Path, manifest: &str) -> String {
    let mut cmd = skiff_cmd();
    cmd.args(["manifest-digest", manifest]).env("XDG_CACHE_HOME", cache);
    let r = run(cmd).ok();
    String::from_utf8(r.stdout).unwrap()
}

fn cached_files(cache: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(cache.join("skiff")) else { return Vec::new() };
    let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn compiled_core_cache_is_written_repaired_and_optional() {
    let w = world();
    let manifest = w.single.join("index.json").display().to_string();
    let expected = String::from_utf8(skopeo(&["manifest-digest", &manifest]).ok().stdout).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");

    // A first start writes the embedded code to the cache, and removes
    // what another build left there.
    std::fs::create_dir_all(cache.join("skiff")).unwrap();
    let stale = cache.join("skiff/core-0.0.0-wasmtime1.0.0-0000000000000000.cwasm");
    std::fs::write(&stale, b"another build's code").unwrap();
    assert_eq!(digest_with_cache(&cache, &manifest), expected);
    let files = cached_files(&cache);
    assert_eq!(files.len(), 1, "one compiled core in the cache: {files:?}");
    assert!(!stale.exists(), "the other build's file is removed");
    let written = std::fs::read(&files[0]).unwrap();
    assert!(written.len() > 1_000_000, "the cache holds the compiled core ({} bytes)", written.len());

    // A damaged cache file is replaced by the embedded code.
    std::fs::write(&files[0], b"\x7fELF damaged").unwrap();
    assert_eq!(digest_with_cache(&cache, &manifest), expected);
    assert_eq!(std::fs::read(&files[0]).unwrap(), written, "the damaged file is rewritten");

    // No cache can be written (XDG_CACHE_HOME is a file): the embedded code
    // is loaded from memory instead.
    let not_a_dir = tmp.path().join("file");
    std::fs::write(&not_a_dir, b"").unwrap();
    assert_eq!(digest_with_cache(&not_a_dir, &manifest), expected);
    assert_eq!(std::fs::read(&not_a_dir).unwrap(), b"", "nothing is written there");
}
