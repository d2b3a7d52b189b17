//! Programs the core asks to run (credential helpers): found in PATH,
//! given their input on stdin, their output collected up to a bound.

use std::process::Stdio;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::error::of_io;
use super::failed;
use crate::runtime::wit::{IoErrorKind, ProcessOutput, Reply, Run};

async fn read_bounded(mut from: impl tokio::io::AsyncRead + Unpin, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    (&mut from).take(max.saturating_add(1)).read_to_end(&mut data).await?;
    Ok((data.len() as u64 <= max).then_some(data))
}

pub async fn run(r: Run) -> Reply {
    let mut child = match tokio::process::Command::new(&r.program)
        .args(&r.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return failed(of_io(&e), format!("running {}: {e}", r.program)),
    };
    let (Some(mut stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return failed(IoErrorKind::Other, format!("running {}: no pipes", r.program));
    };
    let input = async move {
        // A program that exits without reading its input is not an error here.
        let _ = stdin.write_all(&r.stdin).await;
        drop(stdin);
    };
    let (_, out, err) = tokio::join!(input, read_bounded(stdout, r.max_output), read_bounded(stderr, r.max_output));
    let status = match child.wait().await {
        Ok(s) => s.code().unwrap_or(-1),
        Err(e) => return failed(of_io(&e), format!("running {}: {e}", r.program)),
    };
    match (out, err) {
        (Ok(Some(stdout)), Ok(Some(stderr))) => Reply::Output(ProcessOutput { status, stdout, stderr }),
        (Ok(None), _) | (_, Ok(None)) => {
            failed(IoErrorKind::TooLarge, format!("{} wrote more than {} bytes", r.program, r.max_output))
        }
        (Err(e), _) | (_, Err(e)) => failed(of_io(&e), format!("reading what {} wrote: {e}", r.program)),
    }
}
