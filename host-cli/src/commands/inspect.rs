//! `skiff inspect`: manifest, config and metadata of an image.

use anyhow::Result;
use serde_json::json;

use super::{ScratchDir, daemon_host, platform, registry_options, run_job, tls_options};
use crate::cli::{GlobalOptions, InspectArgs};

pub fn run(g: &GlobalOptions, a: InspectArgs) -> Result<()> {
    let scratch = ScratchDir::new(g)?;
    let job = json!({
        "command": "inspect",
        "image": a.image,
        "raw": a.raw,
        "config": a.config,
        "format": a.format,
        "no_tags": a.no_tags,
        "shared_blob_dir": a.image_flags.shared_blob_dir,
        "platform": platform(g),
        "registry": registry_options(&a.image_flags.registry, &a.retry)?,
        "daemon_host": daemon_host(&a.image_flags.daemon_host),
        "tmpdir": scratch.path(),
    });
    run_job(g, job, tls_options(&a.image_flags.registry))
}
