//! Where skopeo's configuration lives and what it says: found from the
//! user's environment (which the host describes) exactly as containers/image
//! finds it, and read through the host. One place for every host, so the
//! CLI, skiff-js and any WASI host see the same files.

pub mod auth_files;
pub mod certs_d;
pub mod policy_file;
pub mod proxy;
pub mod registries_conf;
pub mod registries_d;
pub mod tls_details;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::platform::WantedPlatform;

/// The user's environment as the host describes it (wit `environment`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Environment variables; the core reads only the ones it documents.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// The effective user id: 0 selects root's locations.
    #[serde(default)]
    pub uid: u32,
    /// This machine's platform, in Go's names or Rust's.
    #[serde(default)]
    pub platform: WantedPlatform,
    /// A directory of this run's own, removed by the host afterwards.
    #[serde(default)]
    pub scratch_dir: Option<String>,
    /// This process's id (0: unknown), which names its temporary files so
    /// that a later run can tell the files of a run that died.
    #[serde(default)]
    pub pid: u32,
}

impl Environment {
    /// A variable that is set and not empty.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.variables.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn home(&self) -> Option<&str> {
        self.var("HOME")
    }

    /// `$XDG_CONFIG_HOME`, else `~/.config`.
    pub fn config_home(&self) -> Option<String> {
        self.var("XDG_CONFIG_HOME").map(str::to_owned).or_else(|| self.home().map(|h| format!("{h}/.config")))
    }

    /// The platform to choose images for: `overrides` where given, else this machine's.
    pub fn platform(&self, overrides: &WantedPlatform) -> WantedPlatform {
        let here = &self.platform;
        WantedPlatform {
            os: overrides.os.clone().or_else(|| here.os.clone()),
            architecture: overrides.architecture.clone().or_else(|| here.architecture.clone()),
            // This machine's variant belongs to its architecture only.
            variant: overrides
                .variant
                .clone()
                .or_else(|| if overrides.architecture.is_some() { None } else { here.variant.clone() }),
        }
    }

    /// This run's scratch space (`/var/tmp` when the host gives none, as
    /// containers/image defaults to it).
    pub fn scratch_dir(&self) -> String {
        self.scratch_dir.clone().unwrap_or_else(|| "/var/tmp".to_owned())
    }
}
