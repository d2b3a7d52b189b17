//! The wasm-bindgen facade over skiff-core. It only converts between
//! JavaScript values and the core's engine types; the JavaScript driver
//! (`js/skiff.js`) carries out the requests with `fetch`. Every protocol
//! decision stays in the core, exactly as for the CLI.

use js_sys::{Array, Object, Reflect, Uint8Array};
use skiff_core::engine::{self, Action, FileInfo, FileKind, HttpResponse, IoError, IoErrorKind, Reply, Request};
use skiff_core::error::{Error, ErrorKind};
use wasm_bindgen::prelude::*;

/// The core never draws random numbers itself (a host hands it any it
/// needs); rPGP's dependencies link getrandom all the same. This source
/// refuses, so a use would be a loud error, never a silent OS call.
fn no_os_random(_: &mut [u8]) -> Result<(), getrandom::Error> {
    Err(getrandom::Error::UNSUPPORTED)
}
getrandom::register_custom_getrandom!(no_os_random);

fn set(o: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(o, &JsValue::from_str(key), &value.into());
}

fn get(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn kind_name(k: ErrorKind) -> &'static str {
    match k {
        ErrorKind::InvalidInput => "invalid-input",
        ErrorKind::NotFound => "not-found",
        ErrorKind::Unauthorized => "unauthorized",
        ErrorKind::Io => "io",
        ErrorKind::Integrity => "integrity",
        ErrorKind::Unsupported => "unsupported",
        ErrorKind::Other => "other",
    }
}

/// A JavaScript `Error` whose `kind` tells the failure class.
fn js_error(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.message);
    set(&err, "kind", kind_name(e.kind));
    err.into()
}

/// Parses `transport:reference`; returns `{transport, registry, repository, tag, digest, path, index}`.
#[wasm_bindgen(js_name = parseReference)]
pub fn parse_reference(reference: &str) -> Result<JsValue, JsValue> {
    let r = skiff_core::reference::ImageReference::parse(reference).map_err(js_error)?;
    let d = r.describe();
    let o = Object::new();
    set(&o, "transport", d.transport);
    let opt = |o: &Object, k: &str, v: Option<String>| {
        if let Some(v) = v {
            set(o, k, v);
        }
    };
    opt(&o, "registry", d.registry);
    opt(&o, "repository", d.repository);
    opt(&o, "tag", d.tag);
    opt(&o, "digest", d.digest);
    opt(&o, "path", d.path);
    if let Some(i) = d.index {
        set(&o, "index", i as f64);
    }
    Ok(o.into())
}

/// The digest that names a manifest (`sha256:…`).
#[wasm_bindgen(js_name = manifestDigest)]
pub fn manifest_digest(manifest: &[u8]) -> Result<String, JsValue> {
    skiff_core::manifest::manifest_digest(manifest).map(|d| d.to_string()).map_err(js_error)
}

/// One running command (see `js/skiff.js` for the loop that drives it).
#[wasm_bindgen]
pub struct Operation(engine::Operation);

#[wasm_bindgen]
impl Operation {
    /// `job` is a job in JSON (`{"command": "inspect", …}`, the records of
    /// core's command modules, unknown fields refused) and `environment`
    /// the user's environment in JSON (core/src/config/mod.rs); a malformed
    /// one fails at the first poll.
    #[wasm_bindgen(constructor)]
    pub fn new(job: &str, environment: &str) -> Operation {
        let env = serde_json::from_str::<skiff_core::config::Environment>(environment)
            .map_err(|e| Error::invalid(format!("invalid environment: {e}")));
        Operation(match (skiff_core::job::Job::from_json(job), env) {
            (Ok(job), Ok(env)) => job.start(env),
            (Err(e), _) | (_, Err(e)) => engine::Operation::failed(e),
        })
    }

    /// The next action: `{kind: "perform", id, request}`, `{kind: "done", output}`,
    /// `{kind: "failed", errorKind, message}` or `{kind: "idle"}`.
    pub fn poll(&mut self, now_ms: f64) -> JsValue {
        let o = Object::new();
        match self.0.poll(now_ms as u64) {
            Action::Perform { id, request } => {
                set(&o, "kind", "perform");
                set(&o, "id", id as f64);
                set(&o, "request", request_to_js(request));
            }
            Action::Done(out) => {
                set(&o, "kind", "done");
                set(&o, "output", Uint8Array::from(out.as_slice()));
            }
            Action::Failed(e) => {
                set(&o, "kind", "failed");
                set(&o, "errorKind", kind_name(e.kind));
                set(&o, "message", e.message);
            }
            Action::Idle => set(&o, "kind", "idle"),
        }
        o.into()
    }

    /// Reports the completion of request `id`: `{kind: "http", status, headers, body}`,
    /// `{kind: "data", data}`, `{kind: "elapsed"}` or `{kind: "failed", errorKind, message}`.
    pub fn handle(&mut self, now_ms: f64, id: f64, reply: JsValue) -> Result<(), JsValue> {
        let reply = reply_from_js(&reply).map_err(|m| js_error(Error::invalid(m)))?;
        self.0.handle(now_ms as u64, id as u64, reply);
        Ok(())
    }
}

fn request_to_js(r: Request) -> JsValue {
    let o = Object::new();
    match r {
        Request::Http(h) => {
            set(&o, "kind", "http");
            set(&o, "method", h.method);
            set(&o, "url", h.url);
            let headers = Array::new();
            for (k, v) in h.headers {
                headers.push(&Array::of2(&k.into(), &v.into()));
            }
            set(&o, "headers", headers);
            set(&o, "body", h.body.map(|b| JsValue::from(Uint8Array::from(b.as_slice()))).unwrap_or(JsValue::NULL));
            set(&o, "maxBody", h.max_body as f64);
            // fetch cannot take per-request trust: the driver uses the
            // platform's (NODE_EXTRA_CA_CERTS in Node) and says so in --debug.
            set(&o, "insecure", h.tls.insecure);
            set(&o, "caFiles", h.tls.ca_files.into_iter().map(JsValue::from).collect::<Array>());
        }
        Request::ReadFile { path, max_bytes } => {
            set(&o, "kind", "read-file");
            set(&o, "path", path);
            set(&o, "maxBytes", max_bytes as f64);
        }
        Request::Wait { millis } => {
            set(&o, "kind", "wait");
            set(&o, "millis", millis as f64);
        }
        Request::Warn { message } => {
            set(&o, "kind", "warn");
            set(&o, "message", message);
        }
        Request::Note { message } => {
            set(&o, "kind", "note");
            set(&o, "message", message);
        }
        // Nothing is drawn in JavaScript; the notes say the same.
        Request::Progress(_) => set(&o, "kind", "progress"),
        // Copying is a CLI feature: the driver answers these with a failure.
        Request::Transfer(_) => set(&o, "kind", "transfer"),
        Request::WriteFile { .. } => set(&o, "kind", "write-file"),
        Request::WritePrivateFile { .. } => set(&o, "kind", "write-private-file"),
        Request::Rename { .. } => set(&o, "kind", "rename"),
        Request::CreateDir { .. } => set(&o, "kind", "create-dir"),
        Request::RemoveFile { .. } => set(&o, "kind", "remove-file"),
        Request::ReadRange { .. } => set(&o, "kind", "read-range"),
        Request::TarIndex { .. } => set(&o, "kind", "tar-index"),
        Request::WriteStream { .. } => set(&o, "kind", "write-stream"),
        // No programs are run from JavaScript: the driver answers with a failure.
        Request::Run { program, .. } => {
            set(&o, "kind", "run");
            set(&o, "program", program);
        }
        Request::Random { length } => {
            set(&o, "kind", "random");
            set(&o, "length", length as f64);
        }
        Request::Stat { path } => {
            set(&o, "kind", "stat");
            set(&o, "path", path);
        }
        Request::ListDir { path } => {
            set(&o, "kind", "list-dir");
            set(&o, "path", path);
        }
        Request::RemoveDir { .. } => set(&o, "kind", "remove-dir"),
        Request::Recompress(_) => set(&o, "kind", "recompress"),
        Request::Crypt(_) => set(&o, "kind", "crypt"),
        Request::ApplyLayer(_) => set(&o, "kind", "apply-layer"),
        Request::Symlink { .. } => set(&o, "kind", "symlink"),
        // The image proxy is a CLI command: the driver answers with a failure.
        Request::ProxyReceive => set(&o, "kind", "proxy-receive"),
        Request::ProxySend { .. } => set(&o, "kind", "proxy-send"),
        Request::PipeOpen { .. } => set(&o, "kind", "pipe-open"),
        Request::PipeWrite { .. } => set(&o, "kind", "pipe-write"),
        Request::PipeClose { .. } => set(&o, "kind", "pipe-close"),
        // skiff-js writes no layouts: the driver answers with a failure.
        Request::Lock { .. } => set(&o, "kind", "lock"),
        Request::Unlock { .. } => set(&o, "kind", "unlock"),
        Request::FileLock { .. } => set(&o, "kind", "file-lock"),
        Request::TouchLock { .. } => set(&o, "kind", "touch-lock"),
    }
    o.into()
}

fn bytes(v: &JsValue) -> Vec<u8> {
    Uint8Array::new(v).to_vec()
}

fn reply_from_js(r: &JsValue) -> Result<Reply, String> {
    let kind = get(r, "kind").as_string().ok_or("reply without kind")?;
    Ok(match kind.as_str() {
        "http" => {
            let mut headers = Vec::new();
            for pair in Array::from(&get(r, "headers")).iter() {
                let pair = Array::from(&pair);
                headers
                    .push((pair.get(0).as_string().unwrap_or_default(), pair.get(1).as_string().unwrap_or_default()));
            }
            let status = get(r, "status").as_f64().ok_or("http reply without status")? as u16;
            Reply::Http(HttpResponse { status, headers, body: bytes(&get(r, "body")) })
        }
        "data" => Reply::Data(bytes(&get(r, "data"))),
        "elapsed" => Reply::Elapsed,
        "entries" => Reply::Entries(Array::from(&get(r, "entries")).iter().filter_map(|v| v.as_string()).collect()),
        "file-info" => {
            let kind = |k: &str| match get(r, k).as_string().as_deref() {
                Some("regular") => FileKind::Regular,
                Some("directory") => FileKind::Directory,
                Some("symlink") => FileKind::Symlink,
                Some("absent") | None => FileKind::Absent,
                Some(_) => FileKind::Other,
            };
            let size = get(r, "size").as_f64().unwrap_or(0.0) as u64;
            let modified_ns = get(r, "modifiedNs").as_f64().unwrap_or(0.0) as i64;
            let mode = get(r, "mode").as_f64().unwrap_or(0.0) as u32;
            Reply::FileInfo(FileInfo { kind: kind("fileKind"), target: kind("target"), size, modified_ns, mode })
        }
        "failed" => {
            let kind = match get(r, "errorKind").as_string().as_deref() {
                Some("dns") => IoErrorKind::Dns,
                Some("connect") => IoErrorKind::Connect,
                Some("reset") => IoErrorKind::Reset,
                Some("closed") => IoErrorKind::Closed,
                Some("permission-denied") => IoErrorKind::PermissionDenied,
                Some("tls") => IoErrorKind::Tls,
                Some("timeout") => IoErrorKind::Timeout,
                Some("not-found") => IoErrorKind::NotFound,
                Some("too-large") => IoErrorKind::TooLarge,
                _ => IoErrorKind::Other,
            };
            Reply::Failed(IoError { kind, message: get(r, "message").as_string().unwrap_or_default() })
        }
        other => return Err(format!("unknown reply kind {other:?}")),
    })
}
