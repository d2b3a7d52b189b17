//! HTTP for the core: one reqwest client per TLS setting the core asks for
//! (each registry gets the certificates the core chose for it; a client
//! keeps its connections per origin), no redirects followed, no proxy,
//! bodies read up to the core's limit.
//! `http+unix://<percent-encoded socket path>/path` reaches a server on a
//! unix socket (the Docker daemon).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::{Client, Method};

use super::error::{chain, describe_http, of_http};
use super::{certs, failed};
use crate::runtime::wit::{Header, HttpRequest, HttpResponse, IoErrorKind, Reply, Timeouts, TlsConfig};

/// What a client is made for: how to trust servers, the proxy to use (or
/// a unix socket).
#[derive(PartialEq, Eq, Hash)]
struct ClientKey {
    socket: Option<String>,
    proxy: Option<String>,
    /// Connect and idle-read timeouts, in milliseconds (reqwest sets them per client).
    timeouts: (u64, u64),
    insecure: bool,
    ca_files: Vec<String>,
    identity: Option<(String, String)>,
    /// `--tls-details`: TLS 1.3 only, the TLS 1.2 suites, the groups.
    details: (bool, Option<Vec<String>>, Option<Vec<String>>),
}

impl ClientKey {
    fn new(socket: Option<String>, tls: &TlsConfig, proxy: Option<&String>, t: &Timeouts) -> Self {
        ClientKey {
            socket,
            proxy: proxy.cloned(),
            timeouts: (t.connect_ms, t.idle_ms),
            insecure: tls.insecure,
            ca_files: tls.ca_files.clone(),
            identity: tls.client_identity.as_ref().map(|i| (i.certificate.clone(), i.key.clone())),
            details: (tls.min_tls13, tls.cipher_suites.clone(), tls.named_groups.clone()),
        }
    }
}

#[derive(Default)]
pub struct Http {
    clients: Mutex<HashMap<ClientKey, Client>>,
}

impl Http {
    /// The client for `tls` and `proxy`, built on first use (an insecure
    /// one loads no trust roots).
    fn client(&self, tls: &TlsConfig, proxy: Option<&String>, t: &Timeouts) -> Result<Client, Reply> {
        let key = ClientKey::new(None, tls, proxy, t);
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let mut b = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_millis(t.connect_ms))
            .read_timeout(Duration::from_millis(t.idle_ms));
        // Only the proxy the core named; reqwest would read the environment itself.
        b = match proxy {
            Some(p) => b.proxy(reqwest::Proxy::all(p.as_str()).map_err(|e| {
                // A proxy URL may carry a user name and password: never repeat it.
                let shown = reqwest::Url::parse(p).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
                failed(IoErrorKind::Other, format!("invalid proxy {shown}: {}", chain(&e.without_url())))
            })?),
            None => b.no_proxy(),
        };
        if tls.insecure {
            b = b.danger_accept_invalid_certs(true).tls_built_in_root_certs(false);
        }
        b = certs::configure(b, tls).map_err(|e| failed(IoErrorKind::Other, e))?;
        let c = b.build().map_err(|e| failed(IoErrorKind::Other, chain(&e)))?;
        clients.insert(key, c.clone());
        Ok(c)
    }

    /// The client for a unix socket, and the URL to ask it for.
    fn unix_client(&self, url: &reqwest::Url, t: &Timeouts) -> Result<(Client, reqwest::Url), Reply> {
        let encoded = url.host_str().unwrap_or("");
        let socket = percent_encoding::percent_decode_str(encoded).decode_utf8_lossy().into_owned();
        let mut target =
            reqwest::Url::parse("http://localhost/").map_err(|e| failed(IoErrorKind::Other, e.to_string()))?;
        target.set_path(url.path());
        target.set_query(url.query());
        let plain = TlsConfig {
            insecure: false,
            ca_files: Vec::new(),
            client_identity: None,
            min_tls13: false,
            cipher_suites: None,
            named_groups: None,
        };
        let key = ClientKey::new(Some(socket.clone()), &plain, None, t);
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(&key) {
            return Ok((c.clone(), target));
        }
        let c = Client::builder()
            .unix_socket(std::path::PathBuf::from(&socket))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_millis(t.connect_ms))
            .read_timeout(Duration::from_millis(t.idle_ms))
            .build()
            .map_err(|e| failed(IoErrorKind::Other, chain(&e)))?;
        clients.insert(key, c.clone());
        Ok((c, target))
    }

    /// `r` answered in full, within its `total-ms`.
    pub async fn send(&self, r: HttpRequest) -> Reply {
        let body = r.body.clone().map(reqwest::Body::from);
        let exchange = async {
            match self.start(&r, body).await {
                Ok(resp) => read_bounded(resp, &r).await,
                Err(reply) => reply,
            }
        };
        match r.timeouts.total_ms {
            Some(ms) => tokio::time::timeout(Duration::from_millis(ms), exchange).await.unwrap_or_else(|_| {
                failed(IoErrorKind::Timeout, format!("{}: no complete answer within {}", describe(&r), shown_ms(ms)))
            }),
            None => exchange.await,
        }
    }

    /// Sends `r` (with `body` instead of its own) and returns the response
    /// once its head has arrived, or the failure as a reply. The head is
    /// waited for `response-ms` after the request is sent; for a streamed
    /// body (an upload, however long it takes) the wait is not bounded here.
    pub async fn start(&self, r: &HttpRequest, body: Option<reqwest::Body>) -> Result<reqwest::Response, Reply> {
        let streamed = body.is_some() && r.body.is_none();
        let url = reqwest::Url::parse(&r.url).map_err(|e| failed(IoErrorKind::Other, format!("invalid URL: {e}")))?;
        let (client, url) = match url.scheme() {
            "http+unix" => self.unix_client(&url, &r.timeouts)?,
            _ => (self.client(&r.tls, r.proxy.as_ref(), &r.timeouts)?, url),
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
        // The URL is said once, without its query (which may carry a signed token).
        let head = match streamed {
            true => Duration::MAX,
            false => Duration::from_millis(r.timeouts.response_ms),
        };
        match tokio::time::timeout(head, req.send()).await {
            Ok(sent) => sent.map_err(|e| {
                let e = e.without_url();
                failed(of_http(&e), format!("{}: {}", describe(r), describe_http(&e)))
            }),
            Err(_) => Err(failed(
                IoErrorKind::Timeout,
                format!("{}: no answer within {}", describe(r), shown_ms(r.timeouts.response_ms)),
            )),
        }
    }
}

/// `1500` ms as `1.5s`, as the user would write it.
fn shown_ms(ms: u64) -> String {
    match ms % 1000 {
        0 => format!("{}s", ms / 1000),
        _ => format!("{}ms", ms),
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
            Err(e) if e.is_timeout() => {
                let idle = shown_ms(r.timeouts.idle_ms);
                return failed(
                    IoErrorKind::Timeout,
                    format!("{}: the answer stalled: nothing for {idle}", describe(r)),
                );
            }
            Err(e) => {
                let e = e.without_url();
                return failed(of_http(&e), format!("{}: reading body: {}", describe(r), describe_http(&e)));
            }
        }
    }
    Reply::Http(HttpResponse { status, headers, body })
}
