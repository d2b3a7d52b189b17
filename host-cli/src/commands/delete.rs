//! `skiff delete`: removes an image's manifest from a registry, by digest.

use anyhow::Result;

use super::{registry_options, run_job};
use crate::cli::{DeleteArgs, GlobalOptions};
use crate::runtime::jobs as wj;

pub fn run(g: &GlobalOptions, a: DeleteArgs) -> Result<()> {
    let job = wj::DeleteJob { image: a.image, registry: registry_options(g, &a.image_flags.registry, &a.retry)? };
    run_job(g, wj::Job::Delete(job))
}
