//! The recording runtime: [`Io`]'s methods return futures that queue a
//! request for the host and resolve when [`super::Operation::handle`]
//! delivers its reply. Nothing here performs IO.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::protocol::{
    BlobSink, BlobSource, FileInfo, HttpRequest, HttpResponse, IoError, IoErrorKind, Recompressed, Reply, Request,
    TarMember, Transfer,
};

#[derive(Default)]
struct State {
    next_id: u64,
    outbox: VecDeque<(u64, Request)>,
    /// Requests sent and not yet answered.
    awaiting: HashSet<u64>,
    /// Requests whose future was dropped: their replies are discarded.
    abandoned: HashSet<u64>,
    replies: HashMap<u64, Reply>,
    now_ms: u64,
    /// Progress lines are dropped (a sync writes its own, one per image).
    muted: bool,
    locks: Rc<super::KeyedLock>,
    /// What [`Io::shared`] hands out, by key.
    shared: HashMap<String, Rc<dyn std::any::Any>>,
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
    /// Delivers a reply; one for a request that was never made, expects no
    /// reply or was answered already is the host's mistake and refused.
    pub(super) fn complete(&self, id: u64, reply: Reply) -> Result<(), String> {
        let mut state = self.0.borrow_mut();
        if state.abandoned.remove(&id) {
            return Ok(());
        }
        if !state.awaiting.remove(&id) {
            return Err(format!("the host answered request {id}, which is not awaiting an answer"));
        }
        state.replies.insert(id, reply);
        Ok(())
    }
    /// Drops queued requests but warnings and notes (the command is over).
    pub(super) fn discard_requests(&self) {
        self.0.borrow_mut().outbox.retain(|(_, r)| !r.expects_reply());
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
        if !self.0.borrow().muted {
            self.notify(Request::Note { message });
        }
    }

    /// Drops later [`Io::note`] lines: several images copied at once would
    /// interleave theirs. [`Io::log`] lines still go out.
    pub fn mute_notes(&self) {
        self.0.borrow_mut().muted = true;
    }

    /// The value of type `T` this operation keeps under `key` (made on
    /// first use): state that several parts of one command share, such as
    /// what a registry client learnt (its API root, its tokens), so each
    /// image of a sync does not ask again. A key holds one type.
    pub fn shared<T: Default + 'static>(&self, key: &str) -> Rc<T> {
        let mut state = self.0.borrow_mut();
        let entry = state.shared.entry(key.to_owned()).or_insert_with(|| Rc::new(T::default()));
        match entry.clone().downcast::<T>() {
            Ok(v) => v,
            // Another type under the same key: a fresh value, not shared.
            Err(_) => Rc::new(T::default()),
        }
    }

    /// Waits until no other future of this operation holds `key`, then
    /// holds it until the guard is dropped.
    pub async fn lock(&self, key: String) -> super::KeyGuard {
        let locks = self.0.borrow().locks.clone();
        locks.acquire(key).await
    }

    /// Tells the host where a command of many parts stands; nothing to await.
    pub fn progress(&self, p: super::protocol::Progress) {
        self.notify(Request::Progress(p));
    }

    /// Queues a line for stderr whatever [`Io::mute_notes`] said.
    pub fn log(&self, message: String) {
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

    /// The digest (`algorithm:hex`, as the host measured it) and size of a
    /// file's bytes, read by the host and written nowhere; at most
    /// `expected_size` bytes when given.
    pub async fn file_digest(
        &self,
        path: &str,
        algorithm: crate::digest::Algorithm,
        expected_size: Option<u64>,
    ) -> Result<(String, u64), IoError> {
        let t = Transfer {
            source: BlobSource::File { path: path.to_owned() },
            sink: BlobSink::Discard,
            algorithm,
            expected_size,
            label: format!("file {path}"),
        };
        match self.transfer(t).await? {
            Transferred::Moved { digest, size, .. } => Ok((digest, size)),
            Transferred::Refused(_) => Err(IoError { kind: IoErrorKind::Other, message: format!("{path}: refused") }),
        }
    }

    /// Re-encodes a layer file.
    pub async fn recompress(&self, request: super::Recompress) -> Result<Recompressed, IoError> {
        self.call(Request::Recompress(request), |r| if let Reply::Recompressed(r) = r { Ok(r) } else { Err(r) }).await
    }

    /// Encrypts or decrypts a layer file (AES-256-CTR with HMAC-SHA256).
    pub async fn crypt(&self, request: super::Crypt) -> Result<super::Crypted, IoError> {
        self.call(Request::Crypt(request), |r| if let Reply::Crypted(r) = r { Ok(r) } else { Err(r) }).await
    }

    /// Unpacks a layer into a directory of containers-storage.
    pub async fn apply_layer(&self, request: super::ApplyLayer) -> Result<super::Applied, IoError> {
        self.call(Request::ApplyLayer(request), |r| if let Reply::Applied(a) = r { Ok(a) } else { Err(r) }).await
    }

    /// Runs a program (a credential helper) and returns how it ended.
    pub async fn run(
        &self,
        program: String,
        args: Vec<String>,
        stdin: Vec<u8>,
        max_output: u64,
    ) -> Result<super::ProcessOutput, IoError> {
        self.call(Request::Run { program, args, stdin, max_output }, |r| {
            if let Reply::Output(o) = r { Ok(o) } else { Err(r) }
        })
        .await
    }

    /// `length` bytes from the host's secure random source, checked to be
    /// that many.
    pub async fn random(&self, length: u32) -> Result<Vec<u8>, IoError> {
        let bytes = self.call(Request::Random { length }, data).await?;
        if bytes.len() != length as usize {
            return Err(IoError {
                kind: IoErrorKind::Other,
                message: "the host returned the wrong number of random bytes".to_owned(),
            });
        }
        Ok(bytes)
    }

    /// What a path is; a missing path is [`super::FileKind::Absent`], not an error.
    pub async fn stat(&self, path: String) -> Result<FileInfo, IoError> {
        self.call(Request::Stat { path }, |r| if let Reply::FileInfo(i) = r { Ok(i) } else { Err(r) }).await
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

    /// The image proxy's next packet from its client (empty: the client hung up).
    pub async fn proxy_receive(&self) -> Result<Vec<u8>, IoError> {
        self.call(Request::ProxyReceive, data).await
    }

    /// Carries out an image-proxy socket or pipe request (answered `Done`).
    pub async fn pipe_request(&self, request: Request) -> Result<(), IoError> {
        self.call(request, |r| if let Reply::Done = r { Ok(()) } else { Err(r) }).await
    }

    pub async fn sleep(&self, millis: u64) {
        let _ = self.perform(Request::Wait { millis }).await;
    }
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
    let got = match reply {
        Reply::Http(_) => "an http",
        Reply::Data(_) => "a data",
        Reply::Elapsed => "an elapsed",
        Reply::Done => "a done",
        Reply::Entries(_) => "an entries",
        Reply::Members(_) => "a members",
        Reply::Transferred { .. } => "a transferred",
        Reply::Recompressed(_) => "a recompressed",
        Reply::Crypted(_) => "a crypted",
        Reply::Applied(_) => "an applied",
        Reply::FileInfo(_) => "a file-info",
        Reply::Output(_) => "an output",
        Reply::Failed(_) => "a failed",
    };
    IoError {
        kind: IoErrorKind::Other,
        message: format!("the host answered with {got} reply, which does not fit the request"),
    }
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
                state.awaiting.insert(id);
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

impl Drop for Pending {
    fn drop(&mut self) {
        // A request given up on (its future dropped) may still be answered.
        if let Some(id) = self.id
            && let Ok(mut state) = self.io.0.try_borrow_mut()
        {
            state.replies.remove(&id);
            if state.awaiting.remove(&id) {
                state.abandoned.insert(id);
            }
        }
    }
}
