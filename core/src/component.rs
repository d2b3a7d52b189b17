//! The WASI component's exports (wit/skiff.wit), a thin mapping from the
//! generated types onto [`crate::engine`].

// The generated bindings and `export!` are unsafe glue by nature; nothing else here is.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    path: "../wit",
    world: "core",
});

use exports::skiff::core::engine::{Guest, GuestOperation};
use skiff::core::types as wit;

use crate::digest::Algorithm;
use crate::engine::{
    self, Action, BlobSink, BlobSource, HttpRequest, HttpResponse, IoError, IoErrorKind, Reply, Request,
};
use crate::error::{Error, ErrorKind};

struct Component;

export!(Component);

impl Guest for Component {
    type Operation = OperationResource;

    fn parse_reference(reference: String) -> Result<String, wit::Failure> {
        let r = crate::reference::ImageReference::parse(&reference).map_err(failure)?;
        serde_json::to_string(&r.describe()).map_err(|e| failure(Error::other(e.to_string())))
    }

    fn manifest_digest(manifest: Vec<u8>) -> Result<String, wit::Failure> {
        crate::manifest::manifest_digest(&manifest).map(|d| d.to_string()).map_err(failure)
    }
}

struct OperationResource(std::cell::RefCell<engine::Operation>);

impl GuestOperation for OperationResource {
    fn new(job: String) -> Self {
        OperationResource(std::cell::RefCell::new(crate::job::Job::start(&job)))
    }

    fn handle(&self, now_ms: u64, id: u64, reply: wit::Reply) {
        let reply = match reply {
            wit::Reply::Http(r) => Reply::Http(response_from_wit(r)),
            wit::Reply::Data(d) => Reply::Data(d),
            wit::Reply::Elapsed => Reply::Elapsed,
            wit::Reply::Done => Reply::Done,
            wit::Reply::Entries(e) => Reply::Entries(e),
            wit::Reply::Members(m) => Reply::Members(
                m.into_iter().map(|m| engine::TarMember { name: m.name, offset: m.offset, size: m.size }).collect(),
            ),
            wit::Reply::Transferred(t) => {
                Reply::Transferred { digest: t.digest, size: t.size, response: t.response.map(response_from_wit) }
            }
            wit::Reply::Recompressed(r) => {
                Reply::Recompressed(engine::Recompressed { digest: r.digest, size: r.size, diff_id: r.diff_id })
            }
            wit::Reply::Failed(e) => Reply::Failed(IoError { kind: io_kind(e.kind), message: e.message }),
        };
        self.0.borrow_mut().handle(now_ms, id, reply);
    }

    fn poll(&self, now_ms: u64) -> wit::Action {
        match self.0.borrow_mut().poll(now_ms) {
            Action::Perform { id, request } => {
                wit::Action::Perform(wit::Perform { id, request: request_to_wit(request) })
            }
            Action::Done(out) => wit::Action::Done(out),
            Action::Failed(e) => wit::Action::Failed(failure(e)),
            Action::Idle => wit::Action::Idle,
        }
    }
}

fn response_from_wit(r: wit::HttpResponse) -> HttpResponse {
    HttpResponse { status: r.status, headers: r.headers.into_iter().map(|h| (h.name, h.value)).collect(), body: r.body }
}

fn http_to_wit(h: HttpRequest) -> wit::HttpRequest {
    wit::HttpRequest {
        method: h.method,
        url: h.url,
        headers: h.headers.into_iter().map(|(name, value)| wit::Header { name, value }).collect(),
        body: h.body,
        max_body: h.max_body,
        tls_profile: h.tls_profile,
    }
}

fn request_to_wit(r: Request) -> wit::Request {
    match r {
        Request::Http(h) => wit::Request::Http(http_to_wit(h)),
        Request::ReadFile { path, max_bytes } => wit::Request::ReadFile(wit::FileRead { path, max_bytes }),
        Request::Wait { millis } => wit::Request::Wait(millis),
        Request::Warn { message } => wit::Request::Warn(message),
        Request::Note { message } => wit::Request::Note(message),
        Request::Transfer(t) => wit::Request::Transfer(wit::Transfer {
            source: source_to_wit(t.source),
            sink: match t.sink {
                BlobSink::File { path } => wit::BlobSink::File(path),
                BlobSink::Http(h) => wit::BlobSink::Http(http_to_wit(h)),
            },
            algorithm: hash_to_wit(t.algorithm),
            expected_size: t.expected_size,
            label: t.label,
        }),
        Request::WriteFile { path, data } => wit::Request::WriteFile(wit::FileWrite { path, data }),
        Request::Rename { from, to } => wit::Request::Rename(wit::Rename { from, to }),
        Request::CreateDir { path } => wit::Request::CreateDir(path),
        Request::RemoveFile { path } => wit::Request::RemoveFile(path),
        Request::ListDir { path } => wit::Request::ListDir(path),
        Request::ReadRange { path, offset, length } => wit::Request::ReadRange(wit::FileRange { path, offset, length }),
        Request::TarIndex { path } => wit::Request::TarIndex(path),
        Request::PackTar { dir, archive } => wit::Request::PackTar(wit::PackTar { dir, archive }),
        Request::WriteTar { archive, entries } => wit::Request::WriteTar(wit::WriteTar {
            archive,
            entries: entries
                .into_iter()
                .map(|e| match e {
                    engine::TarEntry::File { name, path } => wit::TarEntry::File((name, path)),
                    engine::TarEntry::Data { name, data } => wit::TarEntry::Data((name, data)),
                    engine::TarEntry::Symlink { name, target } => wit::TarEntry::Symlink((name, target)),
                })
                .collect(),
        }),
        Request::RemoveDir { path } => wit::Request::RemoveDir(path),
        Request::Recompress { input, output, from, to, level, algorithm } => {
            wit::Request::Recompress(wit::Recompress {
                input: source_to_wit(input),
                output,
                from,
                to,
                level,
                algorithm: hash_to_wit(algorithm),
            })
        }
    }
}

fn source_to_wit(s: BlobSource) -> wit::BlobSource {
    match s {
        BlobSource::Http(h) => wit::BlobSource::Http(http_to_wit(h)),
        BlobSource::File { path } => wit::BlobSource::File(path),
        BlobSource::FileRange { path, offset, length } => {
            wit::BlobSource::FileRange(wit::FileRange { path, offset, length })
        }
    }
}

fn hash_to_wit(a: Algorithm) -> wit::HashAlgorithm {
    match a {
        Algorithm::Sha256 => wit::HashAlgorithm::Sha256,
        Algorithm::Sha512 => wit::HashAlgorithm::Sha512,
    }
}

fn io_kind(k: wit::IoErrorKind) -> IoErrorKind {
    match k {
        wit::IoErrorKind::Connect => IoErrorKind::Connect,
        wit::IoErrorKind::Tls => IoErrorKind::Tls,
        wit::IoErrorKind::Timeout => IoErrorKind::Timeout,
        wit::IoErrorKind::NotFound => IoErrorKind::NotFound,
        wit::IoErrorKind::TooLarge => IoErrorKind::TooLarge,
        wit::IoErrorKind::Other => IoErrorKind::Other,
    }
}

fn failure(e: Error) -> wit::Failure {
    let kind = match e.kind {
        ErrorKind::InvalidInput => wit::ErrorKind::InvalidInput,
        ErrorKind::NotFound => wit::ErrorKind::NotFound,
        ErrorKind::Unauthorized => wit::ErrorKind::Unauthorized,
        ErrorKind::Io => wit::ErrorKind::Io,
        ErrorKind::Integrity => wit::ErrorKind::Integrity,
        ErrorKind::Unsupported => wit::ErrorKind::Unsupported,
        ErrorKind::Other => wit::ErrorKind::Other,
    };
    wit::Failure { kind, message: e.message }
}
