//! The host's IO: it carries out exactly the requests the core makes and
//! reports what happened, deciding nothing about the protocol.

mod archive;
mod certs;
mod crypt;
mod error;
mod fs;
mod http;
mod layer_apply;
mod locks;
mod process;
mod progress;
mod proxy;
mod recompress;
pub mod scratch;
mod tar_stream;
mod transfer;
mod tree_copy;
mod zstd_chunked;

use std::sync::Arc;
use std::time::Duration;

use crate::runtime::wit::{IoErrorKind, IoFailure, Reply, Request};

#[derive(Clone)]
pub struct HostIo {
    http: Arc<http::Http>,
    /// `--debug`: trace each request and its outcome on stderr.
    debug: bool,
    /// Progress lines or bars on stderr.
    progress: progress::Progress,
    /// `experimental-image-proxy`: the client's socket and the pipes.
    proxy: Option<proxy::ProxyIo>,
    /// Directory locks the core holds.
    locks: locks::Locks,
    /// The run's scratch directory, made before the first request that may write.
    scratch: Option<Arc<scratch::Shared>>,
}

impl HostIo {
    pub fn new(debug: bool) -> Self {
        HostIo {
            http: Arc::new(http::Http::default()),
            debug,
            progress: progress::Progress::new(false),
            proxy: None,
            locks: locks::Locks::default(),
            scratch: None,
        }
    }

    /// With `dir` as the run's scratch space (the core is given its path).
    pub fn scratch(mut self, dir: &scratch::ScratchDir) -> Self {
        self.scratch = Some(dir.shared());
        self
    }

    /// Serving the image proxy on `socket`; no progress output (stderr is
    /// the client's log).
    pub fn proxy(mut self, socket: std::os::fd::OwnedFd) -> Self {
        self.proxy = Some(proxy::ProxyIo::new(socket));
        self.progress = progress::Progress::new(true);
        self
    }

    /// Without progress lines or bars (`copy -q`).
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.progress = progress::Progress::new(quiet);
        self
    }

    /// A progress line (`Copying blob …`) on stderr, so stdout stays clean.
    pub fn note(&self, message: &str) {
        self.progress.line(message);
    }

    /// Where a command of many parts (a sync) stands.
    pub fn progress(&self, event: &crate::runtime::wit::Progress) {
        self.progress.part(event);
    }

    pub async fn perform(&self, request: Request) -> Reply {
        if let Some(s) = self.scratch.as_ref().filter(|_| may_write(&request))
            && let Err(e) = s.ensure()
        {
            return failed(IoErrorKind::Other, e);
        }
        match request {
            Request::Http(r) => {
                let what = http::describe(&r);
                let reply = self.http.send(r).await;
                if self.debug {
                    match &reply {
                        Reply::Http(resp) => eprintln!("DEBU[0000] {what} -> {}", resp.status),
                        Reply::Failed(f) => eprintln!("DEBU[0000] {what} -> {:?}: {}", f.kind, f.message),
                        _ => {}
                    }
                }
                reply
            }
            Request::ReadFile(f) => fs::read_file(&f.path, f.max_bytes).await,
            Request::Wait(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Reply::Elapsed
            }
            Request::Transfer(t) => {
                let bar = self.progress.bar(&t.label, t.expected_size);
                let reply = transfer::transfer(&self.http, self.proxy.as_ref(), t, bar.as_ref()).await;
                if let Some(b) = bar {
                    b.finish_and_clear();
                }
                reply
            }
            Request::TarIndex(path) => archive::index(path).await,
            Request::ReadRange(r) => archive::read_range(r).await,
            Request::WriteStream(w) => fs::write_stream(w).await,
            Request::Stat(path) => fs::stat(path).await,
            Request::Recompress(r) => recompress::recompress(r).await,
            Request::Crypt(c) => crypt::crypt(c).await,
            Request::ApplyLayer(a) => layer_apply::apply_layer(a).await,
            Request::Run(r) => process::run(r).await,
            Request::Random(length) => random(length),
            Request::ProxyReceive => self.with_proxy(|p| async move { p.receive().await }).await,
            Request::ProxySend(m) => self.with_proxy(|p| async move { p.send(&m.message, &m.pipes) }).await,
            Request::PipeOpen(id) => self.with_proxy(|p| async move { p.open(id) }).await,
            Request::PipeWrite(w) => self.with_proxy(|p| async move { p.write(w.id, w.data).await }).await,
            Request::PipeClose(id) => self.with_proxy(|p| async move { p.close(id) }).await,
            Request::Lock(l) => self.locks.lock(l).await,
            Request::Unlock(id) => self.locks.unlock(id),
            Request::FileLock(l) => self.locks.file_lock(l).await,
            Request::TouchLock(t) => self.locks.touch(t.id, &t.data),
            // Warnings and notes are printed by the driver and never reach here.
            Request::Warn(_) | Request::Note(_) | Request::Progress(_) => Reply::Done,
            fs_request => fs::apply(fs_request).await,
        }
    }
}

/// Whether `request` may write a file (so the scratch directory must be
/// there first). Only requests known to read or to touch no file say no.
fn may_write(request: &Request) -> bool {
    !matches!(
        request,
        Request::Http(_)
            | Request::ReadFile(_)
            | Request::ListDir(_)
            | Request::Stat(_)
            | Request::Wait(_)
            | Request::TarIndex(_)
            | Request::ReadRange(_)
            | Request::Random(_)
            | Request::Warn(_)
            | Request::Note(_)
            | Request::Progress(_)
    )
}

impl HostIo {
    /// Runs a proxy request; other commands have no socket and fail it.
    async fn with_proxy<F: std::future::Future<Output = Reply>>(&self, f: impl FnOnce(proxy::ProxyIo) -> F) -> Reply {
        match &self.proxy {
            Some(p) => f(p.clone()).await,
            None => failed(IoErrorKind::Other, "only experimental-image-proxy has a client socket"),
        }
    }
}

/// Fills `bytes` from the operating system's secure random source
/// (ring's); false if it failed.
fn fill_random(bytes: &mut [u8]) -> bool {
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), bytes).is_ok()
}

/// Random bytes for the core.
fn random(length: u32) -> Reply {
    let mut bytes = vec![0; length as usize];
    match fill_random(&mut bytes) {
        true => Reply::Data(bytes),
        false => failed(IoErrorKind::Other, "the operating system's random source failed"),
    }
}

/// Runs a file-to-file job (re-encoding, encryption, unpacking) on tokio's
/// blocking pool: its reply, or a failure saying `what` it was doing, with
/// the IO error's kind.
async fn blocking_job(what: String, job: impl FnOnce() -> std::io::Result<Reply> + Send + 'static) -> Reply {
    match tokio::task::spawn_blocking(job).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => failed(error::of_io(&e), format!("{what}: {e}")),
        Err(e) => failed(IoErrorKind::Other, format!("{what}: the task failed: {e}")),
    }
}

pub(crate) fn failed(kind: IoErrorKind, message: impl Into<String>) -> Reply {
    Reply::Failed(IoFailure { kind, message: message.into() })
}
