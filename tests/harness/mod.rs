//! Real parts for the integration tests: the Distribution registry (Debian's
//! `docker-registry`), Debian's `skopeo` as the reference, OCI layouts built
//! byte-for-byte deterministically, and small stand-ins where no real
//! service exists (a paginating/lying proxy, a registry that never answers).

pub mod fixtures;
pub mod images;
pub mod node;
pub mod process;
pub mod proxy;
pub mod registry;
pub mod token;
pub mod tools;

use std::net::TcpListener;

/// A free loopback port (the OS picks it; the listener is closed at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("binding a loopback port").local_addr().unwrap().port()
}
