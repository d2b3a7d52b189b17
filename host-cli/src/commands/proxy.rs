//! `skiff experimental-image-proxy`: the core serves the protocol; this
//! hands it the client's socket (`--sockfd`, stdin by default).

use anyhow::{Result, anyhow};

use super::{Threads, platform, policy_options, registry_options, run_job_in_scratch};
use crate::cli::RetryFlags;
use crate::cli::{GlobalOptions, ImageProxyArgs};
use crate::io::HostIo;
use crate::runtime::jobs as wj;

pub fn run(g: &GlobalOptions, a: ImageProxyArgs) -> Result<()> {
    let job = wj::ImageProxyJob {
        side: wj::SideOptions {
            registry: registry_options(g, &a.image_flags.registry, &RetryFlags::default())?,
            shared_blob_dir: a.image_flags.shared_blob_dir,
            daemon_host: a.image_flags.daemon_host,
        },
        policy: policy_options(g),
        registries_d: g.registries_d.clone(),
        platform: platform(g),
        decryption_keys: a.decryption_keys,
    };
    let socket = client_socket(a.sockfd)?;
    run_job_in_scratch(g, wj::Job::ImageProxy(job), HostIo::new(g.debug).proxy(socket), Threads::All)
}

/// A duplicate of descriptor `fd`, which the process inherited.
fn client_socket(fd: i32) -> Result<std::os::fd::OwnedFd> {
    use std::os::fd::AsFd as _;
    let dup = |b: std::os::fd::BorrowedFd<'_>| rustix::io::fcntl_dupfd_cloexec(b, 3);
    let owned = if fd == 0 {
        dup(std::io::stdin().as_fd())
    } else {
        if fd < 0 || rustix::io::fcntl_getfd(unsafe_borrow(fd)).is_err() {
            return Err(anyhow!("--sockfd {fd}: no such open file descriptor"));
        }
        dup(unsafe_borrow(fd))
    };
    owned.map_err(|e| anyhow!("--sockfd {fd}: {e}"))
}

/// Descriptor `fd` as a borrowed one, for as long as the process runs.
#[allow(unsafe_code)]
fn unsafe_borrow(fd: i32) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: the descriptor was inherited from the parent for this
    // process's lifetime, and is only duplicated here, never closed; an
    // fd that is not open makes fcntl fail with EBADF, which is checked.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}
