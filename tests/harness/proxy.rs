//! A small HTTP/1.1 proxy in front of the real registry, for behaviour no
//! real registry here shows: tag-list pagination (Distribution 2.8 ignores
//! `n`), a registry that corrupts or inflates manifests, one that never answers.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Pages tag lists `page` at a time with `Link: <…>; rel="next"`.
    Paginate { page: usize },
    /// Alters manifest bodies (keeping the registry's Docker-Content-Digest).
    CorruptManifests,
    /// Answers manifest requests with a 5 MiB body.
    OversizeManifests,
    /// Accepts connections and never answers.
    Hang,
    /// Answers the first `n` requests with 503 Service Unavailable.
    FailFirst(usize),
    /// Refuses tag listing with 401, as Harbor does for some users.
    DenyTags,
    /// Flips a byte in every blob body.
    CorruptBlobs,
    /// Sends half of each blob body, then closes the connection.
    TruncateBlobs,
    /// The same for the first `n` whole-blob answers only (ranged ones pass).
    TruncateFirstBlobs(usize),
    /// Answers the first `n` blob GETs with 503 Service Unavailable.
    FlakyBlobs(usize),
    /// Sends blob bodies slowly: 64 KiB every 20 ms (about 3 MiB/s).
    SlowBlobs,
    /// Sends manifest bodies a byte at a time, this many milliseconds apart
    /// (a slowloris server).
    TrickleManifests(u64),
    /// Refuses request bodies longer than this with 413, as an nginx with
    /// `client_max_body_size` does (upload locations point at the proxy).
    BodyLimit(usize),
    /// Answers blob GETs with 307 to another origin (`localhost` instead of
    /// `127.0.0.1`, as a registry sends clients to its CDN); a redirected
    /// request that still carries credentials is refused with 400.
    RedirectBlobs,
    /// Answers the first request of each connection keeping it alive, then
    /// closes the connection when the next request arrives, unanswered (a
    /// server dropping an idle connection just as the client reuses it).
    CloseKeptAlive,
    /// Passes everything through unchanged (upload locations point at the
    /// proxy too), recording each request's method and path.
    Record,
    /// Answers manifest GETs with 200 and a chunked body that never ends.
    EndlessManifests,
    /// Answers blob GETs with 404 and a chunked error body that never ends.
    EndlessErrors,
    /// Answers every request with 429 and `Retry-After: 60`.
    TooManyRequests,
}

/// Requests (`METHOD /path`) and the status each got.
type Log = Vec<(String, Option<u16>)>;

pub struct Proxy {
    pub port: u16,
    /// `METHOD /path?query` of every request, in arrival order, with the
    /// upstream's status once it answered.
    seen: std::sync::Arc<std::sync::Mutex<Log>>,
}

impl Proxy {
    pub fn start(upstream_port: u16, mode: Mode) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let blob_gets = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let n = served.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let blob_gets = blob_gets.clone();
                let log = log.clone();
                thread::spawn(move || {
                    if let Mode::FailFirst(k) = mode
                        && n < k
                    {
                        drain_request(&stream);
                        let m = Message {
                            head: "HTTP/1.1 503 Service Unavailable".into(),
                            headers: vec![],
                            body: b"busy".to_vec(),
                        };
                        let _ = write_message(&mut &stream, &m);
                        return;
                    }
                    if let Mode::Hang = mode {
                        thread::sleep(std::time::Duration::from_secs(600));
                        drop(stream);
                        return;
                    }
                    let _ = serve(stream, upstream_port, mode, &blob_gets, &log);
                });
            }
        });
        Proxy { port, seen }
    }

    /// The requests seen so far; `take` also forgets them.
    pub fn requests(&self, take: bool) -> Vec<String> {
        self.answered(take).into_iter().map(|(l, _)| l).collect()
    }

    /// The requests seen so far with the status each was answered with.
    pub fn answered(&self, take: bool) -> Vec<(String, Option<u16>)> {
        let mut seen = self.seen.lock().unwrap();
        if take { std::mem::take(&mut *seen) } else { seen.clone() }
    }
}

struct Message {
    head: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads a request or response; `until_eof` for a response without a length,
/// `no_body` for the answer to a HEAD (its Content-Length describes a GET).
fn read_message(r: &mut impl BufRead, until_eof: bool, no_body: bool) -> std::io::Result<Option<Message>> {
    let mut head = String::new();
    if r.read_line(&mut head)? == 0 {
        return Ok(None);
    }
    let mut headers = vec![];
    loop {
        let mut line = String::new();
        r.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let mut m = Message { head: head.trim_end().to_owned(), headers, body: vec![] };
    if no_body {
        return Ok(Some(m));
    }
    if m.header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            m.body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(len) = m.header("content-length").and_then(|l| l.parse::<usize>().ok()) {
        m.body = vec![0; len];
        r.read_exact(&mut m.body)?;
    } else if until_eof {
        r.read_to_end(&mut m.body)?;
    }
    Ok(Some(m))
}

fn write_message(w: &mut impl Write, m: &Message) -> std::io::Result<()> {
    write_message_as(w, m, "close")
}

/// `m` with `Connection: {connection}`.
fn write_message_as(w: &mut impl Write, m: &Message, connection: &str) -> std::io::Result<()> {
    let mut out = format!("{}\r\n", m.head);
    for (k, v) in &m.headers {
        if ["content-length", "transfer-encoding", "connection"].iter().any(|h| k.eq_ignore_ascii_case(h)) {
            continue;
        }
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\nConnection: {connection}\r\n\r\n", m.body.len()));
    w.write_all(out.as_bytes())?;
    w.write_all(&m.body)?;
    w.flush()
}

fn serve(
    client: TcpStream,
    upstream_port: u16,
    mode: Mode,
    blob_gets: &std::sync::atomic::AtomicUsize,
    log: &std::sync::Mutex<Log>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let Some(mut req) = read_message(&mut reader, false, false)? else {
        return Ok(());
    };
    let entry = {
        let mut log = log.lock().unwrap();
        let mut line = req.head.rsplit_once(' ').map_or(req.head.clone(), |(l, _)| l.to_owned());
        if let Some(range) = req.header("range") {
            line.push_str(&format!(" (Range: {range})"));
        }
        log.push((line, None));
        log.len() - 1
    };
    let mut path = req.head.split(' ').nth(1).unwrap_or("/").to_owned();
    let is_get = req.head.starts_with("GET ");
    if let Mode::RedirectBlobs = mode {
        if let Some(rest) = path.strip_prefix("/_moved") {
            if req.header("authorization").is_some() {
                let m = Message {
                    head: "HTTP/1.1 400 Bad Request".into(),
                    headers: vec![],
                    body: b"credentials leaked".to_vec(),
                };
                return write_message(&mut &client, &m);
            }
            path = rest.to_owned();
        } else if is_get && path.contains("/blobs/") && !path.contains("/uploads/") {
            let own = client.local_addr()?.port();
            let m = Message {
                head: "HTTP/1.1 307 Temporary Redirect".into(),
                headers: vec![("Location".into(), format!("http://localhost:{own}/_moved{path}"))],
                body: vec![],
            };
            return write_message(&mut &client, &m);
        }
    }
    let endless = match mode {
        Mode::EndlessManifests if is_get && path.contains("/manifests/") => Some("200 OK"),
        Mode::EndlessErrors if is_get && path.contains("/blobs/") => Some("404 Not Found"),
        _ => None,
    };
    if let Some(status) = endless {
        return endless_body(&client, status);
    }
    if let Mode::TooManyRequests = mode {
        let m = Message {
            head: "HTTP/1.1 429 Too Many Requests".into(),
            headers: vec![("Retry-After".into(), "60".into())],
            body: b"slow down".to_vec(),
        };
        return write_message(&mut &client, &m);
    }
    let tags_path = path.split('?').next().unwrap_or("").ends_with("/tags/list");
    if let (Mode::OversizeManifests, true) = (mode, is_get && path.contains("/manifests/")) {
        let body = [b"{\"schemaVersion\":2,\"x\":\"".as_slice(), &vec![b'a'; 5 * 1024 * 1024], b"\"}"].concat();
        let m = Message {
            head: "HTTP/1.1 200 OK".into(),
            headers: vec![("Content-Type".into(), "application/vnd.oci.image.manifest.v1+json".into())],
            body,
        };
        return write_message(&mut &client, &m);
    }
    if let (Mode::DenyTags, true) = (mode, tags_path) {
        let m = Message {
            head: "HTTP/1.1 401 Unauthorized".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: br#"{"errors":[{"code":"UNAUTHORIZED","message":"listing tags is not allowed"}]}"#.to_vec(),
        };
        return write_message(&mut &client, &m);
    }
    let blob_get = is_get && path.contains("/blobs/") && !path.contains("/uploads/");
    if let (Mode::FlakyBlobs(k), true) = (mode, blob_get)
        && blob_gets.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < k
    {
        let m = Message { head: "HTTP/1.1 503 Service Unavailable".into(), headers: vec![], body: b"busy".to_vec() };
        return write_message(&mut &client, &m);
    }
    if let Mode::BodyLimit(limit) = mode
        && req.body.len() > limit
    {
        let m = Message { head: "HTTP/1.1 413 Request Entity Too Large".into(), headers: vec![], body: vec![] };
        return write_message(&mut &client, &m);
    }
    // Paginated requests go upstream without their query: it returns everything.
    let upstream_path = if tags_path { path.split('?').next().unwrap().to_owned() } else { path.clone() };
    let method = req.head.split(' ').next().unwrap_or("GET").to_owned();
    req.head = format!("{method} {upstream_path} HTTP/1.1");
    if !matches!(mode, Mode::BodyLimit(_) | Mode::Record) {
        req.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("host"));
        req.headers.push(("Host".into(), format!("127.0.0.1:{upstream_port}")));
    }
    let mut upstream = TcpStream::connect(("127.0.0.1", upstream_port))?;
    write_message(&mut upstream, &req)?;
    let is_head = method == "HEAD";
    let mut resp = read_message(&mut BufReader::new(upstream), true, is_head)?.expect("upstream answered");
    if let Some(e) = log.lock().unwrap().get_mut(entry) {
        e.1 = resp.head.split(' ').nth(1).and_then(|s| s.parse().ok());
    }
    if is_head {
        let length = resp.header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
        let mut c = &client;
        c.write_all(raw_head(&resp, length).as_bytes())?;
        return c.flush();
    }
    let ok = resp.head.contains(" 200 ");
    match mode {
        Mode::Paginate { page } if tags_path && ok => paginate(&mut resp, &path, page),
        Mode::CorruptManifests if is_get && ok && path.contains("/manifests/") => {
            // Still valid JSON, different bytes: the digest no longer matches.
            resp.body.insert(0, b' ');
        }
        Mode::CorruptBlobs if is_get && ok && path.contains("/blobs/") && !resp.body.is_empty() => {
            let mid = resp.body.len() / 2;
            resp.body[mid] ^= 0xff;
        }
        Mode::SlowBlobs if blob_get && ok => {
            let mut c = &client;
            c.write_all(raw_head(&resp, resp.body.len()).as_bytes())?;
            for chunk in resp.body.chunks(64 * 1024) {
                c.write_all(chunk)?;
                c.flush()?;
                thread::sleep(std::time::Duration::from_millis(20));
            }
            return Ok(());
        }
        Mode::TrickleManifests(ms) if is_get && ok && path.contains("/manifests/") => {
            let mut c = &client;
            c.write_all(raw_head(&resp, resp.body.len()).as_bytes())?;
            for b in &resp.body {
                c.write_all(&[*b])?;
                c.flush()?;
                thread::sleep(std::time::Duration::from_millis(ms));
            }
            return Ok(());
        }
        Mode::TruncateFirstBlobs(k)
            if blob_get && ok && blob_gets.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= k => {}
        Mode::TruncateBlobs | Mode::TruncateFirstBlobs(_) if is_get && ok && path.contains("/blobs/") => {
            // Announce the whole length, send half, hang up.
            let full = resp.body.len();
            resp.body.truncate(full / 2);
            let mut c = &client;
            c.write_all(raw_head(&resp, full).as_bytes())?;
            c.write_all(&resp.body)?;
            return c.flush();
        }
        Mode::CloseKeptAlive => {
            write_message_as(&mut &client, &resp, "keep-alive")?;
            // The whole next request is read first, so that closing sends
            // a FIN and not a reset.
            read_message(&mut reader, false, false)?;
            return Ok(());
        }
        _ => {}
    }
    write_message(&mut &client, &resp)
}

/// A response head announcing `content_length` bytes, for bodies sent by hand.
fn raw_head(resp: &Message, content_length: usize) -> String {
    let mut head = format!("{}\r\n", resp.head);
    for (k, v) in &resp.headers {
        if !["content-length", "transfer-encoding", "connection"].iter().any(|h| k.eq_ignore_ascii_case(h)) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str(&format!("Content-Length: {content_length}\r\nConnection: close\r\n\r\n"));
    head
}

fn paginate(resp: &mut Message, path: &str, default_page: usize) {
    let mut v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    let mut tags: Vec<String> = serde_json::from_value(v["tags"].take()).unwrap_or_default();
    tags.sort();
    let query = path.split_once('?').map(|(_, q)| q).unwrap_or("");
    let param = |name: &str| query.split('&').find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_owned));
    let n = param("n").and_then(|n| n.parse().ok()).unwrap_or(default_page);
    let last = param("last");
    let rest: Vec<String> = tags.into_iter().filter(|t| last.as_ref().is_none_or(|l| t > l)).collect();
    let page: Vec<String> = rest.iter().take(n).cloned().collect();
    if rest.len() > n {
        let base = path.split('?').next().unwrap();
        let next = format!("<{base}?n={n}&last={}>; rel=\"next\"", page.last().unwrap());
        resp.headers.push(("Link".into(), next));
    }
    v["tags"] = serde_json::json!(page);
    resp.body = serde_json::to_vec(&v).unwrap();
}

/// Reads what the client sent (up to the end of an HTTP head, or until it
/// pauses) so that closing the socket does not reset the connection.
fn drain_request(stream: &TcpStream) {
    use std::io::Read;
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(300)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = (&*stream).read(&mut chunk) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
}

/// A chunked body of JSON-looking bytes that goes on until the client
/// hangs up (a registry streaming forever).
fn endless_body(client: &TcpStream, status: &str) -> std::io::Result<()> {
    let mut w = client;
    w.write_all(
        format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").as_bytes(),
    )?;
    w.write_all(b"7\r\n{\"x\":\"a\r\n")?;
    let chunk = vec![b'a'; 64 * 1024];
    loop {
        w.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
        w.write_all(&chunk)?;
        w.write_all(b"\r\n")?;
    }
}
