//! `docker-daemon:`: the Docker Engine API, spoken the way containers/image
//! speaks it. Reading asks the daemon for a `docker save` tarball (`GET
//! /images/get`) in scratch space and reads that as a docker-archive;
//! writing builds a docker-archive there and posts it to `POST /images/load`.
//! The host only carries bytes (over a unix socket: `http+unix://` URLs).

use crate::engine::{BlobSink, BlobSource, HttpRequest, Io, Timeouts, Transfer, Transferred};
use crate::error::{Error, ErrorKind, Result};
use crate::reference::DaemonReference;
use crate::registry::url::encode;

/// Where Docker listens unless `--*-daemon-host` or `DOCKER_HOST` say otherwise.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Error answers and load reports are small.
const MAX_ANSWER: u64 = 1 << 20;

#[derive(Debug, Clone)]
pub struct Daemon {
    /// `http+unix://<socket>` or `http://host:port`, without a trailing slash.
    base: String,
}

impl Daemon {
    /// `unix:///path/to/socket`, `tcp://host:port` or `http://host:port`.
    pub fn parse(host: Option<&str>) -> Result<Self> {
        let host = host.filter(|h| !h.is_empty()).unwrap_or(DEFAULT_HOST);
        let unsupported =
            || Error::unsupported(format!("daemon host {host:?}: use unix:///path/to/docker.sock or tcp://host:port"));
        // Read as a URL (as the Docker client reads DOCKER_HOST), with the
        // same parser the host uses for the requests made from it.
        let url = ::url::Url::parse(host).map_err(|_| unsupported())?;
        let base = match url.scheme() {
            "unix" => {
                if url.host_str().is_some_and(|h| !h.is_empty()) || !url.path().starts_with('/') {
                    return Err(Error::invalid(format!("daemon host {host:?}: the socket path must be absolute")));
                }
                let path = percent_encoding::percent_decode_str(url.path()).decode_utf8_lossy();
                format!("http+unix://{}", encode(&path))
            }
            "tcp" | "http" => match (url.host_str(), url.port()) {
                (Some(h), Some(p)) if !h.is_empty() => format!("http://{h}:{p}"),
                (Some(h), None) if !h.is_empty() => format!("http://{h}"),
                _ => return Err(unsupported()),
            },
            _ => return Err(unsupported()),
        };
        Ok(Daemon { base })
    }

    fn request(&self, method: &str, path: &str, mut headers: Vec<(String, String)>) -> HttpRequest {
        headers.push(("User-Agent".to_owned(), crate::registry::USER_AGENT.to_owned()));
        HttpRequest {
            method: method.to_owned(),
            url: format!("{}{path}", self.base),
            headers,
            body: None,
            max_body: MAX_ANSWER,
            tls: Default::default(),
            proxy: None,
            // The local daemon answers a load only once it has taken the
            // whole image in, and a save may stall while it gathers layers.
            timeouts: Timeouts { response_ms: 3_600_000, idle_ms: 3_600_000, total_ms: None, ..Timeouts::default() },
        }
    }

    /// Streams `docker save` of `image` into the file `path`.
    pub async fn save(&self, io: &Io, image: &DaemonReference, path: &str) -> Result<()> {
        let name = match image {
            DaemonReference::Named(r) => r.to_string(),
            DaemonReference::Id(d) => d.to_string(),
        };
        let request = self.request("GET", &format!("/images/get?names={}", encode(&name)), Vec::new());
        let t = Transfer {
            source: BlobSource::get(request),
            sink: BlobSink::File { path: path.to_owned() },
            algorithm: crate::digest::Algorithm::Sha256,
            expected_size: None,
            label: format!("docker image {name}"),
        };
        match io.transfer(t).await.map_err(|e| daemon_unreachable(&e.message))? {
            Transferred::Moved { .. } => Ok(()),
            Transferred::Refused(resp) => {
                Err(daemon_error(&format!("reading {name} from the daemon"), resp.status, &resp.body))
            }
        }
    }

    /// Posts the `docker save` tarball at `path` to `POST /images/load`.
    pub async fn load(&self, io: &Io, path: &str) -> Result<()> {
        let headers = vec![("Content-Type".to_owned(), "application/x-tar".to_owned())];
        let t = Transfer {
            source: BlobSource::File { path: path.to_owned() },
            sink: BlobSink::Http(self.request("POST", "/images/load?quiet=1", headers)),
            algorithm: crate::digest::Algorithm::Sha256,
            expected_size: None,
            label: "docker image".to_owned(),
        };
        let resp = match io.transfer(t).await.map_err(|e| daemon_unreachable(&e.message))? {
            Transferred::Moved { response: Some(resp), .. } | Transferred::Refused(resp) => resp,
            Transferred::Moved { response: None, .. } => return Err(Error::other("the daemon sent no answer")),
        };
        if resp.status != 200 {
            return Err(daemon_error("loading the image into the daemon", resp.status, &resp.body));
        }
        load_report(&resp.body)
    }
}

fn daemon_unreachable(message: &str) -> Error {
    Error::new(ErrorKind::Io, format!("talking to the Docker daemon: {message}"))
}

/// An error answer: `{"message": "..."}`; 404 means the image is not there.
fn daemon_error(what: &str, status: u16, body: &[u8]) -> Error {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let message = match v.get("message").and_then(|m| m.as_str()) {
        Some(m) => m.to_owned(),
        None => String::from_utf8_lossy(body).trim().to_owned(),
    };
    let kind = if status == 404 { ErrorKind::NotFound } else { ErrorKind::Other };
    Error::new(kind, format!("{what}: {message} (HTTP {status})"))
}

/// `POST /images/load` answers 200 and reports failure inside its stream of
/// JSON messages (`{"errorDetail": …, "error": "…"}`).
fn load_report(body: &[u8]) -> Result<()> {
    let text = String::from_utf8_lossy(body);
    let decoder = serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
    for message in decoder {
        let message = message.map_err(|e| Error::other(format!("the daemon's load report is not JSON: {e}")))?;
        if let Some(e) = message.get("error").and_then(|e| e.as_str()) {
            return Err(Error::other(format!("the daemon refused the image: {e}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(Daemon::parse(None).unwrap().base, "http+unix://%2Fvar%2Frun%2Fdocker.sock");
        assert_eq!(Daemon::parse(Some("tcp://127.0.0.1:2375")).unwrap().base, "http://127.0.0.1:2375");
        assert!(Daemon::parse(Some("ssh://host")).is_err());
        assert!(Daemon::parse(Some("unix://relative.sock")).is_err());
        // The socket path is encoded once, whatever the URL form.
        let spaced = Daemon::parse(Some("unix:///run/my docker.sock")).unwrap().base;
        assert_eq!(spaced, "http+unix://%2Frun%2Fmy%20docker.sock");
        assert_eq!(Daemon::parse(Some("unix:///run/my%20docker.sock")).unwrap().base, spaced);
        assert_eq!(Daemon::parse(Some("http://[::1]:2375/")).unwrap().base, "http://[::1]:2375");
    }

    #[test]
    fn load_reports() {
        assert!(load_report(br#"{"stream":"Loaded image: a:1\n"}"#).is_ok());
        let e = load_report(br#"{"stream":"x"}{"errorDetail":{"message":"bad"},"error":"bad layer"}"#).unwrap_err();
        assert!(e.to_string().contains("bad layer"), "{e}");
        assert_eq!(daemon_error("x", 404, br#"{"message":"no such image"}"#).kind, ErrorKind::NotFound);
    }
}
