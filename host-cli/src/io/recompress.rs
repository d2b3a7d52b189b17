//! Re-encoding a layer file (gzip ↔ zstd ↔ none) for `copy`'s compression
//! options: streamed file to file on the blocking pool, the output hashed as
//! it is written so the core can name it by digest, and the uncompressed tar
//! in between hashed too (its diff ID, which the core checks).

use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use ring::digest::{Context, SHA256, SHA512};

use super::failed;
use crate::runtime::wit::{BlobSource, HashAlgorithm, IoErrorKind, Recompress, Recompressed, Reply};

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

fn hex(d: ring::digest::Digest) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The input's bytes: a whole file, or a member of an archive.
fn open_input(source: &BlobSource) -> std::io::Result<Box<dyn Read>> {
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

fn input_name(source: &BlobSource) -> &str {
    match source {
        BlobSource::File(path) => path,
        BlobSource::FileRange(r) => &r.path,
        BlobSource::Http(h) => &h.url,
    }
}

fn run(r: &Recompress) -> std::io::Result<Recompressed> {
    let input = BufReader::new(open_input(&r.input)?);
    let decoded: Box<dyn Read> = match r.from.as_str() {
        "gzip" => Box::new(flate2::read::MultiGzDecoder::new(input)),
        "zstd" => Box::new(zstd::stream::read::Decoder::new(input)?),
        _ => Box::new(input),
    };
    let mut decoded = HashingReader { inner: decoded, hash: Context::new(&SHA256) };
    let (hash, name) = match r.algorithm {
        HashAlgorithm::Sha256 => (Context::new(&SHA256), "sha256"),
        HashAlgorithm::Sha512 => (Context::new(&SHA512), "sha512"),
    };
    let out = Hashing { inner: BufWriter::new(std::fs::File::create(&r.output)?), hash, size: 0 };
    let mut out = match r.to.as_str() {
        "gzip" => {
            let level = r.level.map(|l| flate2::Compression::new(l.clamp(0, 9) as u32)).unwrap_or_default();
            let mut e = flate2::write::GzEncoder::new(out, level);
            std::io::copy(&mut decoded, &mut e)?;
            e.finish()?
        }
        "zstd" => {
            let mut e = zstd::stream::write::Encoder::new(out, r.level.unwrap_or(3))?;
            std::io::copy(&mut decoded, &mut e)?;
            e.finish()?
        }
        _ => {
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
    })
}

pub async fn recompress(r: Recompress) -> Reply {
    tokio::task::spawn_blocking(move || match run(&r) {
        Ok(r) => Reply::Recompressed(r),
        Err(e) => failed(IoErrorKind::Other, format!("{} ({} → {}): {e}", input_name(&r.input), r.from, r.to)),
    })
    .await
    .unwrap_or_else(|e| failed(IoErrorKind::Other, format!("recompression task failed: {e}")))
}
