//! `skiff manifest-digest FILE`: the digest that names a manifest.

use anyhow::{Context as _, Result};

use crate::cli::ManifestDigestArgs;
use crate::runtime::{Core, CoreFailure};

/// Manifests are small; this bounds what a mistaken argument can make us read.
const MAX_MANIFEST_FILE: u64 = 4 * 1024 * 1024;

pub fn run(a: ManifestDigestArgs) -> Result<()> {
    let len =
        std::fs::metadata(&a.manifest).with_context(|| format!("Error reading manifest from {}", a.manifest))?.len();
    anyhow::ensure!(
        len <= MAX_MANIFEST_FILE,
        "Error reading manifest from {}: larger than {MAX_MANIFEST_FILE} bytes",
        a.manifest
    );
    let bytes = std::fs::read(&a.manifest).with_context(|| format!("Error reading manifest from {}", a.manifest))?;
    let digest = Core::load()?
        .manifest_digest(&bytes)?
        .map_err(|f| CoreFailure { kind: f.kind, message: format!("Error computing digest: {}", f.message) })?;
    println!("{digest}");
    Ok(())
}
