//! The seam between tasks and the kernel.
//!
//! # Contract
//!
//! * [`op`] holds the op table and the [`Op`] future. An operation's data (its
//!   buffer, its side structures) is moved into the `Op`; the SQE built from
//!   it points only into heap memory the data owns. If the `Op` is dropped
//!   before its terminal CQE, the data moves into the op table (the slot
//!   becomes `Ignored`) and an `ASYNC_CANCEL` is queued; the slot and the data
//!   are freed when the terminal CQE arrives, never before.
//! * [`uring`] owns the ring: it pushes SQEs (keeping a user-space backlog
//!   when the SQ is full, so pushing never fails), enters the kernel once per
//!   park (submit + wait + timeout in one `io_uring_enter`), and reaps CQEs
//!   into the op table. Waking is deferred: reaping collects wakers, the loop
//!   wakes them after it has released the driver, so no waker can observe the
//!   driver borrowed.
//! * `user_data` is `generation << 32 | slot index`; a CQE whose generation
//!   does not match the live slot is stale and ignored. Values with the index
//!   part at or above [`op::RESERVED_INDEX`] are the driver's own (cancels,
//!   the wake-up eventfd read).

pub(crate) mod epoll;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub(crate) mod multishot;
pub(crate) mod op;
pub(crate) mod registry;
pub(crate) mod registry_fs;
pub(crate) mod setup;
mod sys;
pub(crate) mod uring;

pub(crate) use op::{Cqe, Op, OpData};

use std::cell::RefCell;
use std::rc::Rc;

/// Which model runs a runtime's I/O.
// One per runtime, behind an `Rc`: the size difference costs nothing, while
// boxing the ring would add a pointer chase to every op.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Driver {
    /// Completion: io_uring (the default).
    Uring(uring::Uring),
    /// Readiness: epoll (fallback, and the other half of every comparison).
    Epoll(epoll::Epoll),
}

impl Driver {
    /// The io_uring driver, for what only it can do (registered buffers and
    /// files, buffer rings, multishot ops).
    ///
    /// # Errors
    ///
    /// `Unsupported` on the epoll driver.
    pub(crate) fn uring(&self) -> std::io::Result<&uring::Uring> {
        match self {
            Driver::Uring(u) => Ok(u),
            Driver::Epoll(_) => Err(needs_uring()),
        }
    }

    /// As [`Driver::uring`], mutable.
    pub(crate) fn uring_mut(&mut self) -> std::io::Result<&mut uring::Uring> {
        match self {
            Driver::Uring(u) => Ok(u),
            Driver::Epoll(_) => Err(needs_uring()),
        }
    }

    /// Whether io_uring opcode `opcode` can be used (never on epoll, so
    /// callers take their fallback path).
    pub(crate) fn supports(&self, opcode: u8) -> bool {
        match self {
            Driver::Uring(u) => u.supports(opcode),
            Driver::Epoll(_) => false,
        }
    }

    /// Submits and reaps (io_uring) or polls for readiness (epoll); sleeps
    /// up to `timeout` if `wait`.
    pub(crate) fn turn(
        &mut self,
        wait: bool,
        timeout: Option<std::time::Duration>,
    ) -> std::io::Result<usize> {
        match self {
            Driver::Uring(u) => u.turn(wait, timeout),
            Driver::Epoll(e) => e.turn(wait, timeout),
        }
    }

    /// Before sleeping: make sure a remote wake can end the sleep.
    pub(crate) fn arm_wakeup(&mut self) {
        if let Driver::Uring(u) = self {
            u.arm_wakeup();
        }
    }

    /// Moves the wakers collected by the last turn into `out`.
    pub(crate) fn take_wakers(&mut self, out: &mut Vec<std::task::Waker>) {
        match self {
            Driver::Uring(u) => u.take_wakers(out),
            Driver::Epoll(e) => e.take_wakers(out),
        }
    }
}

/// Moves every waker of `from` to the end of `out`. The common case, an
/// empty `out`, is a swap of the two vectors (their allocations trade
/// places, none is made) instead of a copy.
fn move_wakers(from: &mut Vec<std::task::Waker>, out: &mut Vec<std::task::Waker>) {
    if out.is_empty() {
        std::mem::swap(from, out);
    } else {
        out.append(from);
    }
}

fn needs_uring() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "this operation needs the io_uring driver (the runtime runs on epoll)",
    )
}

/// The driver as ops and the loop share it: one per runtime, owned by the
/// runtime and by every op in flight (so an op dropped after its runtime can
/// still park its data until the driver drains).
pub(crate) type Handle = Rc<RefCell<Driver>>;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;
