//! The store's JSON record lists (`layers.json`, `images.json`,
//! `containers.json`) as they are on disk: held as `serde_json::Value`s so
//! that fields skiff does not know are carried through unchanged, and
//! rewritten as containers/storage rewrites them, through a temporary name
//! (mode 0600) and a rename, under the list's lock.

use serde_json::Value;

use crate::engine::{Io, IoErrorKind, Request};
use crate::error::{Error, ErrorKind, Result};

const MAX_RECORDS: u64 = 64 << 20;

pub fn io_error(what: String) -> impl FnOnce(crate::engine::IoError) -> Error {
    move |e| Error::new(ErrorKind::Io, format!("{what}: {}", e.message))
}

/// A JSON record list as it is on disk (absent: empty).
pub async fn read_list(io: &Io, path: &str) -> Result<Vec<Value>> {
    match io.read_file(path.to_owned(), MAX_RECORDS).await {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(Vec::new()),
        Ok(b) => {
            serde_json::from_slice(&b).map_err(|e| Error::integrity(format!("{path} is not a valid record list: {e}")))
        }
        Err(e) if e.kind == IoErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::new(ErrorKind::Io, format!("reading {path}: {}", e.message))),
    }
}

/// Writes a record list as Go marshals it, through a temporary name
/// (mode 0600, as containers/storage writes its JSON) and a rename.
pub async fn write_list(io: &Io, path: &str, list: &[Value], pid: u32) -> Result<()> {
    let json = serde_json::to_string(list).map_err(|e| Error::other(e.to_string()))?;
    let temp = format!("{path}.{pid}.skiff-tmp");
    let data = crate::go::json::html_escape(&json).into_bytes();
    io.fs(Request::WritePrivateFile { path: temp.clone(), data }).await.map_err(io_error(format!("writing {temp}")))?;
    io.fs(Request::Rename { from: temp, to: path.to_owned() }).await.map_err(io_error(format!("replacing {path}")))
}

pub fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub fn str_list<'a>(v: &'a Value, key: &str) -> Vec<&'a str> {
    v.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}
