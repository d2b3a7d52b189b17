//! docker-credential-helpers: `docker-credential-<name> get` with the
//! registry on stdin answers `{"ServerURL", "Username", "Secret"}`, or
//! "credentials not found" and a failure status when it has none.

use serde::Deserialize;

use super::Credentials;
use crate::engine::{Io, IoErrorKind};
use crate::error::{Error, ErrorKind, Result};

/// What a helper may print: a small JSON object.
const MAX_HELPER_OUTPUT: u64 = 1 << 20;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    #[serde(default)]
    username: String,
    #[serde(default)]
    secret: String,
}

/// The credentials helper `name` holds for `registry`, if any.
pub async fn get(io: &Io, name: &str, registry: &str) -> Result<Option<Credentials>> {
    let program = format!("docker-credential-{name}");
    let out = io
        .run(program.clone(), vec!["get".to_owned()], registry.as_bytes().to_vec(), MAX_HELPER_OUTPUT)
        .await
        .map_err(|e| match e.kind {
            IoErrorKind::NotFound => Error::invalid(format!(
                "the credential helper {program} named in the auth file for {registry} is not installed (not found in PATH)"
            )),
            _ => Error::new(ErrorKind::Io, format!("running credential helper {program}: {}", e.message)),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if out.status != 0 {
        if text.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        return Err(Error::invalid(format!(
            "credential helper {program} failed for {registry} (status {}): {}",
            out.status,
            crate::registry::sanitize(text.trim())
        )));
    }
    let answer: Answer = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::invalid(format!("credential helper {program} answered something else than JSON: {e}")))?;
    if answer.username == "<token>" {
        return Err(Error::unsupported(format!(
            "credential helper {program} holds an identity token for {registry}; skiff does not use those yet"
        )));
    }
    Ok(Some(Credentials { username: answer.username, password: answer.secret }))
}
