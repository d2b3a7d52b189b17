//! `skiff list-tags`: every tag of a repository.

use anyhow::Result;

use super::{registry_options, run_job};
use crate::cli::{GlobalOptions, ListTagsArgs};
use crate::runtime::jobs as wj;

pub fn run(g: &GlobalOptions, a: ListTagsArgs) -> Result<()> {
    let job = wj::ListTagsJob { repository: a.repository, registry: registry_options(g, &a.registry, &a.retry)? };
    run_job(g, wj::Job::ListTags(job))
}
