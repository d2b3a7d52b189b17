//! What the user sees of a copy on stderr: skopeo's lines (`Copying blob
//! sha256:…`) when stderr is a pipe or a file, and live bars with bytes and
//! speed when it is a terminal. A command of many parts (a sync) gets one
//! line per part in flight and a bar for the whole instead of one bar per
//! blob. stdout is never touched.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::runtime::wit::{PartOutcome, Progress as Event};

/// The bars of a command of many parts.
#[derive(Default)]
pub struct Parts {
    total: Option<ProgressBar>,
    running: HashMap<u32, ProgressBar>,
    skipped: u64,
    failed: u64,
}

#[derive(Clone)]
pub enum Progress {
    /// `-q`: nothing at all.
    Quiet,
    /// Plain lines, for logs and pipes.
    Lines,
    /// Bars on a terminal.
    Bars(MultiProgress, Arc<Mutex<Parts>>),
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            Progress::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()), Arc::default())
        } else {
            Progress::Lines
        }
    }

    /// A line such as `Copying blob sha256:…` (printed above any bars).
    pub fn line(&self, message: &str) {
        match self {
            Progress::Quiet => {}
            Progress::Lines => eprintln!("{message}"),
            Progress::Bars(m, _) => {
                let _ = m.println(message);
            }
        }
    }

    /// A bar for one transfer, on a terminal only.
    pub fn bar(&self, label: &str, total: Option<u64>) -> Option<ProgressBar> {
        let Progress::Bars(m, parts) = self else { return None };
        // A part's line stands for its blobs.
        if parts.lock().unwrap_or_else(|e| e.into_inner()).total.is_some() {
            return None;
        }
        let bar = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        let style =
            ProgressStyle::with_template("{msg:<24} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        // `blob sha256:0123456789ab…` is enough to tell blobs apart.
        let short: String = label.chars().take(24).collect();
        bar.set_message(short);
        Some(m.add(bar))
    }

    /// Where a command of many parts stands: a bar for the whole, a
    /// spinner per part in flight (terminal only; the lines say the same).
    pub fn part(&self, event: &Event) {
        let Progress::Bars(m, parts) = self else { return };
        let mut parts = parts.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Total(n) => {
                let style = ProgressStyle::with_template("{msg:<24} [{bar:30}] {pos}/{len} images  {elapsed_precise}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                let bar = m.add(ProgressBar::new(u64::from(*n)).with_style(style));
                bar.set_message("sync");
                parts.total = Some(bar);
            }
            Event::Started(p) => {
                let style = ProgressStyle::with_template("  {spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                let bar = m.insert_from_back(1, ProgressBar::new_spinner().with_style(style));
                bar.set_message(p.label.clone());
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                parts.running.insert(p.index, bar);
            }
            Event::Finished(end) => {
                if let Some(bar) = parts.running.remove(&end.index) {
                    bar.finish_and_clear();
                    m.remove(&bar);
                }
                match end.outcome {
                    PartOutcome::Skipped => parts.skipped += 1,
                    PartOutcome::Failed => parts.failed += 1,
                    PartOutcome::Copied => {}
                }
                let (skipped, failed) = (parts.skipped, parts.failed);
                if let Some(total) = &parts.total {
                    total.inc(1);
                    total.set_message(format!("sync ({skipped} skipped, {failed} failed)"));
                    if total.position() == total.length().unwrap_or(0) {
                        total.finish_and_clear();
                    }
                }
            }
        }
    }
}
