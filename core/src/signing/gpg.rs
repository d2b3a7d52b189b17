//! Signing with the user's GnuPG: the host runs `gpg` (a `run` request),
//! so the agent, smartcards and pinentry work as they do for skopeo; the
//! core checks that what gpg made is the payload, signed by that key,
//! before anything stores it.

use super::openpgp;
use crate::engine::Io;
use crate::error::{Error, ErrorKind, Result};

/// The most gpg may print (a keyring, a signature).
const MAX_OUTPUT: u64 = 16 << 20;

/// Runs `gpg ARGS` with `stdin`; its stdout, or its complaint as an error.
pub async fn run(io: &Io, args: &[&str], stdin: Vec<u8>, what: &str) -> Result<Vec<u8>> {
    let args = args.iter().map(|a| (*a).to_owned()).collect();
    let out = io
        .run("gpg".to_owned(), args, stdin, MAX_OUTPUT)
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("{what}: running gpg: {}", e.message)))?;
    if out.status != 0 {
        // gpg's own words, without control bytes.
        let said: Vec<String> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.chars().filter(|c| !c.is_control()).collect())
            .collect();
        return Err(Error::other(format!("{what}: gpg failed: {}", said.join("; "))));
    }
    Ok(out.stdout)
}

/// `payload` signed by `key` (a fingerprint, or anything gpg's
/// `--local-user` takes), checked against `gpg --export key`.
pub async fn sign(io: &Io, payload: &[u8], key: &str, passphrase_file: Option<&str>, what: &str) -> Result<Vec<u8>> {
    let mut args = vec!["--batch", "--no-tty", "--local-user", key, "--sign", "--output", "-"];
    if let Some(f) = passphrase_file {
        args.extend(["--pinentry-mode", "loopback", "--passphrase-file", f]);
    }
    let signature = run(io, &args, payload.to_vec(), what).await?;
    let keyring = run(io, &["--batch", "--no-tty", "--export", key], Vec::new(), what).await?;
    let verified = openpgp::verify(&keyring, &signature, io.now_ms() / 1000).map_err(|e| e.context(what))?;
    if verified.payload != payload {
        return Err(Error::other(format!("{what}: gpg signed something else")));
    }
    Ok(signature)
}
