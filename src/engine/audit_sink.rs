//! Writes audit events off the request path: requests hand events to a bounded channel, one writer task appends
//! them to the store in batches (one transaction per batch keeps the chain cheap at thousands of logins per
//! second). A full channel makes callers wait (back-pressure, never a silent drop). A failed batch is retried
//! with back-off; [`AuditSink::flush`] waits until everything handed in so far is stored.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::audit::AuditEvent;
use crate::store::Store;

const CHANNEL: usize = 8192;
/// Most events per append. Bounded so that one append stays short (a few hundred microseconds): on SQLite the
/// appends share a writer with the logins, and a login that arrives during an append waits for its end.
const BATCH: usize = 128;
const RETRIES: u32 = 5;

enum Message {
    Event(AuditEvent),
    Flush(oneshot::Sender<()>),
}

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct AuditSink {
    sender: mpsc::Sender<Message>,
}

impl std::fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditSink")
    }
}

impl AuditSink {
    /// Starts the writer task. It ends when every sink clone is dropped, after writing what it holds.
    pub fn spawn(store: Arc<dyn Store>) -> (Self, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(CHANNEL);
        let task = tokio::spawn(write_batches(store, receiver));
        (Self { sender }, task)
    }

    /// Hands one event to the writer (waits while the channel is full).
    pub async fn record(&self, event: AuditEvent) {
        if self.sender.send(Message::Event(event)).await.is_err() {
            tracing::error!("audit writer has stopped; an audit event was not stored");
        }
    }

    /// Events handed in and not yet taken by the writer (`motpd_audit_queue_length`).
    pub fn queue_len(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }

    /// Waits until every event recorded before this call has been written (or given up on).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write_batches(store: Arc<dyn Store>, mut receiver: mpsc::Receiver<Message>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut waiters = Vec::new();
    while let Some(first) = receiver.recv().await {
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Event(event) => batch.push(event),
                Message::Flush(done) => waiters.push(done),
            }
            next = if batch.len() < BATCH {
                receiver.try_recv().ok()
            } else {
                None
            };
        }
        if !batch.is_empty() {
            write_with_retry(store.as_ref(), &batch).await;
            batch.clear();
        }
        for done in waiters.drain(..) {
            let _ = done.send(());
        }
    }
}

async fn write_with_retry(store: &dyn Store, batch: &[AuditEvent]) {
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=RETRIES {
        match store.append_audit(batch).await {
            Ok(()) => return,
            Err(error) if attempt < RETRIES => {
                crate::monitoring::store_failed("audit_write", &error);
                tracing::warn!(%error, attempt, events = batch.len(), "audit write failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(error) => {
                crate::monitoring::store_failed("audit_write", &error);
                tracing::error!(%error, events = batch.len(), "audit write failed; these events are lost");
            }
        }
    }
}
