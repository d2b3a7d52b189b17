//! `apply-layer`: a layer's tar unpacked into a containers-storage layer
//! directory as containers/storage's `pkg/archive` `UnpackLayer` does it
//! inside a chroot, with the tar-split written as it goes (see the WIT for
//! the exact rules). The tar comes from a registry, so every step is
//! confined to the layer directory: each entry's parent is opened with
//! `openat2(RESOLVE_IN_ROOT)` from the layer's root, so a symlink met on
//! the way resolves as it would inside a chroot, and the entry itself is
//! made with `*at` calls that never follow its last component. Streamed:
//! one entry's contents at a time, whatever the layer's size.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashSet};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::rc::Rc;

use ring::digest::{Context, SHA256};
use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, ResolveFlags, Timespec, Timestamps, Uid, XattrFlags};
use rustix::io::Errno;

use super::recompress::{hex, input_name, open_input};
use super::tar_stream::{CRC64, Header, Kind, Tar, TarSplit, bad};
use crate::runtime::wit::{Applied, ApplyLayer, Codec, Reply, WhiteoutFormat};

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";
const AUFS_META: &str = ".wh..wh.";

pub async fn apply_layer(a: ApplyLayer) -> Reply {
    let what = format!("unpacking {}", input_name(&a.input));
    super::blocking_job(what, move || run(&a).map(Reply::Applied)).await
}

fn run(a: &ApplyLayer) -> io::Result<Applied> {
    std::fs::create_dir(&a.root).map_err(|e| context(e, "creating", &a.root))?;
    std::fs::set_permissions(&a.root, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    if let Some(from) = &a.copy_from {
        super::tree_copy::copy_tree(from.as_ref(), a.root.as_ref()).map_err(|e| context(e, "copying", from))?;
    }
    let root = rustix::fs::open(a.root.as_str(), OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let (input, input_hash) = Measuring::new(open_input(&a.input)?);
    let buffered = io::BufReader::with_capacity(256 << 10, input);
    let decoded: Box<dyn Read> = match a.from {
        Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(buffered)),
        Codec::Zstd | Codec::ZstdChunked => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
        Codec::None => Box::new(buffered),
    };
    let (decoded, diff_hash) = Measuring::new(decoded);
    let mut tar = Tar::new(decoded);
    let split_file = rustix::fs::open(
        a.tar_split.as_str(),
        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| context(e.into(), "creating", &a.tar_split))?;
    let gz = flate2::write::GzEncoder::new(BufWriter::new(File::from(split_file)), flate2::Compression::default());
    let mut split = TarSplit::new(gz);
    let mut u = Unpacker {
        root,
        format: a.whiteouts,
        unpacked: HashSet::new(),
        dirs: Vec::new(),
        uids: BTreeSet::new(),
        gids: BTreeSet::new(),
        root_user: rustix::process::geteuid().is_root(),
        buf: vec![0u8; 256 << 10],
    };
    while let Some(h) = tar.next_header()? {
        split.segment(&tar.take_raw())?;
        let size = h.data_size()?;
        let mut contents = (&mut tar.input).take(size);
        let mut crc = CRC64.digest();
        u.entry(&h, &mut contents, &mut crc).map_err(|e| context(e, "unpacking", &h.name))?;
        // What the entry did not use (a whiteout's, a skipped entry's) is still the tar's.
        u.drain(&mut contents, &mut crc)?;
        if contents.limit() > 0 {
            return Err(bad("the layer's tar ends in the middle of a file"));
        }
        split.file(&h.name, size, (size > 0).then(|| crc.finalize()))?;
    }
    tar.rest(|raw| split.segment(raw))?;
    u.finish()?;
    split.out.finish()?.flush()?;
    let (diff_id, diff_size) = diff_hash.finish();
    let (input_digest, input_size) = input_hash.finish();
    Ok(Applied {
        input_digest,
        input_size,
        diff_id,
        diff_size,
        uids: u.uids.into_iter().collect(),
        gids: u.gids.into_iter().collect(),
    })
}

/// Hashes (sha256) and counts what is read through it, for a
/// [`Measure`] kept outside the readers stacked on it.
struct Measuring<R> {
    inner: R,
    state: Rc<RefCell<(Context, u64)>>,
}

struct Measure(Rc<RefCell<(Context, u64)>>);

impl<R: Read> Measuring<R> {
    fn new(inner: R) -> (Self, Measure) {
        let state = Rc::new(RefCell::new((Context::new(&SHA256), 0)));
        (Measuring { inner, state: state.clone() }, Measure(state))
    }
}

impl<R: Read> Read for Measuring<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut s = self.state.borrow_mut();
        s.0.update(&buf[..n]);
        s.1 += n as u64;
        Ok(n)
    }
}

impl Measure {
    /// `sha256:hex` and the byte count.
    fn finish(self) -> (String, u64) {
        let (hash, size) = self.0.replace((Context::new(&SHA256), 0));
        (format!("sha256:{}", hex(hash.finish())), size)
    }
}

fn context(e: io::Error, what: &str, name: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {name}: {e}"))
}

/// A layer entry's name as Go's `filepath.Clean` leaves it, as components
/// under the root; `None` when it leads out (a relative `..` past the root).
fn clean(name: &str) -> Option<Vec<&str>> {
    let mut out: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." if out.is_empty() && !name.starts_with('/') => return None,
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    Some(out)
}

struct Unpacker {
    root: OwnedFd,
    format: WhiteoutFormat,
    /// The paths this layer has put in place (`.wh..wh..opq` keeps these).
    unpacked: HashSet<String>,
    /// Directories whose times are set at the end: parent path, name, times.
    dirs: Vec<(String, String, Timestamps)>,
    uids: BTreeSet<u32>,
    gids: BTreeSet<u32>,
    root_user: bool,
    buf: Vec<u8>,
}

fn id(v: i64, what: &str) -> io::Result<u32> {
    u32::try_from(v).map_err(|_| bad(format!("an entry's {what} {v} is out of range")))
}

fn timespec((secs, nanos): (i64, u32)) -> Timespec {
    Timespec { tv_sec: secs, tv_nsec: nanos as _ }
}

fn errno(e: Errno) -> io::Error {
    e.into()
}

impl Unpacker {
    fn drain(&mut self, r: &mut impl Read, crc: &mut crc::Digest<'_, u64>) -> io::Result<()> {
        loop {
            let n = r.read(&mut self.buf)?;
            if n == 0 {
                return Ok(());
            }
            crc.update(&self.buf[..n]);
        }
    }

    /// The directory `components` name, opened inside the root; with
    /// `create`, made (0755) where missing, as `UnpackLayer` makes an
    /// entry's missing parents.
    fn open_dir(&self, components: &[&str], create: bool) -> io::Result<OwnedFd> {
        let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        let path = if components.is_empty() { ".".to_owned() } else { components.join("/") };
        match rustix::fs::openat2(&self.root, path.as_str(), flags, Mode::empty(), resolve) {
            Ok(fd) => return Ok(fd),
            Err(Errno::NOENT) if create => {}
            Err(e) => return Err(errno(e)),
        }
        let mut dir = rustix::fs::openat2(&self.root, ".", flags, Mode::empty(), resolve)?;
        for i in 0..components.len() {
            let prefix = components[..=i].join("/");
            dir = match rustix::fs::openat2(&self.root, prefix.as_str(), flags, Mode::empty(), resolve) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => {
                    rustix::fs::mkdirat(&dir, components[i], Mode::from_raw_mode(0o755))?;
                    rustix::fs::openat2(&self.root, prefix.as_str(), flags, Mode::empty(), resolve)?
                }
                Err(e) => return Err(errno(e)),
            };
        }
        Ok(dir)
    }

    fn entry(&mut self, h: &Header, contents: &mut impl Read, crc: &mut crc::Digest<'_, u64>) -> io::Result<()> {
        let kind = h.kind()?;
        let (uid, gid) = (id(h.uid, "owner")?, id(h.gid, "group")?);
        self.uids.insert(uid);
        self.gids.insert(gid);
        let parts = clean(&h.name).ok_or_else(|| bad("the entry's name leads out of the layer"))?;
        if parts.first().is_some_and(|p| p.starts_with(AUFS_META)) && parts != [OPAQUE] {
            return Ok(()); // AUFS metadata, which UnpackLayer skips.
        }
        let mtime = timespec(h.mtime);
        let atime = match h.atime {
            Some(a) if (a.0, a.1) > h.mtime => timespec(a),
            _ => mtime,
        };
        let times = Timestamps { last_access: atime, last_modification: mtime };
        let Some((&base, parent_parts)) = parts.split_last() else {
            // The root itself: only its metadata.
            if kind != Kind::Directory {
                return Err(bad("the layer's root entry is not a directory"));
            }
            self.owner(&self.root, "", uid, gid)?;
            rustix::fs::fchmod(&self.root, Mode::from_raw_mode((h.mode & 0o7777) as u32))?;
            self.dirs.push((String::new(), ".".to_owned(), times));
            return Ok(());
        };
        let parent = self.open_dir(parent_parts, true)?;
        let parent_path = parent_parts.join("/");
        let full = parts.join("/");
        if let Some(hidden) = base.strip_prefix(WHITEOUT) {
            return self.whiteout(&parent, &parent_path, hidden, uid, gid);
        }
        if let Ok(st) = rustix::fs::statat(&parent, base, AtFlags::SYMLINK_NOFOLLOW) {
            let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
            if !(is_dir && kind == Kind::Directory) {
                remove_all(&parent, OsStr::new(base))?;
            }
        }
        let mode = Mode::from_raw_mode((h.mode & 0o7777) as u32);
        match kind {
            Kind::Directory => {
                match rustix::fs::mkdirat(&parent, base, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(errno(e)),
                }
                let fd = rustix::fs::openat(
                    &parent,
                    base,
                    OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                self.owner(&fd, "", uid, gid)?;
                set_xattrs(&fd, h)?;
                rustix::fs::fchmod(&fd, mode)?;
                self.dirs.push((parent_path, base.to_owned(), times));
            }
            Kind::Regular => {
                let fd = rustix::fs::openat(
                    &parent,
                    base,
                    OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )?;
                let mut file = File::from(fd);
                loop {
                    let n = contents.read(&mut self.buf)?;
                    if n == 0 {
                        break;
                    }
                    crc.update(&self.buf[..n]);
                    file.write_all(&self.buf[..n])?;
                }
                self.owner(&file, "", uid, gid)?;
                set_xattrs(&file, h)?;
                rustix::fs::fchmod(&file, mode)?;
                rustix::fs::futimens(&file, &times)?;
            }
            Kind::Symlink => {
                // `UnpackLayer`'s check: the target, joined to the link's
                // directory, must stay inside (an absolute one always does).
                let joined = format!("{parent_path}/{}", h.link);
                if !h.link.starts_with('/') && clean(joined.trim_start_matches('/')).is_none() {
                    return Err(bad(format!(
                        "invalid symlink {:?} -> {:?}: it leads out of the layer",
                        h.name, h.link
                    )));
                }
                rustix::fs::symlinkat(h.link.as_str(), &parent, base)?;
                self.owner(&parent, base, uid, gid)?;
                rustix::fs::utimensat(&parent, base, &times, AtFlags::SYMLINK_NOFOLLOW)?;
            }
            Kind::HardLink => {
                let target = clean(&h.link).filter(|t| !t.is_empty()).ok_or_else(|| {
                    bad(format!("invalid hard link {:?} -> {:?}: it leads out of the layer", h.name, h.link))
                })?;
                let (tbase, tparent) = target.split_last().expect("not empty");
                let tdir = self.open_dir(tparent, false)?;
                rustix::fs::linkat(&tdir, *tbase, &parent, base, AtFlags::empty())?;
                self.owner(&parent, base, uid, gid)?;
                let st = rustix::fs::statat(&parent, base, AtFlags::SYMLINK_NOFOLLOW)?;
                if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
                    rustix::fs::chmodat(&parent, base, mode, AtFlags::empty())?;
                    rustix::fs::utimensat(&parent, base, &times, AtFlags::SYMLINK_NOFOLLOW)?;
                }
            }
            Kind::Char | Kind::Block | Kind::Fifo => {
                let file_type = match kind {
                    Kind::Char => FileType::CharacterDevice,
                    Kind::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                if kind != Kind::Fifo && !self.root_user {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        "device nodes can only be created by root (skiff does not use a user namespace)",
                    ));
                }
                let (major, minor) = (id(h.devmajor, "device major")?, id(h.devminor, "device minor")?);
                rustix::fs::mknodat(&parent, base, file_type, mode, rustix::fs::makedev(major, minor))?;
                self.owner(&parent, base, uid, gid)?;
                rustix::fs::chmodat(&parent, base, mode, AtFlags::empty())?;
                rustix::fs::utimensat(&parent, base, &times, AtFlags::SYMLINK_NOFOLLOW)?;
            }
        }
        if self.format == WhiteoutFormat::Apply {
            self.unpacked.insert(full);
        }
        Ok(())
    }

    /// Sets the owner of `name` in `dir` (of `dir` itself when empty).
    fn owner(&self, dir: &impl AsFd, name: &str, uid: u32, gid: u32) -> io::Result<()> {
        let ids = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
        let r = match name {
            "" => rustix::fs::fchown(dir, ids.0, ids.1),
            n => rustix::fs::chownat(dir, n, ids.0, ids.1, AtFlags::SYMLINK_NOFOLLOW),
        };
        match r {
            Err(Errno::PERM) if !self.root_user => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "owner {uid}:{gid} cannot be set without root (skiff writes containers-storage without a user namespace)"
                ),
            )),
            r => r.map_err(errno),
        }
    }

    fn whiteout(&mut self, parent: &OwnedFd, parent_path: &str, hidden: &str, uid: u32, gid: u32) -> io::Result<()> {
        let opaque = hidden == &OPAQUE[WHITEOUT.len()..];
        // `.wh.` and `.wh..` would name the directory itself or its parent.
        if hidden.is_empty() || hidden == "." || hidden == ".." {
            return Err(bad("a whiteout that names no file"));
        }
        match (self.format, opaque) {
            (WhiteoutFormat::Apply, true) => self.prune(parent, parent_path),
            (WhiteoutFormat::Apply, false) => match remove_all(parent, OsStr::new(hidden)) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                r => r,
            },
            (WhiteoutFormat::Overlay, true) => {
                rustix::fs::fsetxattr(parent, "trusted.overlay.opaque", b"y", XattrFlags::empty()).map_err(errno)
            }
            (WhiteoutFormat::Overlay, false) => {
                if rustix::fs::statat(parent, hidden, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
                    remove_all(parent, OsStr::new(hidden))?;
                }
                rustix::fs::mknodat(parent, hidden, FileType::CharacterDevice, Mode::empty(), 0)?;
                self.owner(parent, hidden, uid, gid)
            }
        }
    }

    /// `.wh..wh..opq` in a whole file system: removes under `dir` what
    /// this layer did not put there.
    fn prune(&self, dir: &OwnedFd, dir_path: &str) -> io::Result<()> {
        let listing =
            rustix::fs::openat(dir, ".", OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
        let mut names = Vec::new();
        for e in rustix::fs::Dir::read_from(&listing)? {
            let e = e?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                names.push(String::from_utf8_lossy(n).into_owned());
            }
        }
        for name in names {
            let path = if dir_path.is_empty() { name.clone() } else { format!("{dir_path}/{name}") };
            if !self.unpacked.contains(&path) {
                remove_all(dir, OsStr::new(&name))?;
                continue;
            }
            if let Ok(fd) = rustix::fs::openat(
                dir,
                name.as_str(),
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                self.prune(&fd, &path)?;
            }
        }
        Ok(())
    }

    /// Directories' times, once nothing more is put inside them.
    fn finish(&mut self) -> io::Result<()> {
        for (parent_path, name, times) in std::mem::take(&mut self.dirs) {
            let parts: Vec<&str> = parent_path.split('/').filter(|p| !p.is_empty()).collect();
            // A directory a later entry removed has no times to set.
            let parent = match self.open_dir(&parts, false) {
                Ok(p) => p,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            match rustix::fs::utimensat(&parent, name.as_str(), &times, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(e) => return Err(errno(e)),
            }
        }
        Ok(())
    }
}

fn set_xattrs(fd: &impl AsFd, h: &Header) -> io::Result<()> {
    for (name, value) in &h.xattrs {
        match rustix::fs::fsetxattr(fd, name.as_str(), value, XattrFlags::empty()) {
            Ok(()) | Err(Errno::NOTSUP) => {}
            Err(e) => return Err(io::Error::other(format!("setting xattr {name}: {e}"))),
        }
    }
    Ok(())
}

/// Removes `name` in `dir` and, for a directory, all inside it, never
/// following a symlink.
fn remove_all(dir: &impl AsFd, name: &OsStr) -> io::Result<()> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(errno);
    }
    let sub = rustix::fs::openat(
        dir,
        name,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for e in rustix::fs::Dir::read_from(&sub)? {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(n.to_vec());
        }
    }
    for n in names {
        remove_all(&sub, OsStr::from_bytes(&n))?;
    }
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(errno)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_as_go_cleans_them() {
        assert_eq!(clean("./usr//bin/").unwrap(), vec!["usr", "bin"]);
        assert_eq!(clean("a/../b").unwrap(), vec!["b"]);
        assert_eq!(clean("/../etc").unwrap(), vec!["etc"], "rooted: .. stops at the root");
        assert!(clean("../etc").is_none());
        assert!(clean("a/../../etc").is_none());
        assert_eq!(clean("./").unwrap(), Vec::<&str>::new());
    }
}
