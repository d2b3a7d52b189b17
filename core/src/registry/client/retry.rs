//! Retries: which outcomes are worth another try, how long to wait first
//! (what the registry's `Retry-After` asks, else `--retry-delay`, else
//! exponential back-off, never more than a minute), and the one loop that
//! does it.

use std::future::Future;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use super::RegistryClient;
use crate::engine::{HttpResponse, IoError, IoErrorKind};

/// containers/image retries 429 up to 5 times even without `--retry-times`.
const TOO_MANY_REQUESTS_TRIES: u32 = 5;
/// How many times a GET or HEAD is sent again at once after meeting a
/// kept-alive connection the server had closed. Each resend may take
/// another idle connection that was closed too; the host keeps about as
/// many per registry as requests ran at once (6 by default), and Go's
/// transport retries for as long as the connection was a reused one.
const CLOSED_RESENDS: u32 = 16;
/// The longest wait between two tries, whatever a registry asks.
pub(super) const MAX_BACKOFF_MS: u64 = 60_000;

/// What one try came to, for the retry decision.
pub(super) enum Attempt<'a> {
    /// The server answered (a blob source that refused counts too).
    Answer(&'a HttpResponse),
    /// The host could not carry the request out; `replayable` if the
    /// request was a GET or HEAD, which may be sent again as it was.
    Failed { error: &'a IoError, replayable: bool },
    /// A whole step failed in a way `--retry-times` covers (an upload that
    /// broke off and must start again).
    Transient,
}

/// `--retry-times` and `--retry-delay`.
#[derive(Debug, Clone, Copy)]
pub(super) struct RetryPolicy {
    pub times: u32,
    pub delay_ms: Option<u64>,
}

impl RetryPolicy {
    /// The wait before try `attempt + 2`: what the registry asked, else
    /// `--retry-delay`, else 1 s, 2 s, 4 s… (at most a minute).
    pub fn backoff_ms(&self, attempt: u32, retry_after: Option<u64>) -> u64 {
        retry_after.or(self.delay_ms).unwrap_or(1000u64 << attempt.min(6)).min(MAX_BACKOFF_MS)
    }

    /// How long to wait before trying again after try `attempt + 1` came to
    /// `outcome`, if at all: `--retry-times` for transient failures
    /// (connection errors, 502–504), 429 a few times regardless, as long as
    /// the registry's `Retry-After` asks (read against the clock `now_ms`).
    pub fn delay_ms(&self, attempt: u32, outcome: Attempt<'_>, now_ms: u64) -> Option<u64> {
        let (retryable, retry_after) = match outcome {
            Attempt::Answer(r) if r.status == 429 => (
                attempt + 1 < TOO_MANY_REQUESTS_TRIES.max(self.times.saturating_add(1)),
                r.header("retry-after").and_then(|v| retry_after_ms(v, now_ms)),
            ),
            Attempt::Answer(r) if matches!(r.status, 502..=504) => (attempt < self.times, None),
            Attempt::Answer(_) => (false, None),
            // A kept-alive connection the server had already closed: sent
            // again at once, whatever `--retry-times` says, as Go's
            // transport does for replayable requests.
            Attempt::Failed { error, replayable: true }
                if error.kind == IoErrorKind::Closed && attempt < CLOSED_RESENDS =>
            {
                return Some(0);
            }
            // Only network trouble may go away by asking again (not TLS,
            // an oversized body, or a file-system failure).
            Attempt::Failed { error, .. } => (error.kind.is_transient() && attempt < self.times, None),
            Attempt::Transient => (attempt < self.times, None),
        };
        retryable.then(|| self.backoff_ms(attempt, retry_after))
    }
}

/// A `Retry-After` value in milliseconds from `now_ms`: delay-seconds or an
/// HTTP date. None (use the usual back-off) for anything else, a negative
/// number, or a date already past; a huge one is capped by the caller.
pub(super) fn retry_after_ms(value: &str, now_ms: u64) -> Option<u64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 is still "a very long time".
        return Some(value.parse::<u64>().unwrap_or(u64::MAX).saturating_mul(1000));
    }
    let at = OffsetDateTime::parse(value, &Rfc2822).ok()?;
    let at_ms = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()?;
    at_ms.checked_sub(now_ms).filter(|&ms| ms > 0)
}

impl RegistryClient {
    /// The one retry loop: runs `attempt` until `judge` finds its outcome
    /// final or the policy has no more tries, waiting between tries.
    pub(super) async fn retrying<T, Fut>(
        &self,
        mut attempt: impl FnMut() -> Fut,
        judge: impl Fn(&T) -> Option<Attempt<'_>>,
    ) -> T
    where
        Fut: Future<Output = T>,
    {
        let mut tries = 0u32;
        loop {
            let outcome = attempt().await;
            let delay = judge(&outcome).and_then(|a| self.retry().delay_ms(tries, a, self.io.now_ms()));
            let Some(delay) = delay else { return outcome };
            self.io.sleep(delay).await;
            tries += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        // 2015-10-21T07:28:00Z
        let now = 1_445_412_480_000;
        assert_eq!(retry_after_ms("3", now), Some(3000));
        assert_eq!(retry_after_ms(" 0 ", now), Some(0));
        assert_eq!(retry_after_ms("Wed, 21 Oct 2015 07:28:07 GMT", now), Some(7000));
        assert_eq!(retry_after_ms("Wed, 21 Oct 2015 07:27:00 GMT", now), None, "in the past");
        assert_eq!(retry_after_ms("-5", now), None);
        assert_eq!(retry_after_ms("soon", now), None);
        assert_eq!(retry_after_ms("", now), None);
        assert_eq!(retry_after_ms("99999999999999999999999", now), Some(u64::MAX));
    }

    #[test]
    fn backoff_is_bounded() {
        let p = RetryPolicy { times: 3, delay_ms: None };
        assert_eq!((0..4).map(|a| p.backoff_ms(a, None)).collect::<Vec<_>>(), [1000, 2000, 4000, 8000]);
        assert_eq!(p.backoff_ms(30, None), MAX_BACKOFF_MS);
        assert_eq!(p.backoff_ms(0, Some(u64::MAX)), MAX_BACKOFF_MS);
        let fixed = RetryPolicy { times: 3, delay_ms: Some(250) };
        assert_eq!(fixed.backoff_ms(5, None), 250);
    }
}
