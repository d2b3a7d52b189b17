//! An archive read in place (`oci-archive:`, `docker-archive:`): its regular
//! files are indexed once by the host and read by offset, never extracted.
//! Names that could escape (absolute, `..`) are dropped from the index, so
//! they can never be looked up; links are not regular files and never listed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::file_error;
use crate::engine::{BlobSource, Io};
use crate::error::{Error, Result};

#[derive(Debug)]
pub struct TarMembers {
    io: Io,
    path: String,
    index: RefCell<Option<Rc<Index>>>,
}

/// Member name → (offset, size), filled on first use.
type Index = HashMap<String, (u64, u64)>;

/// A member name as a path inside the archive, or None for names that could escape.
fn member_name(name: &str) -> Option<String> {
    let n = name.trim_start_matches("./");
    if n.starts_with('/') || n.split('/').any(|c| c == "..") {
        return None;
    }
    Some(n.to_owned())
}

impl TarMembers {
    pub fn new(io: &Io, path: &str) -> Self {
        TarMembers { io: io.clone(), path: path.to_owned(), index: RefCell::new(None) }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Where member `name` is: (offset, size).
    pub async fn locate(&self, name: &str) -> Result<(u64, u64)> {
        let cached = self.index.borrow().clone();
        let index = match cached {
            Some(i) => i,
            None => {
                let list = self.io.tar_index(self.path.clone()).await.map_err(|e| file_error(&self.path, e))?;
                // A name stored twice means its first entry, as containers/image
                // reads archives (item 25): a later entry cannot swap the bytes.
                let mut index = Index::new();
                for m in list {
                    if let Some(name) = member_name(&m.name) {
                        index.entry(name).or_insert((m.offset, m.size));
                    }
                }
                Rc::new(index)
            }
        };
        *self.index.borrow_mut() = Some(index.clone());
        let name =
            member_name(name).ok_or_else(|| Error::invalid(format!("{name:?} in {}: not a safe name", self.path)))?;
        index.get(&name).copied().ok_or_else(|| Error::not_found(format!("{name} not found in {}", self.path)))
    }

    /// Member `name`'s bytes, at most `max`.
    pub async fn read(&self, name: &str, max: u64) -> Result<Vec<u8>> {
        let (offset, size) = self.locate(name).await?;
        if size > max {
            return Err(Error::integrity(format!("{name} in {} is larger than {max} bytes", self.path)));
        }
        self.io.read_range(self.path.clone(), offset, size).await.map_err(|e| file_error(&self.path, e))
    }

    /// Member `name` as the source of a transfer.
    pub async fn source(&self, name: &str) -> Result<BlobSource> {
        let (offset, length) = self.locate(name).await?;
        Ok(BlobSource::FileRange { path: self.path.clone(), offset, length })
    }
}

#[cfg(test)]
mod tests {
    use super::member_name;

    #[test]
    fn member_names_cannot_escape() {
        assert_eq!(member_name("./index.json").as_deref(), Some("index.json"));
        assert_eq!(member_name("blobs/sha256/ab").as_deref(), Some("blobs/sha256/ab"));
        assert_eq!(member_name("/etc/passwd"), None);
        assert_eq!(member_name("blobs/../../x"), None);
    }
}
