//! The thread-local context: which runtime (if any) this thread is running
//! (and through it, which task it is polling).
//!
//! Set by [`enter`] for the duration of `block_on` and of the runtime's
//! shutdown; the guard restores the previous value, so the pointer is never
//! left dangling.

use super::core::Core;
use crate::driver::Handle;
use std::cell::Cell;
use std::io;
use std::ptr;

thread_local! {
    static CORE: Cell<*const Core> = const { Cell::new(ptr::null()) };
}

/// Restores the previous context when dropped.
pub(crate) struct EnterGuard {
    prev: *const Core,
}

/// Makes `core` the current runtime of this thread until the guard drops.
pub(crate) fn enter(core: &Core) -> EnterGuard {
    let prev = CORE.with(|c| c.replace(core));
    EnterGuard { prev }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        CORE.with(|c| c.set(self.prev));
    }
}

/// Whether this thread is inside a runtime's `block_on`.
pub(crate) fn is_entered() -> bool {
    CORE.with(|c| !c.get().is_null())
}

/// Runs `f` with the current runtime, if there is one.
pub(crate) fn with_core<R>(f: impl FnOnce(&Core) -> R) -> Option<R> {
    let core = CORE.with(Cell::get);
    if core.is_null() {
        return None;
    }
    // SAFETY: a non-null pointer was set by `enter` from a `&Core` that
    // outlives the guard (the guard lives on the stack of `block_on` or of
    // the runtime's drop, both of which borrow the core), and the guard
    // resets it before that borrow ends.
    Some(f(unsafe { &*core }))
}

/// The current runtime's driver.
///
/// # Errors
///
/// `Other` when called outside a ringloop runtime.
pub(crate) fn driver() -> io::Result<Handle> {
    with_core(|core| core.driver.clone()).ok_or_else(not_in_runtime)
}

/// If this thread runs an io_uring runtime whose driver is free, wakes the
/// ring `target_fd` with `IORING_OP_MSG_RING`; false if it cannot.
pub(crate) fn try_msg_ring_wake(target_fd: std::os::fd::RawFd) -> bool {
    with_core(|core| match core.driver.try_borrow_mut() {
        Ok(mut driver) => match driver.uring_mut() {
            Ok(uring) => uring.msg_ring_wake(target_fd),
            Err(_) => false,
        },
        Err(_) => false,
    })
    .unwrap_or(false)
}

pub(crate) fn not_in_runtime() -> io::Error {
    io::Error::other("this operation must run inside a ringloop runtime (Runtime::block_on)")
}

/// The task being polled on this thread (0 = the root future of
/// `block_on`, or no runtime).
pub(crate) fn current_task() -> u64 {
    with_core(|core| core.current_task.get()).unwrap_or(0)
}
