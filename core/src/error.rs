//! The one error type of the core. Its [`ErrorKind`] is what a host needs to
//! choose an exit code (skopeo exits 2 when an image does not exist, 1 otherwise).

use std::fmt;

/// Broad class of a failure, carried across the component boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The user's input (reference, flag, file) is malformed.
    InvalidInput,
    /// The image, tag, manifest or repository does not exist.
    NotFound,
    /// The registry refused our credentials or gave none we could use.
    Unauthorized,
    /// The network or a file could not be reached or read.
    Io,
    /// Bytes did not match their digest, or a document was hostile.
    Integrity,
    /// A valid request for something this version does not do.
    Unsupported,
    /// Anything else (a registry error, a protocol violation).
    Other,
}

/// A failure with a message meant for the person at the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into() }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn integrity(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Integrity, message)
    }
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    /// Prefixes the message with what we were doing, keeping the kind.
    pub fn context(self, what: impl fmt::Display) -> Self {
        Error { kind: self.kind, message: format!("{what}: {}", self.message) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::invalid(format!("invalid JSON: {e}"))
    }
}

/// Keeps text from outside (a registry's message, a file's label)
/// printable and short: it ends up on a terminal.
pub fn sanitize(s: &str) -> String {
    let clean: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if clean.chars().count() > 512 { clean.chars().take(512).chain("…".chars()).collect() } else { clean }
}
