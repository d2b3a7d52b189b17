//! The host's IO: it carries out exactly the requests the core makes and
//! reports what happened, deciding nothing about the protocol.

mod archive;
mod certs;
mod error;
mod fs;
mod http;
mod process;
mod progress;
mod recompress;
mod transfer;

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
}

impl HostIo {
    pub fn new(debug: bool) -> Self {
        HostIo { http: Arc::new(http::Http::default()), debug, progress: progress::Progress::new(false) }
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
                let reply = transfer::transfer(&self.http, t, bar.as_ref()).await;
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
            Request::Run(r) => process::run(r).await,
            Request::Random(length) => random(length),
            // Warnings and notes are printed by the driver and never reach here.
            Request::Warn(_) | Request::Note(_) | Request::Progress(_) => Reply::Done,
            fs_request => fs::apply(fs_request).await,
        }
    }
}

/// Bytes from the operating system's secure random source (ring's).
fn random(length: u32) -> Reply {
    let mut bytes = vec![0; length as usize];
    match ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes) {
        Ok(()) => Reply::Data(bytes),
        Err(_) => failed(IoErrorKind::Other, "the operating system's random source failed"),
    }
}

pub(crate) fn failed(kind: IoErrorKind, message: impl Into<String>) -> Reply {
    Reply::Failed(IoFailure { kind, message: message.into() })
}
