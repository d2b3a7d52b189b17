//! What the user sees of a copy on stderr: skopeo's lines (`Copying blob
//! sha256:…`) when stderr is a pipe or a file, and live bars with bytes and
//! speed when it is a terminal. stdout is never touched.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone)]
pub enum Progress {
    /// `-q`: nothing at all.
    Quiet,
    /// Plain lines, for logs and pipes.
    Lines,
    /// Bars on a terminal.
    Bars(MultiProgress),
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            Progress::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        } else {
            Progress::Lines
        }
    }

    /// A line such as `Copying blob sha256:…` (printed above any bars).
    pub fn line(&self, message: &str) {
        match self {
            Progress::Quiet => {}
            Progress::Lines => eprintln!("{message}"),
            Progress::Bars(m) => {
                let _ = m.println(message);
            }
        }
    }

    /// A bar for one transfer, on a terminal only.
    pub fn bar(&self, label: &str, total: Option<u64>) -> Option<ProgressBar> {
        let Progress::Bars(m) = self else { return None };
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
}
