//! This run's scratch space: a directory under `--tmpdir` (else the
//! system's), named after this process (`skiff-<pid>-<6 random
//! characters>`), so the next run can remove what a killed one left.
//!
//! Its name is chosen at start and handed to the core, but the directory is
//! made only before the first request that may write (most inspects never
//! write: making, sweeping and removing it was a quarter of a millisecond
//! of each). It goes, with everything in it, when the command ends.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The scratch directory of this run; removing it when dropped.
pub struct ScratchDir(Arc<Shared>);

/// What the IO layer shares with the owner: where, and whether it was made.
pub struct Shared {
    path: PathBuf,
    made: OnceLock<Result<(), String>>,
}

impl ScratchDir {
    /// Names this run's directory under `parent` (nothing is made yet).
    pub fn reserve(parent: PathBuf) -> Self {
        ScratchDir(Arc::new(Shared { path: parent.join(name()), made: OnceLock::new() }))
    }

    pub fn path(&self) -> String {
        self.0.path.display().to_string()
    }

    pub(super) fn shared(&self) -> Arc<Shared> {
        self.0.clone()
    }
}

impl Shared {
    /// Makes the directory (0700, and never one that is already there) on
    /// the first call, after removing dead runs' directories beside it.
    pub fn ensure(&self) -> Result<(), String> {
        self.made
            .get_or_init(|| {
                let parent = self.path.parent().unwrap_or(Path::new("/"));
                sweep(parent);
                use std::os::unix::fs::DirBuilderExt as _;
                std::fs::DirBuilder::new()
                    .mode(0o700)
                    .create(&self.path)
                    .map_err(|e| format!("creating a scratch directory in {}: {e}", parent.display()))
            })
            .clone()
    }
}

impl Drop for ScratchDir {
    /// Most runs that made it leave it empty: one `rmdir`, and only when
    /// that fails the walk that removes what is inside.
    fn drop(&mut self) {
        if matches!(self.0.made.get(), Some(Ok(()))) && std::fs::remove_dir(&self.0.path).is_err() {
            let _ = std::fs::remove_dir_all(&self.0.path);
        }
    }
}

/// `skiff-<pid>-` and six random letters and digits.
fn name() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = [0u8; 6];
    // Without the OS's random source the name is still unique to this
    // process (the pid); the random part only makes it hard to guess.
    let _ = super::fill_random(&mut bytes);
    let tail: String = bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
    format!("skiff-{}-{tail}", std::process::id())
}

/// Removes scratch directories of skiff processes that no longer run.
fn sweep(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // Exactly `skiff-<pid>-<6 random characters>`, a real directory.
        let Some((pid, rand)) = name.strip_prefix("skiff-").and_then(|rest| rest.split_once('-')) else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        let shaped = rand.len() == 6 && rand.chars().all(|c| c.is_ascii_alphanumeric());
        let ours = shaped && std::fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_dir());
        if ours && pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ScratchDir;

    /// Nothing is made until the first write; once made, the directory goes
    /// when the command ends, empty (one `rmdir`) or not (the walk); a dead
    /// run's is swept when the next run makes its own.
    #[test]
    fn scratch_directories_are_made_on_demand_and_removed() {
        let parent = tempfile::tempdir().unwrap();
        let listing = || std::fs::read_dir(parent.path()).unwrap().count();

        let unused = ScratchDir::reserve(parent.path().to_owned());
        assert!(unused.path().starts_with(&format!("{}/skiff-{}-", parent.path().display(), std::process::id())));
        drop(unused);
        assert_eq!(listing(), 0, "a run that never wrote makes no directory");

        let empty = ScratchDir::reserve(parent.path().to_owned());
        empty.shared().ensure().unwrap();
        empty.shared().ensure().unwrap();
        let mode = std::fs::metadata(empty.path()).unwrap();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o700);
        assert_eq!(listing(), 1);
        drop(empty);
        assert_eq!(listing(), 0, "an empty scratch directory is removed");

        let full = ScratchDir::reserve(parent.path().to_owned());
        full.shared().ensure().unwrap();
        std::fs::create_dir(format!("{}/layer", full.path())).unwrap();
        std::fs::write(format!("{}/layer/blob", full.path()), b"data").unwrap();
        drop(full);
        assert_eq!(listing(), 0, "a scratch directory with files in it is removed");

        // A directory named like a run that no longer exists (pid 4194304
        // is above Linux's maximum), with a file in it.
        let dead = parent.path().join("skiff-4194304-abc123");
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join("f"), b"x").unwrap();
        let next = ScratchDir::reserve(parent.path().to_owned());
        assert!(dead.exists(), "nothing is swept before a run writes");
        next.shared().ensure().unwrap();
        assert!(!dead.exists(), "the dead run's directory is swept");
        drop(next);
        assert_eq!(listing(), 0);

        // A name that is already taken is refused, not adopted.
        let taken = ScratchDir::reserve(parent.path().to_owned());
        std::fs::create_dir(taken.path()).unwrap();
        let err = taken.shared().ensure().unwrap_err();
        assert!(err.starts_with("creating a scratch directory in "), "{err}");
    }
}
