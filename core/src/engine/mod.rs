//! The contract between the core and a host, in the style of quinn-proto and
//! str0m: the host feeds what happened into [`Operation::handle`] and drains
//! [`Operation::poll`] for what to do next. The core never performs IO,
//! reads a clock or spawns a thread.
//!
//! Inside, each command is written as ordinary `async` Rust over [`Io`]
//! ([`runtime`]), whose futures only *record* requests ([`protocol`]); a
//! tiny executor polls the command whenever a completion arrives. Requests
//! carry ids, completions may arrive in any order, and several requests may
//! be outstanding at once.

mod protocol;
mod runtime;

pub use protocol::{
    Applied, ApplyLayer, BlobSink, BlobSource, ClientIdentity, Crypt, CryptDirection, Crypted, FileInfo, FileKind,
    HttpRequest, HttpResponse, IoError, IoErrorKind, PartOutcome, ProcessOutput, Progress, Recompress, Recompressed,
    Reply, Request, StreamPiece, TarMember, Timeouts, TlsConfig, Transfer, WhiteoutFormat,
};
pub use runtime::{Io, Transferred};

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::error::{Error, Result};

/// What the host should do next.
// One action exists at a time and is moved out at once: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Carry out `request` and report the result with the same `id`.
    Perform { id: u64, request: Request },
    /// The command finished; write these bytes to standard output.
    Done(Vec<u8>),
    /// The command failed.
    Failed(Error),
    /// Nothing to do until a pending request completes.
    Idle,
}

type Task = Pin<Box<dyn Future<Output = Result<Vec<u8>>>>>;

/// Mutual exclusion among the futures of one operation, by key: images
/// copied at once must not upload the same blob to one registry together
/// (Distribution 2.8 loses one of two concurrent uploads of a digest) nor
/// rewrite one layout's `index.json` together. A waiter is simply pending:
/// the executor re-polls it with every reply, and a holder releases its
/// key within a poll (before its next request, or as it finishes), so a
/// waiter is never left without a later poll.
#[derive(Debug, Default)]
pub struct KeyedLock(std::cell::RefCell<std::collections::HashSet<String>>);

/// Holds one key of a [`KeyedLock`] until dropped.
pub struct KeyGuard {
    lock: std::rc::Rc<KeyedLock>,
    key: String,
}

impl KeyedLock {
    pub async fn acquire(self: std::rc::Rc<Self>, key: String) -> KeyGuard {
        std::future::poll_fn(|_| if self.0.borrow_mut().insert(key.clone()) { Poll::Ready(()) } else { Poll::Pending })
            .await;
        KeyGuard { lock: self, key }
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        self.lock.0.borrow_mut().remove(&self.key);
    }
}

/// Runs `futures` concurrently (their requests are all outstanding at once)
/// and returns their outputs in order.
pub async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    join_bounded(futures, usize::MAX).await
}

/// Runs `futures` with at most `limit` in progress: the next one starts as
/// soon as one finishes (a sliding window, so a slow one never holds back a
/// whole batch). Outputs come back in order. The futures are taken from the
/// iterator only as they start and dropped as they finish, so memory holds
/// `limit` of them however many there are (a sync of thousands of images:
/// each copy's state machine is kilobytes even before it starts).
pub async fn join_bounded<F: Future>(futures: impl IntoIterator<Item = F>, limit: usize) -> Vec<F::Output> {
    let limit = limit.max(1);
    let mut waiting = futures.into_iter().enumerate();
    let mut running: Vec<(usize, Pin<Box<F>>)> = Vec::new();
    let mut outputs: Vec<Option<F::Output>> = Vec::new();
    let mut exhausted = false;
    std::future::poll_fn(|cx| {
        loop {
            // A future does nothing until polled: starting one is polling it.
            while !exhausted && running.len() < limit {
                match waiting.next() {
                    Some((i, f)) => {
                        running.push((i, Box::pin(f)));
                        outputs.push(None);
                        debug_assert_eq!(outputs.len(), i + 1);
                    }
                    None => exhausted = true,
                }
            }
            let before = running.len();
            // In the order they started, as requests then go out in order.
            let mut k = 0;
            while k < running.len() {
                match running[k].1.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        let (i, _) = running.remove(k);
                        outputs[i] = Some(v);
                    }
                    Poll::Pending => k += 1,
                }
            }
            if exhausted && running.is_empty() {
                return Poll::Ready(());
            }
            if running.len() == before {
                return Poll::Pending;
            }
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("every future finished")).collect()
}

/// Runs `first` and `second` together (their requests go out in the same
/// round) and returns both outputs.
pub async fn join<A: Future, B: Future>(first: A, second: B) -> (A::Output, B::Output) {
    let (a, b) = prefer_first(first, second, |_| false).await;
    (a, b.expect("a result that is never good waits for the second"))
}

/// Runs `first` and `second` together and returns `first`'s output as soon
/// as `good` accepts it (`second`, abandoned, is None); otherwise waits for
/// `second` too. For a preferred request with a fallback asked in parallel.
pub async fn prefer_first<A: Future, B: Future>(
    first: A,
    second: B,
    good: impl Fn(&A::Output) -> bool,
) -> (A::Output, Option<B::Output>) {
    let (mut first, mut second) = (Box::pin(first), Box::pin(second));
    let (mut a, mut b) = (None, None);
    std::future::poll_fn(|cx| {
        if a.is_none()
            && let Poll::Ready(v) = first.as_mut().poll(cx)
        {
            a = Some(v);
        }
        if b.is_none()
            && let Poll::Ready(v) = second.as_mut().poll(cx)
        {
            b = Some(v);
        }
        match &a {
            Some(v) if good(v) => Poll::Ready(()),
            Some(_) if b.is_some() => Poll::Ready(()),
            _ => Poll::Pending,
        }
    })
    .await;
    (a.expect("first finished"), b)
}

/// One running command.
///
/// # Driving contract
/// - Call [`poll`](Self::poll) until it returns [`Action::Idle`]; carry out
///   each [`Action::Perform`] (or several at once, in any order) and report
///   each outcome once with [`handle`](Self::handle) and the same id. Then
///   poll again. `Warn` and `Note` requests expect no reply.
/// - A reply to an id that was never asked, expects no reply or was
///   answered already fails the operation: it is the host's bug.
/// - After [`Action::Done`] or [`Action::Failed`], `poll` returns `Idle`.
///
/// # Executor contract (for code inside the core)
/// The command's future is polled with a no-op waker, after every `handle`
/// and on the first `poll`: progress comes only from replies, never from a
/// wake-up. So a combinator that waits to be *woken* before polling its
/// children again (`FuturesUnordered`, channels, `select!` over wakers)
/// would stall; use [`join_all`] and [`join_bounded`] here, which re-poll
/// every unfinished child each time they are polled.
pub struct Operation {
    io: Io,
    task: Option<Task>,
    /// Set when something happened that may let the task make progress.
    runnable: bool,
    outcome: Option<Result<Vec<u8>>>,
    finished: bool,
}

impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operation").field("finished", &self.finished).finish()
    }
}

impl Operation {
    /// Starts a command written as an async function over [`Io`].
    pub fn start<F, Fut>(command: F) -> Self
    where
        F: FnOnce(Io) -> Fut,
        Fut: Future<Output = Result<Vec<u8>>> + 'static,
    {
        let io = Io::default();
        let task: Task = Box::pin(command(io.clone()));
        Operation { io, task: Some(task), runnable: true, outcome: None, finished: false }
    }

    /// An operation that fails at once (for a job that could not be read).
    pub fn failed(error: Error) -> Self {
        Operation { io: Io::default(), task: None, runnable: false, outcome: Some(Err(error)), finished: false }
    }

    /// Reports the completion of request `id`. `now_ms` is the host's clock.
    pub fn handle(&mut self, now_ms: u64, id: u64, reply: Reply) {
        self.io.set_now(now_ms);
        if let Err(message) = self.io.complete(id, reply)
            && self.outcome.is_none()
            && !self.finished
        {
            // The command cannot be trusted to go on with a confused host.
            self.task = None;
            self.io.discard_requests();
            self.outcome = Some(Err(Error::other(message)));
        }
        self.runnable = true;
    }

    /// The next thing to do. Call until it returns [`Action::Idle`], then wait
    /// for a completion; after `Done` or `Failed` it only returns `Idle`.
    pub fn poll(&mut self, now_ms: u64) -> Action {
        self.io.set_now(now_ms);
        if let Some((id, request)) = self.io.next_request() {
            return Action::Perform { id, request };
        }
        if self.runnable {
            self.runnable = false;
            if let Some(task) = self.task.as_mut() {
                let mut cx = Context::from_waker(Waker::noop());
                if let Poll::Ready(outcome) = task.as_mut().poll(&mut cx) {
                    self.task = None;
                    self.outcome = Some(outcome);
                }
            }
            if let Some((id, request)) = self.io.next_request() {
                return Action::Perform { id, request };
            }
        }
        if !self.finished
            && let Some(outcome) = self.outcome.take()
        {
            self.finished = true;
            return match outcome {
                Ok(out) => Action::Done(out),
                Err(e) => Action::Failed(e),
            };
        }
        Action::Idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn drives_requests_in_any_order() {
        let mut op = Operation::start(|io| async move {
            let a = io.read_file("a".into(), 10);
            let b = io.read_file("b".into(), 10);
            // Issue both before awaiting either, so both are outstanding at once.
            let mut out = Vec::new();
            for r in join_all(vec![a, b]).await {
                out.extend(r.map_err(|e| Error::other(e.message))?);
            }
            Ok(out)
        });
        let mut ids = vec![];
        loop {
            match op.poll(0) {
                Action::Perform { id, request: Request::ReadFile { path, .. } } => ids.push((id, path)),
                Action::Idle => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(ids.len(), 2);
        // Complete the second first.
        op.handle(1, ids[1].0, Reply::Data(b"B".to_vec()));
        assert_eq!(op.poll(1), Action::Idle);
        op.handle(2, ids[0].0, Reply::Data(b"A".to_vec()));
        assert_eq!(op.poll(2), Action::Done(b"AB".to_vec()));
        assert_eq!(op.poll(3), Action::Idle);
    }

    #[test]
    fn bounded_joins_start_the_next_as_one_finishes() {
        let mut op = Operation::start(|io| async move {
            let reads = ["a", "b", "c", "d"].iter().map(|p| io.read_file((*p).into(), 10));
            let mut out = Vec::new();
            for r in join_bounded(reads, 2).await {
                out.extend(r.map_err(|e| Error::other(e.message))?);
            }
            Ok(out)
        });
        let outstanding = |op: &mut Operation, t| {
            let mut v = vec![];
            while let Action::Perform { id, request: Request::ReadFile { path, .. } } = op.poll(t) {
                v.push((id, path));
            }
            v
        };
        let first = outstanding(&mut op, 0);
        assert_eq!(first.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>(), ["a", "b"], "two at a time");
        // "b" finishing lets "c" start while "a" is still running.
        op.handle(1, first[1].0, Reply::Data(b"B".to_vec()));
        let second = outstanding(&mut op, 1);
        assert_eq!(second.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>(), ["c"]);
        op.handle(2, first[0].0, Reply::Data(b"A".to_vec()));
        let third = outstanding(&mut op, 2);
        assert_eq!(third.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>(), ["d"]);
        op.handle(3, third[0].0, Reply::Data(b"D".to_vec()));
        op.handle(4, second[0].0, Reply::Data(b"C".to_vec()));
        assert_eq!(op.poll(5), Action::Done(b"ABCD".to_vec()), "outputs in order");
    }

    /// Memory stays flat with the number of futures: they are made only as
    /// they start, and a finished one is dropped at once.
    #[test]
    fn bounded_joins_hold_only_the_futures_in_progress() {
        use std::rc::Rc;
        let (made, alive) = (Rc::new(Cell::new(0usize)), Rc::new(Cell::new(0usize)));
        struct Alive(Rc<Cell<usize>>);
        impl Drop for Alive {
            fn drop(&mut self) {
                self.0.set(self.0.get() - 1);
            }
        }
        let (m, a) = (made.clone(), alive.clone());
        let mut op = Operation::start(move |io| async move {
            let work = (0..1000).map(|i| {
                m.set(m.get() + 1);
                a.set(a.get() + 1);
                let (io, guard) = (io.clone(), Alive(a.clone()));
                async move {
                    let _guard = guard;
                    io.read_file(format!("f{i}"), 10).await.map_err(|e| Error::other(e.message))
                }
            });
            let outputs = join_bounded(work, 3).await;
            Ok(outputs.into_iter().flat_map(|r| r.unwrap_or_default()).collect())
        });
        for t in 0..10_000u64 {
            match op.poll(t) {
                Action::Perform { id, .. } => {
                    assert!(alive.get() <= 3, "{} futures alive", alive.get());
                    assert!(made.get() <= 3 + (t as usize), "made ahead of need");
                    op.handle(t, id, Reply::Data(b"x".to_vec()));
                }
                Action::Done(out) => {
                    assert_eq!(out.len(), 1000);
                    assert_eq!((made.get(), alive.get()), (1000, 0));
                    return;
                }
                other => panic!("{other:?}"),
            }
        }
        panic!("no end");
    }

    #[test]
    fn replies_to_unknown_or_answered_requests_are_refused() {
        let start = || {
            Operation::start(|io| async move {
                let a = io.read_file("a".into(), 10).await.map_err(|e| Error::other(e.message))?;
                Ok(a)
            })
        };
        // An id the core never used.
        let mut op = start();
        let Action::Perform { id, .. } = op.poll(0) else { panic!("a read first") };
        op.handle(1, id + 1000, Reply::Data(b"x".to_vec()));
        match op.poll(1) {
            Action::Failed(e) => assert!(e.message.contains("not awaiting"), "{}", e.message),
            other => panic!("{other:?}"),
        }
        // The same id answered twice.
        let mut op = start();
        let Action::Perform { id, .. } = op.poll(0) else { panic!("a read first") };
        op.handle(1, id, Reply::Data(b"x".to_vec()));
        op.handle(1, id, Reply::Data(b"y".to_vec()));
        assert!(matches!(op.poll(1), Action::Failed(_)));
        // A note expects no reply; answering one is refused too.
        let mut op = Operation::start(|io| async move {
            io.note("hello".into());
            io.read_file("a".into(), 1).await.map_err(|e| Error::other(e.message))
        });
        let Action::Perform { id: note, request: Request::Note { .. } } = op.poll(0) else { panic!("a note first") };
        op.handle(1, note, Reply::Done);
        let got = op.poll(1);
        assert!(matches!(got, Action::Failed(_)), "{got:?}");
    }

    #[test]
    fn prefer_first_waits_for_the_fallback_only_when_the_first_fails() {
        let run = |first_reply: &'static [u8]| {
            let mut op = Operation::start(|io| async move {
                let (a, b) = prefer_first(io.read_file("https".into(), 10), io.read_file("http".into(), 10), |r| {
                    r.as_ref().is_ok_and(|d| d == b"good")
                })
                .await;
                let mut out = a.map_err(|e| Error::other(e.message))?;
                out.extend(b.map(|r| r.unwrap_or_default()).unwrap_or_else(|| b"-".to_vec()));
                Ok(out)
            });
            let mut ids = vec![];
            while let Action::Perform { id, request: Request::ReadFile { path, .. } } = op.poll(0) {
                ids.push((id, path));
            }
            assert_eq!(ids.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>(), ["https", "http"], "both at once");
            op.handle(1, ids[0].0, Reply::Data(first_reply.to_vec()));
            match op.poll(1) {
                Action::Idle => {
                    // Waiting for the fallback, which then decides.
                    op.handle(2, ids[1].0, Reply::Data(b"H".to_vec()));
                    op.poll(2)
                }
                done => {
                    // The fallback's late answer is taken and dropped.
                    op.handle(2, ids[1].0, Reply::Data(b"H".to_vec()));
                    assert_eq!(op.poll(2), Action::Idle);
                    done
                }
            }
        };
        assert_eq!(run(b"good"), Action::Done(b"good-".to_vec()), "a good first answer wins at once");
        assert_eq!(run(b"bad"), Action::Done(b"badH".to_vec()), "a bad one waits for the fallback");
    }

    #[test]
    fn a_failed_job_reports_once() {
        let mut op = Operation::failed(Error::invalid("bad job"));
        assert!(matches!(op.poll(0), Action::Failed(_)));
        assert_eq!(op.poll(0), Action::Idle);
    }
}
