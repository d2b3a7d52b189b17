//! Finds and reads the auth file chain (containers-auth.json(5)); which
//! entry applies to which registry is the core's decision.

use std::path::PathBuf;

use serde_json::json;

/// The files to consult, in order: `--authfile` (or `$REGISTRY_AUTH_FILE`)
/// if given, else `$XDG_RUNTIME_DIR/containers/auth.json` and
/// `~/.config/containers/auth.json`; then Docker's `config.json`.
pub fn chain(authfile: Option<&str>) -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut paths = Vec::new();
    match authfile {
        Some(p) => paths.push(PathBuf::from(p)),
        None => {
            if let Some(rt) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
                paths.push(PathBuf::from(rt).join("containers/auth.json"));
            }
            let config_home = std::env::var_os("XDG_CONFIG_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".config")));
            if let Some(c) = config_home {
                paths.push(c.join("containers/auth.json"));
            }
        }
    }
    match std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        Some(d) => paths.push(PathBuf::from(d).join("config.json")),
        None => {
            if let Some(h) = &home {
                paths.push(h.join(".docker/config.json"));
            }
        }
    }
    paths
}

/// The files of the chain that exist, with their contents, as the job wants
/// them. Missing files are skipped, as containers/image skips them.
pub fn read(authfile: Option<&str>) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for path in chain(authfile) {
        match std::fs::read_to_string(&path) {
            Ok(contents) => out.push(json!({ "path": path.display().to_string(), "contents": contents })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("reading auth file {}: {e}", path.display()),
        }
    }
    Ok(out)
}
