//! `skiff list-tags`: every tag of a repository.

use anyhow::Result;
use serde_json::json;

use super::{registry_options, run_job, tls_options};
use crate::cli::{GlobalOptions, ListTagsArgs};

pub fn run(g: &GlobalOptions, a: ListTagsArgs) -> Result<()> {
    let job = json!({
        "command": "list-tags",
        "repository": a.repository,
        "registry": registry_options(&a.registry, &a.retry)?,
    });
    run_job(g, job, tls_options(&a.registry))
}
