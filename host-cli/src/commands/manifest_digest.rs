//! `skiff manifest-digest FILE`: the digest that names a manifest (the core
//! reads the file and computes it).

use anyhow::Result;

use super::run_job;
use crate::cli::{GlobalOptions, ManifestDigestArgs};
use crate::runtime::jobs as wj;

pub fn run(g: &GlobalOptions, a: ManifestDigestArgs) -> Result<()> {
    run_job(g, wj::Job::ManifestDigest(wj::ManifestDigestJob { path: a.manifest }))
}
