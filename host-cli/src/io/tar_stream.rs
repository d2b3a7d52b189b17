//! A layer's tar read as Go's `archive/tar` reads it, every byte kept:
//! the headers, PAX and GNU records and padding between contents come out
//! raw (for a tar-split, which must re-create the tar exactly), and each
//! entry's header is parsed as Go parses it (PAX, GNU long names, USTAR
//! prefixes). Parsed by hand because no tar crate hands back the raw bytes
//! of an entry's headers. Shared by zstd:chunked's encoder and the layer
//! unpacker, which both write a tar-split ([`TarSplit`]) as they go.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};

use base64::Engine as _;
use serde_json::{Map, Value};

pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// The tar-split's file checksum: Go's `crc64.MakeTable(crc64.ISO)`.
pub const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_GO_ISO);

pub fn bad(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

/// What a tar header and the PAX/GNU entries before it say of an entry.
pub struct Header {
    pub flag: u8,
    pub name: String,
    pub link: String,
    pub mode: i64,
    pub uid: i64,
    pub gid: i64,
    pub size: i64,
    pub mtime: (i64, u32),
    pub atime: Option<(i64, u32)>,
    pub ctime: Option<(i64, u32)>,
    pub devmajor: i64,
    pub devminor: i64,
    /// `SCHILY.xattr.NAME` records: the name and the value's raw bytes.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// An entry's kind, as `minimal.TarTypes` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Regular,
    Directory,
    HardLink,
    Symlink,
    Char,
    Block,
    Fifo,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Regular => "reg",
            Kind::Directory => "dir",
            Kind::HardLink => "hardlink",
            Kind::Symlink => "symlink",
            Kind::Char => "char",
            Kind::Block => "block",
            Kind::Fifo => "fifo",
        }
    }
}

impl Header {
    /// Its kind; others (sparse files, global headers…) make Go fail.
    pub fn kind(&self) -> io::Result<Kind> {
        Ok(match self.flag {
            b'0' => Kind::Regular,
            b'\0' if self.name.ends_with('/') => Kind::Directory,
            b'\0' => Kind::Regular,
            b'1' => Kind::HardLink,
            b'2' => Kind::Symlink,
            b'3' => Kind::Char,
            b'4' => Kind::Block,
            b'5' => Kind::Directory,
            b'6' => Kind::Fifo,
            other => return Err(bad(format!("unknown tarball type: {other}"))),
        })
    }

    /// How many bytes of contents follow the header in the archive.
    pub fn data_size(&self) -> io::Result<u64> {
        Ok(match self.kind()? {
            Kind::Regular => self.size as u64,
            _ => 0,
        })
    }
}

/// The input tar, read block by block, with every byte consumed since the
/// last [`Tar::take_raw`] kept (headers, PAX records, padding).
pub struct Tar<R> {
    pub input: BufReader<R>,
    raw: Vec<u8>,
    /// The padding after the contents of the entry just read.
    padding: u64,
}

impl<R: Read> Tar<R> {
    pub fn new(input: R) -> Self {
        Tar { input: BufReader::with_capacity(256 << 10, input), raw: Vec::new(), padding: 0 }
    }

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

    /// The raw bytes read since the last call.
    pub fn take_raw(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.raw)
    }

    /// The next entry's header (the PAX and GNU entries before it read
    /// into it); none at the end of the archive. The caller then reads
    /// exactly [`Header::data_size`] bytes of contents from `input`.
    pub fn next_header(&mut self) -> io::Result<Option<Header>> {
        let padding = std::mem::take(&mut self.padding);
        self.raw_bytes(padding)?;
        let (mut pax, mut long_name, mut long_link) = (BTreeMap::new(), None, None);
        loop {
            let Some(block) = self.block()? else { return Ok(None) };
            if block.iter().all(|&b| b == 0) {
                return Ok(None);
            }
            let size =
                u64::try_from(number(&block[124..136])?).map_err(|_| bad("a negative size in the layer's tar"))?;
            match block[156] {
                b'x' | b'L' | b'K' => {
                    // Go's `maxSpecialFileSize`: metadata entries are read into memory.
                    if size > 1 << 20 {
                        return Err(bad("archive/tar: a PAX or GNU long-name entry larger than 1 MiB"));
                    }
                    let data = self.raw_bytes(size)?;
                    self.raw_bytes(pad(size))?;
                    match block[156] {
                        b'x' => pax_records(&data, &mut pax)?,
                        b'L' => long_name = Some(text(&data)),
                        _ => long_link = Some(text(&data)),
                    }
                }
                b'g' => return Err(bad("unknown tarball type: 103 (a PAX global header)")),
                _ => {
                    let h = header(&block, &pax, long_name, long_link)?;
                    self.padding = pad(h.data_size()?);
                    return Ok(Some(h));
                }
            }
        }
    }

    /// The end of the archive and whatever follows it, as it is, in
    /// pieces of 64 KiB (the raw bytes not yet taken first): one piece for
    /// any ordinary tar, and bounded memory for a hostile one.
    pub fn rest(&mut self, mut each: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        const PIECE: usize = 64 << 10;
        let mut piece = self.take_raw();
        loop {
            let have = piece.len();
            if have < PIECE {
                (&mut self.input).take((PIECE - have) as u64).read_to_end(&mut piece)?;
            }
            let full = piece.len() >= PIECE;
            if !piece.is_empty() {
                each(&piece)?;
            }
            if !full {
                return Ok(());
            }
            piece.clear();
        }
    }
}

/// The padding after `n` bytes of contents.
fn pad(n: u64) -> u64 {
    (512 - n % 512) % 512
}

/// A tar number: octal (NUL/space padded), or base-256 when the high bit is set.
pub fn number(field: &[u8]) -> io::Result<i64> {
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

/// PAX records (`LEN KEY=VALUE\n`), values as raw bytes.
fn pax_records(data: &[u8], into: &mut BTreeMap<String, Vec<u8>>) -> io::Result<()> {
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
        into.insert(String::from_utf8_lossy(&record[..eq]).into_owned(), record[eq + 1..].to_vec());
        rest = &rest[len..];
    }
    Ok(())
}

/// `seconds[.fraction]` of a PAX time record.
pub fn pax_time(v: &str) -> Option<(i64, u32)> {
    let (s, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = s.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let nanos: u32 = if digits.is_empty() { 0 } else { format!("{digits:0<9}").parse().ok()? };
    Some((secs, nanos))
}

fn header(
    b: &[u8; 512],
    pax: &BTreeMap<String, Vec<u8>>,
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
    for (k, raw) in pax {
        let v = String::from_utf8_lossy(raw);
        match k.as_str() {
            "path" => h.name = v.into_owned(),
            "linkpath" => h.link = v.into_owned(),
            "size" => h.size = int(&v)?,
            "uid" => h.uid = int(&v)?,
            "gid" => h.gid = int(&v)?,
            "mtime" => h.mtime = pax_time(&v).ok_or_else(|| bad("invalid PAX mtime"))?,
            "atime" => atime = pax_time(&v),
            "ctime" => ctime = pax_time(&v),
            _ => {
                if let Some(x) = k.strip_prefix("SCHILY.xattr.") {
                    h.xattrs.push((x.to_owned(), raw.clone()));
                }
                if k.starts_with("GNU.sparse.") {
                    return Err(bad("sparse files in a layer are not supported by skiff"));
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

/// A tar-split being written: vbatts/tar-split's JSON lines, into `out`
/// (a compressor).
pub struct TarSplit<W: Write> {
    pub out: W,
    /// The JSON's length before compression.
    pub uncompressed: u64,
    position: u64,
}

impl<W: Write> TarSplit<W> {
    pub fn new(out: W) -> Self {
        TarSplit { out, uncompressed: 0, position: 0 }
    }

    fn line(&mut self, mut v: Map<String, Value>) -> io::Result<()> {
        v.insert("position".into(), self.position.into());
        self.position += 1;
        let mut line = serde_json::to_vec(&v)?;
        line.push(b'\n');
        self.uncompressed += line.len() as u64;
        self.out.write_all(&line)
    }

    /// Raw bytes of the tar (headers, padding, the end).
    pub fn segment(&mut self, raw: &[u8]) -> io::Result<()> {
        if raw.is_empty() {
            return Ok(());
        }
        let mut v = Map::new();
        v.insert("type".into(), 2.into());
        v.insert("payload".into(), B64.encode(raw).into());
        self.line(v)
    }

    /// An entry, with the CRC-64 of its contents when it has any.
    pub fn file(&mut self, name: &str, size: u64, crc: Option<u64>) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_numbers_read_as_go_reads_them() {
        assert_eq!(pax_time("1700000000.123456789"), Some((1_700_000_000, 123_456_789)));
        assert_eq!(pax_time("5.5"), Some((5, 500_000_000)));
        assert_eq!(number(b"0000644\0").unwrap(), 0o644);
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 1, 0]).unwrap(), 256, "base-256");
        assert!(number(b"9x\0").is_err());
    }

    #[test]
    fn binary_xattr_values_are_kept_as_bytes() {
        let value = [1u8, 0, 0, 2, 0xff, 0, 0, 0];
        let mut record = b" SCHILY.xattr.security.capability=".to_vec();
        record.extend_from_slice(&value);
        record.push(b'\n');
        let len = record.len() + 2;
        let mut pax = format!("{len}").into_bytes();
        pax.extend_from_slice(&record);
        let mut map = BTreeMap::new();
        pax_records(&pax, &mut map).unwrap();
        assert_eq!(map["SCHILY.xattr.security.capability"], value);
    }
}
