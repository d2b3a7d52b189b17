//! The one loop that drives a core operation: poll for actions, hand each
//! request to the IO layer (several may run at once), feed completions back.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow, bail};
use tokio::task::JoinSet;

use super::component::Core;
use super::jobs::{Environment, Job};
use super::wit::{Action, ErrorKind, Reply, Request};
use crate::io::HostIo;

/// A failure reported by the core, kept whole so the exit code can follow its kind.
#[derive(Debug)]
pub struct CoreFailure {
    pub kind: ErrorKind,
    pub message: String,
}

impl std::fmt::Display for CoreFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CoreFailure {}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn wt(e: wasmtime::Error) -> anyhow::Error {
    anyhow!("{e:?}")
}

impl Core {
    /// Runs `job` to completion; returns its stdout bytes.
    pub async fn run(&mut self, job: Job, env: Environment, io: &HostIo) -> Result<Vec<u8>> {
        let engine = self.bindings.skiff_core_engine();
        let op = engine.operation().call_constructor(&mut self.store, &job, &env).map_err(wt)?;
        let mut pending: JoinSet<(u64, Reply)> = JoinSet::new();
        let outcome = loop {
            let action = engine.operation().call_poll(&mut self.store, op, now_ms()).map_err(wt)?;
            match action {
                Action::Perform(p) => match p.request {
                    Request::Warn(message) => eprintln!("WARN[0000] {message}"),
                    Request::Note(message) => io.note(&message),
                    Request::Progress(event) => io.progress(&event),
                    request => {
                        let io = io.clone();
                        pending.spawn(async move { (p.id, io.perform(request).await) });
                    }
                },
                Action::Done(out) => break Ok(out),
                Action::Failed(f) => {
                    break Err(anyhow::Error::new(CoreFailure { kind: f.kind, message: f.message }));
                }
                Action::Idle => {
                    let Some(done) = pending.join_next().await else {
                        bail!("internal error: the core is waiting but no request is in flight");
                    };
                    let (id, reply) = done.map_err(|e| anyhow!("IO task failed: {e}"))?;
                    engine.operation().call_handle(&mut self.store, op, now_ms(), id, &reply).map_err(wt)?;
                }
            }
        };
        op.resource_drop(&mut self.store).map_err(wt)?;
        outcome
    }
}
