//! `generate-sigstore-key --output-prefix P`: a new ECDSA P-256 key pair
//! from the host's random bytes, `P.private` encrypted as cosign encrypts
//! it (owner-only) and `P.pub`, as skopeo writes them; files that exist
//! are never replaced.

use serde::Deserialize;

use super::sigstore_key::{self, GENERATE_RANDOM_LEN};
use crate::engine::{FileKind, Io, Request};
use crate::error::{Error, ErrorKind, Result};
use crate::files::{fs_error, read_local};

/// The most a passphrase file may hold.
const MAX_PASSPHRASE_FILE: u64 = 1 << 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateSigstoreKeyJob {
    pub output_prefix: String,
    #[serde(default)]
    pub passphrase_file: Option<String>,
    /// What the host asked the user for, when there is no file.
    #[serde(default)]
    pub passphrase: Option<String>,
}

/// Refuses a path that leads to something (a dangling symlink does not).
async fn ensure_absent(io: &Io, path: &str) -> Result<()> {
    let info = io
        .stat(path.to_owned())
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("Error checking existence of {path:?}: {}", e.message)))?;
    if info.target != FileKind::Absent {
        return Err(Error::invalid(format!("Refusing to overwrite existing {path:?}")));
    }
    Ok(())
}

pub async fn run(io: Io, job: GenerateSigstoreKeyJob) -> Result<Vec<u8>> {
    if job.output_prefix.is_empty() {
        return Err(Error::invalid("Usage: generate-sigstore-key --output-prefix PREFIX"));
    }
    let (public_path, private_path) = (format!("{}.pub", job.output_prefix), format!("{}.private", job.output_prefix));
    ensure_absent(&io, &public_path).await?;
    ensure_absent(&io, &private_path).await?;
    let passphrase = match (&job.passphrase_file, &job.passphrase) {
        (Some(f), _) => sigstore_key::passphrase_from_file(&read_local(&io, f.clone(), MAX_PASSPHRASE_FILE).await?),
        (None, Some(p)) => p.clone().into_bytes(),
        (None, None) => {
            return Err(Error::invalid(format!(
                "Cannot prompt for a passphrase for key {private_path}, standard input is not a TTY"
            )));
        }
    };
    let (private, public) = loop {
        let random = io
            .random(GENERATE_RANDOM_LEN as u32)
            .await
            .map_err(|e| Error::other(format!("Error generating key pair: {}", e.message)))?;
        if let Some(pair) = sigstore_key::generate(&random, &passphrase)? {
            break pair;
        }
    };
    io.fs(Request::WritePrivateFile { path: private_path.clone(), data: private.into_bytes() })
        .await
        .map_err(fs_error(format!("Error writing private key to {private_path:?}")))?;
    io.fs(Request::WriteFile { path: public_path.clone(), data: public.into_bytes() })
        .await
        .map_err(fs_error(format!("Error writing public key to {public_path:?}")))?;
    Ok(format!("Key written to {private_path:?} and {public_path:?}\n").into_bytes())
}
