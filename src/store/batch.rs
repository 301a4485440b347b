//! Group execution of one kind of store request: callers hand a request to one task and wait for its answer;
//! the task takes every request that arrived while the previous batch was running (up to a maximum) and runs
//! them as ONE store operation — one transaction for the accepted logins (group commit), one pair of
//! statements for the login reads. A caller is answered only after its batch has finished (for writes: after
//! `COMMIT`), so batching changes the cost, never the outcome or the durability.
//!
//! Under light load a batch holds one request and costs one extra hand-off between tasks; under heavy load
//! the cost of a database round trip is shared by everyone who arrived during the previous one.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// Requests waiting for the task, at most (callers wait beyond it: back-pressure).
const QUEUE: usize = 4096;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// The caller's side of one batching task.
pub(super) struct Batcher<Req, Resp> {
    sender: mpsc::Sender<(Req, Reply<Resp>)>,
    counters: Arc<BatchCounters>,
}

impl<Req, Resp> std::fmt::Debug for Batcher<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("counters", &self.counters.snapshot())
            .finish()
    }
}

/// How many batches ran and how many requests they held.
#[derive(Debug, Default)]
pub(super) struct BatchCounters {
    batches: AtomicU64,
    requests: AtomicU64,
    largest: AtomicU64,
    busy_micros: AtomicU64,
}

/// A reading of [`BatchCounters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchStats {
    /// Batches run.
    pub batches: u64,
    /// Requests they held.
    pub requests: u64,
    /// The largest batch.
    pub largest: u64,
    /// Time the batches took in all, from start to answered, in microseconds.
    pub busy_micros: u64,
}

impl BatchStats {
    /// Requests per batch, on average.
    pub fn mean(&self) -> f64 {
        if self.batches == 0 {
            0.0
        } else {
            #[allow(clippy::cast_precision_loss)]
            let mean = self.requests as f64 / self.batches as f64;
            mean
        }
    }

    /// Milliseconds per batch, on average (a PostgreSQL round trip, a group commit).
    pub fn mean_ms(&self) -> f64 {
        if self.batches == 0 {
            0.0
        } else {
            #[allow(clippy::cast_precision_loss)]
            let mean = self.busy_micros as f64 / self.batches as f64 / 1000.0;
            mean
        }
    }
}

impl BatchCounters {
    fn record(&self, size: usize) {
        let size = u64::try_from(size).unwrap_or(u64::MAX);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(size, Ordering::Relaxed);
        self.largest.fetch_max(size, Ordering::Relaxed);
    }

    fn busy(&self, since: Instant) {
        let micros = u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.busy_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn snapshot(&self) -> BatchStats {
        BatchStats {
            batches: self.batches.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            largest: self.largest.load(Ordering::Relaxed),
            busy_micros: self.busy_micros.load(Ordering::Relaxed),
        }
    }
}

impl<Req: Send + 'static, Resp: Send + 'static> Batcher<Req, Resp> {
    /// Starts the task (needs a Tokio runtime). `run` gets up to `max_batch` requests in arrival order and
    /// returns one answer per request, in the same order. The task ends when the `Batcher` is dropped.
    pub(super) fn spawn<F, Fut>(max_batch: usize, run: F) -> Self
    where
        F: Fn(Vec<Req>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<Resp>, StoreError>> + Send + 'static,
    {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let counters = Arc::new(BatchCounters::default());
        tokio::spawn(run_batches(
            receiver,
            max_batch.max(1),
            run,
            counters.clone(),
        ));
        Self { sender, counters }
    }

    /// Hands `request` to the task and waits for its batch to finish.
    pub(super) async fn call(&self, request: Req) -> Result<Resp, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send((request, reply))
            .await
            .map_err(|_| StoreError::Backend(sqlx::Error::PoolClosed))?;
        answer
            .await
            .map_err(|_| StoreError::Backend(sqlx::Error::PoolClosed))?
    }

    /// Batches and requests so far.
    pub(super) fn stats(&self) -> BatchStats {
        self.counters.snapshot()
    }
}

async fn run_batches<Req, Resp, F, Fut>(
    mut receiver: mpsc::Receiver<(Req, Reply<Resp>)>,
    max_batch: usize,
    run: F,
    counters: Arc<BatchCounters>,
) where
    F: Fn(Vec<Req>) -> Fut,
    Fut: Future<Output = Result<Vec<Resp>, StoreError>>,
{
    let mut requests = Vec::with_capacity(max_batch);
    let mut replies = Vec::with_capacity(max_batch);
    while let Some((request, reply)) = receiver.recv().await {
        requests.push(request);
        replies.push(reply);
        while requests.len() < max_batch {
            match receiver.try_recv() {
                Ok((request, reply)) => {
                    requests.push(request);
                    replies.push(reply);
                }
                Err(_) => break,
            }
        }
        counters.record(requests.len());
        let expected = requests.len();
        let started = Instant::now();
        let outcome = run(std::mem::take(&mut requests)).await;
        counters.busy(started);
        match outcome {
            Ok(answers) if answers.len() == expected => {
                for (reply, answer) in replies.drain(..).zip(answers) {
                    let _ = reply.send(Ok(answer));
                }
            }
            Ok(answers) => {
                let error = StoreError::Corrupt(format!(
                    "a batch of {expected} requests got {} answers",
                    answers.len()
                ));
                answer_all(&mut replies, error);
            }
            Err(error) => answer_all(&mut replies, error),
        }
    }
}

/// Every request of a failed batch gets the same error.
fn answer_all<Resp>(replies: &mut Vec<Reply<Resp>>, error: StoreError) {
    let shared = Arc::new(error);
    for reply in replies.drain(..) {
        let _ = reply.send(Err(StoreError::Batched(shared.clone())));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn answers_go_to_their_callers_and_concurrent_calls_share_batches() {
        let batcher = Arc::new(Batcher::spawn(64, |batch: Vec<u32>| async move {
            tokio::task::yield_now().await;
            Ok(batch.into_iter().map(|n| n * 2).collect())
        }));
        let mut calls = tokio::task::JoinSet::new();
        for n in 0..500u32 {
            let batcher = batcher.clone();
            calls.spawn(async move { (n, batcher.call(n).await.unwrap()) });
        }
        while let Some(done) = calls.join_next().await {
            let (n, doubled) = done.unwrap();
            assert_eq!(doubled, n * 2);
        }
        let stats = batcher.stats();
        assert_eq!(stats.requests, 500);
        assert!(stats.largest <= 64);
        assert!(stats.batches < 500, "no batching happened: {stats:?}");
    }

    #[tokio::test]
    async fn a_failed_batch_fails_every_caller() {
        let batcher = Batcher::spawn(8, |_batch: Vec<u32>| async move {
            Err::<Vec<u32>, _>(StoreError::Corrupt("boom".into()))
        });
        let error = batcher.call(1).await.unwrap_err();
        assert!(matches!(error, StoreError::Batched(_)));
        assert!(error.to_string().contains("boom"));
    }
}
