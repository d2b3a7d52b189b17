//! What kind of failure an IO error is, told from the error's type (an
//! `std::io::Error`'s kind, a rustls error, reqwest's own flags) rather
//! than from its text. These are facts for the core, which decides what
//! to do about them.

use std::error::Error as StdError;

use crate::runtime::wit::IoErrorKind;

/// The kind of a file-system error.
pub fn of_io(e: &std::io::Error) -> IoErrorKind {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => IoErrorKind::NotFound,
        K::PermissionDenied => IoErrorKind::PermissionDenied,
        K::ConnectionRefused | K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => IoErrorKind::Connect,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof | K::NotConnected => {
            IoErrorKind::Reset
        }
        K::TimedOut => IoErrorKind::Timeout,
        _ => IoErrorKind::Other,
    }
}

/// The kind of an HTTP client error, from the first cause that tells.
pub fn of_http(e: &reqwest::Error) -> IoErrorKind {
    if e.is_timeout() {
        return IoErrorKind::Timeout;
    }
    let mut cause: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(c) = cause {
        if c.downcast_ref::<rustls::Error>().is_some() {
            return IoErrorKind::Tls;
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            // rustls reports through io::Error with its own error inside.
            if io.get_ref().is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some()) {
                return IoErrorKind::Tls;
            }
            let kind = of_io(io);
            if kind != IoErrorKind::Other {
                return kind;
            }
        }
        cause = c.source();
    }
    if e.is_connect() {
        IoErrorKind::Connect
    } else if e.is_body() || e.is_decode() {
        IoErrorKind::Reset
    } else {
        IoErrorKind::Other
    }
}

/// An error with its causes, `a: b: c`, as Go tools print them.
pub fn chain(e: &dyn StdError) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}
