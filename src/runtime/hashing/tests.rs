//! Tests of the hashing threads: results, the thread bound, shedding, and the threads' priority.

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Barrier, mpsc};

use super::*;
use crate::password;

/// A pool of `threads` at normal priority with a short queue wait (tests only).
fn pool(threads: usize, wait: Duration, capacity: usize) -> HashingPool {
    HashingPool::build(threads, HashingPriority::Normal, wait, capacity)
}

/// Occupies one thread of `pool` until the returned sender is dropped or sent to; returns once it runs.
async fn occupy(pool: &HashingPool) -> (mpsc::Sender<()>, oneshot::Receiver<()>) {
    let (release, hold) = mpsc::channel::<()>();
    let (running_tx, running) = oneshot::channel::<()>();
    let done = pool
        .run_later(move || {
            let _ = running_tx.send(());
            let _ = hold.recv();
        })
        .expect("queue has room");
    running.await.expect("the blocking job started");
    (release, done)
}

#[tokio::test]
async fn jobs_run_and_return_their_results() {
    let pool = pool(2, Duration::from_secs(30), 16);
    assert_eq!(pool.run(|| 6 * 7).await, Ok(42));
    let name = pool
        .run(|| std::thread::current().name().map(str::to_owned))
        .await
        .expect("ran");
    assert!(
        name.is_some_and(|n| n.starts_with("motpd-hash-")),
        "runs on a named pool thread"
    );
    let later = pool.run_later(|| "background").expect("queued");
    assert_eq!(later.await, Ok("background"));
}

#[tokio::test]
async fn no_more_jobs_run_at_once_than_threads() {
    const THREADS: usize = 3;
    let pool = pool(THREADS, Duration::from_secs(30), 64);
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    // The first THREADS jobs meet at a barrier: they pass it only if THREADS run at once, and meanwhile a thread
    // more than THREADS would start the next job alongside them.
    let barrier = Arc::new(Barrier::new(THREADS));
    let mut jobs = Vec::new();
    for i in 0..THREADS * 4 {
        let (running, most, barrier, pool) =
            (running.clone(), most.clone(), barrier.clone(), pool.clone());
        jobs.push(tokio::spawn(async move {
            pool.run(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                if i < THREADS {
                    barrier.wait();
                }
                running.fetch_sub(1, Ordering::SeqCst);
            })
            .await
        }));
    }
    for job in jobs {
        assert_eq!(job.await.expect("join"), Ok(()));
    }
    assert_eq!(most.load(Ordering::SeqCst), THREADS);
    assert_eq!(pool.threads(), THREADS);
}

#[tokio::test]
async fn a_job_not_started_within_the_queue_wait_is_shed_and_never_runs() {
    let pool = pool(1, Duration::from_millis(50), 16);
    let (release, blocker) = occupy(&pool).await;
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let shed = pool.run(move || flag.store(true, Ordering::SeqCst)).await;
    assert_eq!(shed, Err(HashingError::Shed));
    drop(release);
    blocker.await.expect("the blocking job finished");
    // The thread has reached the shed job by the time a later one runs.
    let after = pool.run_later(|| ()).expect("queued");
    after.await.expect("ran");
    assert!(!ran.load(Ordering::SeqCst), "a shed job is never run");
}

#[tokio::test]
async fn a_thread_does_not_start_a_job_queued_past_its_deadline() {
    let pool = pool(1, Duration::from_secs(30), 16);
    let (release, blocker) = occupy(&pool).await;
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let claim = Arc::new(Claim::default());
    pool.push(Job {
        deadline: Some(Instant::now()),
        claim: Some(claim.clone()),
        run: Box::new(move || flag.store(true, Ordering::SeqCst)),
    })
    .expect("queued");
    drop(release);
    blocker.await.expect("the blocking job finished");
    pool.run_later(|| ()).expect("queued").await.expect("ran");
    assert!(!ran.load(Ordering::SeqCst), "a late job is not run");
    assert!(!claim.started());
}

#[tokio::test]
async fn a_job_whose_caller_went_away_never_runs() {
    let pool = pool(1, Duration::from_secs(30), 16);
    let (release, blocker) = occupy(&pool).await;
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    // The caller stops waiting (its request was dropped) while the only thread is busy.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(20),
        pool.run(move || flag.store(true, Ordering::SeqCst)),
    )
    .await;
    assert!(gave_up.is_err());
    drop(release);
    blocker.await.expect("the blocking job finished");
    pool.run_later(|| ()).expect("queued").await.expect("ran");
    assert!(!ran.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_full_queue_sheds_at_once() {
    let pool = pool(1, Duration::from_secs(30), 1);
    let (release, blocker) = occupy(&pool).await;
    let queued = pool.run_later(|| 1).expect("one place in the queue");
    assert_eq!(pool.run(|| 2).await, Err(HashingError::Shed));
    assert!(pool.run_later(|| 3).is_none());
    drop(release);
    blocker.await.expect("the blocking job finished");
    assert_eq!(queued.await, Ok(1));
}

#[tokio::test]
async fn a_panicking_job_fails_and_the_thread_goes_on() {
    let pool = pool(1, Duration::from_secs(30), 16);
    let failed = pool
        .run(|| -> u8 { panic!("test panic in a hashing job") })
        .await;
    assert_eq!(failed, Err(HashingError::Failed));
    assert_eq!(pool.run(|| 5).await, Ok(5));
}

#[tokio::test]
async fn threads_exit_when_the_pool_is_dropped_after_the_queue() {
    let pool = pool(1, Duration::from_secs(30), 16);
    let (release, blocker) = occupy(&pool).await;
    let queued = pool.run_later(|| 9).expect("queued");
    let shared = Arc::downgrade(&pool.0.shared);
    drop(pool);
    drop(release);
    blocker.await.expect("the blocking job finished");
    assert_eq!(queued.await, Ok(9), "jobs queued before the drop still run");
    // The thread lets go of the queue when it exits (waits up to 10 s for it; not a measure of speed).
    for _ in 0..1000 {
        if shared.upgrade().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the hashing thread did not exit after its pool was dropped");
}

#[test]
fn the_process_pool_is_one_pool() {
    let (a, b) = (HashingPool::process(), HashingPool::process());
    assert!(Arc::ptr_eq(&a.0, &b.0), "every caller shares one pool");
    assert!(HashingPool::set_process_priority(a.priority()));
    let other = match a.priority() {
        HashingPriority::Idle => HashingPriority::Normal,
        HashingPriority::Normal => HashingPriority::Idle,
    };
    assert!(
        !HashingPool::set_process_priority(other),
        "the running pool's priority stays"
    );
    assert_eq!(HashingPool::new(3).threads(), 3);
    assert_eq!(HashingPool::new(0).threads(), 1);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn threads_run_at_the_configured_priority() {
    let idle = HashingPool::with_priority(1, HashingPriority::Idle);
    assert_eq!(idle.run(sched::policy).await, Ok(libc::SCHED_IDLE));
    let normal = HashingPool::with_priority(1, HashingPriority::Normal);
    assert_eq!(normal.run(sched::policy).await, Ok(libc::SCHED_OTHER));
    // The caller's own thread is untouched.
    assert_eq!(sched::policy(), libc::SCHED_OTHER);
}

#[tokio::test]
async fn threads_start_at_the_first_job() {
    let pool = pool(2, Duration::from_secs(30), 16);
    // Each thread holds the queue: only the pool does until a job comes.
    assert_eq!(Arc::strong_count(&pool.0.shared), 1);
    assert_eq!(pool.run(|| 1).await, Ok(1));
    assert_eq!(Arc::strong_count(&pool.0.shared), 3);
}

#[tokio::test]
async fn a_thread_keeps_argon2_memory_between_verifies_and_frees_it_when_idle() {
    let pool = pool(1, Duration::from_secs(30), 16);
    let hash = password::hash_password(b"Passw0rd1").expect("hashes");
    let kept = pool
        .run(move || {
            let verified = working_memory::verify_password_reusing(b"Passw0rd1", &hash);
            (verified, working_memory::kept_working_memory())
        })
        .await
        .expect("ran");
    assert!(matches!(kept.0, Ok(password::Verified::Match { .. })));
    assert_eq!(kept.1, 19 << 20, "m = 19 MiB kept for the next verify");
    tokio::time::sleep(RELEASE_AFTER_IDLE + Duration::from_millis(300)).await;
    let after_idle = pool.run(working_memory::kept_working_memory).await;
    assert_eq!(after_idle, Ok(0), "freed after the thread sat idle");
}
