//! `skiff sync --src KIND --dest KIND SOURCE DEST`: the core plans and
//! copies; the host carries out its requests, several images at once.

use anyhow::{Result, bail};

use super::copy::manifest_format;
use super::{Threads, platform, policy_options, run_job_in_scratch, side_options, sign_options};
use crate::cli::{GlobalOptions, SyncArgs};
use crate::io::HostIo;
use crate::runtime::jobs as wj;

fn count(n: Option<usize>) -> Option<u32> {
    n.map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

pub fn run(g: &GlobalOptions, a: SyncArgs) -> Result<()> {
    let signing = sign_options(a.signing)?;
    let source_kind = match a.src_kind.as_deref() {
        None | Some("") => bail!("A source transport must be specified"),
        Some("docker") => wj::SyncSource::Docker,
        Some("dir") => wj::SyncSource::Dir,
        Some("yaml") => wj::SyncSource::Yaml,
        Some("oci") => wj::SyncSource::Oci,
        Some(other) => bail!("{other:?} is not a valid source transport"),
    };
    let destination_kind = match a.dest_kind.as_deref() {
        None | Some("") => bail!("A destination transport must be specified"),
        Some("docker") => wj::SyncDestination::Docker,
        Some("dir") => wj::SyncDestination::Dir,
        Some("oci") => wj::SyncDestination::Oci,
        Some(other) => bail!("{other:?} is not a valid destination transport"),
    };
    let src = a.src.registry(a.authfile.as_ref());
    let dest = a.dest.registry(a.authfile.as_ref());
    let job = wj::SyncJob {
        source: a.source,
        destination: a.destination,
        source_kind,
        destination_kind,
        src: side_options(g, &src, &a.retry, a.src.shared_blob_dir, a.src.daemon_host)?,
        dest: side_options(g, &dest, &a.retry, a.dest.shared_blob_dir, a.dest.daemon_host)?,
        policy: policy_options(g),
        registries_d: g.registries_d.clone(),
        platform: platform(g),
        all: a.all,
        scoped: a.scoped,
        append_suffix: a.append_suffix,
        dry_run: a.dry_run,
        keep_going: a.keep_going,
        preserve_digests: a.preserve_digests,
        digestfile: a.digestfile,
        format: a.format.as_deref().map(manifest_format).transpose()?,
        remove_signatures: a.remove_signatures,
        image_parallel_copies: count(a.image_parallel_copies),
        parallel_images: count(a.parallel_images),
        skip_existing: a.skip_existing,
        report: a.report,
        plan: a.plan,
        shard: a.shard,
        signing,
    };
    run_job_in_scratch(g, wj::Job::Sync(job), HostIo::new(g.debug).quiet(a.quiet), Threads::All)
}
