//! `skiff login` and `skiff logout`. The host reads what only it can (the
//! password from stdin or a prompt with no echo); the core checks the
//! credentials against the registry and edits the auth file.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::{Context as _, Result, bail};

use super::run_job;
use crate::cli::{GlobalOptions, LoginArgs, LogoutArgs};
use crate::runtime::jobs as wj;

/// A line from the terminal, echoed.
fn prompt_line(label: &str) -> Result<String> {
    eprint!("{label}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// The username and password: from the flags, stdin (`--password-stdin`),
/// or asked on the terminal (the password without echo).
fn credentials(a: &LoginArgs) -> Result<(Option<String>, Option<String>)> {
    if a.get_login {
        return Ok((None, None));
    }
    let interactive = std::io::stdin().is_terminal();
    let username = match &a.username {
        Some(u) => u.clone(),
        None if interactive && !a.password_stdin => prompt_line("Username: ")?,
        None => bail!("a username is needed: pass -u/--username"),
    };
    let password = if a.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else if let Some(p) = &a.password {
        p.clone()
    } else if interactive {
        rpassword::prompt_password("Password: ").context("reading the password")?
    } else {
        bail!("a password is needed: pass -p/--password or --password-stdin");
    };
    Ok((Some(username), Some(password)))
}

pub fn login(g: &GlobalOptions, a: LoginArgs) -> Result<()> {
    let (username, password) = credentials(&a)?;
    let access = wj::RegistryOptions {
        tls_verify: a.tls_verify,
        cert_dir: a.cert_dir.clone(),
        credentials: None,
        registry_token: None,
        no_creds: false,
        authfile: a.authfile.clone().or(a.compat_auth_file.clone()),
        retry_times: 0,
        retry_delay_ms: None,
        user_agent_prefix: g.user_agent_prefix.clone(),
        registries_conf: g.registries_conf.clone(),
        tls_details: g.tls_details.clone(),
        token_hosts: g.allow_token_hosts.clone(),
        timeouts: super::timeout_options(g),
    };
    let job = wj::LoginJob { registry: a.registry, get_login: a.get_login, username, password, access };
    run_job(g, wj::Job::Login(job))
}

pub fn logout(g: &GlobalOptions, a: LogoutArgs) -> Result<()> {
    let job = wj::LogoutJob { registry: a.registry, all: a.all, authfile: a.authfile.or(a.compat_auth_file) };
    run_job(g, wj::Job::Logout(job))
}
