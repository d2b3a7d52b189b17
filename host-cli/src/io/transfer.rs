//! Blob transfers: bytes stream from a registry or a file into a file or an
//! upload, hashed on the way (ring's SHA-2, with the CPU's vector
//! instructions), never held whole in memory. The core chose the algorithm
//! and compares the digest this reports before it commits anything.

use bytes_stream::Chunks;
use futures_util::stream;
use ring::digest::{Context, SHA256, SHA512};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::failed;
use super::http::{Http, read_bounded};
use crate::runtime::wit::{BlobSink, BlobSource, HashAlgorithm, IoErrorKind, Reply, Transfer, Transferred};

/// Chunk size for file reads: large enough that per-chunk costs vanish.
const FILE_CHUNK: usize = 256 << 10;
/// Error bodies of a refused source or an upload's answer.
const MAX_ANSWER: u64 = 1 << 20;

mod bytes_stream {
    use bytes::{Bytes, BytesMut};
    use tokio::io::AsyncReadExt;

    use super::FILE_CHUNK;

    /// The bytes of a blob, chunk by chunk, from whichever source.
    pub enum Chunks {
        Http(reqwest::Response),
        File(tokio::fs::File),
        /// A member of an archive: a window of a file.
        Range(tokio::io::Take<tokio::fs::File>),
    }

    async fn read_chunk(f: &mut (impl tokio::io::AsyncRead + Unpin)) -> Result<Option<Bytes>, String> {
        let mut buf = BytesMut::with_capacity(FILE_CHUNK);
        let n = f.read_buf(&mut buf).await.map_err(|e| e.to_string())?;
        Ok((n > 0).then(|| buf.freeze()))
    }

    impl Chunks {
        /// The next piece. An HTTP piece is copied out: it is a slice of the
        /// connection's read buffer, and an upload queueing it would keep
        /// that whole buffer alive (memory would grow with the queue).
        pub async fn next(&mut self) -> Result<Option<Bytes>, String> {
            match self {
                Chunks::Http(r) => r
                    .chunk()
                    .await
                    .map(|c| c.map(|b| Bytes::copy_from_slice(&b)))
                    .map_err(|e| super::super::http::chain(&e)),
                Chunks::File(f) => read_chunk(f).await,
                Chunks::Range(f) => read_chunk(f).await,
            }
        }
    }
}

/// Counts and hashes what passes, refusing more than the declared size.
struct Meter {
    hash: Context,
    algorithm: &'static str,
    size: u64,
    limit: Option<u64>,
    /// A terminal progress bar, advanced as bytes pass.
    bar: Option<indicatif::ProgressBar>,
}

impl Meter {
    fn new(a: HashAlgorithm, expected: i64) -> Self {
        let (hash, algorithm) = match a {
            HashAlgorithm::Sha256 => (Context::new(&SHA256), "sha256"),
            HashAlgorithm::Sha512 => (Context::new(&SHA512), "sha512"),
        };
        Meter { hash, algorithm, size: 0, limit: u64::try_from(expected).ok(), bar: None }
    }

    fn update(&mut self, chunk: &[u8]) -> Result<(), String> {
        self.size += chunk.len() as u64;
        if self.limit.is_some_and(|l| self.size > l) {
            return Err(format!("more bytes than the {} declared", self.limit.unwrap_or(0)));
        }
        self.hash.update(chunk);
        if let Some(b) = &self.bar {
            b.inc(chunk.len() as u64);
        }
        Ok(())
    }

    fn finish(self) -> (String, u64) {
        let d = self.hash.finish();
        let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        (format!("{}:{hex}", self.algorithm), self.size)
    }
}

async fn open_range(path: &str, offset: u64) -> std::io::Result<tokio::fs::File> {
    use tokio::io::AsyncSeekExt;
    let mut f = tokio::fs::File::open(path).await?;
    f.seek(std::io::SeekFrom::Start(offset)).await?;
    Ok(f)
}

fn ranged(r: &crate::runtime::wit::HttpRequest) -> bool {
    r.headers.iter().any(|h| h.name.eq_ignore_ascii_case("range"))
}

pub async fn transfer(http: &Http, t: Transfer, bar: Option<&indicatif::ProgressBar>) -> Reply {
    let mut chunks = match t.source {
        BlobSource::Http(r) => {
            let req = crate::runtime::wit::HttpRequest { max_body: MAX_ANSWER, ..r };
            match http.start(&req, None).await {
                // A ranged GET (a chunk of an upload) must answer with just that range.
                Ok(resp) if resp.status() == if ranged(&req) { 206 } else { 200 } => Chunks::Http(resp),
                Ok(resp) => return read_bounded(resp, &req).await,
                Err(reply) => return reply,
            }
        }
        BlobSource::FileRange(r) => match open_range(&r.path, r.offset).await {
            Ok(f) => Chunks::Range(f.take(r.length)),
            Err(e) => return failed(IoErrorKind::Other, format!("open {}: {e}", r.path)),
        },
        BlobSource::File(path) => match tokio::fs::File::open(&path).await {
            Ok(f) => Chunks::File(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return failed(IoErrorKind::NotFound, format!("open {path}: no such file"));
            }
            Err(e) => return failed(IoErrorKind::Other, format!("open {path}: {e}")),
        },
    };
    let mut meter = Meter::new(t.algorithm, t.expected_size);
    meter.bar = bar.cloned();
    match t.sink {
        BlobSink::File(path) => {
            let mut file = match tokio::fs::File::create(&path).await {
                Ok(f) => f,
                Err(e) => return failed(IoErrorKind::Other, format!("create {path}: {e}")),
            };
            loop {
                match chunks.next().await {
                    Ok(Some(c)) => {
                        if let Err(e) = meter.update(&c) {
                            return failed(IoErrorKind::TooLarge, format!("{}: {e}", t.label));
                        }
                        if let Err(e) = file.write_all(&c).await {
                            return failed(IoErrorKind::Other, format!("write {path}: {e}"));
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return failed(IoErrorKind::Other, format!("reading {}: {e}", t.label)),
                }
            }
            if let Err(e) = file.flush().await {
                return failed(IoErrorKind::Other, format!("write {path}: {e}"));
            }
            let (digest, size) = meter.finish();
            Reply::Transferred(Transferred { digest, size, response: None })
        }
        BlobSink::Http(r) => {
            // The upload's body is fed chunk by chunk. The meter is shared so
            // it can be read after the answer: the HTTP stack may stop
            // polling the body once it has sent Content-Length bytes.
            let shared = std::sync::Arc::new(std::sync::Mutex::new(meter));
            let in_stream = shared.clone();
            let label = t.label.clone();
            let body = stream::unfold(Some(chunks), move |state| {
                let (label, meter) = (label.clone(), in_stream.clone());
                async move {
                    let mut chunks = state?;
                    match chunks.next().await {
                        Ok(Some(c)) => match meter.lock().unwrap_or_else(|e| e.into_inner()).update(&c) {
                            Ok(()) => Some((Ok::<_, std::io::Error>(c), Some(chunks))),
                            Err(e) => Some((Err(std::io::Error::other(format!("{label}: {e}"))), None)),
                        },
                        Ok(None) => None,
                        Err(e) => Some((Err(std::io::Error::other(format!("reading {label}: {e}"))), None)),
                    }
                }
            });
            let req = crate::runtime::wit::HttpRequest { max_body: MAX_ANSWER, ..r };
            let resp = match http.start(&req, Some(reqwest::Body::wrap_stream(body))).await {
                Ok(resp) => resp,
                Err(reply) => return reply,
            };
            let answer = match read_bounded(resp, &req).await {
                Reply::Http(a) => a,
                other => return other,
            };
            let meter = match std::sync::Arc::try_unwrap(shared) {
                Ok(m) => m.into_inner().unwrap_or_else(|e| e.into_inner()),
                // The body stream is still alive: the server answered early.
                Err(_) => return Reply::Http(answer),
            };
            let (digest, size) = meter.finish();
            Reply::Transferred(Transferred { digest, size, response: Some(answer) })
        }
    }
}
