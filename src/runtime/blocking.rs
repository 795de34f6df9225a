//! [`spawn_blocking`]: run blocking code on a small, bounded thread pool.
//!
//! The pool is shared by every runtime of the process: at most
//! [`MAX_THREADS`] threads, started on demand, each leaving after
//! [`IDLE_TIMEOUT`] without work. Jobs beyond that wait in a FIFO queue.
//! A job's result comes back through a one-shot slot whose waker is the
//! awaiting task's: the pool thread wakes it from outside, which is the
//! runtime's remote-wake path (remote queue + eventfd unpark).

use super::{oneshot, JoinHandle};
use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

/// Most threads the pool runs at once.
pub const MAX_THREADS: usize = 16;
/// How long an idle pool thread waits for work before it exits.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    state: Mutex<PoolState>,
    work: Condvar,
}

struct PoolState {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(PoolState {
            queue: VecDeque::new(),
            threads: 0,
            idle: 0,
        }),
        work: Condvar::new(),
    })
}

impl Pool {
    fn submit(&'static self, job: Job) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.queue.push_back(job);
        // `idle` only drops when a woken worker retakes the lock, so compare
        // with the queue: a burst must start threads, not queue behind one.
        if state.idle > 0 {
            self.work.notify_one();
        }
        if state.queue.len() > state.idle && state.threads < MAX_THREADS {
            state.threads += 1;
            let spawned = std::thread::Builder::new()
                .name("ringloop-blocking".into())
                .spawn(move || self.worker());
            if spawned.is_err() {
                // No thread now: the job waits for a running worker, or for
                // the next submit to try again.
                state.threads -= 1;
            }
        }
    }

    fn worker(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                job();
                state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            state.idle += 1;
            let (next, timeout) = self
                .work
                .wait_timeout(state, IDLE_TIMEOUT)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.queue.is_empty() {
                state.threads -= 1;
                return;
            }
        }
    }
}

/// Runs `f` on the blocking pool and returns a handle to its result.
///
/// Use it for work that would stall the loop: CPU-heavy code, blocking
/// syscalls io_uring does not cover, DNS resolution. A panic in `f` becomes
/// a [`JoinError`](super::JoinError) (`is_panic`). Aborting the handle stops
/// waiting for the result but cannot stop `f` once it has started.
///
/// # Panics
///
/// Outside a ringloop runtime.
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (sender, receiver) = oneshot::channel();
    let handle = super::spawn(async move {
        match receiver.await {
            Some(Ok(value)) => value,
            Some(Err(panic)) => resume_unwind(panic),
            None => unreachable!("a pool job always sends (it catches panics)"),
        }
    });
    pool().submit(Box::new(move || {
        sender.send(catch_unwind(AssertUnwindSafe(f)));
    }));
    handle
}
