//! `skiff copy SRC DEST`: the core streams every blob from source to
//! destination; the host carries out the transfers.

use anyhow::{Result, bail};

use super::{Threads, platform, policy_options, run_job_in_scratch, side_options, sign_options};
use crate::cli::{CopyArgs, GlobalOptions};
use crate::io::HostIo;
use crate::runtime::jobs as wj;

pub(super) fn manifest_format(f: &str) -> Result<wj::ManifestFormat> {
    Ok(match f {
        "oci" => wj::ManifestFormat::Oci,
        "v2s2" => wj::ManifestFormat::V2s2,
        "v2s1" => wj::ManifestFormat::V2s1,
        other => bail!("unknown format {other:?}: use oci, v2s1 or v2s2"),
    })
}

/// `--multi-arch`: a mode, or (upstream) a comma-separated list of
/// platforms, which the core checks.
fn multi_arch(m: &str) -> Result<(wj::MultiArch, Vec<String>)> {
    Ok(match m {
        "system" => (wj::MultiArch::System, Vec::new()),
        "all" => (wj::MultiArch::All, Vec::new()),
        "index-only" => (wj::MultiArch::IndexOnly, Vec::new()),
        list if list.contains('/') => (wj::MultiArch::Platforms, list.split(',').map(str::to_owned).collect()),
        other => bail!(
            "unknown multi-arch option {other:?}. Choose one of the supported options: 'system', 'all', 'index-only', or a list of platforms (linux/amd64,linux/arm64)"
        ),
    })
}

fn compression_format(c: &str) -> Result<wj::CompressionFormat> {
    Ok(match c {
        "gzip" => wj::CompressionFormat::Gzip,
        "zstd" => wj::CompressionFormat::Zstd,
        "zstd:chunked" => wj::CompressionFormat::ZstdChunked,
        other => bail!("unknown --dest-compress-format {other:?}: use gzip or zstd"),
    })
}

pub fn run(g: &GlobalOptions, a: CopyArgs) -> Result<()> {
    let signing = sign_options(a.signing)?;
    let src = a.src.registry(a.authfile.as_ref());
    let dest = a.dest.registry(a.authfile.as_ref());
    let (multi_arch, multi_arch_platforms) = match a.multi_arch.as_deref().map(multi_arch).transpose()? {
        Some((m, platforms)) => (Some(m), platforms),
        None => (None, Vec::new()),
    };
    let job = wj::CopyJob {
        source: a.source,
        destination: a.destination,
        src: side_options(g, &src, &a.retry, a.src.shared_blob_dir, a.src.daemon_host)?,
        dest: side_options(g, &dest, &a.retry, a.dest.shared_blob_dir, a.dest.daemon_host)?,
        policy: policy_options(g),
        registries_d: g.registries_d.clone(),
        platform: platform(g),
        all: a.all,
        multi_arch,
        multi_arch_platforms,
        strip_removed_platforms: a.strip_removed_platforms,
        image_parallel_copies: a.image_parallel_copies.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        digestfile: a.digestfile,
        format: a.format.as_deref().map(manifest_format).transpose()?,
        preserve_digests: a.preserve_digests,
        dest_compress_format: a.dest_compress_format.as_deref().map(compression_format).transpose()?,
        dest_compress_level: a.dest_compress_level,
        dest_compress: a.dest_compress,
        dest_decompress: a.dest_decompress,
        dest_force_compress_format: a.dest_force_compress_format,
        dest_oci_accept_uncompressed_layers: a.dest_oci_accept_uncompressed_layers,
        remove_signatures: a.remove_signatures,
        additional_tags: a.additional_tags,
        signing,
        sign_identity: a.sign_identity,
        encryption_keys: a.encryption_keys,
        encrypt_layers: a.encrypt_layers,
        decryption_keys: a.decryption_keys,
    };
    run_job_in_scratch(g, wj::Job::Copy(job), HostIo::new(g.debug).quiet(a.quiet), Threads::All)
}
