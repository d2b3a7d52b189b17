//! File reads for the core, bounded by the size it allows.

use tokio::io::AsyncReadExt;

use super::failed;
use crate::runtime::wit::{IoErrorKind, Reply, Request};

pub async fn read_file(path: &str, max: u64) -> Reply {
    let file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return failed(IoErrorKind::NotFound, format!("open {path}: no such file or directory"));
        }
        Err(e) => return failed(IoErrorKind::Other, format!("open {path}: {e}")),
    };
    let mut data = Vec::new();
    // Read one byte past the limit to tell "exactly max" from "too long".
    match file.take(max.saturating_add(1)).read_to_end(&mut data).await {
        Ok(_) if data.len() as u64 > max => failed(IoErrorKind::TooLarge, format!("{path} is larger than {max} bytes")),
        Ok(_) => Reply::Data(data),
        Err(e) => failed(IoErrorKind::Other, format!("read {path}: {e}")),
    }
}

/// Carries out a file-system request from the core, replying `done`.
pub async fn apply(request: Request) -> Reply {
    let (what, result) = match request {
        Request::WriteFile(w) => (format!("write {}", w.path), tokio::fs::write(&w.path, &w.data).await),
        Request::Rename(r) => (format!("rename {} to {}", r.from, r.to), tokio::fs::rename(&r.from, &r.to).await),
        Request::CreateDir(p) => (format!("create directory {p}"), tokio::fs::create_dir_all(&p).await),
        Request::RemoveFile(p) => (format!("remove {p}"), tokio::fs::remove_file(&p).await),
        Request::RemoveDir(p) => (format!("remove {p}"), tokio::fs::remove_dir_all(&p).await),
        Request::ListDir(p) => return list_dir(&p).await,
        other => return failed(IoErrorKind::Other, format!("not a file-system request: {other:?}")),
    };
    match result {
        Ok(()) => Reply::Done,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => failed(IoErrorKind::NotFound, format!("{what}: {e}")),
        Err(e) => failed(IoErrorKind::Other, format!("{what}: {e}")),
    }
}

async fn list_dir(path: &str) -> Reply {
    let mut dir = match tokio::fs::read_dir(path).await {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return failed(IoErrorKind::NotFound, format!("{path}: {e}"));
        }
        Err(e) => return failed(IoErrorKind::Other, format!("{path}: {e}")),
    };
    let mut names = Vec::new();
    loop {
        match dir.next_entry().await {
            Ok(Some(e)) => names.push(e.file_name().to_string_lossy().into_owned()),
            Ok(None) => break,
            Err(e) => return failed(IoErrorKind::Other, format!("{path}: {e}")),
        }
    }
    names.sort();
    Reply::Entries(names)
}
