//! Archive destinations that are not regular files: a pipe (`/dev/stdout`),
//! a FIFO, a symlink the user made on purpose. skopeo streams into them;
//! skiff must too, and must never rename its temporary file over them (it
//! once replaced `/dev/stdout` itself with a regular file).

use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::Stdio;

use skiff_tests::harness::fixtures::world;
use skiff_tests::harness::tools::{skiff, skiff_cmd, skopeo};

const INSECURE: &str = "--insecure-policy";

fn source() -> String {
    format!("oci:{}:v1", world().single.display())
}

/// The destination name: docker-archive takes `name:tag`, oci-archive a ref name.
fn named(transport: &str, path: &Path) -> String {
    match transport {
        "docker-archive" => format!("docker-archive:{}:app:1", path.display()),
        _ => format!("{transport}:{}:app", path.display()),
    }
}

/// What skopeo writes for `transport` into a regular file: the reference bytes.
fn skopeo_archive(dir: &Path, transport: &str) -> Vec<u8> {
    let path = dir.join(format!("skopeo-{transport}.tar"));
    let _ = std::fs::remove_file(&path);
    skopeo(&[INSECURE, "copy", "-q", &source(), &named(transport, &path)]).ok();
    std::fs::read(&path).unwrap()
}

/// The manifest skopeo reads from the archive at `path`, and the one it
/// reads from an archive it wrote itself from the same source.
fn read_back(dir: &Path, transport: &str, path: &Path) -> (Vec<u8>, Vec<u8>) {
    let reference = dir.join(format!("reference-{transport}.tar"));
    std::fs::write(&reference, skopeo_archive(dir, transport)).unwrap();
    let raw = |p: &Path| skopeo(&["inspect", "--raw", &format!("{transport}:{}", p.display())]).ok().stdout;
    (raw(path), raw(&reference))
}

/// skiff copying into `dest`, with its standard output captured.
fn skiff_to(dest: &str) -> (i32, Vec<u8>, String) {
    let mut cmd = skiff_cmd();
    cmd.args([INSECURE, "copy", "-q", &source(), dest]).stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = cmd.output().unwrap();
    (out.status.code().unwrap_or(-1), out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn docker_archive_streams_to_stdout_and_stdout_stays_a_link() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, bytes, stderr) = skiff_to("docker-archive:/dev/stdout:app:1");
    assert_eq!(code, 0, "{stderr}");
    assert!(bytes == skopeo_archive(tmp.path(), "docker-archive"), "the piped archive is skopeo's, byte for byte");
    let meta = std::fs::symlink_metadata("/dev/stdout").unwrap();
    assert!(meta.file_type().is_symlink(), "/dev/stdout is still the system's symlink");
    // And it reads as an image: skopeo loads what came through the pipe.
    let saved = tmp.path().join("piped.tar");
    std::fs::write(&saved, &bytes).unwrap();
    let theirs = skopeo(&["inspect", "--raw", &format!("docker-archive:{}", saved.display())]).ok().stdout;
    let ours = skiff(&["inspect", "--raw", &format!("docker-archive:{}", saved.display())]).ok().stdout;
    assert_eq!(ours, theirs);
}

#[test]
fn oci_archive_streams_to_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, bytes, stderr) = skiff_to("oci-archive:/dev/stdout:app");
    assert_eq!(code, 0, "{stderr}");
    assert!(std::fs::symlink_metadata("/dev/stdout").unwrap().file_type().is_symlink());
    let saved = tmp.path().join("piped.tar");
    std::fs::write(&saved, &bytes).unwrap();
    // skopeo reads the streamed archive as it reads its own.
    let (ours, theirs) = read_back(tmp.path(), "oci-archive", &saved);
    assert!(ours == theirs, "the same manifest from both archives");
    // Fixed metadata: every header owned by 0, dated 0, and no `./` names.
    let mut archive = tar::Archive::new(std::fs::File::open(&saved).unwrap());
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        let name = entry.path().unwrap().display().to_string();
        assert!(!name.starts_with("./") && !name.starts_with('/'), "{name}");
        assert_eq!((h.uid().unwrap(), h.gid().unwrap(), h.mtime().unwrap()), (0, 0, 0), "{name}");
    }
}

#[test]
fn archives_stream_into_a_fifo() {
    let tmp = tempfile::tempdir().unwrap();
    for transport in ["docker-archive", "oci-archive"] {
        let fifo = tmp.path().join(format!("{transport}.fifo"));
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut data = Vec::new();
                std::fs::File::open(&fifo).unwrap().read_to_end(&mut data).unwrap();
                data
            })
        };
        let (code, _, stderr) = skiff_to(&named(transport, &fifo));
        assert_eq!(code, 0, "{transport}: {stderr}");
        let data = reader.join().unwrap();
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(kind.is_fifo(), "{transport}: the FIFO is still a FIFO");
        let saved = tmp.path().join(format!("{transport}-from-fifo.tar"));
        std::fs::write(&saved, &data).unwrap();
        if transport == "docker-archive" {
            assert!(data == skopeo_archive(tmp.path(), transport), "skopeo's bytes through the FIFO");
        }
        let (ours, theirs) = read_back(tmp.path(), transport, &saved);
        assert!(ours == theirs, "{transport}: the same manifest from both archives");
    }
}

#[test]
fn symlinks_are_written_through_not_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    for transport in ["docker-archive", "oci-archive"] {
        let target = tmp.path().join(format!("{transport}-target.tar"));
        let link = tmp.path().join(format!("{transport}-link.tar"));
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let (code, _, stderr) = skiff_to(&named(transport, &link));
        assert_eq!(code, 0, "{transport}: {stderr}");
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "{transport}: still a link");
        assert_eq!(std::fs::read_link(&link).unwrap(), target);
        let (ours, theirs) = read_back(tmp.path(), transport, &target);
        assert!(ours == theirs, "{transport}: the same manifest from both archives");
    }
}

#[test]
fn a_docker_archive_with_contents_is_refused_as_skopeo_refuses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let existing = tmp.path().join("existing.tar");
    std::fs::write(&existing, b"precious").unwrap();
    let dest = format!("docker-archive:{}:app:1", existing.display());
    let theirs = skopeo(&[INSECURE, "copy", "-q", &source(), &dest]);
    let (code, _, stderr) = skiff_to(&dest);
    assert_ne!(theirs.code, 0, "skopeo refuses too");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("docker-archive doesn't support modifying existing images"), "{stderr}");
    assert_eq!(std::fs::read(&existing).unwrap(), b"precious", "nothing lost");
    // A directory is not an archive either; nothing is written beside it.
    let dir = tmp.path().join("adir");
    std::fs::create_dir(&dir).unwrap();
    let (code, _, stderr) = skiff_to(&named("oci-archive", &dir));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("is a directory"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "no temporary files left: {left:?}");
}
