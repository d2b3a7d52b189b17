//! The image proxy's IO (`experimental-image-proxy`): packets on the
//! client's SOCK_SEQPACKET socket, with pipe read ends passed as
//! `SCM_RIGHTS`, and the pipes the core fills. Every decision — what to
//! send, when to close — is the core's.

use std::collections::HashMap;
use std::io::{IoSlice, IoSliceMut, Write as _};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};

use rustix::net::{RecvAncillaryBuffer, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};

use super::failed;
use crate::runtime::wit::{IoErrorKind, Reply};

/// The protocol's largest packet.
const MAX_PACKET: usize = 32 * 1024;

/// One pipe: the read end until it is sent, the write end until closed.
#[derive(Default)]
struct Pipe {
    read: Option<OwnedFd>,
    write: Option<Arc<OwnedFd>>,
}

#[derive(Clone)]
pub struct ProxyIo {
    socket: Arc<OwnedFd>,
    pipes: Arc<Mutex<HashMap<u32, Pipe>>>,
}

impl ProxyIo {
    /// Serves on `socket` (a duplicate of the client's descriptor).
    pub fn new(socket: OwnedFd) -> Self {
        ProxyIo { socket: Arc::new(socket), pipes: Arc::default() }
    }

    /// The next packet; empty when the client has closed the socket.
    pub async fn receive(&self) -> Reply {
        let socket = self.socket.clone();
        let received = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; MAX_PACKET];
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
            let mut control = RecvAncillaryBuffer::new(&mut space);
            loop {
                match rustix::net::recvmsg(
                    &*socket,
                    &mut [IoSliceMut::new(&mut buf)],
                    &mut control,
                    RecvFlags::CMSG_CLOEXEC,
                ) {
                    Ok(m) => {
                        // Descriptors a client sends are not ours to keep.
                        control.drain().for_each(drop);
                        buf.truncate(m.bytes);
                        return Ok(buf);
                    }
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e),
                }
            }
        })
        .await;
        match received {
            Ok(Ok(packet)) => Reply::Data(packet),
            Ok(Err(e)) => failed(IoErrorKind::Other, format!("receiving from the proxy socket: {e}")),
            Err(e) => failed(IoErrorKind::Other, format!("receiving from the proxy socket: {e}")),
        }
    }

    /// Sends `message` with the read ends of `pipes`, then closes them here.
    pub fn send(&self, message: &[u8], pipes: &[u32]) -> Reply {
        let mut table = self.pipes.lock().unwrap_or_else(|e| e.into_inner());
        let mut ends = Vec::new();
        for id in pipes {
            match table.get_mut(id).and_then(|p| p.read.take()) {
                Some(fd) => ends.push(fd),
                None => return failed(IoErrorKind::Other, format!("pipe {id} has no read end to send")),
            }
        }
        let borrowed: Vec<_> = ends.iter().map(|f| f.as_fd()).collect();
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !borrowed.is_empty() && !control.push(SendAncillaryMessage::ScmRights(&borrowed)) {
            return failed(IoErrorKind::Other, "too many descriptors for one packet");
        }
        match rustix::net::sendmsg(&*self.socket, &[IoSlice::new(message)], &mut control, SendFlags::NOSIGNAL) {
            Ok(n) if n == message.len() => Reply::Done,
            Ok(n) => failed(IoErrorKind::Other, format!("sent {n} of {} bytes of a reply", message.len())),
            Err(rustix::io::Errno::PIPE) => failed(IoErrorKind::Closed, "the proxy client closed the socket"),
            Err(e) => failed(IoErrorKind::Other, format!("writing to the proxy socket: {e}")),
        }
        // `ends` drops here: the client holds the read ends now.
    }

    pub fn open(&self, id: u32) -> Reply {
        match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
            Ok((read, write)) => {
                let pipe = Pipe { read: Some(read), write: Some(Arc::new(write)) };
                self.pipes.lock().unwrap_or_else(|e| e.into_inner()).insert(id, pipe);
                Reply::Done
            }
            Err(e) => failed(IoErrorKind::Other, format!("creating a pipe: {e}")),
        }
    }

    /// The write end of pipe `id`, as a file to write into.
    pub fn writer(&self, id: u32) -> Result<std::fs::File, String> {
        let table = self.pipes.lock().unwrap_or_else(|e| e.into_inner());
        let fd = table.get(&id).and_then(|p| p.write.clone()).ok_or_else(|| format!("pipe {id} is not open"))?;
        let dup = rustix::io::fcntl_dupfd_cloexec(&*fd, 3).map_err(|e| format!("pipe {id}: {e}"))?;
        Ok(std::fs::File::from(dup))
    }

    pub async fn write(&self, id: u32, data: Vec<u8>) -> Reply {
        let mut file = match self.writer(id) {
            Ok(f) => f,
            Err(e) => return failed(IoErrorKind::Other, e),
        };
        match tokio::task::spawn_blocking(move || file.write_all(&data)).await {
            Ok(Ok(())) => Reply::Done,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                failed(IoErrorKind::Closed, "the proxy client closed the pipe")
            }
            Ok(Err(e)) => failed(IoErrorKind::Other, format!("writing to a pipe: {e}")),
            Err(e) => failed(IoErrorKind::Other, format!("writing to a pipe: {e}")),
        }
    }

    pub fn close(&self, id: u32) -> Reply {
        let mut table = self.pipes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = table.get_mut(&id) {
            p.write = None;
            if p.read.is_none() {
                table.remove(&id);
            }
        }
        Reply::Done
    }
}
