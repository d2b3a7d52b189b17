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

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};

use base64::Engine as _;
use ring::digest::{Context, SHA256};
use serde_json::{Map, Value};
use zstd::stream::raw::{Encoder, Operation as _};
use zstd::stream::zio::Writer;

use super::recompress::hex;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_GO_ISO);
const SKIPPABLE_MAGIC: [u8; 4] = [0x50, 0x2a, 0x4d, 0x18];
const FOOTER_MAGIC: &[u8; 8] = b"GNUlInUx";
/// `RollsumBits`: a chunk ends where the low 16 bits of the sum are all ones.
const ROLLSUM_BITS: u32 = 16;
/// `holesThreshold`: this many zeros in a row are a chunk of their own.
const HOLE_THRESHOLD: u64 = 1 << 10;

fn bad(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

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

/// The input tar, read block by block, with every byte consumed since the
/// last `take_raw` kept (headers, PAX records, padding).
struct Tar<R> {
    input: BufReader<R>,
    raw: Vec<u8>,
}

impl<R: Read> Tar<R> {
    /// Reads `n` bytes into the raw record; fewer at the end is an error.
    fn raw_bytes(&mut self, n: u64) -> io::Result<Vec<u8>> {
        let mut b = Vec::new();
        (&mut self.input).take(n).read_to_end(&mut b)?;
        if (b.len() as u64) < n {
            return Err(bad("the layer's tar ends in the middle of an entry"));
        }
        self.raw.extend_from_slice(&b);
        Ok(b)
    }

    /// The next 512-byte block; none at the very end of the input.
    fn block(&mut self) -> io::Result<Option<[u8; 512]>> {
        if self.input.fill_buf()?.is_empty() {
            return Ok(None);
        }
        let b = self.raw_bytes(512)?;
        Ok(Some(b.try_into().expect("512 bytes")))
    }
}

/// A tar number: octal (NUL/space padded), or base-256 when the high bit is set.
fn number(field: &[u8]) -> io::Result<i64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v: i64 = (field[0] & 0x7f) as i64;
        for &b in &field[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(b as i64))
                .ok_or_else(|| bad("a tar number overflows"))?;
        }
        return Ok(v);
    }
    let text = String::from_utf8_lossy(field);
    let t = text.trim_matches(|c: char| c == '\0' || c == ' ');
    if t.is_empty() {
        return Ok(0);
    }
    i64::from_str_radix(t, 8).map_err(|_| bad(format!("invalid tar header number {t:?}")))
}

fn text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// PAX records (`LEN KEY=VALUE\n`).
fn pax_records(data: &[u8], into: &mut BTreeMap<String, String>) -> io::Result<()> {
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest.iter().position(|&b| b == b' ').ok_or_else(|| bad("invalid PAX record"))?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|l| l.parse().ok())
            .filter(|&l| l > space && l <= rest.len())
            .ok_or_else(|| bad("invalid PAX record length"))?;
        let record = &rest[space + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(|| bad("invalid PAX record"))?;
        into.insert(
            String::from_utf8_lossy(&record[..eq]).into_owned(),
            String::from_utf8_lossy(&record[eq + 1..]).into_owned(),
        );
        rest = &rest[len..];
    }
    Ok(())
}

/// `seconds[.fraction]` of a PAX time record.
fn pax_time(v: &str) -> Option<(i64, u32)> {
    let (s, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = s.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let nanos: u32 = if digits.is_empty() { 0 } else { format!("{digits:0<9}").parse().ok()? };
    Some((secs, nanos))
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

/// `minimal.TarTypes`; others (sparse files, global headers…) make Go fail.
fn entry_type(flag: u8, name: &str) -> io::Result<&'static str> {
    Ok(match flag {
        b'0' => "reg",
        b'\0' if name.ends_with('/') => "dir",
        b'\0' => "reg",
        b'1' => "hardlink",
        b'2' => "symlink",
        b'3' => "char",
        b'4' => "block",
        b'5' => "dir",
        b'6' => "fifo",
        other => return Err(bad(format!("unknown tarball type: {other}"))),
    })
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

/// The tar-split being written: vbatts/tar-split's JSON lines, zstd-compressed.
struct TarSplit {
    out: zstd::stream::write::Encoder<'static, Counting<Vec<u8>>>,
    uncompressed: u64,
    position: u64,
}

impl TarSplit {
    fn line(&mut self, mut v: Map<String, Value>) -> io::Result<()> {
        v.insert("position".into(), self.position.into());
        self.position += 1;
        let mut line = serde_json::to_vec(&v)?;
        line.push(b'\n');
        self.uncompressed += line.len() as u64;
        self.out.write_all(&line)
    }

    fn segment(&mut self, raw: &[u8]) -> io::Result<()> {
        if raw.is_empty() {
            return Ok(());
        }
        let mut v = Map::new();
        v.insert("type".into(), 2.into());
        v.insert("payload".into(), B64.encode(raw).into());
        self.line(v)
    }

    fn file(&mut self, name: &str, size: u64, crc: Option<u64>) -> io::Result<()> {
        let mut v = Map::new();
        v.insert("type".into(), 1.into());
        v.insert("name".into(), name.into());
        if size > 0 {
            v.insert("size".into(), size.into());
        }
        if let Some(c) = crc {
            v.insert("payload".into(), B64.encode(c.to_be_bytes()).into());
        }
        self.line(v)
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

/// What a tar header and the PAX/GNU entries before it say of an entry.
struct Header {
    flag: u8,
    name: String,
    link: String,
    mode: i64,
    uid: i64,
    gid: i64,
    size: i64,
    mtime: (i64, u32),
    atime: Option<(i64, u32)>,
    ctime: Option<(i64, u32)>,
    devmajor: i64,
    devminor: i64,
    xattrs: Vec<(String, String)>,
}

fn header(
    b: &[u8; 512],
    pax: &BTreeMap<String, String>,
    long_name: Option<String>,
    long_link: Option<String>,
) -> io::Result<Header> {
    let stored: i64 = number(&b[148..156])?;
    let sum: i64 = b.iter().enumerate().map(|(i, &x)| if (148..156).contains(&i) { 32 } else { x as i64 }).sum();
    if stored != sum {
        return Err(bad("archive/tar: invalid tar header (checksum)"));
    }
    let ustar = &b[257..263] == b"ustar\0";
    let gnu = &b[257..265] == b"ustar  \0";
    let mut name = text(&b[0..100]);
    if ustar {
        let prefix = text(&b[345..500]);
        if !prefix.is_empty() {
            name = format!("{prefix}/{name}");
        }
    }
    let gnu_time = |f: &[u8]| -> io::Result<Option<(i64, u32)>> {
        Ok(match number(f)? {
            0 => None,
            t => Some((t, 0)),
        })
    };
    let (mut atime, mut ctime) = match gnu {
        true => (gnu_time(&b[345..357])?, gnu_time(&b[357..369])?),
        false => (None, None),
    };
    let mut h = Header {
        flag: b[156],
        name: long_name.unwrap_or(name),
        link: long_link.unwrap_or_else(|| text(&b[157..257])),
        mode: number(&b[100..108])?,
        uid: number(&b[108..116])?,
        gid: number(&b[116..124])?,
        size: number(&b[124..136])?,
        mtime: (number(&b[136..148])?, 0),
        atime: None,
        ctime: None,
        devmajor: number(&b[329..337])?,
        devminor: number(&b[337..345])?,
        xattrs: Vec::new(),
    };
    let int = |v: &str| v.parse::<i64>().map_err(|_| bad(format!("invalid PAX number {v:?}")));
    for (k, v) in pax {
        match k.as_str() {
            "path" => h.name = v.clone(),
            "linkpath" => h.link = v.clone(),
            "size" => h.size = int(v)?,
            "uid" => h.uid = int(v)?,
            "gid" => h.gid = int(v)?,
            "mtime" => h.mtime = pax_time(v).ok_or_else(|| bad("invalid PAX mtime"))?,
            "atime" => atime = pax_time(v),
            "ctime" => ctime = pax_time(v),
            _ => {
                if let Some(x) = k.strip_prefix("SCHILY.xattr.") {
                    h.xattrs.push((x.to_owned(), B64.encode(v.as_bytes())));
                }
                if k.starts_with("GNU.sparse.") {
                    return Err(bad("sparse files cannot be written as zstd:chunked"));
                }
            }
        }
    }
    h.atime = atime;
    h.ctime = ctime;
    if h.size < 0 {
        return Err(bad("a negative size in the layer's tar"));
    }
    Ok(h)
}

/// The TOC entries (`minimal.FileMetadata`, Go's field order, empty fields
/// left out) of one entry.
fn toc_entries(h: &Header, kind: &str, digest: Option<(String, u64, u64, Vec<Chunk>)>) -> io::Result<Vec<Value>> {
    let mut e = Map::new();
    e.insert("type".into(), kind.into());
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
        let x: Map<String, Value> = h.xattrs.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
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
    let mut tar = Tar { input: BufReader::with_capacity(256 << 10, input), raw: Vec::new() };
    let mut frames = Frames::new(out, level)?;
    let mut split = TarSplit {
        out: zstd::stream::write::Encoder::new(Counting { inner: Vec::new(), count: 0 }, level)?,
        uncompressed: 0,
        position: 0,
    };
    let mut entries: Vec<Value> = Vec::new();
    let mut padding = 0u64;
    let (mut pax, mut long_name, mut long_link) = (BTreeMap::new(), None, None);
    loop {
        tar.raw_bytes(padding)?;
        padding = 0;
        let Some(block) = tar.block()? else { break };
        if block.iter().all(|&b| b == 0) {
            break;
        }
        let size = u64::try_from(number(&block[124..136])?).map_err(|_| bad("a negative size in the layer's tar"))?;
        let pad = |n: u64| (512 - n % 512) % 512;
        match block[156] {
            b'x' | b'L' | b'K' => {
                // Go's `maxSpecialFileSize`: metadata entries are read into memory.
                if size > 1 << 20 {
                    return Err(bad("archive/tar: a PAX or GNU long-name entry larger than 1 MiB"));
                }
                let data = tar.raw_bytes(size)?;
                tar.raw_bytes(pad(size))?;
                match block[156] {
                    b'x' => pax_records(&data, &mut pax)?,
                    b'L' => long_name = Some(text(&data)),
                    _ => long_link = Some(text(&data)),
                }
                continue;
            }
            b'g' => return Err(bad("unknown tarball type: 103 (a PAX global header)")),
            _ => {}
        }
        let h = header(&block, &std::mem::take(&mut pax), long_name.take(), long_link.take())?;
        let kind = entry_type(h.flag, &h.name)?;
        let raw = std::mem::take(&mut tar.raw);
        frames.write(&raw)?;
        split.segment(&raw)?;
        let data = match kind {
            "reg" => h.size as u64,
            _ => 0,
        };
        let mut crc = CRC64.digest();
        let contents = match data {
            0 => None,
            n => Some(payload(&mut tar, &mut frames, n, &mut crc)?),
        };
        split.file(&h.name, data, (data > 0).then(|| crc.finalize()))?;
        entries.extend(toc_entries(&h, kind, contents)?);
        padding = pad(data);
    }
    // The end of the archive and whatever follows it, as it is.
    tar.input.read_to_end(&mut tar.raw)?;
    let raw = std::mem::take(&mut tar.raw);
    frames.write(&raw)?;
    split.segment(&raw)?;
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
    fn times_and_numbers_read_and_print_as_go_does() {
        assert_eq!(go_time((1_700_000_000, 0)).unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(go_time((1_700_000_000, 250_000_000)).unwrap(), "2023-11-14T22:13:20.25Z");
        assert_eq!(pax_time("1700000000.123456789"), Some((1_700_000_000, 123_456_789)));
        assert_eq!(pax_time("5.5"), Some((5, 500_000_000)));
        assert_eq!(number(b"0000644\0").unwrap(), 0o644);
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 1, 0]).unwrap(), 256, "base-256");
        assert!(number(b"9x\0").is_err());
    }
}
