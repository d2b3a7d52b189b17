//! zstd:chunked, as containers/storage's `pkg/chunked/compressor` writes
//! it: the layer's tar as zstd frames — an entry's headers in one, each
//! chunk of a regular file's contents in its own (chunks end where a
//! rolling checksum says, and around runs of zeros) — so a reader can fetch
//! single files by range; then, in skippable frames any zstd decoder
//! passes over, the table of contents (every entry with its metadata,
//! offsets and digests), the layer's tar-split and a 64-byte footer.
//! The tar is parsed here by hand because every header byte must be kept
//! (the tar-split re-creates the tar exactly) and Go's reading of it
//! (PAX, GNU long names, USTAR prefixes) must be matched.

use std::io::{self, Read, Write};

use base64::Engine as _;
use ring::digest::{Context, SHA256};
use serde_json::{Map, Value};
use zstd::stream::raw::{Encoder, Operation as _};
use zstd::stream::zio::Writer;

use super::recompress::hex;
use super::tar_stream::{B64, CRC64, Header, Kind, Tar, TarSplit, bad};

const SKIPPABLE_MAGIC: [u8; 4] = [0x50, 0x2a, 0x4d, 0x18];
const FOOTER_MAGIC: &[u8; 8] = b"GNUlInUx";
/// `RollsumBits`: a chunk ends where the low 16 bits of the sum are all ones.
const ROLLSUM_BITS: u32 = 16;
/// `holesThreshold`: this many zeros in a row are a chunk of their own.
const HOLE_THRESHOLD: u64 = 1 << 10;

/// Counts what passes to the inner writer.
pub struct Counting<W> {
    pub inner: W,
    pub count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The output as a sequence of zstd frames, one encoder context reused.
struct Frames<W: Write> {
    current: Option<Writer<Counting<W>, Encoder<'static>>>,
    /// Whether the frame being written holds anything.
    used: bool,
}

impl<W: Write> Frames<W> {
    fn new(out: W, level: i32) -> io::Result<Self> {
        let w = Writer::new(Counting { inner: out, count: 0 }, Encoder::new(level)?);
        Ok(Frames { current: Some(w), used: false })
    }

    fn writer(&mut self) -> &mut Writer<Counting<W>, Encoder<'static>> {
        self.current.as_mut().expect("a frame is always open")
    }

    fn write(&mut self, b: &[u8]) -> io::Result<()> {
        if !b.is_empty() {
            self.used = true;
            self.writer().write_all(b)?;
        }
        Ok(())
    }

    /// Ends the frame being written and opens the next; returns the offset
    /// where the next begins (`restartCompression`).
    fn restart(&mut self) -> io::Result<u64> {
        if !self.used {
            return Ok(self.writer().writer().count);
        }
        let mut w = self.current.take().expect("a frame is always open");
        w.finish()?;
        let (out, mut encoder) = w.into_inner();
        encoder.reinit()?;
        let at = out.count;
        self.current = Some(Writer::new(out, encoder));
        self.used = false;
        Ok(at)
    }

    fn finish(mut self) -> io::Result<Counting<W>> {
        let mut w = self.current.take().expect("a frame is always open");
        if self.used {
            w.finish()?;
        }
        Ok(w.into_inner().0)
    }
}

/// Go's `time.Time` JSON (RFC 3339, fraction without trailing zeros), in UTC.
fn go_time((secs, nanos): (i64, u32)) -> io::Result<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|_| bad("a tar time out of range"))?
        .replace_nanosecond(nanos)
        .map_err(|_| bad("a tar time out of range"))?;
    let (date, clock) = (t.date(), t.time());
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        date.year(),
        date.month() as u8,
        date.day(),
        clock.hour(),
        clock.minute(),
        clock.second()
    );
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    Ok(s)
}

/// bup's rolling checksum as Perkeep writes it (`rollsum.go`).
struct RollSum {
    s1: u32,
    s2: u32,
    window: [u8; 64],
    at: usize,
}

impl RollSum {
    fn new() -> Self {
        RollSum { s1: 64 * 31, s2: 64 * 63 * 31, window: [0; 64], at: 0 }
    }

    fn roll(&mut self, ch: u8) {
        let drop = self.window[self.at] as u32;
        let s1 = self.s1.wrapping_add(ch as u32).wrapping_sub(drop);
        self.s1 = s1;
        self.s2 = self.s2.wrapping_add(s1).wrapping_sub(64u32.wrapping_mul(drop + 31));
        self.window[self.at] = ch;
        self.at = (self.at + 1) & 63;
    }

    fn on_split(&self) -> bool {
        let mask = (1u32 << ROLLSUM_BITS) - 1;
        self.s2 & mask == mask
    }
}

/// One chunk of a file's contents.
struct Chunk {
    /// Where it starts within the file.
    file_offset: u64,
    /// Where its frame starts in the output.
    offset: u64,
    size: u64,
    digest: String,
    zeros: bool,
}

fn sha256_hex(c: Context) -> String {
    format!("sha256:{}", hex(c.finish()))
}

/// Cuts one file's contents into chunks as `rollingChecksumReader` and
/// `holesFinder` do, each chunk in its own frame.
struct Chunker<'a, W: Write> {
    frames: &'a mut Frames<W>,
    sum: RollSum,
    /// Bytes of the current chunk not yet handed to the encoder.
    pending: Vec<u8>,
    chunk_hash: Context,
    /// Bytes of the file emitted so far (`WrittenOut`).
    written: u64,
    chunk_start: u64,
    /// Where the current chunk's frame starts.
    frame_start: u64,
    /// A run of zeros not yet known to be a hole or plain bytes.
    zeros: u64,
    chunks: Vec<Chunk>,
}

impl<W: Write> Chunker<'_, W> {
    fn flush(&mut self) -> io::Result<()> {
        self.chunk_hash.update(&self.pending);
        self.frames.write(&self.pending)?;
        self.pending.clear();
        Ok(())
    }

    fn emit(&mut self, b: u8) -> io::Result<()> {
        self.pending.push(b);
        self.written += 1;
        if self.pending.len() >= 64 << 10 {
            self.flush()?;
        }
        Ok(())
    }

    /// Ends the current chunk (if it has bytes) and its frame.
    fn cut(&mut self, zeros: bool) -> io::Result<()> {
        self.flush()?;
        let next = self.frames.restart()?;
        if self.written > self.chunk_start {
            let digest = sha256_hex(std::mem::replace(&mut self.chunk_hash, Context::new(&SHA256)));
            self.chunks.push(Chunk {
                file_offset: self.chunk_start,
                offset: self.frame_start,
                size: self.written - self.chunk_start,
                digest,
                zeros,
            });
        }
        self.frame_start = next;
        self.chunk_start = self.written;
        Ok(())
    }

    fn plain(&mut self, b: u8) -> io::Result<()> {
        self.sum.roll(b);
        self.emit(b)?;
        if self.sum.on_split() {
            self.cut(false)?;
        }
        Ok(())
    }

    /// The run of zeros seen so far: a hole of its own when long enough.
    fn settle_zeros(&mut self) -> io::Result<()> {
        let run = std::mem::take(&mut self.zeros);
        if run >= HOLE_THRESHOLD {
            self.cut(false)?;
            for _ in 0..run {
                self.sum.roll(0);
                self.emit(0)?;
            }
            self.cut(true)
        } else {
            (0..run).try_for_each(|_| self.plain(0))
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> io::Result<()> {
        for &b in bytes {
            if b == 0 {
                self.zeros += 1;
                continue;
            }
            if self.zeros > 0 {
                self.settle_zeros()?;
            }
            self.plain(b)?;
        }
        Ok(())
    }
}

/// The contents of one regular file (`size` bytes of `tar`, more than 0),
/// in frames of their own; returns its digest, where its frames start and
/// end, and its chunks.
fn payload<R: Read, W: Write>(
    tar: &mut Tar<R>,
    frames: &mut Frames<W>,
    size: u64,
    crc: &mut crc::Digest<'_, u64>,
) -> io::Result<(String, u64, u64, Vec<Chunk>)> {
    let start = frames.restart()?;
    let mut file = Context::new(&SHA256);
    let mut c = Chunker {
        frames,
        sum: RollSum::new(),
        pending: Vec::with_capacity(64 << 10),
        chunk_hash: Context::new(&SHA256),
        written: 0,
        chunk_start: 0,
        frame_start: start,
        zeros: 0,
        chunks: Vec::new(),
    };
    let mut buf = vec![0u8; 64 << 10];
    let mut left = size;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = tar.input.read(&mut buf[..want])?;
        if n == 0 {
            return Err(bad("the layer's tar ends in the middle of a file"));
        }
        left -= n as u64;
        file.update(&buf[..n]);
        crc.update(&buf[..n]);
        c.feed(&buf[..n])?;
    }
    c.settle_zeros()?;
    c.cut(false)?;
    let end = c.frame_start;
    Ok((sha256_hex(file), start, end, c.chunks))
}

/// The TOC entries (`minimal.FileMetadata`, Go's field order, empty fields
/// left out) of one entry.
fn toc_entries(h: &Header, kind: Kind, digest: Option<(String, u64, u64, Vec<Chunk>)>) -> io::Result<Vec<Value>> {
    let mut e = Map::new();
    e.insert("type".into(), kind.name().into());
    e.insert("name".into(), h.name.clone().into());
    let mut put = |k: &str, v: Value, keep: bool| {
        if keep {
            e.insert(k.into(), v);
        }
    };
    put("linkName", h.link.clone().into(), !h.link.is_empty());
    put("mode", h.mode.into(), h.mode != 0);
    put("size", h.size.into(), h.size != 0);
    put("uid", h.uid.into(), h.uid != 0);
    put("gid", h.gid.into(), h.gid != 0);
    put("modtime", go_time(h.mtime)?.into(), true);
    if let Some(t) = h.atime {
        put("accesstime", go_time(t)?.into(), true);
    }
    if let Some(t) = h.ctime {
        put("changetime", go_time(t)?.into(), true);
    }
    put("devMajor", h.devmajor.into(), h.devmajor != 0);
    put("devMinor", h.devminor.into(), h.devminor != 0);
    if !h.xattrs.is_empty() {
        let x: Map<String, Value> = h.xattrs.iter().map(|(k, v)| (k.clone(), B64.encode(v).into())).collect();
        put("xattrs", x.into(), true);
    }
    let Some((digest, start, end, chunks)) = digest else { return Ok(vec![e.into()]) };
    e.insert("digest".into(), digest.into());
    e.insert("offset".into(), start.into());
    e.insert("endOffset".into(), end.into());
    let mut out = vec![e];
    if chunks.len() > 1 {
        for _ in &chunks[1..] {
            let mut x = Map::new();
            x.insert("type".into(), "chunk".into());
            x.insert("name".into(), h.name.clone().into());
            out.push(x);
        }
        for (entry, c) in out.iter_mut().zip(&chunks) {
            // Re-inserted so the keys keep Go's order after `endOffset`.
            entry.insert("offset".into(), c.offset.into());
            entry.insert("chunkSize".into(), c.size.into());
            if c.file_offset != 0 {
                entry.insert("chunkOffset".into(), c.file_offset.into());
            }
            entry.insert("chunkDigest".into(), c.digest.clone().into());
            if c.zeros {
                entry.insert("chunkType".into(), "zeros".into());
            }
        }
    }
    Ok(out.into_iter().map(Value::Object).collect())
}

fn skippable<W: Write>(out: &mut W, data: &[u8]) -> io::Result<()> {
    out.write_all(&SKIPPABLE_MAGIC)?;
    out.write_all(&(u32::try_from(data.len()).map_err(|_| bad("metadata too large"))?).to_le_bytes())?;
    out.write_all(data)
}

/// Encodes the tar `input` as zstd:chunked into `out` at `level`; returns
/// the writer and the layer's annotations.
pub fn encode<R: Read, W: Write>(input: R, out: W, level: i32) -> io::Result<(W, Vec<(String, String)>)> {
    let mut tar = Tar::new(input);
    let mut frames = Frames::new(out, level)?;
    let mut split = TarSplit::new(zstd::stream::write::Encoder::new(Counting { inner: Vec::new(), count: 0 }, level)?);
    let mut entries: Vec<Value> = Vec::new();
    while let Some(h) = tar.next_header()? {
        let kind = h.kind()?;
        let raw = tar.take_raw();
        frames.write(&raw)?;
        split.segment(&raw)?;
        let data = h.data_size()?;
        let mut crc = CRC64.digest();
        let contents = match data {
            0 => None,
            n => Some(payload(&mut tar, &mut frames, n, &mut crc)?),
        };
        split.file(&h.name, data, (data > 0).then(|| crc.finalize()))?;
        entries.extend(toc_entries(&h, kind, contents)?);
    }
    tar.rest(|raw| {
        frames.write(raw)?;
        split.segment(raw)
    })?;
    let mut out = frames.finish()?;

    let uncompressed_split = split.uncompressed;
    let split_bytes = split.out.finish()?.inner;
    let mut split_digest = Context::new(&SHA256);
    split_digest.update(&split_bytes);
    let mut toc = Map::new();
    toc.insert("version".into(), 1.into());
    toc.insert("entries".into(), entries.into());
    toc.insert("tarSplitDigest".into(), sha256_hex(split_digest).into());
    let toc = serde_json::to_vec(&Value::Object(toc))?;
    let compressed_toc = zstd::bulk::compress(&toc, level)?;
    let mut toc_digest = Context::new(&SHA256);
    toc_digest.update(&compressed_toc);

    let toc_offset = out.count + 8;
    skippable(&mut out, &compressed_toc)?;
    let split_offset = toc_offset + compressed_toc.len() as u64 + 8;
    skippable(&mut out, &split_bytes)?;
    let mut footer = Vec::with_capacity(64);
    for v in [
        toc_offset,
        compressed_toc.len() as u64,
        toc.len() as u64,
        1,
        split_offset,
        split_bytes.len() as u64,
        uncompressed_split,
    ] {
        footer.extend_from_slice(&v.to_le_bytes());
    }
    footer.extend_from_slice(FOOTER_MAGIC);
    skippable(&mut out, &footer)?;
    let annotations = vec![
        ("io.github.containers.zstd-chunked.manifest-checksum".to_owned(), sha256_hex(toc_digest)),
        (
            "io.github.containers.zstd-chunked.manifest-position".to_owned(),
            format!("{toc_offset}:{}:{}:1", compressed_toc.len(), toc.len()),
        ),
        (
            "io.github.containers.zstd-chunked.tarsplit-position".to_owned(),
            format!("{split_offset}:{}:{uncompressed_split}", split_bytes.len()),
        ),
    ];
    Ok((out.inner, annotations))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(1_700_000_000);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn decode(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        zstd::stream::read::Decoder::new(bytes).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn a_layer_decodes_to_its_tar_and_names_its_table_of_contents() {
        let big: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let tar = tar_of(&[("a.txt", b"hello\n"), ("empty", b""), ("big.bin", &big)]);
        let (out, annotations) = encode(tar.as_slice(), Vec::new(), 3).unwrap();
        assert!(decode(&out) == tar, "plain zstd gives the tar back");
        let names: Vec<&str> = annotations.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.iter().all(|n| n.starts_with("io.github.containers.zstd-chunked.")));
        assert_eq!(&out[out.len() - 8..], FOOTER_MAGIC);
    }

    #[test]
    fn hostile_tars_are_refused() {
        // A PAX entry claiming more than Go's 1 MiB for metadata.
        let mut pax = tar::Header::new_ustar();
        pax.set_entry_type(tar::EntryType::XHeader);
        pax.set_size(2 << 20);
        pax.set_cksum();
        let mut big_pax = pax.as_bytes().to_vec();
        big_pax.resize(512 + (2 << 20), b'a');
        let e = encode(big_pax.as_slice(), Vec::new(), 3).unwrap_err();
        assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
        // A file cut short.
        let tar = tar_of(&[("a", &[7u8; 4000])]);
        let e = encode(&tar[..2000], Vec::new(), 3).unwrap_err();
        assert!(e.to_string().contains("ends in the middle"), "{e}");
        // A header whose checksum is wrong.
        let mut bad_sum = tar_of(&[("a", b"x")]);
        bad_sum[0] = b'b';
        assert!(encode(bad_sum.as_slice(), Vec::new(), 3).unwrap_err().to_string().contains("checksum"));
        // A PAX global header, which Go's compressor cannot describe either.
        let mut g = tar::Header::new_ustar();
        g.set_entry_type(tar::EntryType::XGlobalHeader);
        g.set_size(0);
        g.set_cksum();
        let mut global = g.as_bytes().to_vec();
        global.extend_from_slice(&[0; 1024]);
        assert!(encode(global.as_slice(), Vec::new(), 3).unwrap_err().to_string().contains("103"));
    }

    #[test]
    fn times_print_as_go_prints_them() {
        assert_eq!(go_time((1_700_000_000, 0)).unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(go_time((1_700_000_000, 250_000_000)).unwrap(), "2023-11-14T22:13:20.25Z");
    }
}
