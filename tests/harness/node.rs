//! Running the JavaScript side (host-js tests and the jco example) with the
//! addresses of the harness's registries in the environment.

use std::path::PathBuf;
use std::process::Command;

use super::tools::{Run, run, test_home};

/// The repository root (the tests crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// `node args…` in `dir`, with `env` added.
pub fn node(dir: &std::path::Path, args: &[&str], env: &[(&str, String)]) -> Run {
    let mut cmd = Command::new("node");
    cmd.current_dir(dir).args(args).env("HOME", test_home());
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd)
}

/// Fails with a clear message when `npm run build` has not produced the package.
pub fn require_js_package() -> PathBuf {
    let js = repo_root().join("host-js");
    assert!(
        js.join("pkg/skiff_js_bg.wasm").exists() && js.join("node_modules").exists(),
        "host-js is not built: run `npm install && npm run build` in host-js (scripts/test.sh does)"
    );
    js
}
