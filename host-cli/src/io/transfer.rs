//! Blob transfers: bytes stream from a registry or a file into a file or an
//! upload, hashed on the way (ring's SHA-2, with the CPU's vector
//! instructions), never held whole in memory. The core chose the algorithm
//! and compares the digest this reports before it commits anything.

use bytes_stream::Chunks;
use futures_util::stream;
use ring::digest::{Context, SHA256, SHA512};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::error::{describe_http, of_http, of_io};
use super::failed;
use super::http::{Http, read_bounded};
use crate::runtime::wit::{BlobSink, BlobSource, HashAlgorithm, IoErrorKind, Reply, Transfer, Transferred};

/// Chunk size for file reads: large enough that per-chunk costs vanish.
const FILE_CHUNK: usize = 256 << 10;

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

    async fn read_chunk(
        f: &mut (impl tokio::io::AsyncRead + Unpin),
    ) -> Result<Option<Bytes>, (crate::runtime::wit::IoErrorKind, String)> {
        let mut buf = BytesMut::with_capacity(FILE_CHUNK);
        let n = f.read_buf(&mut buf).await.map_err(|e| (super::of_io(&e), e.to_string()))?;
        Ok((n > 0).then(|| buf.freeze()))
    }

    impl Chunks {
        /// The next piece. An HTTP piece is copied out: it is a slice of the
        /// connection's read buffer, and an upload queueing it would keep
        /// that whole buffer alive (memory would grow with the queue).
        pub async fn next(&mut self) -> Result<Option<Bytes>, (crate::runtime::wit::IoErrorKind, String)> {
            match self {
                Chunks::Http(r) => r.chunk().await.map(|c| c.map(|b| Bytes::copy_from_slice(&b))).map_err(|e| {
                    let e = e.without_url();
                    (super::of_http(&e), super::describe_http(&e))
                }),
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
    fn new(a: HashAlgorithm, expected: Option<u64>) -> Self {
        let (hash, algorithm) = match a {
            HashAlgorithm::Sha256 => (Context::new(&SHA256), "sha256"),
            HashAlgorithm::Sha512 => (Context::new(&SHA512), "sha512"),
        };
        Meter { hash, algorithm, size: 0, limit: expected, bar: None }
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

pub async fn transfer(
    http: &Http,
    pipes: Option<&super::proxy::ProxyIo>,
    t: Transfer,
    bar: Option<&indicatif::ProgressBar>,
) -> Reply {
    // A window of a file must be there whole.
    let mut at_least = None;
    let chunks = match t.source {
        BlobSource::Http(s) => match http.start(&s.request, None).await {
            Ok(resp) if s.accept.contains(&resp.status().as_u16()) && carries(&resp, &s.expect) => Chunks::Http(resp),
            Ok(resp) => return read_bounded(resp, &s.request).await,
            Err(reply) => return reply,
        },
        BlobSource::FileRange(r) => match open_range(&r.path, r.offset).await {
            Ok(f) => {
                at_least = Some(r.length);
                Chunks::Range(f.take(r.length))
            }
            Err(e) => return failed(of_io(&e), format!("open {}: {e}", r.path)),
        },
        BlobSource::File(path) => match tokio::fs::File::open(&path).await {
            Ok(f) => Chunks::File(f),
            Err(e) => return failed(of_io(&e), format!("open {path}: {e}")),
        },
    };
    let mut meter = Meter::new(t.algorithm, t.expected_size);
    meter.bar = bar.cloned();
    match t.sink {
        BlobSink::File(path) => {
            let file = match tokio::fs::File::create(&path).await {
                Ok(f) => f,
                Err(e) => return failed(of_io(&e), format!("create {path}: {e}")),
            };
            write_chunks(file, &path, chunks, meter, at_least, &t.label).await
        }
        BlobSink::FileFrom(f) => {
            let file = match keep_prefix(&f.path, f.offset, &mut meter).await {
                Ok(file) => file,
                Err(e) => return failed(of_io(&e), format!("resume {}: {e}", f.path)),
            };
            write_chunks(file, &f.path, chunks, meter, at_least, &t.label).await
        }
        BlobSink::Discard => write_chunks(tokio::io::sink(), "nowhere", chunks, meter, at_least, &t.label).await,
        BlobSink::Pipe(id) => {
            let file = match pipes.map(|p| p.writer(id)) {
                Some(Ok(f)) => tokio::fs::File::from_std(f),
                Some(Err(e)) => return failed(IoErrorKind::Other, e),
                None => return failed(IoErrorKind::Other, "this command has no pipes"),
            };
            write_chunks(file, &format!("pipe {id}"), chunks, meter, at_least, &t.label).await
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
                        Err((_, e)) => Some((Err(std::io::Error::other(format!("reading {label}: {e}"))), None)),
                    }
                }
            });
            let resp = match http.start(&r, Some(reqwest::Body::wrap_stream(body))).await {
                Ok(resp) => resp,
                Err(reply) => return reply,
            };
            let answer = match read_bounded(resp, &r).await {
                Reply::Http(a) => a,
                other => return other,
            };
            let meter = match std::sync::Arc::try_unwrap(shared) {
                Ok(m) => m.into_inner().unwrap_or_else(|e| e.into_inner()),
                // The body stream is still alive: the server answered early.
                Err(_) => return Reply::Http(answer),
            };
            if at_least.is_some_and(|n| meter.size < n) {
                return failed(IoErrorKind::Other, format!("{}: the file ended early", t.label));
            }
            let (digest, size) = meter.finish();
            Reply::Transferred(Transferred { digest, size, response: Some(answer) })
        }
    }
}

/// Whether `resp` carries every header of `expect` with exactly its value.
fn carries(resp: &reqwest::Response, expect: &[crate::runtime::wit::Header]) -> bool {
    expect.iter().all(|h| resp.headers().get(&h.name).and_then(|v| v.to_str().ok()) == Some(h.value.as_str()))
}

/// `path` opened to carry on after its first `offset` bytes, which are fed
/// to `meter` (so its digest covers the whole file); anything after them is
/// dropped. A shorter file is an error.
async fn keep_prefix(path: &str, offset: u64, meter: &mut Meter) -> std::io::Result<tokio::fs::File> {
    use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
    let mut file = tokio::fs::OpenOptions::new().read(true).write(true).open(path).await?;
    let mut kept = (&mut file).take(offset);
    let mut buf = vec![0u8; 256 * 1024];
    let mut read = 0u64;
    loop {
        let n = kept.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        meter.update(&buf[..n]).map_err(std::io::Error::other)?;
        read += n as u64;
    }
    if read < offset {
        return Err(std::io::Error::other(format!("the file holds {read} bytes, fewer than {offset}")));
    }
    file.set_len(offset).await?;
    file.seek(std::io::SeekFrom::Start(offset)).await?;
    Ok(file)
}

/// Writes every chunk into `file` (a file or a pipe), metered.
async fn write_chunks(
    mut file: impl tokio::io::AsyncWrite + Unpin,
    path: &str,
    mut chunks: Chunks,
    mut meter: Meter,
    at_least: Option<u64>,
    label: &str,
) -> Reply {
    loop {
        match chunks.next().await {
            Ok(Some(c)) => {
                if let Err(e) = meter.update(&c) {
                    return failed(IoErrorKind::TooLarge, format!("{label}: {e}"));
                }
                if let Err(e) = file.write_all(&c).await {
                    return failed(of_io(&e), format!("write {path}: {e}"));
                }
            }
            Ok(None) => break,
            Err((kind, e)) => {
                // What arrived is on disk before the failure is reported:
                // a retry may carry on from the end of the file.
                let _ = file.flush().await;
                return failed(kind, format!("reading {label}: {e}"));
            }
        }
    }
    if let Err(e) = file.flush().await {
        return failed(of_io(&e), format!("write {path}: {e}"));
    }
    if at_least.is_some_and(|n| meter.size < n) {
        return failed(IoErrorKind::Other, format!("{label}: the file ended early"));
    }
    let (digest, size) = meter.finish();
    Reply::Transferred(Transferred { digest, size, response: None })
}
