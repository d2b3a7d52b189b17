//! `skiff delete`: removes an image's manifest from a registry, by digest.

use anyhow::Result;
use serde_json::json;

use super::{registry_options, run_job, tls_options};
use crate::cli::{DeleteArgs, GlobalOptions};

pub fn run(g: &GlobalOptions, a: DeleteArgs) -> Result<()> {
    let job = json!({
        "command": "delete",
        "image": a.image,
        "registry": registry_options(&a.image_flags.registry, &a.retry)?,
    });
    run_job(g, job, tls_options(&a.image_flags.registry))
}
