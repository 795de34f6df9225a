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

#[allow(dead_code)] // being wired in (readiness driver)
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
pub(crate) use uring::Driver;

use std::cell::RefCell;
use std::rc::Rc;

/// The driver as ops and the loop share it: one per runtime, owned by the
/// runtime and by every op in flight (so an op dropped after its runtime can
/// still park its data until the driver drains).
pub(crate) type Handle = Rc<RefCell<Driver>>;

#[cfg(test)]
mod tests;
