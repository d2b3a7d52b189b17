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

use crate::engine::{self, Action, HttpResponse, IoError, IoErrorKind, Reply, Request};
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
            wit::Reply::Http(r) => Reply::Http(HttpResponse {
                status: r.status,
                headers: r.headers.into_iter().map(|h| (h.name, h.value)).collect(),
                body: r.body,
            }),
            wit::Reply::Data(d) => Reply::Data(d),
            wit::Reply::Elapsed => Reply::Elapsed,
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

fn request_to_wit(r: Request) -> wit::Request {
    match r {
        Request::Http(h) => wit::Request::Http(wit::HttpRequest {
            method: h.method,
            url: h.url,
            headers: h.headers.into_iter().map(|(name, value)| wit::Header { name, value }).collect(),
            body: h.body,
            max_body: h.max_body,
        }),
        Request::ReadFile { path, max_bytes } => wit::Request::ReadFile(wit::FileRead { path, max_bytes }),
        Request::Wait { millis } => wit::Request::Wait(millis),
        Request::Warn { message } => wit::Request::Warn(message),
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
