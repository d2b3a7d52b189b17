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

/// A TLS failure in words: what was wrong with the server (or its answer).
fn describe_tls(e: &rustls::Error) -> String {
    use rustls::{CertificateError as C, Error as E};
    let cert = |what: &str| format!("the server's certificate {what}");
    match e {
        E::InvalidCertificate(c) => match c {
            C::UnknownIssuer => cert("is signed by an authority that is not trusted"),
            C::NotValidForName | C::NotValidForNameContext { .. } => cert("is not valid for this host name"),
            C::Expired | C::ExpiredContext { .. } => cert("has expired"),
            C::NotValidYet | C::NotValidYetContext { .. } => cert("is not valid yet"),
            C::Revoked => cert("has been revoked"),
            C::BadSignature => cert("has a bad signature"),
            C::BadEncoding => cert("cannot be read"),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => cert("is not meant for a TLS server"),
            C::Other(o) => match o.0.downcast_ref::<webpki::Error>() {
                Some(webpki::Error::CaUsedAsEndEntity) => cert("is a CA certificate of its own that is not trusted"),
                Some(webpki::Error::UnknownIssuer) => cert("is signed by an authority that is not trusted"),
                _ => cert("was refused by the certificate checks"),
            },
            _ => cert("was refused by the certificate checks"),
        },
        E::InvalidMessage(_) | E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            "the server did not answer in TLS (is it plain HTTP?)".to_owned()
        }
        E::AlertReceived(rustls::AlertDescription::CertificateRequired) => {
            "the server asks for a client certificate (a .cert and .key pair in certs.d or --cert-dir)".to_owned()
        }
        E::AlertReceived(_) => "the server refused the TLS handshake".to_owned(),
        E::NoCertificatesPresented => "the server presented no certificate".to_owned(),
        other => other.to_string(),
    }
}

/// The rustls error `e` is, or carries inside (nested) `io::Error`s: the
/// TLS stream reports its failures that way, and `io::Error::source` skips
/// the error it wraps.
fn rustls_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    if let Some(t) = e.downcast_ref::<rustls::Error>() {
        return Some(t);
    }
    let inner: &(dyn StdError + 'static) = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error(inner)
}

/// The first TLS error among `e` and its causes.
fn tls_cause<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(t) = rustls_error(c) {
            return Some(t);
        }
        cause = c.source();
    }
    None
}

/// What went wrong with an HTTP request, as a sentence: a TLS failure in
/// words, anything else as its chain of causes.
pub fn describe_http(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out: the server sent nothing for longer than allowed".to_owned();
    }
    match tls_cause(e) {
        Some(tls) => format!("TLS handshake failed: {}", describe_tls(tls)),
        None => chain(e),
    }
}

/// The kind of an HTTP client error, from the first cause that tells.
pub fn of_http(e: &reqwest::Error) -> IoErrorKind {
    if e.is_timeout() {
        return IoErrorKind::Timeout;
    }
    if tls_cause(e).is_some() {
        return IoErrorKind::Tls;
    }
    if !e.is_body() && !e.is_decode() && closed_before_answer(e) {
        return IoErrorKind::Closed;
    }
    let mut cause: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
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

/// Whether the server closed the connection before its answer came: what
/// hyper reports when a pooled connection turns out to be closed already.
fn closed_before_answer(e: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(c) = cause {
        if c.downcast_ref::<hyper::Error>().is_some_and(hyper::Error::is_incomplete_message) {
            return true;
        }
        cause = c.source();
    }
    false
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
