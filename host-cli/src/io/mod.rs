//! The host's IO: it carries out exactly the requests the core makes and
//! reports what happened, deciding nothing about the protocol.

pub mod auth_file;
mod certs;
mod fs;
mod http;

use std::sync::Arc;
use std::time::Duration;

use crate::runtime::wit::{IoErrorKind, IoFailure, Reply, Request};

pub use http::TlsOptions;

#[derive(Clone)]
pub struct HostIo {
    http: Arc<http::Http>,
    /// `--debug`: trace each request and its outcome on stderr.
    debug: bool,
}

impl HostIo {
    pub fn new(tls: TlsOptions, debug: bool) -> Self {
        HostIo { http: Arc::new(http::Http::new(tls)), debug }
    }

    pub async fn perform(&self, request: Request) -> Reply {
        match request {
            Request::Http(r) => {
                let what = format!("{} {}", r.method, r.url.split('?').next().unwrap_or(""));
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
            // Warnings are printed by the driver and never reach here.
            Request::Warn(_) => Reply::Elapsed,
        }
    }
}

pub(crate) fn failed(kind: IoErrorKind, message: impl Into<String>) -> Reply {
    Reply::Failed(IoFailure { kind, message: message.into() })
}
