//! Locks the core takes: on an OCI layout's directory around changes to
//! it (`flock(2)`, through `File::lock`), and containers/storage's POSIX
//! record locks on its `*.lock` files (`fcntl(F_SETLKW)`, through rustix).
//! Each is held by id until the core releases it, and by the kernel only
//! as long as this process lives, so a killed skiff never blocks the next.
//! A record lock is held through its one descriptor: closing another
//! descriptor of the file would drop it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::error::of_io;
use super::failed;
use crate::runtime::wit::{DirectoryLock, FileLock, IoErrorKind, Reply};

#[derive(Clone, Default)]
pub struct Locks {
    held: Arc<Mutex<HashMap<u32, std::fs::File>>>,
}

impl Locks {
    /// Waits for the lock (on tokio's blocking pool: another process may
    /// hold it for a while) and keeps it under `id`.
    pub async fn lock(&self, request: DirectoryLock) -> Reply {
        let DirectoryLock { id, path } = request;
        self.hold(id, move || {
            let dir = std::fs::File::open(&path).map_err(|e| (of_io(&e), format!("open {path}: {e}")))?;
            dir.lock().map_err(|e| (of_io(&e), format!("lock {path}: {e}")))?;
            Ok(dir)
        })
        .await
    }

    /// Waits for a record lock on `request.path` (created 0644 if absent)
    /// and keeps it, with its descriptor, under `id`.
    pub async fn file_lock(&self, request: FileLock) -> Reply {
        let FileLock { id, path, exclusive } = request;
        self.hold(id, move || {
            use std::os::unix::fs::OpenOptionsExt as _;
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .open(&path)
                .map_err(|e| (of_io(&e), format!("open {path}: {e}")))?;
            let how = match exclusive {
                true => rustix::fs::FlockOperation::LockExclusive,
                false => rustix::fs::FlockOperation::LockShared,
            };
            rustix::fs::fcntl_lock(&file, how).map_err(|e| {
                let e = std::io::Error::from(e);
                (of_io(&e), format!("lock {path}: {e}"))
            })?;
            Ok(file)
        })
        .await
    }

    /// Runs `take` (which waits for a lock) on the blocking pool and keeps
    /// the file it returns under `id`.
    async fn hold(
        &self,
        id: u32,
        take: impl FnOnce() -> Result<std::fs::File, (IoErrorKind, String)> + Send + 'static,
    ) -> Reply {
        match tokio::task::spawn_blocking(take).await {
            Ok(Ok(file)) => {
                self.held.lock().unwrap_or_else(|e| e.into_inner()).insert(id, file);
                Reply::Done
            }
            Ok(Err((kind, message))) => failed(kind, message),
            Err(e) => failed(IoErrorKind::Other, format!("taking a lock: {e}")),
        }
    }

    /// Writes `data` at the start of the lock file held under `id`.
    pub fn touch(&self, id: u32, data: &[u8]) -> Reply {
        use std::os::unix::fs::FileExt as _;
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let Some(file) = held.get(&id) else { return failed(IoErrorKind::Other, format!("lock {id} is not held")) };
        match file.write_all_at(data, 0) {
            Ok(()) => Reply::Done,
            Err(e) => failed(of_io(&e), format!("writing lock {id}: {e}")),
        }
    }

    /// Releases `id` (closing the descriptor drops the lock).
    pub fn unlock(&self, id: u32) -> Reply {
        match self.held.lock().unwrap_or_else(|e| e.into_inner()).remove(&id) {
            Some(_) => Reply::Done,
            None => failed(IoErrorKind::Other, format!("lock {id} is not held")),
        }
    }
}
