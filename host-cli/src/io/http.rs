//! HTTP for the core: one reqwest client per origin (so each registry gets
//! its own certificates), no redirects followed, bodies read up to a limit.
//! `http+unix://<percent-encoded socket path>/path` reaches a server on a
//! unix socket (the Docker daemon).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::{Client, Method};

use super::certs;
use super::failed;
use crate::runtime::wit::{Header, HttpRequest, HttpResponse, IoErrorKind, Reply};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A registry that stops sending for this long is treated as gone.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The TLS settings from the command line.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// `--tls-verify=false` accepts any certificate.
    pub insecure: bool,
    /// `--cert-dir`; otherwise the per-registry certs.d directories.
    pub cert_dir: Option<String>,
}

pub struct Http {
    /// TLS settings by the profile number requests carry (0 source, 1 destination).
    tls: Vec<TlsOptions>,
    clients: Mutex<HashMap<(u8, String), Client>>,
}

impl Http {
    pub fn new(tls: Vec<TlsOptions>) -> Self {
        Http { tls, clients: Mutex::new(HashMap::new()) }
    }

    /// The client for `url`'s origin, built on first use: plain HTTP needs no
    /// trust roots, so nothing is loaded for it.
    fn client(&self, url: &reqwest::Url, profile: u8) -> Result<Client, String> {
        let tls = self.tls.get(usize::from(profile)).or(self.tls.first()).cloned().unwrap_or_default();
        let host_port = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
            None => url.host_str().unwrap_or("").to_owned(),
        };
        let key = (profile, format!("{}://{host_port}", url.scheme()));
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let mut b = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .no_proxy()
            .user_agent(concat!("skiff/", env!("CARGO_PKG_VERSION")));
        if url.scheme() == "https" {
            if tls.insecure {
                b = b.danger_accept_invalid_certs(true).tls_built_in_root_certs(false);
            }
            b = certs::configure(b, tls.cert_dir.as_deref(), &host_port)?;
        } else {
            b = b.tls_built_in_root_certs(false);
        }
        let c = b.build().map_err(|e| chain(&e))?;
        clients.insert(key, c.clone());
        Ok(c)
    }

    /// The client for a unix socket, and the URL to ask it for.
    fn unix_client(&self, url: &reqwest::Url) -> Result<(Client, reqwest::Url), String> {
        let encoded = url.host_str().unwrap_or("");
        let socket = percent_encoding::percent_decode_str(encoded).decode_utf8_lossy().into_owned();
        let mut target = reqwest::Url::parse("http://localhost/").map_err(|e| e.to_string())?;
        target.set_path(url.path());
        target.set_query(url.query());
        let key = (0, format!("unix:{socket}"));
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(&key) {
            return Ok((c.clone(), target));
        }
        let c = Client::builder()
            .unix_socket(std::path::PathBuf::from(&socket))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("skiff/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| chain(&e))?;
        clients.insert(key, c.clone());
        Ok((c, target))
    }

    pub async fn send(&self, r: HttpRequest) -> Reply {
        let body = r.body.clone().map(reqwest::Body::from);
        match self.start(&r, body).await {
            Ok(resp) => read_bounded(resp, &r).await,
            Err(reply) => reply,
        }
    }

    /// Sends `r` (with `body` instead of its own) and returns the response
    /// once its head has arrived, or the failure as a reply.
    pub async fn start(&self, r: &HttpRequest, body: Option<reqwest::Body>) -> Result<reqwest::Response, Reply> {
        let url = reqwest::Url::parse(&r.url).map_err(|e| failed(IoErrorKind::Other, format!("invalid URL: {e}")))?;
        let (client, url) = match url.scheme() {
            "http+unix" => self.unix_client(&url).map_err(|e| failed(IoErrorKind::Connect, e))?,
            _ => (self.client(&url, r.tls_profile).map_err(|e| failed(IoErrorKind::Tls, e))?, url),
        };
        let method = Method::from_bytes(r.method.as_bytes())
            .map_err(|_| failed(IoErrorKind::Other, format!("invalid method {:?}", r.method)))?;
        let mut req = client.request(method, url);
        for h in &r.headers {
            req = req.header(&h.name, &h.value);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        req.send().await.map_err(|e| failed(classify(&e), format!("{}: {}", describe(r), chain(&e))))
    }
}

/// `GET https://host/path` without the query (it may carry signed tokens).
pub fn describe(r: &HttpRequest) -> String {
    format!("{} {}", r.method, r.url.split('?').next().unwrap_or(""))
}

/// The whole response, refusing a body longer than `r.max_body`.
pub async fn read_bounded(mut resp: reqwest::Response, r: &HttpRequest) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| Header { name: k.as_str().to_owned(), value: String::from_utf8_lossy(v.as_bytes()).into_owned() })
        .collect();
    let too_large =
        || failed(IoErrorKind::TooLarge, format!("{}: response body is larger than {} bytes", describe(r), r.max_body));
    if r.method == "HEAD" {
        // Content-Length describes the body a GET would have; there is none.
        return Reply::Http(HttpResponse { status, headers, body: Vec::new() });
    }
    if resp.content_length().is_some_and(|n| n > r.max_body) {
        return too_large();
    }
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if (body.len() + chunk.len()) as u64 > r.max_body {
                    return too_large();
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return failed(classify(&e), format!("{}: reading body: {}", describe(r), chain(&e))),
        }
    }
    Reply::Http(HttpResponse { status, headers, body })
}

pub fn classify(e: &reqwest::Error) -> IoErrorKind {
    let text = chain(e).to_ascii_lowercase();
    if e.is_timeout() {
        IoErrorKind::Timeout
    } else if text.contains("certificate")
        || text.contains("tls")
        || text.contains("invalidcontenttype")
        || text.contains("handshake")
    {
        IoErrorKind::Tls
    } else if e.is_connect() {
        IoErrorKind::Connect
    } else {
        IoErrorKind::Other
    }
}

/// An error with its causes, `a: b: c`, as Go tools print them.
pub fn chain(e: &dyn std::error::Error) -> String {
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
