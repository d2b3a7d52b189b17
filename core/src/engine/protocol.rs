//! The requests a command makes of its host and the replies it accepts:
//! the Rust side of `wit/skiff.wit`'s `types` interface, whose comments say
//! exactly what a host must do for each one.

use crate::compression::Compression;
use crate::digest::Algorithm;

/// How to check a TLS server and identify to it (decided by the core from
/// `--tls-verify`, `--cert-dir` and certs.d).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsConfig {
    /// Accept any server certificate.
    pub insecure: bool,
    /// PEM files of extra certificate authorities.
    pub ca_files: Vec<String>,
    /// A client certificate and key, both PEM files.
    pub client_identity: Option<ClientIdentity>,
    /// `--tls-details`: TLS 1.3 only.
    pub min_tls13: bool,
    /// `--tls-details`: the TLS 1.2 cipher suites allowed (IANA names;
    /// TLS 1.3's are not restricted, as in Go). None: the defaults.
    pub cipher_suites: Option<Vec<String>>,
    /// `--tls-details`: the key-exchange groups allowed. None: the defaults.
    pub named_groups: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientIdentity {
    pub certificate: String,
    pub key: String,
}

/// An HTTP request the host sends exactly as given: no redirects followed,
/// no headers added beyond what its HTTP stack requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// `http://`, `https://` or `http+unix://<percent-encoded socket>/path`.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Refuse (with [`IoErrorKind::TooLarge`]) a response body longer than this.
    pub max_body: u64,
    pub tls: TlsConfig,
    /// Send it through this HTTP proxy (`CONNECT` for https), decided by
    /// the core from the environment as Go decides it.
    pub proxy: Option<String>,
    pub timeouts: Timeouts,
}

/// How long the host may wait, in milliseconds: for the connection, for
/// the answer's head, between two reads of its body, and for the whole of
/// an answer read in full (`total_ms`; a transfer's body has no bound but
/// the idle one). Decided by the core (defaults, or the user's flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeouts {
    pub connect_ms: u64,
    pub response_ms: u64,
    pub idle_ms: u64,
    pub total_ms: Option<u64>,
}

impl Default for Timeouts {
    /// Generous enough for a slow registry, short enough that nothing hangs.
    fn default() -> Self {
        Timeouts { connect_ms: 30_000, response_ms: 60_000, idle_ms: 60_000, total_ms: Some(300_000) }
    }
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
// One per transfer, moved to the host once: boxing the request would
// only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobSource {
    /// The body of this request's answer when its status is one of
    /// `accept`; any other answer is replied as [`Reply::Http`] (body
    /// bounded by `max_body`) and nothing moves.
    Http {
        request: HttpRequest,
        accept: Vec<u16>,
        /// Headers the answer must carry with exactly these values (names
        /// case-insensitive), or it is replied as [`Reply::Http`]: a
        /// resumed download's `Content-Range`.
        expect: Vec<(String, String)>,
    },
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

impl BlobSource {
    /// A GET whose 200 answer is the blob.
    pub fn get(request: HttpRequest) -> Self {
        BlobSource::Http { request, accept: vec![200], expect: Vec::new() }
    }
}

/// Where a blob's bytes go in a [`Transfer`] (large for the same reason).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobSink {
    /// Create or truncate this file.
    File { path: String },
    /// Send the bytes as this request's body; its `body` field is ignored.
    Http(HttpRequest),
    /// Write the bytes into the write end of this pipe (see
    /// [`Request::PipeOpen`]), leaving it open.
    Pipe(u32),
    /// Keep the first `offset` bytes of this file (hashed as if they had
    /// just been transferred; a shorter file is a failure), drop the rest,
    /// and write the bytes after them: a download resumed where it broke.
    FileFrom { path: String, offset: u64 },
    /// Only hash and count the bytes (a stored blob, checked before reuse).
    Discard,
}

/// Stream a blob from `source` to `sink` without holding it in memory,
/// hashing it with `algorithm` on the way. The core compares the digest the
/// host reports before it commits anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub source: BlobSource,
    pub sink: BlobSink,
    pub algorithm: Algorithm,
    /// The size the manifest declares, if known: the host reads no further.
    pub expected_size: Option<u64>,
    /// A short name for progress display (`blob sha256:…`).
    pub label: String,
}

/// Re-encode a layer: decode `input` (a file or a member of an archive)
/// with `from`, encode it with `to` at `level` into `output`, and reply
/// [`Reply::Recompressed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recompress {
    pub input: BlobSource,
    pub output: String,
    pub from: Compression,
    pub to: Compression,
    /// On the codec's own scale, already checked by the core.
    pub level: i32,
    pub algorithm: Algorithm,
}

/// Which way a [`Crypt`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptDirection {
    /// The input is plain, the output the ciphertext.
    Encrypt,
    /// The input is the ciphertext, the output plain.
    Decrypt,
}

/// AES-256-CTR over a file (ocicrypt's layer cipher): XOR `input` with the
/// key stream of `key` from the counter block `nonce` into `output`,
/// computing HMAC-SHA256 (keyed with `key`) of the ciphertext side; reply
/// [`Reply::Crypted`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypt {
    pub input: BlobSource,
    pub output: String,
    pub key: Vec<u8>,
    pub nonce: Vec<u8>,
    pub direction: CryptDirection,
    pub algorithm: Algorithm,
}

/// What a [`Crypt`] read and wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypted {
    pub input_digest: String,
    pub output_digest: String,
    pub size: u64,
    pub hmac: Vec<u8>,
}

/// How an [`ApplyLayer`] writes whiteouts (see the WIT's `whiteout-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteoutFormat {
    /// Carried out: the directory holds the whole file system (vfs).
    Apply,
    /// Kept as overlayfs reads them: 0:0 character devices and the opaque
    /// xattr (overlay's `diff/`).
    Overlay,
}

/// Unpack layer `input` (encoded with `from`) into the new directory
/// `root`, after copying `copy_from` into it, writing its tar-split to
/// `tar_split`; reply [`Reply::Applied`]. The WIT's `apply-layer` says
/// exactly how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyLayer {
    pub input: BlobSource,
    pub from: Compression,
    pub root: String,
    pub copy_from: Option<String>,
    pub whiteouts: WhiteoutFormat,
    pub tar_split: String,
}

/// What an [`ApplyLayer`] read and unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub input_digest: String,
    pub input_size: u64,
    pub diff_id: String,
    pub diff_size: u64,
    /// Distinct, ascending.
    pub uids: Vec<u32>,
    pub gids: Vec<u32>,
}

/// One piece of a [`Request::WriteStream`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamPiece {
    Bytes(Vec<u8>),
    /// The contents of this file, exactly `size` bytes long.
    File {
        path: String,
        size: u64,
    },
}

/// Something for the host to do.
// One request at a time crosses to the host and is moved out at once: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Http(HttpRequest),
    /// Read a whole file, refusing one longer than `max_bytes`.
    ReadFile {
        path: String,
        max_bytes: u64,
    },
    /// `length` bytes at `offset` of a file.
    ReadRange {
        path: String,
        offset: u64,
        length: u64,
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
    /// Where a command of many parts stands; no reply is expected.
    Progress(Progress),
    Transfer(Transfer),
    Recompress(Recompress),
    Crypt(Crypt),
    ApplyLayer(ApplyLayer),
    /// Create or truncate `path` with `data`.
    WriteFile {
        path: String,
        data: Vec<u8>,
    },
    /// Like `WriteFile`, readable by its owner only (0600; missing parent
    /// directories 0700): for files holding credentials.
    WritePrivateFile {
        path: String,
        data: Vec<u8>,
    },
    /// Write `pieces` in order into `path`, opened for writing (created,
    /// truncated if regular, written through if a pipe or device).
    WriteStream {
        path: String,
        pieces: Vec<StreamPiece>,
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
    /// Make a symbolic link at `path` to `target` (taken as it is).
    Symlink {
        target: String,
        path: String,
    },
    /// Remove a file (a leftover temporary, or an old image's file).
    RemoveFile {
        path: String,
    },
    /// Remove a directory and everything in it (a staging area of ours).
    RemoveDir {
        path: String,
    },
    /// The names in a directory.
    ListDir {
        path: String,
    },
    /// What a path is ([`Reply::FileInfo`]); a missing one is `Absent`.
    Stat {
        path: String,
    },
    /// The regular files of an (uncompressed) tar archive and where their
    /// bytes are; links and other entries are not listed.
    TarIndex {
        path: String,
    },
    /// Run `program` (looked up in PATH) with `args`, `stdin` as its
    /// input; its output read up to `max_output` bytes each.
    Run {
        program: String,
        args: Vec<String>,
        stdin: Vec<u8>,
        max_output: u64,
    },
    /// `length` bytes from the host's cryptographically secure random
    /// source: the core's only entropy (keys, salts, nonces).
    Random {
        length: u32,
    },
    /// `experimental-image-proxy`: the next packet from the client's
    /// socket ([`Reply::Data`]; empty when the client closed it).
    ProxyReceive,
    /// Send one packet to the client, with the read ends of `pipes` (in
    /// this order, in one `SCM_RIGHTS` message); the host then closes its
    /// copies of those read ends.
    ProxySend {
        message: Vec<u8>,
        pipes: Vec<u32>,
    },
    /// Create a pipe the core calls `id` (the host keeps both ends).
    PipeOpen {
        id: u32,
    },
    /// Write `data` into pipe `id`'s write end.
    PipeWrite {
        id: u32,
        data: Vec<u8>,
    },
    /// Close pipe `id`'s write end (the client then sees the end of the data).
    PipeClose {
        id: u32,
    },
    /// Take an exclusive advisory lock on directory `path` (an OCI layout
    /// whose `index.json` is about to change), waiting while another
    /// holder has it; the core calls this hold `id`.
    Lock {
        id: u32,
        path: String,
    },
    /// Release hold `id`.
    Unlock {
        id: u32,
    },
    /// Take containers/storage's lock on file `path` (a POSIX record lock
    /// over the whole file, for writing when `exclusive`), waiting while
    /// another process holds a conflicting one; the core calls this hold `id`.
    FileLock {
        id: u32,
        path: String,
        exclusive: bool,
    },
    /// Write `data` at the start of the file held under `id`, through the
    /// descriptor that holds the lock (containers/storage's last-writer token).
    TouchLock {
        id: u32,
        data: Vec<u8>,
    },
}

impl Request {
    /// Warnings and notes are shown, not answered.
    pub fn expects_reply(&self) -> bool {
        !matches!(self, Request::Warn { .. } | Request::Note { .. } | Request::Progress(_))
    }
}

/// A regular file inside a tar archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarMember {
    pub name: String,
    pub offset: u64,
    pub size: u64,
}

/// Where a command of many parts (the images of a sync) stands, for a host
/// that draws it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// This many parts in all.
    Total(u32),
    /// Part `index` has begun.
    Started { index: u32, label: String },
    /// Part `index` is over.
    Finished { index: u32, outcome: PartOutcome },
}

/// How a part ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartOutcome {
    Copied,
    Skipped,
    Failed,
}

/// Why the host could not carry out a request: facts from its network and
/// file layers; what they mean (retry, fall back, fail) is the core's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoErrorKind {
    /// The name did not resolve.
    Dns,
    /// Connection refused, host unreachable.
    Connect,
    /// The connection was reset or closed before a whole answer.
    Reset,
    /// A kept-alive connection closed before any of the answer came.
    Closed,
    /// The TLS handshake failed (certificate, or plain HTTP on the port).
    Tls,
    /// No answer in time.
    Timeout,
    /// The file does not exist.
    NotFound,
    PermissionDenied,
    /// The body or file was longer than allowed.
    TooLarge,
    Other,
}

impl IoErrorKind {
    /// A failure that may well not happen again: worth a retry.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            IoErrorKind::Dns | IoErrorKind::Connect | IoErrorKind::Reset | IoErrorKind::Closed | IoErrorKind::Timeout
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoError {
    pub kind: IoErrorKind,
    pub message: String,
}

/// What a path is, as [`Request::Stat`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Absent,
    Regular,
    Directory,
    Symlink,
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileInfo {
    /// The path itself (lstat).
    pub kind: FileKind,
    /// What it leads to (stat): the same as `kind` unless a symlink.
    pub target: FileKind,
    /// The size of what it leads to.
    pub size: u64,
    /// Its last modification, in nanoseconds since the Unix epoch (0: unknown).
    pub modified_ns: i64,
    /// Its permission bits (`st_mode & 0o7777`; 0: unknown).
    pub mode: u32,
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
    Crypted(Crypted),
    Applied(Applied),
    FileInfo(FileInfo),
    /// A `Run`'s exit status and output.
    Output(ProcessOutput),
    Failed(IoError),
}

/// How a program run for the core ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessOutput {
    /// The exit status (-1 when a signal ended it).
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// What a `Recompress` wrote, and the sha256 of the decoded bytes (its diff ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recompressed {
    pub digest: String,
    pub size: u64,
    pub diff_id: String,
    /// What the encoding says of itself in the layer's descriptor
    /// (zstd:chunked's table-of-contents position and checksum).
    pub annotations: Vec<(String, String)>,
}
