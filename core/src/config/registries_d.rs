//! containers-registries.d(5): every `*.yaml` file of `--registries.d`,
//! else of `~/.config/containers/registries.d` if that exists, else of
//! `/etc/containers/registries.d`; and the built-in signature storage.
//! Which section applies to an image is `registry::lookaside`'s.

use super::Environment;
use crate::engine::{FileKind, Io, IoErrorKind};
use crate::error::{Error, Result};
use crate::files::join;

const MAX_CONFIG_FILE: u64 = 4 << 20;

/// The registries.d configuration as found.
#[derive(Debug, Clone, Default)]
pub struct RegistriesD {
    /// Each `*.yaml` file, parsed (null for an empty file).
    pub files: Vec<ConfigFile>,
    /// The built-in storage (a `file://` URL) used when no section names a URL.
    pub builtin: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: String,
    pub contents: serde_json::Value,
}

/// containers/image's built-in signature storage: a system directory for
/// root, one under the home directory for anyone else.
fn builtin(env: &Environment) -> Option<String> {
    match (env.uid, env.home()) {
        (0, _) => Some("file:///var/lib/containers/sigstore".to_owned()),
        (_, Some(h)) => Some(format!("file://{h}/.local/share/containers/sigstore")),
        (_, None) => None,
    }
}

/// Finds and parses the directory.
pub async fn read(io: &Io, env: &Environment, flag: Option<&str>) -> Result<RegistriesD> {
    let user = env.home().map(|h| format!("{h}/.config/containers/registries.d"));
    let dir = match (flag, user) {
        (Some(d), _) => d.to_owned(),
        (None, Some(u)) if io.stat(u.clone()).await.is_ok_and(|i| i.target == FileKind::Directory) => u,
        _ => "/etc/containers/registries.d".to_owned(),
    };
    let mut names = match io.list_dir(dir.clone()).await {
        Ok(names) => names,
        Err(e) if e.kind == IoErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::invalid(format!("reading registries.d {dir}: {}", e.message))),
    };
    names.retain(|n| n.ends_with(".yaml"));
    names.sort();
    let mut files = Vec::new();
    for n in names {
        let path = join(&dir, &n);
        if !io.stat(path.clone()).await.is_ok_and(|i| i.target == FileKind::Regular) {
            continue;
        }
        let bytes = io
            .read_file(path.clone(), MAX_CONFIG_FILE)
            .await
            .map_err(|e| Error::invalid(format!("reading {path}: {}", e.message)))?;
        let text = String::from_utf8(bytes).map_err(|_| Error::invalid(format!("{path} is not UTF-8 text")))?;
        let contents: serde_json::Value = if text.trim().is_empty() {
            serde_json::Value::Null
        } else {
            yaml_serde::from_str(&text).map_err(|e| Error::invalid(format!("parsing {path}: {e}")))?
        };
        files.push(ConfigFile { path, contents });
    }
    Ok(RegistriesD { files, builtin: builtin(env) })
}
