//! Directory locks the core takes around changes to an OCI layout
//! (`flock(2)` on the directory, through `File::lock`): held by id until
//! the core releases them, and by the kernel only as long as this process
//! lives, so a killed skiff never blocks the next one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::error::of_io;
use super::failed;
use crate::runtime::wit::{DirectoryLock, IoErrorKind, Reply};

#[derive(Clone, Default)]
pub struct Locks {
    held: Arc<Mutex<HashMap<u32, std::fs::File>>>,
}

impl Locks {
    /// Waits for the lock (on tokio's blocking pool: another process may
    /// hold it for a while) and keeps it under `id`.
    pub async fn lock(&self, request: DirectoryLock) -> Reply {
        let DirectoryLock { id, path } = request;
        let taken = tokio::task::spawn_blocking(move || {
            let dir = std::fs::File::open(&path).map_err(|e| (of_io(&e), format!("open {path}: {e}")))?;
            dir.lock().map_err(|e| (of_io(&e), format!("lock {path}: {e}")))?;
            Ok::<_, (IoErrorKind, String)>(dir)
        })
        .await;
        match taken {
            Ok(Ok(dir)) => {
                self.held.lock().unwrap_or_else(|e| e.into_inner()).insert(id, dir);
                Reply::Done
            }
            Ok(Err((kind, message))) => failed(kind, message),
            Err(e) => failed(IoErrorKind::Other, format!("taking a lock: {e}")),
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
