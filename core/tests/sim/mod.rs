//! A simulated world for the core's registry protocol, in the style of
//! str0m's and quinn-proto's tests: hosts in memory answering HTTP, a
//! virtual clock that only moves when the core asks to wait (or by a fixed
//! latency per request), an in-memory file system, and a log of everything
//! the core asked for. An [`Operation`] is driven to the end synchronously;
//! nothing touches the network or the real clock.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};
use skiff_core::config::Environment;
use skiff_core::engine::{
    Applied, BlobSink, BlobSource, FileInfo, FileKind, HttpRequest, HttpResponse, IoError, IoErrorKind, Reply, Request,
    Transfer,
};
use skiff_core::{Action, Error, Operation};

/// Starts the command a JSON job describes, for a user with no home and no
/// configuration files (a test gives files, such as an `authfile`, in
/// [`Sim::files`]). The one place tests start operations, so that a change
/// of the job API is made here only.
pub fn start(job: &serde_json::Value) -> Operation {
    let env = Environment { scratch_dir: Some("/scratch".to_owned()), ..Environment::default() };
    skiff_core::job::Job::start_json(&job.to_string(), env)
}

pub fn sha256(data: &[u8]) -> String {
    let hex: String = Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

pub fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")))
}

/// A request as a host received it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub url: url::Url,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn path(&self) -> &str {
        self.url.path()
    }
    pub fn query(&self, name: &str) -> Option<String> {
        self.url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

/// An answer; `fail` makes the host report that kind of failure instead.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub fail: Option<IoErrorKind>,
    /// A transfer's body breaks off after this many bytes (a reset): the
    /// sink keeps what arrived and the host reports the failure.
    pub cut: Option<usize>,
}

impl Resp {
    pub fn status(status: u16) -> Self {
        Resp { status, headers: Vec::new(), body: Vec::new(), fail: None, cut: None }
    }
    pub fn cut_after(mut self, n: usize) -> Self {
        self.cut = Some(n);
        self
    }
    pub fn failure(kind: IoErrorKind) -> Self {
        Resp { fail: Some(kind), ..Resp::status(0) }
    }
    pub fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.to_owned(), v.into()));
        self
    }
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
    pub fn json(self, v: serde_json::Value) -> Self {
        self.header("Content-Type", "application/json").body(v.to_string())
    }
    /// A distribution-spec error envelope.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Resp::status(status).json(serde_json::json!({"errors": [{"code": code, "message": message}]}))
    }
    pub fn redirect(status: u16, location: &str) -> Self {
        Resp::status(status).header("Location", location)
    }
}

/// Something that answers HTTP at one origin.
pub trait Host {
    fn serve(&mut self, req: &Req, now_ms: u64) -> Resp;
}

impl<F: FnMut(&Req, u64) -> Resp> Host for F {
    fn serve(&mut self, req: &Req, now_ms: u64) -> Resp {
        self(req, now_ms)
    }
}

/// One HTTP exchange, as the log keeps it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at_ms: u64,
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body_len: usize,
    /// The body, when it was a small one (a token request's form).
    pub body: Vec<u8>,
    /// The answer's status (0: the host reported a failure).
    pub status: u16,
    /// Whether it was the source or sink of a transfer.
    pub transfer: bool,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn authorization(&self) -> Option<&str> {
        self.header("authorization")
    }
    pub fn origin(&self) -> String {
        url::Url::parse(&self.url).unwrap().origin().ascii_serialization()
    }
    /// `METHOD path?query` on its origin.
    pub fn line(&self) -> String {
        let u = url::Url::parse(&self.url).unwrap();
        match u.query() {
            Some(q) => format!("{} {}?{q}", self.method, u.path()),
            None => format!("{} {}", self.method, u.path()),
        }
    }
}

/// The world an operation runs in.
pub struct Sim {
    pub now_ms: u64,
    /// Virtual time every HTTP exchange takes.
    pub latency_ms: u64,
    hosts: BTreeMap<String, Rc<RefCell<dyn Host>>>,
    pub log: Vec<Seen>,
    /// Every `Wait` asked for, in order.
    pub waits: Vec<u64>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    pub files: BTreeMap<String, Vec<u8>>,
    /// Actions after which a run is declared stuck in a loop.
    pub max_steps: usize,
    /// Where the transfer being served breaks off (from its answer's `cut`).
    cut: Option<usize>,
    /// Requests carried out so far (those that expect a reply).
    pub performed: usize,
    /// Fault injection: the request with this number (from 0) fails, as a
    /// reset connection for network requests and an I/O error for files.
    pub fail_request: Option<usize>,
    /// Directory locks held, by id.
    pub locks: BTreeMap<u32, String>,
    /// Every request the core made, in order.
    pub requests: Vec<Request>,
}

impl Default for Sim {
    fn default() -> Self {
        Sim {
            // 2023-11-14T22:13:20Z: a plausible wall clock.
            now_ms: 1_700_000_000_000,
            latency_ms: 0,
            hosts: BTreeMap::new(),
            log: Vec::new(),
            waits: Vec::new(),
            warnings: Vec::new(),
            notes: Vec::new(),
            files: BTreeMap::new(),
            max_steps: 20_000,
            cut: None,
            performed: 0,
            fail_request: None,
            locks: BTreeMap::new(),
            requests: Vec::new(),
        }
    }
}

impl Sim {
    /// Serves `origin` (`https://reg.test`) with `host`.
    pub fn host<H: Host + 'static>(&mut self, origin: &str, host: H) -> Rc<RefCell<H>> {
        let h = Rc::new(RefCell::new(host));
        self.hosts.insert(origin.to_owned(), h.clone());
        h
    }

    /// Serves `origin` with a host already shared with another origin.
    pub fn shared<H: Host + 'static>(&mut self, origin: &str, host: &Rc<RefCell<H>>) {
        self.hosts.insert(origin.to_owned(), host.clone());
    }

    /// Runs the job to its end: what it printed, or its error.
    pub fn run(&mut self, job: serde_json::Value) -> Result<String, Error> {
        let mut op = start(&job);
        for _ in 0..self.max_steps {
            match op.poll(self.now_ms) {
                Action::Perform { id, request } => {
                    if let Some(reply) = self.perform(request) {
                        op.handle(self.now_ms, id, reply);
                    }
                }
                Action::Done(out) => return Ok(String::from_utf8(out).expect("output is UTF-8")),
                Action::Failed(e) => return Err(e),
                Action::Idle => panic!("the operation waits for nothing: stuck"),
            }
        }
        panic!("no end after {} steps", self.max_steps)
    }

    /// Like [`Sim::run`], but a request is answered only once the operation
    /// waits: what it asked until then is one round of requests (a host
    /// carries a round out at once). Returns the outcome and the rounds.
    pub fn run_in_rounds(&mut self, job: serde_json::Value) -> (Result<String, Error>, Vec<Vec<Request>>) {
        let mut op = start(&job);
        let (mut rounds, mut round) = (Vec::new(), Vec::new());
        for _ in 0..self.max_steps {
            match op.poll(self.now_ms) {
                Action::Perform { id, request } => round.push((id, request)),
                Action::Done(out) => return (Ok(String::from_utf8(out).expect("output is UTF-8")), rounds),
                Action::Failed(e) => return (Err(e), rounds),
                Action::Idle => {
                    assert!(!round.is_empty(), "the operation waits for nothing: stuck");
                    let asked: Vec<(u64, Request)> = std::mem::take(&mut round);
                    rounds.push(asked.iter().map(|(_, r)| r.clone()).collect());
                    for (id, request) in asked {
                        if let Some(reply) = self.perform(request) {
                            op.handle(self.now_ms, id, reply);
                        }
                    }
                }
            }
        }
        panic!("no end after {} steps", self.max_steps)
    }

    /// The exchanges with `origin`.
    pub fn seen_at(&self, origin: &str) -> Vec<&Seen> {
        self.log.iter().filter(|s| s.origin() == origin).collect()
    }

    /// `METHOD path` of every exchange, in order.
    pub fn lines(&self) -> Vec<String> {
        self.log.iter().map(|s| format!("{} {}", s.origin(), s.line())).collect()
    }

    fn perform(&mut self, request: Request) -> Option<Reply> {
        self.requests.push(request.clone());
        if request.expects_reply() {
            self.performed += 1;
            if self.fail_request == Some(self.performed - 1) {
                let kind = match request {
                    Request::Http(_) | Request::Transfer(_) => IoErrorKind::Reset,
                    // Closing a descriptor releases its lock even when
                    // close reports an error.
                    Request::Unlock { id } => {
                        self.locks.remove(&id);
                        IoErrorKind::Other
                    }
                    _ => IoErrorKind::Other,
                };
                return Some(fail(kind, "injected fault"));
            }
        }
        Some(match request {
            Request::Http(r) => match self.http(&r, false, false) {
                Ok(resp) => Reply::Http(resp),
                Err(e) => Reply::Failed(e),
            },
            Request::Wait { millis } => {
                self.waits.push(millis);
                self.now_ms += millis;
                Reply::Elapsed
            }
            Request::Warn { message } => {
                self.warnings.push(message);
                return None;
            }
            Request::Note { message } => {
                self.notes.push(message);
                return None;
            }
            Request::Progress(_) => return None,
            Request::Transfer(t) => self.transfer(t),
            Request::ReadFile { path, max_bytes } => match self.files.get(&path) {
                Some(d) if d.len() as u64 > max_bytes => fail(IoErrorKind::TooLarge, &path),
                Some(d) => Reply::Data(d.clone()),
                None => fail(IoErrorKind::NotFound, &path),
            },
            Request::ReadRange { path, offset, length } => match self.files.get(&path) {
                Some(d) => Reply::Data(d.iter().skip(offset as usize).take(length as usize).copied().collect()),
                None => fail(IoErrorKind::NotFound, &path),
            },
            Request::ListDir { path } => {
                let prefix = format!("{}/", path.trim_end_matches('/'));
                let names: BTreeSet<String> = self
                    .files
                    .keys()
                    .filter_map(|k| k.strip_prefix(&prefix))
                    .map(|rest| rest.split('/').next().unwrap().to_owned())
                    .collect();
                if names.is_empty() {
                    fail(IoErrorKind::NotFound, &path)
                } else {
                    Reply::Entries(names.into_iter().collect())
                }
            }
            Request::WriteFile { path, data } | Request::WritePrivateFile { path, data } => {
                self.files.insert(path, data);
                Reply::Done
            }
            Request::RemoveDir { path } => {
                let prefix = format!("{}/", path.trim_end_matches('/'));
                self.files.retain(|k, _| !k.starts_with(&prefix));
                Reply::Done
            }
            Request::Symlink { target, path } => {
                self.files.insert(path, format!("-> {target}").into_bytes());
                Reply::Done
            }
            Request::Random { length } => Reply::Data((0..length).map(|i| (i * 7 + 3) as u8).collect()),
            // A layer "unpacked": its bytes as the layer directory's one
            // file, a tar-split naming them (plain layers only).
            Request::ApplyLayer(a) => {
                let BlobSource::File { path } = &a.input else { return Some(fail(IoErrorKind::Other, "input")) };
                let Some(data) = self.files.get(path).cloned() else { return Some(fail(IoErrorKind::NotFound, path)) };
                if a.from != skiff_core::compression::Compression::None {
                    return Some(fail(IoErrorKind::Other, "the simulation unpacks plain layers only"));
                }
                let size = data.len() as u64;
                self.files.insert(format!("{}/layer", a.root), data.clone());
                self.files.insert(a.tar_split, b"tar-split".to_vec());
                Reply::Applied(Applied {
                    input_digest: sha256(&data),
                    input_size: size,
                    diff_id: sha256(&data),
                    diff_size: size,
                    uids: vec![0],
                    gids: vec![0],
                })
            }
            Request::Rename { from, to } => match self.files.remove(&from) {
                Some(d) => {
                    self.files.insert(to, d);
                    Reply::Done
                }
                None => fail(IoErrorKind::NotFound, &from),
            },
            Request::CreateDir { .. } => Reply::Done,
            Request::Stat { path } => {
                let dir = format!("{}/", path.trim_end_matches('/'));
                let kind = match self.files.get(&path) {
                    Some(_) => FileKind::Regular,
                    None if self.files.keys().any(|k| k.starts_with(&dir)) => FileKind::Directory,
                    None => FileKind::Absent,
                };
                let size = self.files.get(&path).map_or(0, |d| d.len() as u64);
                Reply::FileInfo(FileInfo { kind, target: kind, size, modified_ns: 0, mode: 0o600 })
            }
            Request::RemoveFile { path } => match self.files.remove(&path) {
                Some(_) => Reply::Done,
                None => fail(IoErrorKind::NotFound, &path),
            },
            // One run at a time: a lock is never contended here, only
            // checked to be released.
            Request::Lock { id, path } => {
                assert!(self.locks.insert(id, path).is_none(), "lock id {id} taken twice");
                Reply::Done
            }
            Request::Unlock { id } => {
                assert!(self.locks.remove(&id).is_some(), "unlock of lock {id}, which is not held");
                Reply::Done
            }
            Request::FileLock { id, path, .. } => {
                assert!(self.locks.insert(id, path).is_none(), "lock id {id} taken twice");
                Reply::Done
            }
            Request::TouchLock { id, .. } => {
                assert!(self.locks.contains_key(&id), "touch of lock {id}, which is not held");
                Reply::Done
            }
            other => panic!("the simulation does not serve {other:?}"),
        })
    }

    /// Routes one request to its host, logging it.
    fn http(&mut self, r: &HttpRequest, transfer: bool, source: bool) -> Result<HttpResponse, IoError> {
        self.now_ms += self.latency_ms;
        let url = url::Url::parse(&r.url).unwrap_or_else(|e| panic!("the core sent an invalid URL {:?}: {e}", r.url));
        let origin = url.origin().ascii_serialization();
        let req = Req {
            method: r.method.clone(),
            url: url.clone(),
            headers: r.headers.clone(),
            body: r.body.clone().unwrap_or_default(),
        };
        let resp = match self.hosts.get(&origin).cloned() {
            Some(h) => h.borrow_mut().serve(&req, self.now_ms),
            None => Resp::failure(IoErrorKind::Connect),
        };
        self.log.push(Seen {
            at_ms: self.now_ms,
            method: r.method.clone(),
            url: r.url.clone(),
            headers: r.headers.clone(),
            body_len: req.body.len(),
            body: if req.body.len() <= 4096 { req.body.clone() } else { Vec::new() },
            status: resp.status,
            transfer,
        });
        if let Some(kind) = resp.fail {
            return Err(IoError { kind, message: format!("{} {}: simulated {kind:?}", r.method, r.url) });
        }
        // A transfer's source body is streamed, not bounded by `max_body`; any other is.
        let streamed = source && matches!(resp.status, 200 | 206);
        if r.method != "HEAD" && !streamed && resp.body.len() as u64 > r.max_body {
            return Err(IoError { kind: IoErrorKind::TooLarge, message: format!("{}: body too large", r.url) });
        }
        let body = if r.method == "HEAD" { Vec::new() } else { resp.body };
        if source {
            self.cut = resp.cut;
        }
        Ok(HttpResponse { status: resp.status, headers: resp.headers, body })
    }

    fn transfer(&mut self, t: Transfer) -> Reply {
        let data = match &t.source {
            BlobSource::Http { request: get, accept, expect } => match self.http(get, true, true) {
                // As the host: the body is the blob only with a status (and
                // headers) the core accepts.
                Ok(resp)
                    if accept.contains(&resp.status)
                        && expect.iter().all(|(k, v)| resp.header(k) == Some(v.as_str())) =>
                {
                    resp.body
                }
                Ok(resp) => return Reply::Http(resp),
                Err(e) => return Reply::Failed(e),
            },
            BlobSource::File { path } => match self.files.get(path) {
                Some(d) => d.clone(),
                None => return fail(IoErrorKind::NotFound, path),
            },
            BlobSource::FileRange { path, offset, length } => match self.files.get(path) {
                Some(d) => d.iter().skip(*offset as usize).take(*length as usize).copied().collect(),
                None => return fail(IoErrorKind::NotFound, path),
            },
        };
        // A body that breaks off: the file keeps what arrived.
        if let Some(n) = self.cut.take() {
            let part = data[..n.min(data.len())].to_vec();
            match t.sink {
                BlobSink::File { path } => {
                    self.files.insert(path, part);
                }
                BlobSink::FileFrom { path, offset } => {
                    let mut kept = self.files.get(&path).cloned().unwrap_or_default();
                    kept.truncate(offset as usize);
                    kept.extend(part);
                    self.files.insert(path, kept);
                }
                _ => {}
            }
            return fail(IoErrorKind::Reset, "blob body");
        }
        let (digest, size) = (sha256(&data), data.len() as u64);
        match t.sink {
            BlobSink::File { path } => {
                self.files.insert(path, data);
                Reply::Transferred { digest, size, response: None }
            }
            BlobSink::FileFrom { path, offset } => {
                let mut kept = match self.files.get(&path) {
                    Some(f) if f.len() as u64 >= offset => f[..offset as usize].to_vec(),
                    _ => return fail(IoErrorKind::Other, &format!("{path} is shorter than {offset} bytes")),
                };
                kept.extend(data);
                let (digest, size) = (sha256(&kept), kept.len() as u64);
                self.files.insert(path, kept);
                Reply::Transferred { digest, size, response: None }
            }
            BlobSink::Http(mut put) => {
                put.body = Some(data);
                match self.http(&put, true, false) {
                    Ok(resp) => Reply::Transferred { digest, size, response: Some(resp) },
                    Err(e) => Reply::Failed(e),
                }
            }
            BlobSink::Discard => Reply::Transferred { digest, size, response: None },
            // The simulator serves no image-proxy client.
            BlobSink::Pipe(id) => fail(IoErrorKind::Other, &format!("pipe {id}")),
        }
    }
}

fn fail(kind: IoErrorKind, what: &str) -> Reply {
    Reply::Failed(IoError { kind, message: format!("{what}: simulated {kind:?}") })
}

// ---------------------------------------------------------------------------
// A registry.

/// How a registry authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    Anonymous,
    Basic {
        user: String,
        pass: String,
    },
    /// Tokens from `realm` (a [`TokenServer`]), checked by their contents.
    Bearer {
        realm: String,
        service: String,
    },
}

/// A scripted answer: the next `times` requests `when` accepts get `answer`.
pub struct Script {
    pub when: Box<dyn Fn(&Req) -> bool>,
    pub times: usize,
    pub answer: Box<dyn Fn(&Req) -> Resp>,
}

#[derive(Debug, Clone, Default)]
pub struct Repo {
    /// Manifests by digest: bytes and media type.
    pub manifests: BTreeMap<String, (Vec<u8>, String)>,
    pub tags: BTreeMap<String, String>,
    pub blobs: BTreeSet<String>,
}

#[derive(Debug, Clone, Default)]
struct Upload {
    repo: String,
    data: Vec<u8>,
}

/// A registry in memory, answering the distribution spec.
pub struct Registry {
    pub auth: Auth,
    pub repos: BTreeMap<String, Repo>,
    pub blobs: BTreeMap<String, Vec<u8>>,
    pub scripts: Vec<Script>,
    /// Tags per page of a tag list (None: all at once).
    pub tags_page: Option<usize>,
    /// Refuse (413) a request body larger than this.
    pub max_body: Option<usize>,
    /// Blob GETs are redirected here (`https://cdn.test`).
    pub blob_redirect: Option<String>,
    pub mounts: bool,
    pub deletes: bool,
    /// Tokens numbered below this are refused (revoked).
    pub revoked_below: u64,
    /// How long past its expiry a token is still accepted (clock skew).
    pub token_leeway_ms: u64,
    uploads: BTreeMap<u64, Upload>,
    next_upload: u64,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            auth: Auth::Anonymous,
            repos: BTreeMap::new(),
            blobs: BTreeMap::new(),
            scripts: Vec::new(),
            tags_page: None,
            max_body: None,
            blob_redirect: None,
            mounts: true,
            deletes: true,
            revoked_below: 0,
            token_leeway_ms: 0,
            uploads: BTreeMap::new(),
            next_upload: 1,
        }
    }
}

/// A small image: a config and layers, and its manifest (Docker schema 2).
#[derive(Debug, Clone)]
pub struct Image {
    pub manifest: Vec<u8>,
    pub config: Vec<u8>,
    pub layers: Vec<Vec<u8>>,
}

impl Image {
    pub fn new(seed: &str, layer_sizes: &[usize]) -> Self {
        let layers: Vec<Vec<u8>> = layer_sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let mut data = Vec::with_capacity(n);
                let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed.len() as u64;
                while data.len() < n {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    data.push(x as u8);
                }
                data
            })
            .collect();
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux", "config": {"Labels": {"seed": seed}},
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| sha256(l)).collect::<Vec<_>>()},
        })
        .to_string()
        .into_bytes();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": sha256(&config)},
            "layers": layers.iter().map(|l| serde_json::json!({
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": l.len(), "digest": sha256(l),
            })).collect::<Vec<_>>(),
        })
        .to_string()
        .into_bytes();
        Image { manifest, config, layers }
    }

    pub fn digest(&self) -> String {
        sha256(&self.manifest)
    }
}

impl Registry {
    pub fn with_auth(auth: Auth) -> Self {
        Registry { auth, ..Registry::default() }
    }

    /// Stores `image` in `repo` under `tag`.
    pub fn push(&mut self, repo: &str, tag: &str, image: &Image) {
        let r = self.repos.entry(repo.to_owned()).or_default();
        let digest = image.digest();
        r.manifests.insert(digest.clone(), (image.manifest.clone(), MT_V2S2.to_owned()));
        r.tags.insert(tag.to_owned(), digest);
        for b in std::iter::once(&image.config).chain(&image.layers) {
            r.blobs.insert(sha256(b));
            self.blobs.insert(sha256(b), b.clone());
        }
    }

    /// Tags `repo` with `tags`, each naming a throwaway manifest.
    pub fn tags(&mut self, repo: &str, tags: &[&str]) {
        let r = self.repos.entry(repo.to_owned()).or_default();
        for t in tags {
            r.tags.insert((*t).to_owned(), sha256(t.as_bytes()));
        }
    }

    /// Answers the next `times` requests that `when` accepts with `answer`.
    pub fn script(
        &mut self,
        times: usize,
        when: impl Fn(&Req) -> bool + 'static,
        answer: impl Fn(&Req) -> Resp + 'static,
    ) {
        self.scripts.push(Script { when: Box::new(when), times, answer: Box::new(answer) });
    }

    fn challenge(&self, scope: Option<String>) -> Resp {
        let value = match &self.auth {
            Auth::Anonymous => unreachable!(),
            Auth::Basic { .. } => r#"Basic realm="sim""#.to_owned(),
            Auth::Bearer { realm, service } => {
                let scope = scope.map(|s| format!(r#",scope="{s}""#)).unwrap_or_default();
                format!(r#"Bearer realm="{realm}",service="{service}"{scope}"#)
            }
        };
        Resp::error(401, "UNAUTHORIZED", "authentication required").header("WWW-Authenticate", value)
    }

    /// Whether `req` may do `action` on `repo` (None: the `/v2/` root).
    fn authorized(&self, req: &Req, repo: Option<&str>, action: &str, now_ms: u64) -> bool {
        let given = req.header("authorization");
        match &self.auth {
            Auth::Anonymous => true,
            Auth::Basic { user, pass } => given == Some(basic(user, pass).as_str()),
            Auth::Bearer { .. } => {
                let Some(token) = given.and_then(|g| g.strip_prefix("Bearer ")) else { return false };
                let Some(t) = SimToken::parse(token) else { return false };
                if t.number < self.revoked_below || now_ms >= t.expires_at_ms + self.token_leeway_ms {
                    return false;
                }
                let Some(repo) = repo else { return true };
                t.scopes.iter().any(|s| {
                    s.strip_prefix("repository:").and_then(|s| s.rsplit_once(':')).is_some_and(|(name, actions)| {
                        name == repo && actions.split(',').any(|a| a == action || a == "*")
                    })
                })
            }
        }
    }

    fn route(&mut self, req: &Req, now_ms: u64) -> Resp {
        let path = req.path().to_owned();
        if path == "/v2/" {
            if !self.authorized(req, None, "", now_ms) {
                return self.challenge(None);
            }
            return Resp::status(200).json(serde_json::json!({}));
        }
        let Some(rest) = path.strip_prefix("/v2/") else { return Resp::status(404) };
        let (repo, kind, arg) = if let Some((repo, r)) = rest.rsplit_once("/manifests/") {
            (repo, "manifests", r)
        } else if let Some((repo, r)) = rest.split_once("/blobs/uploads/") {
            (repo, "uploads", r)
        } else if let Some((repo, r)) = rest.rsplit_once("/blobs/") {
            (repo, "blobs", r)
        } else if let Some(repo) = rest.strip_suffix("/tags/list") {
            (repo, "tags", "")
        } else {
            return Resp::status(404);
        };
        let (repo, arg) = (repo.to_owned(), arg.to_owned());
        let action = match req.method.as_str() {
            "GET" | "HEAD" => "pull",
            "DELETE" => "delete",
            _ => "push",
        };
        if !self.authorized(req, Some(&repo), action, now_ms) {
            let actions = if action == "pull" { "pull".to_owned() } else { "pull,push".to_owned() };
            return self.challenge(Some(format!("repository:{repo}:{actions}")));
        }
        let too_large = self.max_body.is_some_and(|m| req.body.len() > m);
        match (kind, req.method.as_str()) {
            ("manifests", "GET" | "HEAD") => {
                let Some(r) = self.repos.get(&repo) else {
                    return Resp::error(404, "NAME_UNKNOWN", "repository name not known to registry");
                };
                let digest = r.tags.get(&arg).cloned().unwrap_or(arg.clone());
                match r.manifests.get(&digest) {
                    Some((bytes, mt)) => Resp::status(200)
                        .header("Content-Type", mt.clone())
                        .header("Docker-Content-Digest", digest)
                        .header("Content-Length", bytes.len().to_string())
                        .body(bytes.clone()),
                    None => Resp::error(404, "MANIFEST_UNKNOWN", "manifest unknown"),
                }
            }
            ("manifests", "PUT") => {
                let digest = sha256(&req.body);
                let mt = req.header("content-type").unwrap_or_default().to_owned();
                let r = self.repos.entry(repo.clone()).or_default();
                r.manifests.insert(digest.clone(), (req.body.clone(), mt));
                if !arg.starts_with("sha256:") {
                    r.tags.insert(arg.clone(), digest.clone());
                }
                Resp::status(201)
                    .header("Docker-Content-Digest", digest.clone())
                    .header("Location", format!("/v2/{repo}/manifests/{digest}"))
            }
            ("manifests", "DELETE") => {
                if !self.deletes {
                    return Resp::error(405, "UNSUPPORTED", "The operation is unsupported.");
                }
                let Some(r) = self.repos.get_mut(&repo) else {
                    return Resp::error(404, "NAME_UNKNOWN", "repository name not known to registry");
                };
                if r.manifests.remove(&arg).is_none() {
                    return Resp::error(404, "MANIFEST_UNKNOWN", "manifest unknown");
                }
                r.tags.retain(|_, d| *d != arg);
                Resp::status(202)
            }
            ("blobs", "GET" | "HEAD") => {
                let known = self.repos.get(&repo).is_some_and(|r| r.blobs.contains(&arg));
                let Some(data) = self.blobs.get(&arg).filter(|_| known) else {
                    return Resp::error(404, "BLOB_UNKNOWN", "blob unknown to registry");
                };
                if let Some(cdn) = &self.blob_redirect {
                    return Resp::redirect(307, &format!("{cdn}/blobs/{arg}?sig=s3cret"));
                }
                serve_blob(req, data)
            }
            ("uploads", "POST") => {
                if let (Some(digest), Some(from)) = (req.query("mount"), req.query("from")) {
                    let there = self.repos.get(&from).is_some_and(|r| r.blobs.contains(&digest));
                    if self.mounts && there {
                        self.repos.entry(repo.clone()).or_default().blobs.insert(digest.clone());
                        return Resp::status(201).header("Location", format!("/v2/{repo}/blobs/{digest}"));
                    }
                }
                let id = self.next_upload;
                self.next_upload += 1;
                self.uploads.insert(id, Upload { repo: repo.clone(), data: Vec::new() });
                Resp::status(202)
                    .header("Location", format!("/v2/{repo}/blobs/uploads/{id}?_state=s{id}"))
                    .header("Range", "0-0")
                    .header("Docker-Upload-UUID", id.to_string())
            }
            ("uploads", "PATCH" | "PUT") => {
                if too_large {
                    return Resp::error(413, "SIZE_INVALID", "request entity too large");
                }
                let Some(up) = arg.parse().ok().and_then(|id: u64| self.uploads.get_mut(&id)) else {
                    return Resp::error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry");
                };
                if up.repo != repo {
                    return Resp::error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry");
                }
                if req.method == "PATCH" {
                    if let Some(range) = req.header("content-range") {
                        let start: usize = range.split('-').next().unwrap().parse().unwrap();
                        if start != up.data.len() {
                            return Resp::error(416, "BLOB_UPLOAD_INVALID", "range out of order");
                        }
                    }
                    up.data.extend_from_slice(&req.body);
                    let end = up.data.len().saturating_sub(1);
                    return Resp::status(202)
                        .header("Location", format!("/v2/{repo}/blobs/uploads/{arg}?_state=p{}", up.data.len()))
                        .header("Range", format!("0-{end}"));
                }
                up.data.extend_from_slice(&req.body);
                let data = up.data.clone();
                let expected = req.query("digest").unwrap_or_default();
                if sha256(&data) != expected {
                    return Resp::error(400, "DIGEST_INVALID", "provided digest did not match uploaded content");
                }
                self.uploads.remove(&arg.parse().unwrap());
                self.blobs.insert(expected.clone(), data);
                self.repos.entry(repo.clone()).or_default().blobs.insert(expected.clone());
                Resp::status(201)
                    .header("Docker-Content-Digest", expected.clone())
                    .header("Location", format!("/v2/{repo}/blobs/{expected}"))
            }
            ("tags", "GET") => {
                let Some(r) = self.repos.get(&repo) else {
                    return Resp::error(404, "NAME_UNKNOWN", "repository name not known to registry");
                };
                let last = req.query("last");
                let all: Vec<&String> = r.tags.keys().filter(|t| last.as_ref().is_none_or(|l| *t > l)).collect();
                let n = self.tags_page.unwrap_or(usize::MAX);
                let page: Vec<&String> = all.iter().take(n).copied().collect();
                let mut resp = Resp::status(200).json(serde_json::json!({"name": repo, "tags": page}));
                if all.len() > n {
                    let next = format!("/v2/{repo}/tags/list?n={n}&last={}", page.last().unwrap());
                    resp = resp.header("Link", format!("<{next}>; rel=\"next\""));
                }
                resp
            }
            _ => Resp::error(405, "UNSUPPORTED", "The operation is unsupported."),
        }
    }
}

impl Host for Registry {
    fn serve(&mut self, req: &Req, now_ms: u64) -> Resp {
        if let Some(s) = self.scripts.iter_mut().find(|s| s.times > 0 && (s.when)(req)) {
            s.times -= 1;
            return (s.answer)(req);
        }
        self.route(req, now_ms)
    }
}

pub const MT_V2S2: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A blob body, honouring `Range: bytes=a-b`.
fn serve_blob(req: &Req, data: &[u8]) -> Resp {
    if let Some(range) = req.header("range").and_then(|r| r.strip_prefix("bytes=")) {
        let (a, b) = range.split_once('-').unwrap();
        // `bytes=N-` runs to the end.
        let b = if b.is_empty() { data.len() - 1 } else { b.parse().unwrap() };
        let a: usize = a.parse().unwrap();
        let part = data[a..=b.min(data.len() - 1)].to_vec();
        return Resp::status(206).header("Content-Range", format!("bytes {a}-{b}/{}", data.len())).body(part);
    }
    Resp::status(200).header("Content-Length", data.len().to_string()).body(data.to_vec())
}

/// A CDN that serves the blobs of a registry it shares, at `/blobs/<digest>`,
/// to anyone with the signed query.
pub struct Cdn {
    pub registry: Rc<RefCell<Registry>>,
}

impl Host for Cdn {
    fn serve(&mut self, req: &Req, _now_ms: u64) -> Resp {
        let digest = req.path().strip_prefix("/blobs/").unwrap_or_default();
        match (req.query("sig").as_deref(), self.registry.borrow().blobs.get(digest)) {
            (Some("s3cret"), Some(data)) => serve_blob(req, data),
            (_, Some(_)) => Resp::status(403).body("<Error>AccessDenied</Error>"),
            _ => Resp::status(404),
        }
    }
}

// ---------------------------------------------------------------------------
// A token server.

/// What a simulated token says: `<number>.<expiry ms>.<scope> <scope>…`.
#[derive(Debug, Clone, PartialEq)]
pub struct SimToken {
    pub number: u64,
    pub expires_at_ms: u64,
    pub scopes: Vec<String>,
}

impl SimToken {
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.splitn(3, '.');
        let number = parts.next()?.parse().ok()?;
        let expires_at_ms = parts.next()?.parse().ok()?;
        let scopes = parts.next()?.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        Some(SimToken { number, expires_at_ms, scopes })
    }
}

/// A token endpoint (docker token auth): anonymous tokens for pulls, and
/// any scope for `user` with the right password.
pub struct TokenServer {
    pub user: Option<(String, String)>,
    /// Grant anonymous pulls.
    pub anonymous_pull: bool,
    /// `expires_in` of the answers (None: leave it out).
    pub expires_in: Option<u64>,
    /// Send `issued_at` too.
    pub issued_at: bool,
    pub issued: u64,
    /// Answer only the OAuth2 form (`POST`, the password grant); a `GET` is a 404.
    pub oauth_only: bool,
}

impl Default for TokenServer {
    fn default() -> Self {
        TokenServer {
            user: None,
            anonymous_pull: true,
            expires_in: Some(300),
            issued_at: false,
            issued: 0,
            oauth_only: false,
        }
    }
}

impl Host for TokenServer {
    fn serve(&mut self, req: &Req, now_ms: u64) -> Resp {
        // The fields of the request: the query of a GET, the form of a POST.
        let fields: Vec<(String, String)> = match req.method.as_str() {
            "GET" if self.oauth_only => return Resp::status(404),
            "GET" => req.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
            "POST" => url::form_urlencoded::parse(&req.body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
            _ => return Resp::status(405),
        };
        let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let user = if req.method == "POST" {
            match (&self.user, field("grant_type"), field("username"), field("password")) {
                (Some((u, p)), Some("password"), Some(gu), Some(gp)) if gu == u && gp == p => Some(u.clone()),
                _ => return Resp::status(400).json(serde_json::json!({"error": "invalid_grant"})),
            }
        } else {
            match (&self.user, req.header("authorization")) {
                (Some((u, p)), Some(g)) if g == basic(u, p) => Some(u.clone()),
                (_, Some(_)) => return Resp::error(401, "UNAUTHORIZED", "invalid username/password"),
                (_, None) => None,
            }
        };
        let mut scopes = Vec::new();
        for scope in fields.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.clone()) {
            let grant = match user {
                Some(_) => scope,
                None if self.anonymous_pull => match scope.rsplit_once(':') {
                    Some((name, actions)) if actions.split(',').any(|a| a == "pull") => format!("{name}:pull"),
                    _ => continue,
                },
                None => continue,
            };
            scopes.push(grant);
        }
        self.issued += 1;
        let lifetime_s = self.expires_in.unwrap_or(60).max(60);
        let token = format!("{}.{}.{}", self.issued, now_ms + lifetime_s * 1000, scopes.join(" "));
        // The OAuth2 answer names it `access_token`.
        let key = if req.method == "POST" { "access_token" } else { "token" };
        let mut body = serde_json::json!({key: token});
        if let Some(e) = self.expires_in {
            body["expires_in"] = e.into();
        }
        if self.issued_at {
            let t = time_rfc3339(now_ms);
            body["issued_at"] = t.into();
        }
        Resp::status(200).json(body)
    }
}

/// `now_ms` as RFC 3339 (UTC), without a date library.
pub fn time_rfc3339(now_ms: u64) -> String {
    let secs = now_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem / 60 % 60, rem % 60, now_ms % 1000)
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) for `ms`.
pub fn http_date(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][m as usize - 1];
    format!("{weekday}, {d:02} {month} {y} {:02}:{:02}:{:02} GMT", rem / 3600, rem / 60 % 60, rem % 60)
}

/// Howard Hinnant's days-to-civil.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}
