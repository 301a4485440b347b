//! The password-hashing threads: a fixed set of OS threads (one per core for the process pool), fed by one
//! bounded queue, at Linux `SCHED_IDLE` priority unless configured otherwise.
//!
//! At `SCHED_IDLE` the kernel hands a core to the packet loop (tokio's workers: Status-Server answers, otp-only
//! logins, which need no hash) the moment it wakes, and gives the whole core back to hashing otherwise; at the
//! same priority, every packet would wait behind a ~30 ms Argon2id slice.
//!
//! A request's job must *start* within the queue wait ([`QUEUE_WAIT`]): the thread that takes it and the
//! caller that waits for it race for one claim. The thread runs the job only if it claims it before the wait
//! is over (it also checks the time it was queued); the caller, when the wait is over, claims it for itself and
//! is told [`HashingError::Shed`] — the job is then never run. A caller that goes away (its request was
//! dropped) claims its job too. A full queue sheds at once. Background jobs (re-hashes) have no deadline.
//! Each thread runs one job at a time, so no more hashes run at once than the pool has threads. A thread keeps
//! its Argon2 working memory from one verify to the next and unmaps it after [`RELEASE_AFTER_IDLE`] without
//! work, so a quiet server holds none of it.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::working_memory;
use crate::config::HashingPriority;

/// The longest a password check waits for a hashing thread to start it before the request is shed.
pub(crate) const QUEUE_WAIT: Duration = Duration::from_secs(2);

/// How long a hashing thread waits without a job before it gives back the Argon2 working memory it keeps
/// between verifies ([`working_memory::verify_password_reusing`]): kept through a busy minute, given back when
/// quiet.
const RELEASE_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Jobs waiting at most (a bound on memory, far above what [`QUEUE_WAIT`] lets a pool start in time).
const QUEUE_CAPACITY: usize = 4096;

/// Why a job's result did not come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HashingError {
    /// No thread started the job within the queue wait, or the queue was full: it was not run.
    #[error("no hashing thread was free within the queue wait")]
    Shed,
    /// The job started but did not finish (it panicked).
    #[error("the password hashing job failed")]
    Failed,
}

/// The password-hashing capacity: at most as many verifications (or re-hashes) at once as it has threads.
/// Hashing is bound by the machine's cores, so everything in one process that checks passwords (RADIUS, the
/// enrollment pages, the account pages, invitations) shares one pool — [`HashingPool::process`] — rather than
/// each taking its own. The threads stop when the last clone is dropped (after the jobs already queued).
#[derive(Debug, Clone)]
pub struct HashingPool(Arc<Pool>);

/// The process pool's priority, fixed by [`HashingPool::set_process_priority`] or by the first use.
static PROCESS_PRIORITY: OnceLock<HashingPriority> = OnceLock::new();

impl HashingPool {
    /// A pool of `threads` (at least 1) at the default priority (`idle`).
    pub fn new(threads: usize) -> Self {
        Self::with_priority(threads, HashingPriority::default())
    }

    /// A pool of `threads` (at least 1) at `priority`.
    pub fn with_priority(threads: usize, priority: HashingPriority) -> Self {
        Self::build(threads, priority, QUEUE_WAIT, QUEUE_CAPACITY)
    }

    /// This process's pool: one thread per core, at the priority set by [`HashingPool::set_process_priority`]
    /// (default `idle`). Created at the first call.
    pub fn process() -> Self {
        static POOL: LazyLock<HashingPool> = LazyLock::new(|| {
            HashingPool::with_priority(
                std::thread::available_parallelism().map_or(2, usize::from),
                *PROCESS_PRIORITY.get_or_init(HashingPriority::default),
            )
        });
        POOL.clone()
    }

    /// Sets the priority of [`HashingPool::process`]'s threads; call before its first use. False if the process
    /// pool already runs (or was set to run) at another priority, which then stays.
    pub fn set_process_priority(priority: HashingPriority) -> bool {
        *PROCESS_PRIORITY.get_or_init(|| priority) == priority
    }

    /// How many jobs run at once at most (the threads, started at the first job).
    pub fn threads(&self) -> usize {
        self.0.threads
    }

    /// The threads' scheduling priority.
    pub fn priority(&self) -> HashingPriority {
        self.0.priority
    }

    fn build(threads: usize, priority: HashingPriority, wait: Duration, capacity: usize) -> Self {
        Self(Arc::new(Pool {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue::default()),
                ready: Condvar::new(),
                capacity: capacity.max(1),
            }),
            threads: threads.max(1),
            priority,
            wait,
            started: std::sync::Once::new(),
        }))
    }

    /// Queues `job`, starting the threads at the first one (a pool that never hashes costs no thread).
    fn push(&self, job: Job) -> Result<(), HashingError> {
        let pool = &self.0;
        pool.started.call_once(|| {
            for index in 1..=pool.threads {
                let shared = pool.shared.clone();
                let priority = pool.priority;
                if let Err(error) = std::thread::Builder::new()
                    .name(format!("motpd-hash-{index}"))
                    .spawn(move || work(&shared, priority))
                {
                    tracing::error!(%error, "cannot start a password-hashing thread");
                }
            }
        });
        pool.shared.push(job)
    }

    /// Runs `work` on a hashing thread if one starts it within the queue wait; otherwise it is never run and
    /// the result is [`HashingError::Shed`]. Never waits longer than the queue wait for the start.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashingError> {
        let claim = Arc::new(Claim::default());
        // Dropped early (the caller went away) or at the end: a job not started by then never runs.
        let _abandon = Abandon(claim.clone());
        let (tx, mut rx) = oneshot::channel();
        let queued = Instant::now();
        self.push(Job {
            deadline: Some(queued + self.0.wait),
            claim: Some(claim.clone()),
            run: Box::new(move || {
                if let Some(metrics) = crate::monitoring::global() {
                    metrics.hashing_wait.record(queued.elapsed());
                }
                let _ = tx.send(work());
            }),
        })?;
        let result = match tokio::time::timeout(self.0.wait, &mut rx).await {
            Ok(result) => result,
            Err(_) if claim.abandon() => return Err(HashingError::Shed),
            // Started just in time: it finishes within one hash.
            Err(_) => rx.await,
        };
        result.map_err(|_| {
            if claim.started() {
                HashingError::Failed
            } else {
                HashingError::Shed
            }
        })
    }

    /// Queues `work` with no deadline (it runs when a thread is free); its result comes on the receiver. None if
    /// the queue is full.
    pub(crate) fn run_later<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<oneshot::Receiver<T>> {
        let (tx, rx) = oneshot::channel();
        self.push(Job {
            deadline: None,
            claim: None,
            run: Box::new(move || {
                let _ = tx.send(work());
            }),
        })
        .ok()?;
        Some(rx)
    }
}

/// The pool proper; dropping it (the last [`HashingPool`] clone) lets the threads finish the queue and exit.
struct Pool {
    shared: Arc<Shared>,
    threads: usize,
    priority: HashingPriority,
    wait: Duration,
    started: std::sync::Once,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.threads)
            .field("priority", &self.priority)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

/// The queue the threads share.
struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    capacity: usize,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Jobs run outside the lock, so a poisoned lock still guards a consistent queue.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, job: Job) -> Result<(), HashingError> {
        let mut queue = self.lock();
        if queue.closed || queue.jobs.len() >= self.capacity {
            return Err(HashingError::Shed);
        }
        queue.jobs.push_back(job);
        drop(queue);
        self.ready.notify_one();
        Ok(())
    }

    /// The next job, waiting for one; `None` once the pool is closed and its queue empty. When no job came
    /// for `idle`, calls `on_idle` (outside the lock) once before waiting on.
    fn next(&self, idle: Duration, on_idle: impl FnOnce()) -> Option<Job> {
        let mut on_idle = Some(on_idle);
        let mut queue = self.lock();
        loop {
            if let Some(job) = queue.jobs.pop_front() {
                return Some(job);
            }
            if queue.closed {
                return None;
            }
            let Some(idle_hook) = on_idle.take() else {
                queue = self
                    .ready
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            let (waited, timeout) = self
                .ready
                .wait_timeout(queue, idle)
                .unwrap_or_else(PoisonError::into_inner);
            queue = waited;
            if timeout.timed_out() && queue.jobs.is_empty() {
                drop(queue);
                idle_hook();
                queue = self.lock();
            } else {
                on_idle = Some(idle_hook);
            }
        }
    }
}

/// One queued piece of work. Dropped unrun, it drops its result sender: the caller sees why from the claim.
struct Job {
    /// Past this instant the job is not started (None: no deadline).
    deadline: Option<Instant>,
    /// Raced for by the thread and the waiting caller (None: nobody waits).
    claim: Option<Arc<Claim>>,
    run: Box<dyn FnOnce() + Send>,
}

impl Job {
    /// Whether this job may run now: not late, and claimed by this thread (not by its caller).
    fn start(&self) -> bool {
        if self
            .deadline
            .is_some_and(|deadline| Instant::now() > deadline)
        {
            if let Some(claim) = &self.claim {
                claim.abandon();
            }
            return false;
        }
        self.claim.as_ref().is_none_or(|claim| claim.start())
    }
}

/// Who a queued job belongs to: still queued, started by a thread, or abandoned by its caller.
#[derive(Debug, Default)]
struct Claim(AtomicU8);

const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const ABANDONED: u8 = 2;

impl Claim {
    /// A thread takes the job; false if the caller gave it up first.
    fn start(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The caller gives the job up; false if a thread started it first.
    fn abandon(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
            || self.0.load(Ordering::Acquire) == ABANDONED
    }

    fn started(&self) -> bool {
        self.0.load(Ordering::Acquire) == STARTED
    }
}

/// Abandons a job not started yet when the caller stops waiting for any reason.
struct Abandon(Arc<Claim>);

impl Drop for Abandon {
    fn drop(&mut self) {
        self.0.abandon();
    }
}

/// A hashing thread: sets its priority, then runs jobs until the pool is gone.
fn work(shared: &Shared, priority: HashingPriority) {
    if priority == HashingPriority::Idle {
        lower_priority();
    }
    while let Some(job) = shared.next(RELEASE_AFTER_IDLE, working_memory::release_working_memory) {
        if job.start() {
            // A panicking job drops its sender (its caller is told); the thread carries on.
            let _ = catch_unwind(AssertUnwindSafe(job.run));
        }
    }
    working_memory::release_working_memory();
}

/// Moves the calling thread to `SCHED_IDLE`; on failure (or off Linux), one warning per process.
fn lower_priority() {
    static WARNED: std::sync::Once = std::sync::Once::new();
    if let Err(error) = sched::set_idle() {
        WARNED.call_once(|| {
            tracing::warn!(%error, "password hashing runs at normal priority: cannot set SCHED_IDLE");
        });
    }
}

/// The one place that calls the C library: scheduling policy of the calling thread.
#[allow(unsafe_code)]
mod sched {
    /// Sets the calling thread's policy to `SCHED_IDLE`.
    #[cfg(target_os = "linux")]
    pub(super) fn set_idle() -> std::io::Result<()> {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread; `param` is a valid, initialised sched_param that outlives the
        // call, which only reads it.
        let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn set_idle() -> std::io::Result<()> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "SCHED_IDLE exists only on Linux",
        ))
    }

    /// The calling thread's scheduling policy (`libc::SCHED_*`), or -1.
    #[cfg(all(test, target_os = "linux"))]
    pub(super) fn policy() -> i32 {
        // SAFETY: no arguments but pid 0 (the calling thread); no memory is touched.
        unsafe { libc::sched_getscheduler(0) }
    }
}

#[cfg(test)]
mod tests;
