//! Which policy.json applies (containers-policy.json(5)): `--policy`, else
//! `~/.config/containers/policy.json` (from `$HOME`, as containers/image), else
//! `/etc/containers/policy.json`. What it says is `policy`'s.

use serde::Deserialize;

use super::Environment;
use crate::engine::{Io, IoErrorKind};
use crate::error::{Error, Result};
use crate::policy::PolicyInput;

const MAX_POLICY_FILE: u64 = 4 << 20;

/// `--policy` and `--insecure-policy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOptions {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub insecure: bool,
    /// `--require-signed`.
    #[serde(default)]
    pub require_signed: bool,
}

pub fn candidates(env: &Environment, flag: Option<&str>) -> Vec<String> {
    match flag {
        Some(p) => vec![p.to_owned()],
        None => {
            let mut c: Vec<String> =
                env.home().map(|h| format!("{h}/.config/containers/policy.json")).into_iter().collect();
            c.push("/etc/containers/policy.json".to_owned());
            c
        }
    }
}

/// The policy to judge images by: the first candidate that exists.
pub async fn read(io: &Io, env: &Environment, options: &PolicyOptions) -> Result<PolicyInput> {
    if options.insecure && options.require_signed {
        return Err(Error::invalid("--insecure-policy and --require-signed are mutually exclusive"));
    }
    if options.insecure {
        return Ok(PolicyInput { insecure: true, ..PolicyInput::default() });
    }
    let require_signed = options.require_signed;
    let candidates = candidates(env, options.path.as_deref());
    for path in &candidates {
        match io.read_file(path.clone(), MAX_POLICY_FILE).await {
            Ok(bytes) => {
                let contents =
                    String::from_utf8(bytes).map_err(|_| Error::invalid(format!("policy {path} is not UTF-8 text")))?;
                return Ok(PolicyInput {
                    insecure: false,
                    path: path.clone(),
                    contents: Some(contents),
                    require_signed,
                });
            }
            Err(e) if e.kind == IoErrorKind::NotFound => {}
            Err(e) => return Err(Error::invalid(format!("reading policy {path}: {}", e.message))),
        }
    }
    let shown = candidates.last().cloned().unwrap_or_default();
    Ok(PolicyInput { insecure: false, path: shown, contents: None, require_signed })
}
