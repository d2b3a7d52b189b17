//! The requests a command can make of its host, as futures that record the
//! request and resolve when the host reports its completion.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// An HTTP request the host should send exactly as given (no redirects
/// followed, no headers added beyond what its HTTP stack requires).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Refuse (with [`IoErrorKind::TooLarge`]) a response body longer than this.
    pub max_body: u64,
    /// Which of the host's TLS settings apply: 0 for a copy's source (and
    /// every other command), 1 for its destination (`--src-*`/`--dest-*`).
    pub tls_profile: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// Every header named `name`.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Where a blob's bytes come from in a [`Transfer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobSource {
    /// The body of this GET, if it answers 200; any other answer is replied
    /// as [`Reply::Http`] (body bounded by `max_body`) and nothing moves.
    Http(HttpRequest),
    File {
        path: String,
    },
    /// `length` bytes at `offset` in a file (a member of an archive).
    FileRange {
        path: String,
        offset: u64,
        length: u64,
    },
}

/// Where a blob's bytes go in a [`Transfer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobSink {
    /// Create or truncate this file.
    File { path: String },
    /// Send the bytes as this request's body; its `body` field is ignored.
    Http(HttpRequest),
}

/// Stream a blob from `source` to `sink` without holding it in memory,
/// hashing it with `algorithm` on the way. The core compares the digest the
/// host reports before it commits anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub source: BlobSource,
    pub sink: BlobSink,
    pub algorithm: crate::digest::Algorithm,
    /// The size the manifest declares (-1 if unknown): for progress, and the
    /// host stops reading past it.
    pub expected_size: i64,
    /// A short name for progress display (`blob sha256:…`).
    pub label: String,
}

/// Something for the host to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Http(HttpRequest),
    /// Read a whole file, refusing one longer than `max_bytes`.
    ReadFile {
        path: String,
        max_bytes: u64,
    },
    /// Report back after `millis` milliseconds (retry back-off).
    Wait {
        millis: u64,
    },
    /// Show a warning to the user; no reply is expected.
    Warn {
        message: String,
    },
    /// Show a progress line on stderr (unless quiet); no reply is expected.
    Note {
        message: String,
    },
    Transfer(Transfer),
    /// Create or truncate `path` with `data`.
    WriteFile {
        path: String,
        data: Vec<u8>,
    },
    /// Rename `from` to `to`, replacing `to` (the atomic commit of a write).
    Rename {
        from: String,
        to: String,
    },
    /// Create a directory and its parents.
    CreateDir {
        path: String,
    },
    /// Remove a file (a leftover temporary, or an old image's file).
    RemoveFile {
        path: String,
    },
    /// The names in a directory.
    ListDir {
        path: String,
    },
    /// `length` bytes at `offset` of a file.
    ReadRange {
        path: String,
        offset: u64,
        length: u64,
    },
    /// The regular files of an (uncompressed) tar archive and where their
    /// bytes are; links and other entries are not listed.
    TarIndex {
        path: String,
    },
    /// Write a tar of the files below `dir` (names relative to it) to `archive`.
    PackTar {
        dir: String,
        archive: String,
    },
    /// Write a tar of exactly `entries`, in order, with fixed metadata, so
    /// the same entries always give the same bytes.
    WriteTar {
        archive: String,
        entries: Vec<TarEntry>,
    },
    /// Re-encode a layer: decompress `input` (a file or a member of an
    /// archive; `from`: none, gzip or zstd), compress it (`to`, at `level`)
    /// into `output`, and reply `Recompressed` with the digest (`algorithm`)
    /// and size of what was written.
    Recompress {
        input: BlobSource,
        output: String,
        from: String,
        to: String,
        level: Option<i32>,
        algorithm: crate::digest::Algorithm,
    },
    /// Remove a directory and everything in it (a staging area of ours).
    RemoveDir {
        path: String,
    },
}

/// A regular file inside a tar archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarMember {
    pub name: String,
    pub offset: u64,
    pub size: u64,
}

/// Why the host could not carry out a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoErrorKind {
    /// Connection refused, reset, DNS failure.
    Connect,
    /// The TLS handshake failed (certificate, or plain HTTP on the port).
    Tls,
    /// No answer in time.
    Timeout,
    /// The file does not exist.
    NotFound,
    /// The body or file was longer than allowed.
    TooLarge,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoError {
    pub kind: IoErrorKind,
    pub message: String,
}

/// The host's report on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Http(HttpResponse),
    Data(Vec<u8>),
    /// A `Wait` has elapsed.
    Elapsed,
    /// A file-system request succeeded.
    Done,
    /// A `ListDir`'s names.
    Entries(Vec<String>),
    /// A `TarIndex`'s members.
    Members(Vec<TarMember>),
    /// A `Transfer` moved `size` bytes hashing to `digest`; for an HTTP sink,
    /// the server's answer.
    Transferred {
        digest: String,
        size: u64,
        response: Option<HttpResponse>,
    },
    Recompressed(Recompressed),
    Failed(IoError),
}

/// What a `Recompress` wrote, and the sha256 of the uncompressed tar (its diff ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recompressed {
    pub digest: String,
    pub size: u64,
    pub diff_id: String,
}

#[derive(Default)]
struct State {
    next_id: u64,
    outbox: VecDeque<(u64, Request)>,
    replies: HashMap<u64, Reply>,
    now_ms: u64,
}

/// The command's handle on its host. Cloning shares the same queues.
#[derive(Clone, Default)]
pub struct Io(Rc<RefCell<State>>);

impl std::fmt::Debug for Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Io")
    }
}

impl Io {
    pub(super) fn set_now(&self, now_ms: u64) {
        self.0.borrow_mut().now_ms = now_ms;
    }
    pub(super) fn complete(&self, id: u64, reply: Reply) {
        self.0.borrow_mut().replies.insert(id, reply);
    }
    pub(super) fn next_request(&self) -> Option<(u64, Request)> {
        self.0.borrow_mut().outbox.pop_front()
    }

    /// The host's clock at the last `handle` or `poll`, in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.0.borrow().now_ms
    }

    /// Asks the host to carry out `request`.
    pub fn perform(&self, request: Request) -> Pending {
        Pending { io: self.clone(), request: Some(request), id: None }
    }

    /// Carries out `request` and keeps the reply `pick` accepts; a failure,
    /// or a reply of another kind, is an error.
    async fn call<T>(&self, request: Request, pick: impl FnOnce(Reply) -> Result<T, Reply>) -> Result<T, IoError> {
        match self.perform(request).await {
            Reply::Failed(e) => Err(e),
            reply => pick(reply).map_err(unexpected),
        }
    }

    pub async fn http(&self, request: HttpRequest) -> Result<HttpResponse, IoError> {
        self.call(Request::Http(request), |r| if let Reply::Http(h) = r { Ok(h) } else { Err(r) }).await
    }

    pub async fn read_file(&self, path: String, max_bytes: u64) -> Result<Vec<u8>, IoError> {
        self.call(Request::ReadFile { path, max_bytes }, data).await
    }

    /// Queues a request that expects no reply.
    fn notify(&self, request: Request) {
        let mut state = self.0.borrow_mut();
        let id = state.next_id;
        state.next_id += 1;
        state.outbox.push_back((id, request));
    }

    /// Queues a warning for the user (skopeo's `logrus.Warnf`); nothing to await.
    pub fn warn(&self, message: String) {
        self.notify(Request::Warn { message });
    }

    /// Queues a progress line (`Copying blob …`); nothing to await.
    pub fn note(&self, message: String) {
        self.notify(Request::Note { message });
    }

    /// Streams a blob; returns the digest and size the host measured.
    pub async fn transfer(&self, t: Transfer) -> Result<Transferred, IoError> {
        self.call(Request::Transfer(t), |r| match r {
            Reply::Transferred { digest, size, response } => Ok(Transferred::Moved { digest, size, response }),
            Reply::Http(h) => Ok(Transferred::Refused(h)),
            other => Err(other),
        })
        .await
    }

    /// Re-encodes a layer file.
    pub async fn recompress(&self, request: Request) -> Result<Recompressed, IoError> {
        self.call(request, |r| if let Reply::Recompressed(r) = r { Ok(r) } else { Err(r) }).await
    }

    /// Carries out a file-system request that answers with `Done`.
    pub async fn fs(&self, request: Request) -> Result<(), IoError> {
        self.call(request, |r| if let Reply::Done = r { Ok(()) } else { Err(r) }).await
    }

    /// The regular files of a tar archive.
    pub async fn tar_index(&self, path: String) -> Result<Vec<TarMember>, IoError> {
        self.call(Request::TarIndex { path }, |r| if let Reply::Members(m) = r { Ok(m) } else { Err(r) }).await
    }

    /// `length` bytes at `offset` of a file.
    pub async fn read_range(&self, path: String, offset: u64, length: u64) -> Result<Vec<u8>, IoError> {
        self.call(Request::ReadRange { path, offset, length }, data).await
    }

    /// The names in a directory.
    pub async fn list_dir(&self, path: String) -> Result<Vec<String>, IoError> {
        self.call(Request::ListDir { path }, |r| if let Reply::Entries(e) = r { Ok(e) } else { Err(r) }).await
    }

    pub async fn sleep(&self, millis: u64) {
        let _ = self.perform(Request::Wait { millis }).await;
    }
}

/// One entry of a [`Request::WriteTar`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarEntry {
    /// `name` holding the bytes of the file at `path`.
    File { name: String, path: String },
    /// `name` holding `data`.
    Data { name: String, data: Vec<u8> },
    /// A symbolic link `name` → `target`.
    Symlink { name: String, target: String },
}

/// What became of a [`Transfer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transferred {
    Moved {
        digest: String,
        size: u64,
        response: Option<HttpResponse>,
    },
    /// The HTTP source did not answer 200; nothing was moved.
    Refused(HttpResponse),
}

/// Picks the bytes of a `Data` reply.
fn data(r: Reply) -> Result<Vec<u8>, Reply> {
    if let Reply::Data(d) = r { Ok(d) } else { Err(r) }
}

fn unexpected(reply: Reply) -> IoError {
    IoError { kind: IoErrorKind::Other, message: format!("host answered with the wrong kind of reply: {reply:?}") }
}

/// A request in flight; resolves to the host's reply.
pub struct Pending {
    io: Io,
    request: Option<Request>,
    id: Option<u64>,
}

impl Future for Pending {
    type Output = Reply;
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Reply> {
        let this = self.get_mut();
        let mut state = this.io.0.borrow_mut();
        match this.id {
            None => {
                let id = state.next_id;
                state.next_id += 1;
                let request = this.request.take().expect("request is sent once");
                state.outbox.push_back((id, request));
                this.id = Some(id);
                Poll::Pending
            }
            Some(id) => match state.replies.remove(&id) {
                Some(r) => Poll::Ready(r),
                None => Poll::Pending,
            },
        }
    }
}
