//! Re-encoding a layer file (gzip ↔ zstd ↔ none) for `copy`'s compression
//! options: streamed file to file on the blocking pool, the output hashed as
//! it is written so the core can name it by digest, and the uncompressed tar
//! in between hashed too (its diff ID, which the core checks).

use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use ring::digest::{Context, SHA256, SHA512};

use crate::runtime::wit::{BlobSource, Codec, HashAlgorithm, Recompress, Recompressed, Reply};

/// Hashes and counts what passes to the inner writer.
struct Hashing<W> {
    inner: W,
    hash: Context,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes what is read through it.
struct HashingReader<R> {
    inner: R,
    hash: Context,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

pub(super) fn hex(d: ring::digest::Digest) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The input's bytes: a whole file, or a member of an archive.
pub(super) fn open_input(source: &BlobSource) -> std::io::Result<Box<dyn Read>> {
    match source {
        BlobSource::File(path) => Ok(Box::new(std::fs::File::open(path)?)),
        BlobSource::FileRange(r) => {
            let mut f = std::fs::File::open(&r.path)?;
            f.seek(SeekFrom::Start(r.offset))?;
            Ok(Box::new(f.take(r.length)))
        }
        BlobSource::Http(_) => Err(std::io::Error::other("recompression reads local files only")),
    }
}

pub(super) fn input_name(source: &BlobSource) -> &str {
    match source {
        BlobSource::File(path) => path,
        BlobSource::FileRange(r) => &r.path,
        BlobSource::Http(h) => &h.request.url,
    }
}

fn run(r: &Recompress) -> std::io::Result<Recompressed> {
    let input = BufReader::new(open_input(&r.input)?);
    let decoded: Box<dyn Read> = match r.from {
        Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Codec::Zstd | Codec::ZstdChunked => Box::new(zstd::stream::read::Decoder::new(input)?),
        Codec::None => Box::new(input),
    };
    let mut decoded = HashingReader { inner: decoded, hash: Context::new(&SHA256) };
    let (hash, name) = match r.algorithm {
        HashAlgorithm::Sha256 => (Context::new(&SHA256), "sha256"),
        HashAlgorithm::Sha512 => (Context::new(&SHA512), "sha512"),
    };
    let out = Hashing { inner: BufWriter::new(std::fs::File::create(&r.output)?), hash, size: 0 };
    // The level was checked by the core against the codec's scale.
    let mut annotations = Vec::new();
    let mut out = match r.to {
        Codec::Gzip => {
            let level = u32::try_from(r.level).map_err(|_| std::io::Error::other("negative gzip level"))?;
            let mut e = flate2::write::GzEncoder::new(out, flate2::Compression::new(level));
            std::io::copy(&mut decoded, &mut e)?;
            e.finish()?
        }
        Codec::Zstd => {
            let mut e = zstd::stream::write::Encoder::new(out, r.level)?;
            std::io::copy(&mut decoded, &mut e)?;
            e.finish()?
        }
        Codec::ZstdChunked => {
            let (o, a) = super::zstd_chunked::encode(&mut decoded, out, r.level)?;
            annotations = a;
            o
        }
        Codec::None => {
            let mut o = out;
            std::io::copy(&mut decoded, &mut o)?;
            o
        }
    };
    out.flush()?;
    Ok(Recompressed {
        digest: format!("{name}:{}", hex(out.hash.finish())),
        size: out.size,
        diff_id: format!("sha256:{}", hex(decoded.hash.finish())),
        annotations,
    })
}

pub async fn recompress(r: Recompress) -> Reply {
    let what = format!("re-encoding {}", input_name(&r.input));
    super::blocking_job(what, move || run(&r).map(Reply::Recompressed)).await
}
