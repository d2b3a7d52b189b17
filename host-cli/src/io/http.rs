//! HTTP for the core: one reqwest client per origin (so each registry gets
//! its own certificates), no redirects followed, bodies read up to a limit.

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
    tls: TlsOptions,
    clients: Mutex<HashMap<String, Client>>,
}

impl Http {
    pub fn new(tls: TlsOptions) -> Self {
        Http { tls, clients: Mutex::new(HashMap::new()) }
    }

    /// The client for `url`'s origin, built on first use: plain HTTP needs no
    /// trust roots, so nothing is loaded for it.
    fn client(&self, url: &reqwest::Url) -> Result<Client, String> {
        let host_port = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
            None => url.host_str().unwrap_or("").to_owned(),
        };
        let key = format!("{}://{host_port}", url.scheme());
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
            if self.tls.insecure {
                b = b.danger_accept_invalid_certs(true).tls_built_in_root_certs(false);
            }
            b = certs::configure(b, self.tls.cert_dir.as_deref(), &host_port)?;
        } else {
            b = b.tls_built_in_root_certs(false);
        }
        let c = b.build().map_err(|e| chain(&e))?;
        clients.insert(key, c.clone());
        Ok(c)
    }

    pub async fn send(&self, r: HttpRequest) -> Reply {
        let url = match reqwest::Url::parse(&r.url) {
            Ok(u) => u,
            Err(e) => return failed(IoErrorKind::Other, format!("invalid URL: {e}")),
        };
        let client = match self.client(&url) {
            Ok(c) => c,
            Err(e) => return failed(IoErrorKind::Tls, e),
        };
        let method = match Method::from_bytes(r.method.as_bytes()) {
            Ok(m) => m,
            Err(_) => return failed(IoErrorKind::Other, format!("invalid method {:?}", r.method)),
        };
        let mut req = client.request(method.clone(), url);
        for h in &r.headers {
            req = req.header(&h.name, &h.value);
        }
        if let Some(body) = r.body {
            req = req.body(body);
        }
        let what = format!("{method} {}", r.url.split('?').next().unwrap_or(""));
        let mut resp = match req.send().await {
            Ok(resp) => resp,
            Err(e) => return failed(classify(&e), format!("{what}: {}", chain(&e))),
        };
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| Header {
                name: k.as_str().to_owned(),
                value: String::from_utf8_lossy(v.as_bytes()).into_owned(),
            })
            .collect();
        if resp.content_length().is_some_and(|n| n > r.max_body) {
            return failed(IoErrorKind::TooLarge, format!("{what}: response body is larger than {} bytes", r.max_body));
        }
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if (body.len() + chunk.len()) as u64 > r.max_body {
                        return failed(
                            IoErrorKind::TooLarge,
                            format!("{what}: response body is larger than {} bytes", r.max_body),
                        );
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return failed(classify(&e), format!("{what}: reading body: {}", chain(&e)));
                }
            }
        }
        Reply::Http(HttpResponse { status, headers, body })
    }
}

fn classify(e: &reqwest::Error) -> IoErrorKind {
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
fn chain(e: &dyn std::error::Error) -> String {
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
