//! Where a store is, as containers/storage finds it: the reference's
//! `[driver@graphroot+runroot]`, else `storage.conf` —
//! `$CONTAINERS_STORAGE_CONF`, for root `/etc/containers/storage.conf` if it
//! exists, else `/usr/share/containers/storage.conf`; for other users
//! `$XDG_CONFIG_HOME/containers/storage.conf` or
//! `~/.config/containers/storage.conf` — then `$STORAGE_DRIVER`, and the
//! built-in root and rootless defaults.

use serde::Deserialize;

use crate::config::Environment;
use crate::engine::{FileKind, Io, IoErrorKind};
use crate::error::{Error, Result};
use crate::reference::StorageReference;

const MAX_CONF: u64 = 1 << 20;

/// The drivers whose layouts skiff reads.
const DRIVERS: [&str; 2] = ["overlay", "vfs"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub driver: String,
    pub graph_root: String,
}

#[derive(Debug, Default, Deserialize)]
struct ConfFile {
    #[serde(default)]
    storage: ConfStorage,
}

#[derive(Debug, Default, Deserialize)]
struct ConfStorage {
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    graphroot: Option<String>,
    #[serde(default)]
    rootless_storage_path: Option<String>,
}

/// The storage.conf that applies, if one exists.
async fn conf(io: &Io, env: &Environment) -> Result<ConfStorage> {
    let candidates: Vec<String> = match (env.var("CONTAINERS_STORAGE_CONF"), env.uid) {
        (Some(p), _) => vec![p.to_owned()],
        (None, 0) => vec!["/etc/containers/storage.conf".into(), "/usr/share/containers/storage.conf".into()],
        (None, _) => env.config_home().map(|c| format!("{c}/containers/storage.conf")).into_iter().collect(),
    };
    for path in candidates {
        match io.read_file(path.clone(), MAX_CONF).await {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| Error::invalid(format!("{path} is not UTF-8 text")))?;
                let f: ConfFile =
                    toml::from_str(&text).map_err(|e| Error::invalid(format!("parsing {path}: {}", e.message())))?;
                return Ok(f.storage);
            }
            Err(e) if e.kind == IoErrorKind::NotFound => {}
            Err(e) => return Err(Error::invalid(format!("reading {path}: {}", e.message))),
        }
    }
    Ok(ConfStorage::default())
}

/// containers/storage's `$HOME`-relative defaults for a user's store.
fn rootless_graph_root(env: &Environment, conf: &ConfStorage) -> Option<String> {
    if let Some(p) = conf.rootless_storage_path.as_deref().filter(|p| !p.is_empty()) {
        let mut p = p.to_owned();
        for (name, value) in [("$HOME", env.home()), ("$UID", Some(&*env.uid.to_string()))] {
            if let Some(v) = value {
                p = p.replace(name, v);
            }
        }
        return Some(p);
    }
    match env.var("XDG_DATA_HOME") {
        Some(d) => Some(format!("{d}/containers/storage")),
        None => env.home().map(|h| format!("{h}/.local/share/containers/storage")),
    }
}

/// The store `r` names, its driver decided (an unset one is the first
/// whose image records exist, as containers/storage picks a driver that
/// holds data).
pub async fn find(io: &Io, env: &Environment, r: &StorageReference) -> Result<Store> {
    let conf = conf(io, env).await?;
    let graph_root = match (&r.graph_root, env.uid) {
        (Some(g), _) => g.clone(),
        (None, 0) => conf.graphroot.clone().unwrap_or_else(|| "/var/lib/containers/storage".into()),
        (None, _) => rootless_graph_root(env, &conf)
            .ok_or_else(|| Error::invalid("no home directory to find the user's containers-storage in"))?,
    };
    let named = r.driver.clone().or_else(|| env.var("STORAGE_DRIVER").map(str::to_owned)).or(conf.driver);
    let driver = match named.as_deref() {
        Some("overlay2") => "overlay".to_owned(),
        Some(d) if !d.is_empty() => d.to_owned(),
        _ => {
            let mut found = None;
            for d in DRIVERS {
                let images = format!("{graph_root}/{d}-images");
                if io.stat(images).await.is_ok_and(|i| i.target == FileKind::Directory) {
                    found = Some(d.to_owned());
                    break;
                }
            }
            found.unwrap_or_else(|| "overlay".to_owned())
        }
    };
    if !DRIVERS.contains(&driver.as_str()) {
        return Err(Error::unsupported(format!(
            "containers-storage driver {driver:?} is not supported by skiff (overlay and vfs are)"
        )));
    }
    Ok(Store { driver, graph_root })
}

impl Store {
    pub fn images_dir(&self) -> String {
        format!("{}/{}-images", self.graph_root, self.driver)
    }

    pub fn layers_dir(&self) -> String {
        format!("{}/{}-layers", self.graph_root, self.driver)
    }

    /// Where a layer's files are: all of them (vfs) or its changes (overlay).
    pub fn layer_root(&self, id: &str) -> String {
        match self.driver.as_str() {
            "vfs" => format!("{}/vfs/dir/{id}", self.graph_root),
            _ => format!("{}/overlay/{id}/diff", self.graph_root),
        }
    }
}
