//! Finds and parses containers-registries.d(5): every `*.yaml` file of
//! `--registries.d`, else `~/.config/containers/registries.d` if it exists,
//! else `/etc/containers/registries.d`. Which section applies to an image
//! is the core's decision; the host only turns YAML into JSON.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// The `registries_d` part of a copy job.
pub fn load(flag: Option<&str>) -> Result<Value> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let dir = match flag {
        Some(d) => PathBuf::from(d),
        None => home
            .as_ref()
            .map(|h| h.join(".config/containers/registries.d"))
            .filter(|d| d.is_dir())
            .unwrap_or_else(|| PathBuf::from("/etc/containers/registries.d")),
    };
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml") && p.is_file())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("reading registries.d {}", dir.display())),
    };
    paths.sort();
    let mut files = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        let contents: Value = yaml_serde::from_str(&text).with_context(|| format!("parsing {}", p.display()))?;
        files.push(json!({ "path": p.display().to_string(), "contents": contents }));
    }
    Ok(json!({ "files": files, "builtin": builtin(home) }))
}

/// containers/image's built-in signature storage: a system directory for
/// root, one under the home directory for anyone else.
fn builtin(home: Option<PathBuf>) -> Option<String> {
    let root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    match (root, home) {
        (true, _) => Some("file:///var/lib/containers/sigstore".to_owned()),
        (false, Some(h)) => Some(format!("file://{}", h.join(".local/share/containers/sigstore").display())),
        (false, None) => None,
    }
}
