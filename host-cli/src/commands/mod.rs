//! One file per subcommand. Each turns its flags into a job for the core (or
//! a direct call), and this module runs it with the global options applied.

mod copy;
mod delete;
mod inspect;
mod list_tags;
mod login;
mod manifest_digest;
mod proxy;
mod signing;
mod sync;

use std::io::Write as _;

use anyhow::{Result, anyhow, bail};

use crate::cli::{Cli, Command, GlobalOptions, RegistryFlags, RetryFlags, SigningFlags};
use crate::io::HostIo;
use crate::io::scratch::ScratchDir;
use crate::runtime::wit::ErrorKind;
use crate::runtime::{Core, CoreFailure, jobs as wj};

pub fn run(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        Cli::full_command().print_help()?;
        return Ok(());
    };
    if cli.global.insecure_policy && cli.global.require_signed {
        bail!("--insecure-policy and --require-signed are mutually exclusive");
    }
    match command {
        Command::Inspect(a) => inspect::run(&cli.global, a),
        Command::Layers(a) => inspect::layers(&cli.global, a),
        Command::ListTags(a) => list_tags::run(&cli.global, a),
        Command::ManifestDigest(a) => manifest_digest::run(&cli.global, a),
        Command::Delete(a) => delete::run(&cli.global, a),
        Command::Copy(a) => copy::run(&cli.global, a),
        Command::Login(a) => login::login(&cli.global, a),
        Command::Logout(a) => login::logout(&cli.global, a),
        Command::Sync(a) => sync::run(&cli.global, a),
        Command::StandaloneSign(a) => signing::sign(&cli.global, a),
        Command::GenerateSigstoreKey(a) => signing::generate_sigstore_key(&cli.global, a),
        Command::UntrustedSignatureDumpWithoutVerification(a) => signing::untrusted_dump(&cli.global, a),
        Command::StandaloneVerify(a) => signing::verify(&cli.global, a),
        Command::ExperimentalImageProxy(a) => proxy::run(&cli.global, a),
    }
}

/// skopeo's exit codes: 2 when the image does not exist, 1 for anything else.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<CoreFailure>() {
        Some(f) if f.kind == ErrorKind::NotFound => 2,
        _ => 1,
    }
}

/// This run's scratch space under `--tmpdir` (else the system's): named
/// now, made when first needed (`io::scratch`).
fn scratch_dir(g: &GlobalOptions) -> ScratchDir {
    ScratchDir::reserve(g.tmpdir.clone().map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir))
}

/// `--override-os/-arch/-variant`.
/// `--policy`, `--insecure-policy`, `--require-signed`.
fn policy_options(g: &GlobalOptions) -> wj::PolicyOptions {
    wj::PolicyOptions { path: g.policy.clone(), insecure: g.insecure_policy, require_signed: g.require_signed }
}

fn platform(g: &GlobalOptions) -> wj::PlatformOverride {
    wj::PlatformOverride {
        os: g.override_os.clone(),
        architecture: g.override_arch.clone(),
        variant: g.override_variant.clone(),
    }
}

/// The core's account of this process's environment: the variables it
/// documents, the user, this machine's platform (in Rust's names, which the
/// core maps to Go's) and this run's scratch directory.
fn environment(scratch: Option<&ScratchDir>) -> wj::Environment {
    const VARIABLES: [&str; 17] = [
        "HOME",
        "XDG_RUNTIME_DIR",
        "XDG_CONFIG_HOME",
        "REGISTRY_AUTH_FILE",
        "DOCKER_CONFIG",
        "DOCKER_HOST",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
        "CONTAINERS_REGISTRIES_CONF",
        "CONTAINERS_STORAGE_CONF",
        "STORAGE_DRIVER",
        "XDG_DATA_HOME",
        "OCICRYPT_KEYPROVIDER_CONFIG",
    ];
    let variables = VARIABLES.iter().filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v))).collect();
    wj::Environment {
        variables,
        uid: std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap_or(u32::MAX),
        os: std::env::consts::OS.to_owned(),
        architecture: std::env::consts::ARCH.to_owned(),
        variant: None,
        scratch_dir: scratch.map(ScratchDir::path),
        pid: std::process::id(),
    }
}

/// The signing flags this version knows but cannot carry out yet: a clear
/// refusal, never an unknown flag or a silent unsigned copy.
/// The signing flags for the core; the passphrase of a sigstore key asked
/// for on the terminal when no file gives it (as skopeo asks).
fn sign_options(f: SigningFlags) -> Result<wj::SignOptions> {
    let flags = [("--sign-by-sigstore", &f.sign_by_sigstore), ("--sign-by-sq-fingerprint", &f.sign_by_sq_fingerprint)];
    for (name, value) in flags {
        if value.is_some() {
            bail!(
                "{name} is not supported by this version of skiff yet (use --sign-by with a GPG key or --sign-by-sigstore-private-key)"
            );
        }
    }
    let sign_passphrase = match (&f.sign_by_sigstore_private_key, &f.sign_passphrase_file) {
        (Some(key), None) => prompt_passphrase(key)?,
        _ => None,
    };
    Ok(wj::SignOptions {
        sign_by: f.sign_by,
        sign_by_key_file: f.sign_by_key_file,
        sign_by_sigstore_private_key: f.sign_by_sigstore_private_key,
        sign_passphrase_file: f.sign_passphrase_file,
        sign_passphrase,
    })
}

/// A key's passphrase from the terminal, without echo; None when stdin is
/// not a terminal (the core then says so).
fn prompt_passphrase(key: &str) -> Result<Option<String>> {
    use std::io::IsTerminal as _;
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    Ok(Some(rpassword::prompt_password(format!("Passphrase for key {key}: "))?))
}

/// One end of a copy or sync: its registry flags (with `--authfile` as
/// the fallback already applied), the retry flags and the local options.
fn side_options(
    g: &GlobalOptions,
    registry: &RegistryFlags,
    retry: &RetryFlags,
    shared_blob_dir: Option<String>,
    daemon_host: Option<String>,
) -> Result<wj::SideOptions> {
    Ok(wj::SideOptions { registry: registry_options(g, registry, retry)?, shared_blob_dir, daemon_host })
}

/// One registry's flags, after skopeo's checks on how they combine.
fn registry_options(g: &GlobalOptions, f: &RegistryFlags, retry: &RetryFlags) -> Result<wj::RegistryOptions> {
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
            Some(wj::Credentials { username: u.to_owned(), password: p.to_owned() })
        }
        (None, Some(u), Some(p)) => Some(wj::Credentials { username: u.clone(), password: p.clone() }),
        (None, None, None) => None,
        _ => bail!("--username and --password must be used together"),
    };
    Ok(wj::RegistryOptions {
        tls_verify: f.tls_verify,
        cert_dir: f.cert_dir.clone(),
        credentials,
        registry_token: f.registry_token.clone(),
        no_creds: f.no_creds,
        authfile: f.authfile.clone(),
        retry_times: retry.retry_times,
        retry_delay_ms: retry.retry_delay.filter(|d| !d.is_zero()).map(|d| d.as_millis() as u64),
        user_agent_prefix: g.user_agent_prefix.clone(),
        registries_conf: g.registries_conf.clone(),
        tls_details: g.tls_details.clone(),
        token_hosts: g.allow_token_hosts.clone(),
        timeouts: timeout_options(g),
    })
}

/// skiff's timeout flags, in milliseconds (the core applies its defaults).
fn timeout_options(g: &GlobalOptions) -> wj::TimeoutOptions {
    let ms = |d: Option<std::time::Duration>| d.map(|d| d.as_millis() as u64);
    wj::TimeoutOptions {
        connect_ms: ms(g.connect_timeout),
        response_ms: ms(g.response_timeout),
        idle_ms: ms(g.idle_timeout),
        total_ms: ms(g.request_timeout),
    }
}

/// Runs `job` in the core, within `--command-timeout`, and writes its output.
fn run_job(g: &GlobalOptions, job: wj::Job) -> Result<()> {
    run_job_on(Threads::One.runtime()?, g, job, environment(None), HostIo::new(g.debug))
}

/// The threads a job's IO runs on.
enum Threads {
    /// A handful of small requests: one thread starts fastest.
    One,
    /// Worker threads, so that blob transfers (and their hashing) proceed
    /// on every core at once.
    All,
}

impl Threads {
    fn runtime(self) -> Result<tokio::runtime::Runtime> {
        let mut b = match self {
            Threads::One => tokio::runtime::Builder::new_current_thread(),
            Threads::All => tokio::runtime::Builder::new_multi_thread(),
        };
        Ok(b.enable_all().build()?)
    }
}

/// Like [`run_job`], with `io` and a scratch space of the run's own: named
/// here and handed to the core and to `io`, made when first needed, and
/// removed when the run ends (this function holds it until then).
fn run_job_in_scratch(g: &GlobalOptions, job: wj::Job, io: HostIo, threads: Threads) -> Result<()> {
    let scratch = scratch_dir(g);
    run_job_on(threads.runtime()?, g, job, environment(Some(&scratch)), io.scratch(&scratch))
}

fn run_job_on(
    rt: tokio::runtime::Runtime,
    g: &GlobalOptions,
    job: wj::Job,
    env: wj::Environment,
    io: HostIo,
) -> Result<()> {
    let out = rt.block_on(async {
        let mut core = Core::load()?;
        let work = core.run(job, env, &io);
        let out = match g.command_timeout.filter(|d| !d.is_zero()) {
            Some(limit) => tokio::time::timeout(limit, work)
                .await
                .map_err(|_| anyhow!("command timed out after {limit:?} (--command-timeout)"))?,
            None => work.await,
        };
        // The instance's memory is the process's to reclaim at exit; tearing
        // it down piece by piece first only delays the exit.
        std::mem::forget(core);
        out
    })?;
    // Idle pool threads are not waited for: nothing is left to do.
    rt.shutdown_background();
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.flush()?;
    Ok(())
}
