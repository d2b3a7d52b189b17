//! What the fuzz targets share: an in-memory host that answers the core's
//! requests from the fuzzer's bytes (files, HTTP answers) and a driver
//! that runs a job to its end. A panic, a hang (the core waiting for
//! nothing) or an endless run is a finding; any error the core reports is
//! a correct outcome.

use std::collections::{BTreeMap, VecDeque};

use sha2::{Digest as _, Sha256};
use skiff_core::config::Environment;
use skiff_core::engine::{
    BlobSink, BlobSource, FileInfo, FileKind, HttpResponse, IoError, IoErrorKind, Reply, Request, TarMember,
};
use skiff_core::{Action, job::Job};

/// Requests after which a run is cut short (a registry may legitimately
/// keep a client busy, with pages of tags, for a long time).
const MAX_STEPS: usize = 5_000;

#[derive(Default)]
pub struct Host {
    pub files: BTreeMap<String, Vec<u8>>,
    /// The answers to HTTP requests, in order; then connections fail.
    pub answers: VecDeque<HttpResponse>,
    now_ms: u64,
}

/// Splits `data` at each `sep`.
pub fn split<'a>(data: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(i) = rest.windows(sep.len()).position(|w| w == sep) {
        out.push(&rest[..i]);
        rest = &rest[i + sep.len()..];
    }
    out.push(rest);
    out
}

/// An HTTP answer written as `STATUS\nName: value\n…\n\nbody`.
pub fn answer(text: &[u8]) -> HttpResponse {
    let (head, body) = match text.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&text[..i], &text[i + 2..]),
        None => (text, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.trim().parse().ok()).unwrap_or(200);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    HttpResponse { status, headers, body: body.to_vec() }
}

fn sha256(data: &[u8]) -> String {
    let hex: String = Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn fail(kind: IoErrorKind, message: &str) -> Reply {
    Reply::Failed(IoError { kind, message: message.to_owned() })
}

impl Host {
    /// Adds `data` as blob file `dir/<hex of its sha256>` and returns its digest.
    pub fn blob(&mut self, dir: &str, data: &[u8]) -> String {
        let d = sha256(data);
        self.files.insert(format!("{dir}/{}", &d[7..]), data.to_vec());
        d
    }

    /// Runs `job` to its end against this host.
    pub fn run(&mut self, job: &serde_json::Value, env: Environment) {
        let mut op = Job::start_json(&job.to_string(), env);
        for _ in 0..MAX_STEPS {
            match op.poll(self.now_ms) {
                Action::Perform { id, request } => {
                    let expects = request.expects_reply();
                    let reply = self.perform(request);
                    if expects {
                        op.handle(self.now_ms, id, reply);
                    }
                }
                Action::Done(_) | Action::Failed(_) => return,
                Action::Idle => panic!("the core waits for nothing"),
            }
        }
    }

    fn next_answer(&mut self) -> Result<HttpResponse, IoError> {
        self.answers.pop_front().ok_or(IoError { kind: IoErrorKind::Connect, message: "no more answers".into() })
    }

    fn is_dir(&self, path: &str) -> bool {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        self.files.range(prefix.clone()..).next().is_some_and(|(k, _)| k.starts_with(&prefix))
    }

    fn source(&mut self, source: &BlobSource) -> Result<Vec<u8>, Reply> {
        match source {
            BlobSource::Http { accept, .. } => match self.next_answer() {
                Ok(a) if accept.contains(&a.status) => Ok(a.body),
                Ok(a) => Err(Reply::Http(a)),
                Err(e) => Err(Reply::Failed(e)),
            },
            BlobSource::File { path } => self.files.get(path).cloned().ok_or_else(|| fail(IoErrorKind::NotFound, path)),
            BlobSource::FileRange { path, offset, length } => match self.files.get(path) {
                Some(d) => Ok(d.iter().skip(*offset as usize).take(*length as usize).copied().collect()),
                None => Err(fail(IoErrorKind::NotFound, path)),
            },
        }
    }

    fn perform(&mut self, request: Request) -> Reply {
        match request {
            Request::Http(_) => match self.next_answer() {
                Ok(a) => Reply::Http(a),
                Err(e) => Reply::Failed(e),
            },
            Request::Wait { millis } => {
                self.now_ms += millis;
                Reply::Elapsed
            }
            Request::ReadFile { path, max_bytes } => match self.files.get(&path) {
                Some(d) if d.len() as u64 > max_bytes => fail(IoErrorKind::TooLarge, &path),
                Some(d) => Reply::Data(d.clone()),
                None => fail(IoErrorKind::NotFound, &path),
            },
            Request::ReadRange { path, offset, length } => match self.files.get(&path) {
                Some(d) => Reply::Data(d.iter().skip(offset as usize).take(length as usize).copied().collect()),
                None => fail(IoErrorKind::NotFound, &path),
            },
            Request::Stat { path } => {
                let (kind, size) = match self.files.get(&path) {
                    Some(d) => (FileKind::Regular, d.len() as u64),
                    None if self.is_dir(&path) => (FileKind::Directory, 0),
                    None => (FileKind::Absent, 0),
                };
                Reply::FileInfo(FileInfo { kind, target: kind, size, modified_ns: 0, mode: 0o644 })
            }
            Request::ListDir { path } => {
                let prefix = format!("{}/", path.trim_end_matches('/'));
                let mut names: Vec<String> = self
                    .files
                    .keys()
                    .filter_map(|k| k.strip_prefix(&prefix))
                    .map(|rest| rest.split('/').next().unwrap_or(rest).to_owned())
                    .collect();
                names.dedup();
                match names.is_empty() {
                    true => fail(IoErrorKind::NotFound, &path),
                    false => Reply::Entries(names),
                }
            }
            Request::TarIndex { path } => match self.files.get(&path) {
                Some(d) => tar_index(d),
                None => fail(IoErrorKind::NotFound, &path),
            },
            Request::WriteFile { path, data } | Request::WritePrivateFile { path, data } => {
                self.files.insert(path, data);
                Reply::Done
            }
            Request::Rename { from, to } => match self.files.remove(&from) {
                Some(d) => {
                    self.files.insert(to, d);
                    Reply::Done
                }
                None => fail(IoErrorKind::NotFound, &from),
            },
            Request::RemoveFile { path } => match self.files.remove(&path) {
                Some(_) => Reply::Done,
                None => fail(IoErrorKind::NotFound, &path),
            },
            Request::Transfer(t) => {
                let data = match self.source(&t.source) {
                    Ok(d) => d,
                    Err(reply) => return reply,
                };
                if t.expected_size.is_some_and(|n| data.len() as u64 > n) {
                    return fail(IoErrorKind::TooLarge, &t.label);
                }
                let (digest, size) = (sha256(&data), data.len() as u64);
                match t.sink {
                    BlobSink::File { path } | BlobSink::FileFrom { path, .. } => {
                        self.files.insert(path, data);
                        Reply::Transferred { digest, size, response: None }
                    }
                    BlobSink::Discard | BlobSink::Pipe(_) => Reply::Transferred { digest, size, response: None },
                    BlobSink::Http(_) => match self.next_answer() {
                        Ok(a) => Reply::Transferred { digest, size, response: Some(a) },
                        Err(e) => Reply::Failed(e),
                    },
                }
            }
            Request::Random { length } => Reply::Data(vec![7; length as usize]),
            Request::Run { .. } => fail(IoErrorKind::NotFound, "no programs here"),
            Request::Recompress(_) => fail(IoErrorKind::Other, "no codecs here"),
            Request::ProxyReceive => Reply::Data(Vec::new()),
            _ => Reply::Done,
        }
    }
}

/// The regular files of a tar archive, as a host reports them.
fn tar_index(data: &[u8]) -> Reply {
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(data);
    let Ok(entries) = archive.entries() else { return fail(IoErrorKind::Other, "not a tar archive") };
    for e in entries {
        let Ok(e) = e else { return fail(IoErrorKind::Other, "a broken tar archive") };
        if e.header().entry_type().is_file() {
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            out.push(TarMember { name, offset: e.raw_file_position(), size: e.size() });
        }
    }
    Reply::Members(out)
}

/// An environment like a user's: a home, a runtime directory, a scratch space.
pub fn environment() -> Environment {
    let mut env = Environment { scratch_dir: Some("/scratch".into()), uid: 1000, pid: 42, ..Environment::default() };
    env.variables.insert("HOME".into(), "/home/u".into());
    env.variables.insert("XDG_RUNTIME_DIR".into(), "/run/user/1000".into());
    env
}
