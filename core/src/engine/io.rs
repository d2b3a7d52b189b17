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
    Failed(IoError),
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

    pub async fn http(&self, request: HttpRequest) -> Result<HttpResponse, IoError> {
        match self.perform(Request::Http(request)).await {
            Reply::Http(r) => Ok(r),
            Reply::Failed(e) => Err(e),
            other => Err(unexpected(other)),
        }
    }

    pub async fn read_file(&self, path: String, max_bytes: u64) -> Result<Vec<u8>, IoError> {
        match self.perform(Request::ReadFile { path, max_bytes }).await {
            Reply::Data(d) => Ok(d),
            Reply::Failed(e) => Err(e),
            other => Err(unexpected(other)),
        }
    }

    /// Queues a warning for the user (skopeo's `logrus.Warnf`); nothing to await.
    pub fn warn(&self, message: String) {
        let mut state = self.0.borrow_mut();
        let id = state.next_id;
        state.next_id += 1;
        state.outbox.push_back((id, Request::Warn { message }));
    }

    pub async fn sleep(&self, millis: u64) {
        let _ = self.perform(Request::Wait { millis }).await;
    }
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
