//! `skiff inspect`: manifest, config and metadata of an image; and the
//! deprecated `layers`, which fetches its blobs.

use anyhow::Result;

use super::{Threads, platform, registry_options, run_job_in_scratch};
use crate::cli::{GlobalOptions, InspectArgs, LayersArgs};
use crate::io::HostIo;
use crate::runtime::jobs as wj;

pub fn run(g: &GlobalOptions, a: InspectArgs) -> Result<()> {
    let job = wj::InspectJob {
        image: a.image,
        raw: a.raw,
        config: a.config,
        format: a.format,
        no_tags: a.no_tags,
        manifest_digest: a.manifest_digest,
        side: wj::SideOptions {
            registry: registry_options(g, &a.image_flags.registry, &a.retry)?,
            shared_blob_dir: a.image_flags.shared_blob_dir,
            daemon_host: a.image_flags.daemon_host,
        },
        platform: platform(g),
    };
    run_job_in_scratch(g, wj::Job::Inspect(job), HostIo::new(g.debug), Threads::One)
}

pub fn layers(g: &GlobalOptions, a: LayersArgs) -> Result<()> {
    let job = wj::LayersJob {
        image: a.image,
        layers: a.layers,
        side: wj::SideOptions {
            registry: registry_options(g, &a.image_flags.registry, &a.retry)?,
            shared_blob_dir: a.image_flags.shared_blob_dir,
            daemon_host: a.image_flags.daemon_host,
        },
        platform: platform(g),
    };
    run_job_in_scratch(g, wj::Job::Layers(job), HostIo::new(g.debug), Threads::One)
}
