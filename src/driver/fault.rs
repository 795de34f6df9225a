//! Fault injection (feature `fault-injection`, for tests only).
//!
//! Makes chosen `io_uring_enter` or `io_uring_setup` calls on this thread
//! fail with a chosen errno before they reach the kernel, so tests can show
//! that the loop survives `EINTR`, `EAGAIN`, `EBUSY`, `ENOMEM` and that
//! setup errors become typed errors. Plans are per thread: each test (and
//! each runtime, which lives on one thread) has its own.

use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once any thread plans a fault. Until then [`on_enter`] costs one
/// relaxed load instead of a thread-local lookup: the feature is on in
/// every build with the dev-dependencies (examples, benchmarks), and the
/// enter path is hot.
static ARMED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static PLAN: RefCell<Plan> = const { RefCell::new(Plan { enters: Vec::new(), setup: None, enters_seen: 0 }) };
}

struct Plan {
    /// (the n-th enter from now, counted from 1; errno)
    enters: Vec<(u64, i32)>,
    setup: Option<i32>,
    enters_seen: u64,
}

/// The `nth` `io_uring_enter` from now on this thread (1 = the next one)
/// fails with `errno` without entering the kernel.
pub fn fail_enter(nth: u64, errno: i32) {
    ARMED.store(true, Ordering::Relaxed);
    PLAN.with(|p| {
        let mut p = p.borrow_mut();
        let at = p.enters_seen + nth;
        p.enters.push((at, errno));
    });
}

/// Every one of the next `count` `io_uring_enter` calls fails with `errno`.
pub fn fail_enters(count: u64, errno: i32) {
    for nth in 1..=count {
        fail_enter(nth, errno);
    }
}

/// The next `io_uring_setup` on this thread fails with `errno`.
pub fn fail_setup(errno: i32) {
    PLAN.with(|p| p.borrow_mut().setup = Some(errno));
}

/// Forgets every planned fault on this thread.
pub fn clear() {
    PLAN.with(|p| {
        let mut p = p.borrow_mut();
        p.enters.clear();
        p.setup = None;
    });
}

/// Called by the driver before each enter.
pub(crate) fn on_enter() -> Option<io::Error> {
    if !ARMED.load(Ordering::Relaxed) {
        return None; // no thread has planned a fault: nothing to count
    }
    PLAN.with(|p| {
        let mut p = p.borrow_mut();
        p.enters_seen += 1;
        let now = p.enters_seen;
        let hit = p.enters.iter().position(|&(at, _)| at == now)?;
        let (_, errno) = p.enters.swap_remove(hit);
        Some(io::Error::from_raw_os_error(errno))
    })
}

/// Called by the driver before each setup.
pub(crate) fn on_setup() -> Option<io::Error> {
    PLAN.with(|p| p.borrow_mut().setup.take())
        .map(io::Error::from_raw_os_error)
}
