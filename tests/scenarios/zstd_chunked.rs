//! `--dest-compress-format zstd:chunked`: the layer decodes as plain zstd
//! to the source's tar, every file and chunk can be read alone at the
//! offsets its table of contents gives, the tar-split rebuilds the tar, and
//! the chunks (rolling-checksum cuts, runs of zeros) are the ones Debian's
//! skopeo 1.9.3 cuts for the same tar. 1.9.3 writes the older format
//! (`io.containers.zstd-chunked.*`, zero access and change times, no
//! tar-split); skiff writes upstream's (`io.github.containers.*`).

use std::io::Read as _;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use serde_json::Value;

use skiff_tests::harness::images::sha256;
use skiff_tests::harness::tools::{Run, run, skiff, skopeo};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const NEW: &str = "io.github.containers.zstd-chunked.";

/// Writes an OCI layout `src` (image `v1`, one gzip layer) whose tar has a
/// directory, a 300 kB random file (several chunks), a file with runs of
/// zeros (holes), an empty file, links, a device, a PAX long name and
/// xattr, and a fractional mtime; and the layer's tar as `layer.tar`.
const MAKE_LAYOUT: &str = r#"
import tarfile, io, os, json, hashlib, gzip, random, sys
random.seed(7)
out = sys.argv[1]
b = io.BytesIO()
with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
    def add(name, data=None, **kw):
        ti = tarfile.TarInfo(name)
        ti.mtime = 1700000000
        for k, v in kw.items(): setattr(ti, k, v)
        if data is not None:
            ti.size = len(data); t.addfile(ti, io.BytesIO(data))
        else:
            t.addfile(ti)
    add("etc", type=tarfile.DIRTYPE, mode=0o755)
    add("etc/big.bin", bytes(random.getrandbits(8) for _ in range(300000)), mode=0o644, uid=1000, gid=1000)
    add("etc/holes.bin", b"abc" * 100 + b"\0" * 5000 + b"xyz" * 100 + b"\0" * 2000, mode=0o600)
    add("etc/small-zeros", b"a" + b"\0" * 500 + b"b")
    add("etc/empty", b"")
    add("etc/link", type=tarfile.SYMTYPE, linkname="big.bin")
    add("etc/hard", type=tarfile.LNKTYPE, linkname="etc/big.bin")
    add("d/" + "x" * 120 + "/long-name.txt", b"long\n")
    ti = tarfile.TarInfo("etc/xattr"); ti.size = 3; ti.mtime = 1700000000.25
    ti.pax_headers = {"SCHILY.xattr.user.test": "hello", "mtime": "1700000000.25"}
    t.addfile(ti, io.BytesIO(b"xa\n"))
    add("dev/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)
    add("etc/.wh.gone", b"")
tar = b.getvalue()
os.makedirs(f"{out}/src/blobs/sha256")
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{out}/src/blobs/sha256/{d}", "wb").write(data)
    return "sha256:" + d, len(data)
ld, ls = blob(gzip.compress(tar, mtime=0))
cfg = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]}}
cd, cs = blob(json.dumps(cfg).encode())
m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
     "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
     "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}]}
md, ms = blob(json.dumps(m).encode())
open(f"{out}/src/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(f"{out}/src/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
     "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}))
open(f"{out}/layer.tar", "wb").write(tar)
"#;

fn layout(dir: &Path) {
    let r = run({
        let mut c = Command::new("python3");
        c.arg("-c").arg(MAKE_LAYOUT).arg(dir);
        c
    });
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn blob(dir: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))).unwrap()
}

fn manifest(dir: &Path) -> Value {
    let index: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    serde_json::from_slice(&blob(dir, index["manifests"][0]["digest"].as_str().unwrap())).unwrap()
}

fn unzstd(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(bytes).unwrap().read_to_end(&mut out).unwrap();
    out
}

/// `offset:length:…` of a position annotation.
fn position(v: &Value) -> Vec<usize> {
    v.as_str().unwrap().split(':').map(|n| n.parse().unwrap()).collect()
}

/// The layer's table of contents, found through the annotations of `prefix`.
fn toc(layer: &Value, bytes: &[u8], prefix: &str) -> Value {
    let a = &layer["annotations"];
    let p = position(&a[format!("{prefix}manifest-position")]);
    let compressed = &bytes[p[0]..p[0] + p[1]];
    assert_eq!(a[format!("{prefix}manifest-checksum")], sha256(compressed), "the TOC checksum");
    let json = unzstd(compressed);
    assert_eq!(json.len(), p[2]);
    serde_json::from_slice(&json).unwrap()
}

/// Entries without what depends on the compressor's output (offsets) and
/// without 1.9.3's zero access and change times (upstream leaves them out).
fn comparable(toc: &Value) -> Vec<Value> {
    toc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let mut e = e.clone();
            let o = e.as_object_mut().unwrap();
            o.remove("offset");
            o.remove("endOffset");
            o.retain(|_, v| v != "0001-01-01T00:00:00Z");
            e
        })
        .collect()
}

fn copy(tool: fn(&[&str]) -> Run, flags: &[&str], from: &str, to: &str) -> Run {
    let mut args = vec!["--insecure-policy", "copy", "-q"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[from, to]);
    tool(&args)
}

#[test]
fn zstd_chunked_layers_are_cut_as_skopeo_cuts_them_and_read_alone() {
    let tmp = tempfile::tempdir().unwrap();
    layout(tmp.path());
    let src = format!("oci:{}:v1", tmp.path().join("src").display());
    let tar = std::fs::read(tmp.path().join("layer.tar")).unwrap();
    let (ours, theirs) = (tmp.path().join("ours"), tmp.path().join("theirs"));
    let flags = ["--dest-compress-format", "zstd:chunked"];
    copy(skiff, &flags, &src, &format!("oci:{}:v1", ours.display())).ok();
    copy(skopeo, &flags, &src, &format!("oci:{}:v1", theirs.display())).ok();
    let (m, tm) = (manifest(&ours), manifest(&theirs));
    let (layer, their_layer) = (&m["layers"][0], &tm["layers"][0]);
    assert_eq!(layer["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd");
    assert_eq!(layer["mediaType"], their_layer["mediaType"]);
    let bytes = blob(&ours, layer["digest"].as_str().unwrap());
    assert!(unzstd(&bytes) == tar, "the layer reads as plain zstd, the source's tar byte for byte");

    let ours_toc = toc(layer, &bytes, NEW);
    let theirs_toc =
        toc(their_layer, &blob(&theirs, their_layer["digest"].as_str().unwrap()), "io.containers.zstd-chunked.");
    assert_eq!(ours_toc["version"], 1);
    assert_eq!(comparable(&ours_toc), comparable(&theirs_toc), "the same entries, chunks and digests as skopeo's");
    let entries = ours_toc["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["chunkType"] == "zeros"), "holes are chunks of their own");
    assert!(entries.iter().filter(|e| e["type"] == "chunk").count() >= 5, "the big file is cut");

    // Every file, and every chunk, decodes alone from its frames.
    let files: std::collections::HashMap<String, Vec<u8>> = tar::Archive::new(tar.as_slice())
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect();
    for (i, e) in entries.iter().enumerate() {
        let name = e["name"].as_str().unwrap();
        if e["type"] == "reg" && e.get("digest").is_some() {
            let (start, end) = (e["offset"].as_u64().unwrap() as usize, e["endOffset"].as_u64().unwrap() as usize);
            let data = unzstd(&bytes[start..end]);
            assert!(data == files[name.trim_end_matches('/')], "{name} from its own frames");
            assert_eq!(e["digest"], sha256(&data));
        }
        if e.get("chunkSize").is_some() {
            let start = e["offset"].as_u64().unwrap() as usize;
            let end = match entries.get(i + 1).filter(|n| n["type"] == "chunk") {
                Some(next) => next["offset"].as_u64().unwrap() as usize,
                None => {
                    let file = entries[..=i].iter().rev().find(|x| x["type"] == "reg").unwrap();
                    file["endOffset"].as_u64().unwrap() as usize
                }
            };
            let chunk = unzstd(&bytes[start..end]);
            assert_eq!(chunk.len() as u64, e["chunkSize"].as_u64().unwrap(), "{name} chunk {i}");
            assert_eq!(e["chunkDigest"], sha256(&chunk), "{name} chunk {i}");
        }
    }

    // The tar-split (vbatts/tar-split JSON lines) rebuilds the tar.
    let p = position(&layer["annotations"][format!("{NEW}tarsplit-position")]);
    let split_zst = &bytes[p[0]..p[0] + p[1]];
    assert_eq!(ours_toc["tarSplitDigest"], sha256(split_zst));
    let split = unzstd(split_zst);
    assert_eq!(split.len(), p[2]);
    let mut rebuilt = Vec::new();
    for line in split.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let e: Value = serde_json::from_slice(line).unwrap();
        match e["type"].as_u64().unwrap() {
            2 => rebuilt.extend(B64.decode(e["payload"].as_str().unwrap()).unwrap()),
            _ => {
                if e.get("size").is_some() {
                    rebuilt.extend(&files[e["name"].as_str().unwrap()]);
                }
            }
        }
    }
    assert!(rebuilt == tar, "the tar-split and the files make the tar again");

    // The footer: 64 bytes in the last skippable frame, ending in the magic.
    let footer = &bytes[bytes.len() - 64..];
    assert_eq!(&bytes[bytes.len() - 72..bytes.len() - 68], &[0x50, 0x2a, 0x4d, 0x18]);
    assert_eq!(&footer[56..], b"GNUlInUx");
    let word = |i: usize| u64::from_le_bytes(footer[i * 8..i * 8 + 8].try_into().unwrap()) as usize;
    let toc_pos = position(&layer["annotations"][format!("{NEW}manifest-position")]);
    assert_eq!([word(0), word(1), word(2), word(3)], [toc_pos[0], toc_pos[1], toc_pos[2], 1]);
    assert_eq!([word(4), word(5), word(6)], [p[0], p[1], p[2]]);

    // skopeo reads skiff's layer as zstd: decompressed into dir:, it is the tar.
    let back = tmp.path().join("back");
    copy(skopeo, &["--dest-decompress"], &format!("oci:{}:v1", ours.display()), &format!("dir:{}", back.display()))
        .ok();
    assert!(std::fs::read(back.join(&sha256(&tar)[7..])).unwrap() == tar);
}

#[test]
fn zstd_chunked_gives_way_to_encryption_and_to_docker_manifests() {
    let tmp = tempfile::tempdir().unwrap();
    layout(tmp.path());
    let src = format!("oci:{}:v1", tmp.path().join("src").display());
    let key = tmp.path().join("key.pem");
    let public = tmp.path().join("pub.pem");
    for args in [
        vec!["genrsa", "-out", key.to_str().unwrap(), "2048"],
        vec!["rsa", "-in", key.to_str().unwrap(), "-pubout", "-out", public.to_str().unwrap()],
    ] {
        let r = run({
            let mut c = Command::new("openssl");
            c.args(&args);
            c
        });
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let jwe = format!("jwe:{}", public.display());
    // Encrypted layers are plain zstd, with containers/image's warning.
    let enc = tmp.path().join("enc");
    let r = copy(
        skiff,
        &["--dest-compress-format", "zstd:chunked", "--encryption-key", &jwe],
        &src,
        &format!("oci:{}:v1", enc.display()),
    )
    .ok();
    assert!(
        r.stderr.contains("zstd:chunked is not beneficial for encrypted layers, using plain zstd instead"),
        "{}",
        r.stderr
    );
    let layer = &manifest(&enc)["layers"][0];
    assert_eq!(layer["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd+encrypted");
    assert!(layer["annotations"].as_object().unwrap().keys().all(|k| !k.contains("zstd-chunked")), "{layer}");
    let forced = copy(
        skiff,
        &["--dest-compress-format", "zstd:chunked", "--dest-force-compress-format", "--encryption-key", &jwe],
        &src,
        &format!("oci:{}:v1", tmp.path().join("forced").display()),
    );
    assert_eq!(forced.code, 1, "{}", forced.stderr);
    assert!(
        forced.stderr.contains("explicitly requested to combine zstd:chunked with encryption"),
        "{}",
        forced.stderr
    );
    // Docker schema 2 cannot describe zstd layers.
    let r = copy(
        skiff,
        &["--dest-compress-format", "zstd:chunked", "--format", "v2s2"],
        &src,
        &format!("oci:{}:v1", tmp.path().join("v2s2").display()),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("cannot carry zstd layers"), "{}", r.stderr);
}
