//! File reads for the core, bounded by the size it allows.

use tokio::io::AsyncReadExt;

use super::failed;
use crate::runtime::wit::{IoErrorKind, Reply};

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
