//! A directory tree copied with everything a layer's files carry — owner,
//! mode with its special bits, times, extended attributes, device numbers,
//! symlinks and hard links — as containers/storage's vfs driver copies the
//! parent layer before applying a child (`copy.DirCopy`). The source is
//! the store's own parent layer, not input from a registry.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FileType, Mode, Timespec, Timestamps};

/// Copies what is in `src` into the existing directory `dst`, then gives
/// `dst` the metadata of `src`.
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    let mut links = HashMap::new();
    copy_contents(src, dst, &mut links)?;
    copy_metadata(src, dst, &fs::symlink_metadata(src)?)
}

fn copy_contents(src: &Path, dst: &Path, links: &mut HashMap<(u64, u64), PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let m = fs::symlink_metadata(&from)?;
        let kind = m.file_type();
        if !kind.is_dir() && m.nlink() > 1 {
            if let Some(first) = links.get(&(m.dev(), m.ino())) {
                fs::hard_link(first, &to)?;
                continue;
            }
            links.insert((m.dev(), m.ino()), to.clone());
        }
        let file_type = FileType::from_raw_mode(m.mode());
        match file_type {
            FileType::Directory => {
                fs::create_dir(&to)?;
                copy_contents(&from, &to, links)?;
            }
            FileType::RegularFile => {
                fs::copy(&from, &to)?;
            }
            FileType::Symlink => std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?,
            FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo | FileType::Socket => {
                rustix::fs::mknodat(CWD, &to, file_type, Mode::from_raw_mode(m.mode() & 0o777), m.rdev())?;
            }
            FileType::Unknown => return Err(io::Error::other(format!("{} is of an unknown type", from.display()))),
        }
        copy_metadata(&from, &to, &m)?;
    }
    Ok(())
}

/// Owner, extended attributes, mode (after the owner, which clears the
/// setuid bit) and times, never following a symlink.
fn copy_metadata(src: &Path, dst: &Path, m: &fs::Metadata) -> io::Result<()> {
    std::os::unix::fs::lchown(dst, Some(m.uid()), Some(m.gid()))?;
    copy_xattrs(src, dst)?;
    let symlink = m.file_type().is_symlink();
    if !symlink {
        fs::set_permissions(dst, fs::Permissions::from_mode(m.mode() & 0o7777))?;
    }
    let times = Timestamps {
        last_access: Timespec { tv_sec: m.atime(), tv_nsec: m.atime_nsec() as _ },
        last_modification: Timespec { tv_sec: m.mtime(), tv_nsec: m.mtime_nsec() as _ },
    };
    rustix::fs::utimensat(CWD, dst, &times, AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

fn copy_xattrs(src: &Path, dst: &Path) -> io::Result<()> {
    let mut names = vec![0u8; 64 << 10];
    let n = match rustix::fs::llistxattr(src, &mut names[..]) {
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut value = vec![0u8; 64 << 10];
    for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = std::ffi::OsStr::new(std::str::from_utf8(name).map_err(io::Error::other)?);
        let len = rustix::fs::lgetxattr(src, name, &mut value[..])?;
        match rustix::fs::lsetxattr(dst, name, &value[..len], rustix::fs::XattrFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOTSUP) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
