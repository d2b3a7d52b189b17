//! One file per subcommand. Each turns its flags into a job for the core (or
//! a direct call), and this module runs it with the global options applied.

mod copy;
mod delete;
mod inspect;
mod list_tags;
mod manifest_digest;

use std::io::Write as _;

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

use crate::cli::{Cli, Command, GlobalOptions, RegistryFlags, RetryFlags};
use crate::io::{HostIo, TlsOptions, auth_file};
use crate::runtime::wit::ErrorKind;
use crate::runtime::{Core, CoreFailure};

pub fn run(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        use clap::CommandFactory as _;
        Cli::command().print_help()?;
        return Ok(());
    };
    match command {
        Command::Inspect(a) => inspect::run(&cli.global, a),
        Command::ListTags(a) => list_tags::run(&cli.global, a),
        Command::ManifestDigest(a) => manifest_digest::run(a),
        Command::Delete(a) => delete::run(&cli.global, a),
        Command::Copy(a) => copy::run(&cli.global, a),
    }
}

/// skopeo's exit codes: 2 when the image does not exist, 1 for anything else.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<CoreFailure>() {
        Some(f) if f.kind == ErrorKind::NotFound => 2,
        _ => 1,
    }
}

/// The Docker daemon to use: the flag, else `DOCKER_HOST` (else the core's default).
fn daemon_host(flag: &Option<String>) -> Option<String> {
    flag.clone().or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
}

/// This run's scratch space: a fresh directory under `--tmpdir` (else the
/// system's), removed with everything in it when the command ends. It is
/// named after this process (`skiff-<pid>-…`), so the next run can remove
/// what a killed one left.
struct ScratchDir(tempfile::TempDir);

impl ScratchDir {
    fn new(g: &GlobalOptions) -> Result<Self> {
        let parent = g.tmpdir.clone().map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
        Self::sweep(&parent);
        let dir = tempfile::Builder::new()
            .prefix(&format!("skiff-{}-", std::process::id()))
            .tempdir_in(&parent)
            .map_err(|e| anyhow!("creating a scratch directory in {}: {e}", parent.display()))?;
        Ok(ScratchDir(dir))
    }

    fn path(&self) -> String {
        self.0.path().display().to_string()
    }

    /// Removes scratch directories of skiff processes that no longer run.
    fn sweep(parent: &std::path::Path) {
        let Ok(entries) = std::fs::read_dir(parent) else { return };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // Exactly `skiff-<pid>-<6 random characters>`, a real directory.
            let Some((pid, rand)) = name.strip_prefix("skiff-").and_then(|rest| rest.split_once('-')) else { continue };
            let Ok(pid) = pid.parse::<u32>() else { continue };
            let shaped = rand.len() == 6 && rand.chars().all(|c| c.is_ascii_alphanumeric());
            let ours = shaped && std::fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_dir());
            if ours && pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// The `platform` part of a job: the overrides, or this machine.
fn platform(g: &GlobalOptions) -> Value {
    json!({
        "os": g.override_os.clone().unwrap_or_else(|| std::env::consts::OS.to_owned()),
        "architecture": g.override_arch.clone().unwrap_or_else(|| std::env::consts::ARCH.to_owned()),
        "variant": g.override_variant,
    })
}

/// The `registry` part of a job, after skopeo's checks on flag combinations.
fn registry_options(f: &RegistryFlags, retry: &RetryFlags) -> Result<Value> {
    if f.creds.is_some() && (f.username.is_some() || f.password.is_some()) {
        bail!("--creds and --username/--password cannot be used together");
    }
    if f.no_creds && (f.creds.is_some() || f.username.is_some()) {
        bail!("--no-creds cannot be used together with --creds or --username");
    }
    let credentials = match (&f.creds, &f.username, &f.password) {
        (Some(c), _, _) => {
            let (u, p) = c.split_once(':').ok_or_else(|| {
                anyhow!("--creds: expected USERNAME:PASSWORD (interactive password prompts are not supported)")
            })?;
            if u.is_empty() {
                bail!("--creds: the username must not be empty");
            }
            Some(json!({ "username": u, "password": p }))
        }
        (None, Some(u), Some(p)) => Some(json!({ "username": u, "password": p })),
        (None, None, None) => None,
        _ => bail!("--username and --password must be used together"),
    };
    let auth_files = if f.no_creds || credentials.is_some() { vec![] } else { auth_file::read(f.authfile.as_deref())? };
    Ok(json!({
        "tls_verify": f.tls_verify,
        "credentials": credentials,
        "registry_token": f.registry_token,
        "no_creds": f.no_creds,
        "auth_files": auth_files,
        "retry_times": retry.retry_times,
        "retry_delay_ms": retry.retry_delay.filter(|d| !d.is_zero()).map(|d| d.as_millis() as u64),
    }))
}

fn tls_options(f: &RegistryFlags) -> TlsOptions {
    TlsOptions { insecure: f.tls_verify == Some(false), cert_dir: f.cert_dir.clone() }
}

/// Runs `job` in the core, within `--command-timeout`, and writes its output.
fn run_job(g: &GlobalOptions, job: Value, tls: TlsOptions) -> Result<()> {
    // A handful of small requests: one thread starts fastest.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    run_job_on(rt, g, job, HostIo::new(vec![tls], g.debug))
}

/// Like [`run_job`], on worker threads, so that blob transfers (and their
/// hashing) proceed on every core at once.
fn run_job_parallel(g: &GlobalOptions, job: Value, io: HostIo) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    run_job_on(rt, g, job, io)
}

fn run_job_on(rt: tokio::runtime::Runtime, g: &GlobalOptions, job: Value, io: HostIo) -> Result<()> {
    let out = rt.block_on(async {
        let mut core = Core::load()?;
        let work = core.run(&job, &io);
        match g.command_timeout.filter(|d| !d.is_zero()) {
            Some(limit) => tokio::time::timeout(limit, work)
                .await
                .map_err(|_| anyhow!("command timed out after {limit:?} (--command-timeout)"))?,
            None => work.await,
        }
    })?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.flush()?;
    Ok(())
}
