//! skiff's core: everything about container images that is not IO.
//!
//! The core parses references, reads and checks manifests, and speaks the
//! registry protocol, but it never opens a socket or a file and never reads
//! the clock: a host drives an [`engine::Operation`] by carrying out the
//! requests it asks for. Built natively it is a plain library; built for
//! `wasm32-wasip2` with the `component` feature it is the WASI component the
//! `skiff` CLI runs (interface in `wit/`).

pub mod compression;
pub mod config;
pub mod copy;
pub mod delete;
pub mod digest;
pub mod encryption;
pub mod engine;
pub mod error;
pub mod files;
pub mod go;
pub mod inspect;
pub mod job;
pub mod layers;
pub mod list_tags;
pub mod login;
pub mod manifest;
pub mod media_type;
pub mod platform;
#[cfg(feature = "image-proxy")]
pub mod proxy;
pub mod reference;
pub mod registry;
pub mod signature;
pub mod signing;
pub mod storage;
pub mod sync;
pub mod transport;

#[cfg(feature = "component")]
mod component;

pub use engine::{Action, Operation};
pub use error::{Error, ErrorKind, Result};
pub mod policy;
