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
}

impl HostIo {
    pub fn new(tls: TlsOptions) -> Self {
        HostIo {
            http: Arc::new(http::Http::new(tls)),
        }
    }

    pub async fn perform(&self, request: Request) -> Reply {
        match request {
            Request::Http(r) => self.http.send(r).await,
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
    Reply::Failed(IoFailure {
        kind,
        message: message.into(),
    })
}
