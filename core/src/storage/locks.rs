//! containers/storage's locks, taken as it takes them: POSIX record locks
//! on `storage.lock`, `layers.lock`, `images.lock` and `containers.lock`,
//! always in that order, and after a change the changed store's lock gets a
//! new 64-byte last-writer token, so a podman running at the same time
//! knows to reload what it read.

use super::lists::io_error;
use super::location::Store;
use crate::engine::{Io, Request};
use crate::error::{Error, Result};

/// One of the store's locks, in containers/storage's lock order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lock {
    Storage,
    Layers,
    Images,
    Containers,
}

impl Lock {
    fn path(self, store: &Store) -> String {
        match self {
            Lock::Storage => format!("{}/storage.lock", store.graph_root),
            Lock::Layers => format!("{}/layers.lock", store.layers_dir()),
            Lock::Images => format!("{}/images.lock", store.images_dir()),
            Lock::Containers => format!("{}/{}-containers/containers.lock", store.graph_root, store.driver),
        }
    }
}

/// Locks held; [`Held::release`] lets them go (the core cannot drop
/// asynchronously, so every holder calls it, error or not).
pub struct Held<'a> {
    io: &'a Io,
    pid: u32,
    held: Vec<(Lock, u32, String)>,
}

/// Takes `locks` (each `(lock, exclusive)`, in lock order), waiting for
/// other holders; on a failure, those already taken are released.
pub async fn take<'a>(io: &'a Io, store: &Store, locks: &[(Lock, bool)], pid: u32) -> Result<Held<'a>> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1 << 30);
    debug_assert!(locks.windows(2).all(|w| w[0].0 < w[1].0), "containers/storage's lock order");
    let mut held = Held { io, pid, held: Vec::new() };
    for &(lock, exclusive) in locks {
        let path = lock.path(store);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let parent = path.rsplit_once('/').map(|(d, _)| d.to_owned()).unwrap_or_default();
        let r = match io.fs(Request::CreateDir { path: parent }).await {
            Err(e) => Err(io_error(format!("creating the directory of {path}"))(e)),
            Ok(()) => io
                .fs(Request::FileLock { id, path: path.clone(), exclusive })
                .await
                .map_err(io_error(format!("locking {path}"))),
        };
        if let Err(e) = r {
            held.release().await;
            return Err(e);
        }
        held.held.push((lock, id, path));
    }
    Ok(held)
}

impl Held<'_> {
    /// Marks the store under `lock` as changed: a new last-writer token.
    pub async fn touch(&self, lock: Lock) -> Result<()> {
        let (_, id, path) = self.held.iter().find(|(l, ..)| *l == lock).expect("touching a lock that is held");
        let data = token(self.io, self.pid).await?;
        self.io.fs(Request::TouchLock { id: *id, data }).await.map_err(io_error(format!("writing {path}")))
    }

    pub async fn release(self) {
        for (_, id, path) in self.held.into_iter().rev() {
            if let Err(e) = self.io.fs(Request::Unlock { id }).await {
                self.io.warn(format!("unlocking {path}: {}", e.message));
            }
        }
    }
}

/// containers/storage's last-writer token: unix nanoseconds and a counter
/// (little-endian u64s), the pid (u32), then random bytes, 64 in all.
async fn token(io: &Io, pid: u32) -> Result<Vec<u8>> {
    let mut t = Vec::with_capacity(64);
    t.extend_from_slice(&io.now_ms().saturating_mul(1_000_000).to_le_bytes());
    t.extend_from_slice(&1u64.to_le_bytes());
    t.extend_from_slice(&pid.to_le_bytes());
    let random =
        io.random(44).await.map_err(|e| Error::other(format!("no random bytes for a lock token: {}", e.message)))?;
    t.extend_from_slice(&random);
    Ok(t)
}
