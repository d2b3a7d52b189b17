//! skopeo's command line, flag for flag, in clap. Boolean flags take Go's
//! `--flag` / `--flag=false` form.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

/// The command line. Its derived [`clap::Command`] is the top level alone
/// (the global options); [`parse`] adds the subcommands.
#[derive(Debug, Parser)]
#[command(
    name = "skiff",
    about = "Various operations with container images and container image registries",
    disable_version_flag = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    /// Parsed from the subcommand's matches by [`parse`].
    #[arg(skip)]
    pub command: Option<Command>,
}

impl Cli {
    /// The whole command line, every subcommand in it (for help and errors).
    pub fn full_command() -> clap::Command {
        Command::augment_subcommands(Cli::command())
    }
}

#[derive(Debug, Args)]
pub struct GlobalOptions {
    /// timeout for the command execution
    #[arg(long, global = true, value_name = "duration", value_parser = parse_go_duration)]
    pub command_timeout: Option<Duration>,
    /// enable debug output
    #[arg(long, global = true)]
    pub debug: bool,
    /// run the tool without any policy check
    #[arg(long, global = true)]
    pub insecure_policy: bool,
    /// require any pulled image to be signed
    #[arg(long, global = true)]
    pub require_signed: bool,
    /// use ARCH instead of the architecture of the machine for choosing images
    #[arg(long, global = true, value_name = "ARCH")]
    pub override_arch: Option<String>,
    /// use OS instead of the running OS for choosing images
    #[arg(long, global = true, value_name = "OS")]
    pub override_os: Option<String>,
    /// use VARIANT instead of the running architecture variant for choosing images
    #[arg(long, global = true, value_name = "VARIANT")]
    pub override_variant: Option<String>,
    /// Path to a trust policy file
    #[arg(long, global = true, value_name = "string")]
    pub policy: Option<String>,
    /// use registry configuration files in DIR (e.g. for container signature storage)
    #[arg(long = "registries.d", global = true, value_name = "DIR")]
    pub registries_d: Option<String>,
    /// directory used to store temporary files
    #[arg(long, global = true, value_name = "string")]
    pub tmpdir: Option<String>,
    /// prefix to add to the user agent string
    #[arg(long, global = true, value_name = "string")]
    pub user_agent_prefix: Option<String>,
    /// path to the registries.conf file
    #[arg(long, global = true, value_name = "string", hide = true)]
    pub registries_conf: Option<String>,
    /// path to a containers-tls-details.yaml(5) file
    #[arg(long, global = true, value_name = "string")]
    pub tls_details: Option<String>,
    /// let a registry's token service at HOST, on another domain than the registry's, receive its credentials
    #[arg(long = "allow-token-host", global = true, value_name = "HOST")]
    pub allow_token_hosts: Vec<String>,
    /// give up on a connection to a registry after this long (default 30s)
    #[arg(long, global = true, value_name = "duration", value_parser = parse_go_duration)]
    pub connect_timeout: Option<Duration>,
    /// give up on a registry that sends no answer this long after a request (default 1m)
    #[arg(long, global = true, value_name = "duration", value_parser = parse_go_duration)]
    pub response_timeout: Option<Duration>,
    /// give up on a download or answer that stalls this long (default 1m)
    #[arg(long, global = true, value_name = "duration", value_parser = parse_go_duration)]
    pub idle_timeout: Option<Duration>,
    /// give up on a request answered in full (not a blob transfer) after this long; 0 for never (default 5m)
    #[arg(long, global = true, value_name = "duration", value_parser = parse_go_duration)]
    pub request_timeout: Option<Duration>,
    /// Version for skiff
    #[arg(short = 'v', long)]
    pub version: bool,
}

// Parsed once per process. Each subcommand's flags are defined only when
// that subcommand is the one run (`defer`): building all of them took most
// of the time clap needed at every start.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Inspect image IMAGE-NAME
    Inspect(InspectArgs),
    /// List tags in the transport/repository specified by the REPOSITORY-NAME
    ListTags(ListTagsArgs),
    /// Compute a manifest digest of a file
    ManifestDigest(ManifestDigestArgs),
    /// Delete image IMAGE-NAME
    Delete(DeleteArgs),
    /// Copy an IMAGE-NAME from one location to another
    Copy(CopyArgs),
    /// Login to a container registry
    Login(LoginArgs),
    /// Logout of a container registry
    Logout(LogoutArgs),
    /// Synchronize one or more images from one location to another
    Sync(SyncArgs),
    /// Create a signature using local files
    StandaloneSign(StandaloneSignArgs),
    /// Verify a signature using local files
    StandaloneVerify(StandaloneVerifyArgs),
    /// Generate a sigstore public/private key pair
    GenerateSigstoreKey(GenerateSigstoreKeyArgs),
    /// Dump contents of a signature WITHOUT VERIFYING IT
    #[command(hide = true)]
    UntrustedSignatureDumpWithoutVerification(UntrustedSignatureDumpArgs),
    /// Get layers of IMAGE-NAME
    #[command(hide = true)]
    Layers(LayersArgs),
    /// Interactive proxy for fetching container images (EXPERIMENTAL)
    #[command(hide = true)]
    ExperimentalImageProxy(ImageProxyArgs),
}

// Registry access flags (skopeo's "docker image flags"), unprefixed.
#[derive(Debug, Args, Clone, Default)]
pub struct RegistryFlags {
    /// path of the authentication file. Default is ${XDG_RUNTIME_DIR}/containers/auth.json
    #[arg(long, value_name = "string")]
    pub authfile: Option<String>,
    /// Use `USERNAME[:PASSWORD]` for accessing the registry
    #[arg(long, value_name = "USERNAME[:PASSWORD]")]
    pub creds: Option<String>,
    /// Username for accessing the registry
    #[arg(long, value_name = "string")]
    pub username: Option<String>,
    /// Password for accessing the registry
    #[arg(long, value_name = "string")]
    pub password: Option<String>,
    /// Provide a Bearer token for accessing the registry
    #[arg(long, value_name = "string")]
    pub registry_token: Option<String>,
    /// use certificates at PATH (*.crt, *.cert, *.key) to connect to the registry or daemon
    #[arg(long, value_name = "PATH")]
    pub cert_dir: Option<String>,
    /// require HTTPS and verify certificates when talking to the container registry or daemon
    #[arg(long, value_name = "bool", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Access the registry anonymously
    #[arg(long)]
    pub no_creds: bool,
}

// skopeo's "image flags": registry access plus the local-transport options.
#[derive(Debug, Args, Clone, Default)]
pub struct ImageFlags {
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// use a shared directory for blobs (oci: only)
    #[arg(long, value_name = "DIRECTORY")]
    pub shared_blob_dir: Option<String>,
    /// use docker daemon host at HOST (docker-daemon: only)
    #[arg(long, value_name = "HOST")]
    pub daemon_host: Option<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct RetryFlags {
    /// the number of times to possibly retry
    #[arg(long, value_name = "int", default_value_t = 0)]
    pub retry_times: u32,
    /// Fixed delay between retries. If not set (or set to 0), exponential back-off is used
    #[arg(long, value_name = "duration", value_parser = parse_go_duration)]
    pub retry_delay: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// IMAGE-NAME
    pub image: String,
    #[command(flatten)]
    pub image_flags: ImageFlags,
    #[command(flatten)]
    pub retry: RetryFlags,
    /// output raw manifest or configuration
    #[arg(long)]
    pub raw: bool,
    /// output configuration
    #[arg(long)]
    pub config: bool,
    /// Format the output to a Go template
    #[arg(short, long, value_name = "string")]
    pub format: Option<String>,
    /// Do not list the available tags from the repository in the output
    #[arg(short, long)]
    pub no_tags: bool,
    /// Algorithm to use for computing manifest digest (sha256, sha512); defaults to algorithm used in config digest
    #[arg(long, value_name = "algorithm")]
    pub manifest_digest: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListTagsArgs {
    /// REPOSITORY-NAME
    pub repository: String,
    #[command(flatten)]
    pub registry: RegistryFlags,
    #[command(flatten)]
    pub retry: RetryFlags,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// REGISTRY
    pub registry: String,
    /// path of the authentication file. Default is ${XDG_RUNTIME_DIR}/containers/auth.json
    #[arg(long, value_name = "string")]
    pub authfile: Option<String>,
    /// path of a Docker-compatible config file to update instead
    #[arg(long, value_name = "string", conflicts_with = "authfile")]
    pub compat_auth_file: Option<String>,
    /// Return the current login user for the registry
    #[arg(long)]
    pub get_login: bool,
    /// Password for registry
    #[arg(short, long, value_name = "string")]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long, conflicts_with = "password")]
    pub password_stdin: bool,
    /// Username for registry
    #[arg(short, long, value_name = "string")]
    pub username: Option<String>,
    /// Write more detailed information to stdout
    #[arg(short, long)]
    pub verbose: bool,
    /// use certificates at PATH (*.crt, *.cert, *.key) to connect to the registry
    #[arg(long, value_name = "PATH")]
    pub cert_dir: Option<String>,
    /// require HTTPS and verify certificates when talking to the container registry
    #[arg(long, value_name = "bool", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// REGISTRY
    pub registry: Option<String>,
    /// Remove the login credentials for all registries
    #[arg(short, long)]
    pub all: bool,
    /// path of the authentication file. Default is ${XDG_RUNTIME_DIR}/containers/auth.json
    #[arg(long, value_name = "string")]
    pub authfile: Option<String>,
    /// path of a Docker-compatible config file to update instead
    #[arg(long, value_name = "string", conflicts_with = "authfile")]
    pub compat_auth_file: Option<String>,
    /// require HTTPS and verify certificates when talking to the container registry or daemon (logout contacts no registry: accepted for skopeo's scripts, without effect)
    #[arg(long, value_name = "bool", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
}

#[derive(Debug, Args)]
pub struct StandaloneSignArgs {
    /// MANIFEST
    pub manifest: String,
    /// DOCKER-REFERENCE
    pub reference: String,
    /// KEY-FINGERPRINT
    pub fingerprint: String,
    /// output the signature to SIGNATURE
    #[arg(short, long, value_name = "SIGNATURE")]
    pub output: Option<String>,
    /// file that contains a passphrase for the --sign-by key
    #[arg(long, value_name = "string")]
    pub passphrase_file: Option<String>,
}

#[derive(Debug, Args)]
pub struct LayersArgs {
    /// IMAGE-NAME
    pub image: String,
    /// LAYER digests (all layers and the config if none)
    pub layers: Vec<String>,
    #[command(flatten)]
    pub image_flags: ImageFlags,
    #[command(flatten)]
    pub retry: RetryFlags,
}

#[derive(Debug, Args)]
pub struct ImageProxyArgs {
    /// Serve on opened socket pair (default 0/stdin)
    #[arg(long, value_name = "int", default_value_t = 0)]
    pub sockfd: i32,
    #[command(flatten)]
    pub image_flags: ImageFlags,
    /// the key to decrypt images with
    #[arg(long = "decryption-key", value_name = "key[:passphrase]")]
    pub decryption_keys: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UntrustedSignatureDumpArgs {
    /// SIGNATURE
    pub signature: String,
}

#[derive(Debug, Args)]
pub struct GenerateSigstoreKeyArgs {
    /// Write the keys to PREFIX.pub and PREFIX.private
    #[arg(long, value_name = "PREFIX")]
    pub output_prefix: Option<String>,
    /// Read a passphrase for the private key from PATH
    #[arg(long, value_name = "PATH")]
    pub passphrase_file: Option<String>,
}

#[derive(Debug, Args)]
pub struct StandaloneVerifyArgs {
    /// MANIFEST
    pub manifest: String,
    /// DOCKER-REFERENCE
    pub reference: String,
    /// KEY-FINGERPRINTS: a comma separated list of fingerprints, or "any" if you trust all the keys in the public key file
    pub fingerprints: String,
    /// SIGNATURE
    pub signature: String,
    /// File containing public keys. If not specified, will use local GPG keys.
    #[arg(long, value_name = "string")]
    pub public_key_file: Option<String>,
}

#[derive(Debug, Args)]
pub struct ManifestDigestArgs {
    /// MANIFEST
    pub manifest: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// IMAGE-NAME
    pub image: String,
    #[command(flatten)]
    pub image_flags: ImageFlags,
    #[command(flatten)]
    pub retry: RetryFlags,
}

/// Parses the command line; usage errors exit 1 as skopeo's do, help and
/// version exit 0.
pub fn parse() -> Result<Cli, ExitCode> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match parse_from(&args) {
        Ok(cli) => {
            if cli.global.version {
                println!("skiff version {}", env!("CARGO_PKG_VERSION"));
                return Err(ExitCode::SUCCESS);
            }
            Ok(cli)
        }
        Err(e) => {
            let _ = e.print();
            Err(if e.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
    }
}

/// Parses `args` with only the subcommand they name in the command clap
/// builds: clap copies each global option into every subcommand it holds
/// before parsing (18 options into 15 subcommands, about 0.3 ms of each
/// start). When the subcommand cannot be told beforehand, and for help and
/// every error (so each reads as it would with all of them), the whole
/// command line is parsed instead.
fn parse_from(args: &[std::ffi::OsString]) -> Result<Cli, clap::Error> {
    let top = Cli::command();
    if let Some(named) = named_subcommand(&top, args) {
        let lean = match named {
            None => Some(top),
            Some(name) => Command::augment_subcommands(clap::Command::new("skiff"))
                .find_subcommand(&name)
                .cloned()
                .map(|sub| top.subcommand(sub)),
        };
        if let Some(cli) = lean.and_then(|cmd| matched(cmd, args).ok()) {
            return Ok(cli);
        }
    }
    matched(Cli::full_command(), args)
}

/// `args` parsed with `cmd`.
fn matched(cmd: clap::Command, args: &[std::ffi::OsString]) -> Result<Cli, clap::Error> {
    let m = cmd.try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&m)?;
    if m.subcommand_name().is_some() {
        cli.command = Some(Command::from_arg_matches(&m)?);
    }
    Ok(cli)
}

/// The subcommand `args` name, read past the global options before it with
/// `top`'s definitions of them: `Some(None)` when they name none, `None`
/// when that cannot be told (an option `top` does not know, `--`, a short
/// option with a value).
fn named_subcommand(top: &clap::Command, args: &[std::ffi::OsString]) -> Option<Option<String>> {
    let takes_value = |a: &clap::Arg| a.get_action().takes_values() && !a.is_require_equals_set();
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        let arg = arg.to_str()?;
        if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, _)) => (name, true),
                None => (long, false),
            };
            let def = top.get_arguments().find(|a| a.get_long() == Some(name) && !name.is_empty())?;
            if !value && takes_value(def) {
                rest.next();
            }
        } else if let Some(shorts) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            for c in shorts.chars() {
                let def = top.get_arguments().find(|a| a.get_short() == Some(c))?;
                if takes_value(def) {
                    return None;
                }
            }
        } else if arg == "-" {
            return None;
        } else {
            return Some(Some(arg.to_owned()));
        }
    }
    Some(None)
}

/// Go's `time.ParseDuration`: `300ms`, `1.5h`, `2h45m`.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?}");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let value: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[unit_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With the subcommands' flags deferred, a doc comment on an `Args`
    /// struct would replace the subcommand's own description in its help:
    /// each subcommand's help must open with the line the list shows.
    #[test]
    fn subcommand_help_opens_with_its_description() {
        let root = Cli::full_command();
        let subcommands: Vec<(String, String)> = root
            .get_subcommands()
            .map(|c| (c.get_name().to_owned(), c.get_about().map(|a| a.to_string()).unwrap_or_default()))
            .collect();
        assert!(subcommands.len() > 10, "{subcommands:?}");
        for (name, about) in subcommands {
            assert!(!about.is_empty(), "{name} has a description");
            let help = match Cli::full_command().try_get_matches_from(["skiff", name.as_str(), "--help"]) {
                Err(e) => e.render().to_string(),
                Ok(_) => panic!("{name} --help printed no help"),
            };
            assert_eq!(help.lines().next(), Some(about.as_str()), "{name} --help:\n{help}");
        }
    }

    fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
        args.iter().map(Into::into).collect()
    }

    /// Parsing with only the named subcommand built gives what parsing
    /// with all of them gives, or the same error.
    #[test]
    fn a_lean_parse_reads_as_the_whole_command_line() {
        let lines: &[&[&str]] = &[
            &["skiff", "inspect", "--raw", "--tls-verify=false", "docker://x"],
            &["skiff", "--debug", "--policy", "copy", "copy", "docker://a", "dir:/b"],
            &["skiff", "--policy=p.json", "inspect", "--debug", "--override-os", "linux", "docker://x"],
            &["skiff", "--allow-token-host", "a", "--allow-token-host=b", "list-tags", "docker://x"],
            &["skiff", "--tmpdir", "/t", "sync", "--src", "docker", "--dest", "dir", "a", "/b", "--all"],
            &["skiff", "manifest-digest", "m.json"],
            &["skiff", "-v"],
            &["skiff", "--version"],
            &["skiff", "--debug"],
            &["skiff"],
            &["skiff", "--tls-verify=false", "inspect", "docker://x"],
            &["skiff", "inspect"],
            &["skiff", "inspect", "--bogus", "docker://x"],
            &["skiff", "bogus"],
            &["skiff", "--", "inspect", "docker://x"],
            &["skiff", "-", "inspect"],
            &["skiff", "--command-timeout", "nope", "inspect", "docker://x"],
            &["skiff", "standalone-verify", "m", "r", "k", "s"],
            &["skiff", "experimental-image-proxy", "--sockfd", "3"],
        ];
        let mut lean_parses = 0;
        for line in lines {
            let args = os(line);
            let whole = matched(Cli::full_command(), &args).map(|c| format!("{c:?}")).map_err(|e| e.to_string());
            let lean = parse_from(&args).map(|c| format!("{c:?}")).map_err(|e| e.to_string());
            assert_eq!(lean, whole, "{line:?}");
            lean_parses += usize::from(named_subcommand(&Cli::command(), &args).is_some());
        }
        assert!(lean_parses >= 12, "most lines name their subcommand plainly ({lean_parses})");
        assert_eq!(
            named_subcommand(&Cli::command(), &os(&["skiff", "--policy", "copy", "inspect"])),
            Some(Some("inspect".into()))
        );
        assert_eq!(named_subcommand(&Cli::command(), &os(&["skiff", "--nope", "inspect"])), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_go_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_go_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert!(parse_go_duration("10").is_err());
        assert!(parse_go_duration("x").is_err());
    }

    #[test]
    fn go_style_bools() {
        let cli = parse_from(&os(&["skiff", "inspect", "--tls-verify=false", "docker://x"])).unwrap();
        let Some(Command::Inspect(a)) = cli.command else { panic!() };
        assert_eq!(a.image_flags.registry.tls_verify, Some(false));
        let cli =
            parse_from(&os(&["skiff", "--override-arch", "arm64", "inspect", "--tls-verify", "docker://x"])).unwrap();
        assert_eq!(cli.global.override_arch.as_deref(), Some("arm64"));
        let Some(Command::Inspect(a)) = cli.command else { panic!() };
        assert_eq!(a.image_flags.registry.tls_verify, Some(true));
    }
}

/// Generates a `--src-*` or `--dest-*` flag group: clap's derive has no
/// prefixes, so each side is spelled out once here.
macro_rules! side_flags {
    ($name:ident, $p:literal, $side:literal) => {
        #[derive(Debug, Args, Clone, Default)]
        pub struct $name {
            #[doc = concat!("path of the authentication file for the ", $side)]
            #[arg(id = concat!($p, "authfile"), long = concat!($p, "authfile"), value_name = "string")]
            pub authfile: Option<String>,
            #[doc = concat!("Use `USERNAME[:PASSWORD]` for accessing the ", $side, " registry")]
            #[arg(id = concat!($p, "creds"), long = concat!($p, "creds"), value_name = "USERNAME[:PASSWORD]")]
            pub creds: Option<String>,
            #[doc = concat!("Username for accessing the ", $side, " registry")]
            #[arg(id = concat!($p, "username"), long = concat!($p, "username"), value_name = "string")]
            pub username: Option<String>,
            #[doc = concat!("Password for accessing the ", $side, " registry")]
            #[arg(id = concat!($p, "password"), long = concat!($p, "password"), value_name = "string")]
            pub password: Option<String>,
            #[doc = concat!("Provide a Bearer token for accessing the ", $side, " registry")]
            #[arg(id = concat!($p, "registry-token"), long = concat!($p, "registry-token"), value_name = "string")]
            pub registry_token: Option<String>,
            #[doc = concat!("use certificates at PATH (*.crt, *.cert, *.key) to connect to the ", $side, " registry")]
            #[arg(id = concat!($p, "cert-dir"), long = concat!($p, "cert-dir"), value_name = "PATH")]
            pub cert_dir: Option<String>,
            #[doc = concat!("require HTTPS and verify certificates when talking to the ", $side, " registry")]
            #[arg(id = concat!($p, "tls-verify"), long = concat!($p, "tls-verify"), value_name = "bool", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
            pub tls_verify: Option<bool>,
            #[doc = concat!("Access the ", $side, " registry anonymously")]
            #[arg(id = concat!($p, "no-creds"), long = concat!($p, "no-creds"))]
            pub no_creds: bool,
            #[doc = concat!("use a shared directory for blobs of the ", $side, " (oci: only)")]
            #[arg(id = concat!($p, "shared-blob-dir"), long = concat!($p, "shared-blob-dir"), value_name = "DIRECTORY")]
            pub shared_blob_dir: Option<String>,
            #[doc = concat!("use docker daemon host at HOST for the ", $side, " (docker-daemon: only; default $DOCKER_HOST)")]
            #[arg(id = concat!($p, "daemon-host"), long = concat!($p, "daemon-host"), value_name = "HOST")]
            pub daemon_host: Option<String>,
        }

        impl $name {
            /// The side's registry flags, with `--authfile` as the fallback auth file.
            pub fn registry(&self, shared_authfile: Option<&String>) -> RegistryFlags {
                RegistryFlags {
                    authfile: self.authfile.clone().or_else(|| shared_authfile.cloned()),
                    creds: self.creds.clone(),
                    username: self.username.clone(),
                    password: self.password.clone(),
                    registry_token: self.registry_token.clone(),
                    cert_dir: self.cert_dir.clone(),
                    tls_verify: self.tls_verify,
                    no_creds: self.no_creds,
                }
            }
        }
    };
}

// `skiff sync`: skopeo's flags, then skiff's own (parallelism, report, plan, shards).
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// SOURCE
    pub source: String,
    /// DESTINATION
    pub destination: String,
    /// SOURCE transport type (docker, dir, yaml; skiff also oci)
    #[arg(short = 's', long = "src", value_name = "string")]
    pub src_kind: Option<String>,
    /// DESTINATION transport type (docker, dir; skiff also oci)
    #[arg(short = 'd', long = "dest", value_name = "string")]
    pub dest_kind: Option<String>,
    /// path of the authentication file (both sides). Default is ${XDG_RUNTIME_DIR}/containers/auth.json
    #[arg(long, value_name = "string")]
    pub authfile: Option<String>,
    #[command(flatten)]
    pub src: SrcFlags,
    #[command(flatten)]
    pub dest: DestFlags,
    #[command(flatten)]
    pub retry: RetryFlags,
    /// Images at DESTINATION are prefix using the full source image path as scope
    #[arg(long)]
    pub scoped: bool,
    /// String to append to DESTINATION tags
    #[arg(long, value_name = "string", allow_hyphen_values = true)]
    pub append_suffix: Option<String>,
    /// Write the digests and Image References of the resulting images to the specified file, separated by newlines
    #[arg(long, value_name = "string")]
    pub digestfile: Option<String>,
    /// Copy all images if SOURCE-IMAGE is a list
    #[arg(short, long)]
    pub all: bool,
    /// Run without actually copying data
    #[arg(long)]
    pub dry_run: bool,
    /// Do not abort the sync if any image copy fails
    #[arg(long)]
    pub keep_going: bool,
    /// MANIFEST TYPE (oci, v2s1, or v2s2) to use in the destination (default is manifest type of source, with fallbacks)
    #[arg(short, long, value_name = "MANIFEST TYPE")]
    pub format: Option<String>,
    /// Preserve digests of images and lists
    #[arg(long)]
    pub preserve_digests: bool,
    /// Do not copy signatures from SOURCE-IMAGE
    #[arg(long)]
    pub remove_signatures: bool,
    /// Suppress output information when copying images
    #[arg(short, long)]
    pub quiet: bool,
    /// Maximum number of blobs copied in parallel for one image (default 6)
    #[arg(long, value_name = "uint")]
    pub image_parallel_copies: Option<usize>,
    /// Images copied at once (default 8)
    #[arg(long, value_name = "uint")]
    pub parallel_images: Option<usize>,
    /// Skip an image whose tag exists at DESTINATION without reading the source (tags taken as immutable)
    #[arg(long)]
    pub skip_existing: bool,
    /// Write the outcome of every image (source, destination, digest, status, bytes, error) to FILE as JSON
    #[arg(long, value_name = "FILE")]
    pub report: Option<String>,
    /// Write the resolved list of images to FILE as JSON and copy nothing
    #[arg(long, value_name = "FILE")]
    pub plan: Option<String>,
    /// Copy only the I-th (0 <= I < N) of N disjoint shards of the images (e.g. $JOB_COMPLETION_INDEX/4)
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    #[command(flatten)]
    pub signing: SigningFlags,
}

// skopeo's signing flags, shared by copy and sync.
#[derive(Debug, Args, Clone, Default)]
pub struct SigningFlags {
    /// Sign the image using a GPG key with the specified FINGERPRINT
    #[arg(long, value_name = "FINGERPRINT")]
    pub sign_by: Option<String>,
    /// Read a passphrase for signing an image from PATH
    #[arg(long, value_name = "PATH")]
    pub sign_passphrase_file: Option<String>,
    /// Sign the image using an exported OpenPGP secret key at PATH, without gpg (a skiff extension)
    #[arg(long, value_name = "PATH")]
    pub sign_by_key_file: Option<String>,
    /// Sign the image using a sigstore private key at PATH
    #[arg(long, value_name = "PATH")]
    pub sign_by_sigstore_private_key: Option<String>,
    /// Sign the image using a sigstore parameter file at PATH (not supported by this version of skiff yet)
    #[arg(long, value_name = "PATH")]
    pub sign_by_sigstore: Option<String>,
    /// Sign the image using a Sequoia-PGP key with the specified FINGERPRINT (not supported by this version of skiff yet)
    #[arg(long, value_name = "FINGERPRINT")]
    pub sign_by_sq_fingerprint: Option<String>,
}

side_flags!(SrcFlags, "src-", "source");
side_flags!(DestFlags, "dest-", "destination");

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// SOURCE-IMAGE
    pub source: String,
    /// DESTINATION-IMAGE
    pub destination: String,
    /// path of the authentication file (both sides). Default is ${XDG_RUNTIME_DIR}/containers/auth.json
    #[arg(long, value_name = "string")]
    pub authfile: Option<String>,
    #[command(flatten)]
    pub src: SrcFlags,
    #[command(flatten)]
    pub dest: DestFlags,
    #[command(flatten)]
    pub retry: RetryFlags,
    /// Copy all images if SOURCE-IMAGE is a list
    #[arg(short, long)]
    pub all: bool,
    /// How to handle multi-architecture images (system, all, index-only, or a list of platforms: linux/amd64,linux/arm64)
    #[arg(long, value_name = "LIST")]
    pub multi_arch: Option<String>,
    /// With --multi-arch and a list of platforms: leave the other platforms out of the list written
    #[arg(long)]
    pub strip_removed_platforms: bool,
    /// *Experimental* key with the encryption protocol to use needed to encrypt the image (e.g. jwe:/path/to/key.pem)
    #[arg(long = "encryption-key", value_name = "strings", value_delimiter = ',')]
    pub encryption_keys: Vec<String>,
    /// *Experimental* the 0-indexed layer indices, with support for negative indexing (e.g. 0 is the first layer, -1 is the last layer)
    #[arg(long = "encrypt-layer", value_name = "ints", allow_negative_numbers = true, value_delimiter = ',')]
    pub encrypt_layers: Vec<i64>,
    /// *Experimental* key needed to decrypt the image
    #[arg(long = "decryption-key", value_name = "strings", value_delimiter = ',')]
    pub decryption_keys: Vec<String>,
    /// Suppress output information when copying images
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the digest of the pushed image to the specified file
    #[arg(long, value_name = "PATH")]
    pub digestfile: Option<String>,
    /// Maximum number of blobs copied in parallel for one image (default 6)
    #[arg(long, value_name = "uint")]
    pub image_parallel_copies: Option<usize>,
    /// additional tags (supports docker-archive)
    #[arg(long = "additional-tag", value_name = "strings")]
    pub additional_tags: Vec<String>,
    /// Compress layers with this format (gzip, zstd)
    #[arg(long, value_name = "FORMAT")]
    pub dest_compress_format: Option<String>,
    /// Use LEVEL with the compression format
    #[arg(long, value_name = "LEVEL")]
    pub dest_compress_level: Option<i32>,
    /// Compress tarball image layers when saving to directory using the 'dir' transport
    #[arg(long)]
    pub dest_compress: bool,
    /// Decompress tarball image layers when saving to directory using the 'dir' transport
    #[arg(long)]
    pub dest_decompress: bool,
    /// Enforce compression using the compression algorithm specified by --dest-compress-format
    #[arg(long)]
    pub dest_force_compress_format: bool,
    /// Allow uncompressed image layers when saving to an OCI image using the 'oci' transport
    #[arg(long)]
    pub dest_oci_accept_uncompressed_layers: bool,
    /// Precompute digests to prevent uploading layers already on the registry (skiff always
    /// knows a re-encoded layer's digest before it uploads it)
    #[arg(long)]
    pub dest_precompute_digests: bool,
    /// MANIFEST TYPE (oci, v2s1, or v2s2) to use in the destination (default is manifest type of source, with fallbacks)
    #[arg(short, long, value_name = "MANIFEST TYPE")]
    pub format: Option<String>,
    /// Preserve digests of images and lists
    #[arg(long)]
    pub preserve_digests: bool,
    /// Do not copy signatures from SOURCE-IMAGE
    #[arg(long)]
    pub remove_signatures: bool,
    #[command(flatten)]
    pub signing: SigningFlags,
    /// Identity of signed image, must be a fully specified docker reference. Defaults to the target docker reference.
    #[arg(long, value_name = "IDENTITY")]
    pub sign_identity: Option<String>,
}
