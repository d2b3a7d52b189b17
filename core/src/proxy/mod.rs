//! `experimental-image-proxy`: the JSON-over-socket protocol (0.2.8) that
//! the `containers-image-proxy` crate (bootc, rpm-ostree, ostree-rs-ext)
//! speaks to skopeo. The session — open images, pipes in flight — lives
//! here; the host only moves packets, file descriptors and bytes
//! ([`Request::ProxyReceive`], [`Request::ProxySend`], the pipe requests).
//! Semantics and messages follow containers/common's `json-proxy`.

mod background;
mod images;
mod wire;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use serde::Deserialize;

use self::background::Background;
use self::images::OpenImage;
use self::wire::{Answer, Call};
use crate::config::Environment;
use crate::config::policy_file::{self, PolicyOptions};
use crate::engine::{Io, Request};
use crate::error::{Error, Result};
use crate::platform::WantedPlatform;
use crate::policy::PolicyInput;
use crate::transport::SideOptions;

/// The protocol version announced by `Initialize`.
pub const PROTOCOL_VERSION: &str = "0.2.8";

/// `skopeo experimental-image-proxy [flags]`: the socket itself is the host's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageProxyJob {
    /// `--authfile`, `--creds`, `--no-creds`, `--cert-dir`, `--tls-verify`, …
    #[serde(default)]
    pub side: SideOptions,
    #[serde(default)]
    pub policy: PolicyOptions,
    #[serde(default)]
    pub registries_d: Option<String>,
    #[serde(default)]
    pub platform: WantedPlatform,
    /// `--decryption-key`: encrypted layers are not read by skiff yet.
    #[serde(default)]
    pub decryption_keys: Vec<String>,
}

/// The result of a pipe's writer, once it is done.
type PipeResults = Rc<RefCell<BTreeMap<u32, Option<std::result::Result<(), String>>>>>;

struct Session {
    io: Io,
    env: Environment,
    job: ImageProxyJob,
    policy: Option<PolicyInput>,
    images: BTreeMap<u64, OpenImage>,
    next_image: u64,
    /// Pipes that `FinishPipe` may still be asked about, and their writers' results.
    pipes: PipeResults,
    next_pipe: u32,
    background: Background,
}

pub async fn run(io: Io, job: ImageProxyJob, env: Environment) -> Result<Vec<u8>> {
    if !job.decryption_keys.is_empty() {
        return Err(Error::unsupported("--decryption-key: skiff does not decrypt image layers yet"));
    }
    let mut s = Session {
        io: io.clone(),
        env,
        job,
        policy: None,
        images: BTreeMap::new(),
        next_image: 0,
        pipes: Rc::default(),
        next_pipe: 0,
        background: Background::default(),
    };
    loop {
        let received = s.background.run(io.proxy_receive()).await;
        let packet =
            received.map_err(|e| Error::new(crate::error::ErrorKind::Io, format!("reading socket: {}", e.message)))?;
        if packet.is_empty() {
            return Ok(Vec::new());
        }
        let call = match wire::parse(&packet) {
            Ok(call) => call,
            Err(message) => {
                s.send(&Err(Error::invalid(message))).await?;
                continue;
            }
        };
        if call.method == "Shutdown" {
            return Ok(Vec::new());
        }
        let answer = s.dispatch(&call).await;
        s.send(&answer).await?;
    }
}

impl Session {
    /// Sends a reply, and the read ends of its pipes with it.
    async fn send(&mut self, answer: &Result<Answer>) -> Result<()> {
        let message = wire::reply(answer);
        let pipes = answer.as_ref().map(|a| a.pipes.clone()).unwrap_or_default();
        let sent = self.io.pipe_request(Request::ProxySend { message, pipes });
        self.background
            .run(sent)
            .await
            .map_err(|e| Error::new(crate::error::ErrorKind::Io, format!("writing to socket: {}", e.message)))
    }

    async fn dispatch(&mut self, call: &Call) -> Result<Answer> {
        let args = call.args.as_slice();
        match call.method.as_str() {
            "Initialize" => self.initialize(args).await,
            "FinishPipe" => self.finish_pipe(args).await,
            "OpenImage" | "OpenImageOptional" | "CloseImage" | "GetManifest" | "GetConfig" | "GetFullConfig"
            | "GetBlob" | "GetRawBlob" | "GetLayerInfo" | "GetLayerInfoPiped" => {
                if self.policy.is_none() {
                    return Err(Error::invalid("client error: must invoke Initialize"));
                }
                self.image_method(&call.method, args).await
            }
            other => Err(Error::invalid(format!("unknown method: {other}"))),
        }
    }

    async fn initialize(&mut self, args: &[serde_json::Value]) -> Result<Answer> {
        if !args.is_empty() {
            return Err(Error::invalid("invalid request, expecting zero arguments"));
        }
        if self.policy.is_some() {
            return Err(Error::invalid("already initialized"));
        }
        let policy = policy_file::read(&self.io, &self.env, &self.job.policy).await?;
        self.policy = Some(policy);
        Ok(Answer::value(PROTOCOL_VERSION))
    }

    /// Waits for the pipe's writer, closes the write end, and reports how
    /// the writing went.
    async fn finish_pipe(&mut self, args: &[serde_json::Value]) -> Result<Answer> {
        let id = wire::uint64(args.first().unwrap_or(&serde_json::Value::Null))? as u32;
        if !self.pipes.borrow().contains_key(&id) {
            return Err(Error::invalid(format!("finishpipe: no active pipe {id}")));
        }
        let pipes = self.pipes.clone();
        let done = std::future::poll_fn(|_| match pipes.borrow().get(&id) {
            Some(Some(_)) | None => std::task::Poll::Ready(()),
            Some(None) => std::task::Poll::Pending,
        });
        self.background.run(done).await;
        let closed = self.background.run(self.io.pipe_request(Request::PipeClose { id })).await;
        let result = self.pipes.borrow_mut().remove(&id).flatten().unwrap_or(Ok(()));
        closed.map_err(|e| Error::new(crate::error::ErrorKind::Io, e.message))?;
        result.map(|()| Answer::default()).map_err(Error::other)
    }

    /// A new pipe id (never 0).
    fn pipe_id(&mut self) -> u32 {
        self.next_pipe = self.next_pipe.wrapping_add(1).max(1);
        self.next_pipe
    }

    /// A pipe for `FinishPipe`, which `writer(id)` fills in the background.
    async fn piped<F>(&mut self, value: serde_json::Value, writer: impl FnOnce(u32) -> F) -> Result<Answer>
    where
        F: std::future::Future<Output = std::result::Result<(), String>> + 'static,
    {
        let id = self.pipe_id();
        let io = self.io.clone();
        self.background
            .run(io.pipe_request(Request::PipeOpen { id }))
            .await
            .map_err(|e| Error::new(crate::error::ErrorKind::Io, e.message))?;
        self.pipes.borrow_mut().insert(id, None);
        let (pipes, writing) = (self.pipes.clone(), writer(id));
        self.background.spawn(async move {
            let r = writing.await;
            if let Some(slot) = pipes.borrow_mut().get_mut(&id) {
                *slot = Some(r);
            }
        });
        Ok(Answer { value, pipes: vec![id], pipe_id: id })
    }

    /// Bytes through a pipe (a manifest, a config).
    async fn piped_bytes(&mut self, value: serde_json::Value, data: Vec<u8>) -> Result<Answer> {
        let io = self.io.clone();
        self.piped(value, move |id| async move {
            io.pipe_request(Request::PipeWrite { id, data }).await.map_err(|e| e.message)
        })
        .await
    }
}
