//! Work that goes on while the proxy reads the next request: the blob
//! transfers into the client's pipes. The engine's executor re-polls the
//! whole command with every reply and its waker does nothing (see
//! [`crate::engine`]), so [`Background::run`] polls every task each time
//! it polls what it waits for.

use std::future::Future;
use std::pin::Pin;

type Task = Pin<Box<dyn Future<Output = ()>>>;

#[derive(Default)]
pub struct Background {
    tasks: Vec<Task>,
}

impl Background {
    pub fn spawn(&mut self, task: impl Future<Output = ()> + 'static) {
        self.tasks.push(Box::pin(task));
    }

    /// Waits for `f`, driving the background tasks meanwhile.
    pub async fn run<F: Future>(&mut self, f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        std::future::poll_fn(|cx| {
            self.tasks.retain_mut(|t| t.as_mut().poll(cx).is_pending());
            f.as_mut().poll(cx)
        })
        .await
    }
}
