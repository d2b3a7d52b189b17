//! logrus's text format, as skopeo's `sync` writes its progress to a
//! non-terminal stderr: `time="…" level=info msg="…" key=value…`, fields
//! sorted by name. Scripts grep these lines, so they are kept byte for byte.

use time::OffsetDateTime;

use super::strconv::quote;

/// A level's name as logrus prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// logrus's `needsQuoting`: anything beyond `[A-Za-z0-9-._/@^+]`.
fn needs_quoting(s: &str) -> bool {
    !s.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'/' | b'@' | b'^' | b'+'))
}

fn value(s: &str) -> String {
    if needs_quoting(s) { quote(s, false) } else { s.to_owned() }
}

/// One line (without its newline) logged at `now_ms` (UTC).
pub fn line(now_ms: u64, level: Level, msg: &str, fields: &[(&str, &str)]) -> String {
    let at = OffsetDateTime::from_unix_timestamp((now_ms / 1000) as i64).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let time = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    let mut out = format!("time={} level={} msg={}", value(&time), level.name(), value(msg));
    let mut sorted = fields.to_vec();
    sorted.sort_by_key(|(k, _)| *k);
    for (k, v) in sorted {
        out.push_str(&format!(" {k}={}", value(v)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_skopeo_sync_prints() {
        // 2026-12-01T11:09:18Z, a line skopeo 1.9.3 printed.
        let now = 1_796_123_358_000;
        assert_eq!(
            line(
                now,
                Level::Info,
                "Copying image ref 1/3",
                &[("to", "dir:/tmp/out/app:latest"), ("from", "docker://127.0.0.1:5055/lib/app:latest")]
            ),
            r#"time="2026-12-01T11:09:18Z" level=info msg="Copying image ref 1/3" from="docker://127.0.0.1:5055/lib/app:latest" to="dir:/tmp/out/app:latest""#
        );
        assert_eq!(
            line(
                now,
                Level::Info,
                "Tag presence check",
                &[("tagged", "false"), ("imagename", "127.0.0.1:5055/lib/app")]
            ),
            r#"time="2026-12-01T11:09:18Z" level=info msg="Tag presence check" imagename="127.0.0.1:5055/lib/app" tagged=false"#
        );
        assert_eq!(
            line(now, Level::Warning, "x\u{1b}[2J", &[]),
            r#"time="2026-12-01T11:09:18Z" level=warning msg="x\x1b[2J""#
        );
    }
}
