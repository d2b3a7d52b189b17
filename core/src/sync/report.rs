//! What each image of a sync came to, the summary line on stderr, and
//! `--report FILE` (the same as JSON, one entry per image).

use serde::Serialize;

use super::Log;
use super::plan::Entry;
use crate::copy::Copied;
use crate::error::{Error, Result};
use crate::go::logrus::Level;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Blobs or a manifest were written.
    Copied,
    /// The destination held this manifest already.
    Skipped,
    Failed,
    /// Not tried: an earlier image failed without `--keep-going`.
    NotStarted,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub source: String,
    pub destination: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub status: Status,
    /// Blob bytes sent to the destination.
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Outcome {
    fn of(e: &Entry, status: Status) -> Outcome {
        Outcome {
            source: e.source_name.clone(),
            destination: e.destination_name.clone(),
            digest: None,
            status,
            bytes: 0,
            error: None,
        }
    }

    pub fn copied(e: &Entry, c: Copied) -> Outcome {
        let status = if c.present && c.sent == 0 { Status::Skipped } else { Status::Copied };
        Outcome { digest: Some(c.digest.to_string()), bytes: c.sent, ..Outcome::of(e, status) }
    }

    pub fn failed(e: &Entry, err: Error) -> Outcome {
        Outcome { error: Some(err.message), ..Outcome::of(e, Status::Failed) }
    }

    /// Skipped by `--skip-existing`: the digest there is not known.
    pub fn present(e: &Entry) -> Outcome {
        Outcome::of(e, Status::Skipped)
    }

    pub fn not_started(e: &Entry) -> Outcome {
        Outcome::of(e, Status::NotStarted)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub copied: usize,
    pub skipped: usize,
    pub failed: usize,
    pub bytes: u64,
    pub milliseconds: u64,
}

impl Summary {
    pub fn of(outcomes: &[Outcome], milliseconds: u64) -> Summary {
        let count = |s: Status| outcomes.iter().filter(|o| o.status == s).count();
        Summary {
            copied: count(Status::Copied),
            skipped: count(Status::Skipped),
            failed: count(Status::Failed),
            bytes: outcomes.iter().map(|o| o.bytes).sum(),
            milliseconds,
        }
    }

    /// One logrus line, before skopeo's `Synced N images` (which stays last).
    pub fn log(&self, log: &Log) {
        let [copied, skipped, failed, bytes] =
            [self.copied, self.skipped, self.failed, self.bytes as usize].map(|n| n.to_string());
        let seconds = format!("{:.3}", self.milliseconds as f64 / 1000.0);
        log.line(
            Level::Info,
            "Sync summary",
            &[
                ("copied", &copied),
                ("skipped", &skipped),
                ("failed", &failed),
                ("bytes", &bytes),
                ("seconds", &seconds),
            ],
        );
    }
}

#[derive(Serialize)]
struct ReportFile<'a> {
    summary: &'a Summary,
    images: &'a [Outcome],
}

/// `--report FILE`'s contents.
pub fn json(outcomes: &[Outcome], summary: &Summary) -> Result<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(&ReportFile { summary, images: outcomes })
        .map_err(|e| Error::other(e.to_string()))?;
    out.push(b'\n');
    Ok(out)
}
