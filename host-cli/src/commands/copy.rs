//! `skiff copy SRC DEST`: the core streams every blob from source to
//! destination; the host reads the policy file and carries out transfers.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{Value, json};

use super::{ScratchDir, daemon_host, platform, registry_options, run_job_parallel, tls_options};
use crate::cli::{CopyArgs, GlobalOptions};
use crate::io::HostIo;

pub fn run(g: &GlobalOptions, a: CopyArgs) -> Result<()> {
    let src = a.src.registry(a.authfile.as_ref());
    let dest = a.dest.registry(a.authfile.as_ref());
    let mut dest_options = registry_options(&dest, &a.retry)?;
    dest_options["tls_profile"] = json!(1);
    let scratch = ScratchDir::new(g)?;
    let registries_d = crate::io::registries_d::load(g.registries_d.as_deref())?;
    let job = json!({
        "command": "copy",
        "source": a.source,
        "destination": a.destination,
        "src": {
            "registry": registry_options(&src, &a.retry)?,
            "shared_blob_dir": a.src.shared_blob_dir,
            "daemon_host": daemon_host(&a.src.daemon_host),
            "registries_d": registries_d,
        },
        "dest": {
            "registry": dest_options,
            "shared_blob_dir": a.dest.shared_blob_dir,
            "daemon_host": daemon_host(&a.dest.daemon_host),
            "registries_d": registries_d,
        },
        "policy": policy(g),
        "platform": platform(g),
        "all": a.all,
        "multi_arch": a.multi_arch,
        "image_parallel_copies": a.image_parallel_copies,
        "digestfile": a.digestfile,
        "format": a.format,
        "preserve_digests": a.preserve_digests,
        "dest_compress_format": a.dest_compress_format,
        "dest_compress_level": a.dest_compress_level,
        "dest_compress": a.dest_compress,
        "dest_decompress": a.dest_decompress,
        "dest_force_compress_format": a.dest_force_compress_format,
        "dest_oci_accept_uncompressed_layers": a.dest_oci_accept_uncompressed_layers,
        "additional_tags": a.additional_tags,
        "remove_signatures": a.remove_signatures,
        "tmpdir": scratch.path(),
    });
    let io = HostIo::new(vec![tls_options(&src), tls_options(&dest)], g.debug).quiet(a.quiet);
    run_job_parallel(g, job, io)
}

/// The trust policy: `--policy`, else `~/.config/containers/policy.json`,
/// else `/etc/containers/policy.json` (read here; judged by the core).
fn policy(g: &GlobalOptions) -> Value {
    if g.insecure_policy {
        return json!({ "insecure": true });
    }
    let candidates: Vec<PathBuf> = match &g.policy {
        Some(p) => vec![PathBuf::from(p)],
        None => {
            let mut c = Vec::new();
            if let Some(home) = std::env::var_os("HOME") {
                c.push(PathBuf::from(home).join(".config/containers/policy.json"));
            }
            c.push(PathBuf::from("/etc/containers/policy.json"));
            c
        }
    };
    for path in &candidates {
        if let Ok(contents) = std::fs::read_to_string(path) {
            return json!({ "path": path.display().to_string(), "contents": contents });
        }
    }
    let shown = candidates.last().map(|p| p.display().to_string()).unwrap_or_default();
    json!({ "path": shown })
}
