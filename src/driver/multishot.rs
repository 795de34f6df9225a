//! Ops that complete with several CQEs: [`Multishot`], a stream of them.
//!
//! One SQE, many CQEs: multishot accept yields one fd per CQE, multishot
//! recv one provided buffer per CQE, and `SEND_ZC` a result CQE followed by
//! a notification CQE. Every CQE but the last carries `IORING_CQE_F_MORE`.
//!
//! # Protocol
//!
//! ```text
//!            push SQE           CQE (F_MORE)            CQE (no F_MORE)
//!  (none) ───────────▶ Multishot ─────────▶ Multishot ─────────────────▶ ended
//!                        │  queued in the slot, taken by poll_next      (slot freed
//!                        │                                               when taken)
//!     stream dropped     ▼ queued CQEs finalised, data moves into the slot,
//!     before the end:      ASYNC_CANCEL queued
//!                      Ignored ── each CQE finalised ── CQE (no F_MORE) ──▶ slot and
//!                                                                        data freed
//! ```
//!
//! * The slot is `Lifecycle::Multishot` from the moment the SQE is pushed
//!   (nothing is reaped between the push and the switch, so no CQE can be
//!   routed to it as a single-shot op).
//! * [`Multishot::poll_next`] takes CQEs in arrival order and turns each into
//!   an item with [`MultishotData::on_cqe`]. Taking the terminal CQE frees the
//!   slot; the stream then yields `None`.
//! * **Every CQE is finalised.** A CQE nobody will take — queued when the
//!   stream is dropped, or arriving after — still goes through `on_cqe`, and
//!   the item is dropped: an accepted fd is closed, a provided buffer goes
//!   back to its ring. The data lives in the slot until the terminal CQE
//!   (the kernel owns what it points to until then).

use super::op::{Cqe, Lifecycle, Orphan};
use super::Handle;
use crate::runtime::context;
use std::collections::VecDeque;
use std::io;
use std::task::{Context, Poll};

/// The data one multishot operation owns while in flight, and how each of
/// its CQEs becomes an item.
///
/// # Safety
///
/// As for [`OpData`](super::OpData): the SQE may only point into memory
/// `self` owns that does not move when `self` moves, valid until `self` is
/// dropped. The driver keeps `self` alive until the terminal CQE.
pub(crate) unsafe trait MultishotData: 'static {
    /// What one CQE yields. Dropping it must release whatever the CQE gave
    /// (close an fd, return a buffer): unclaimed CQEs are finalised that way.
    type Item;
    /// Name used in traces.
    const NAME: &'static str;
    /// Turns one CQE into an item. May run inside reaping, with the driver
    /// borrowed: it must not submit ops.
    fn on_cqe(&mut self, cqe: Cqe) -> Self::Item;
}

/// A multishot op: a stream of items, one per CQE.
pub(crate) struct Multishot<T: MultishotData> {
    driver: Handle,
    user_data: u64,
    /// `None` only after [`Multishot::into_data`].
    data: Option<T>,
    /// The terminal CQE has been taken and the slot freed.
    ended: bool,
}

impl<T: MultishotData> Multishot<T> {
    /// Moves `data` into a new multishot op, builds its SQE with `build` and
    /// queues it on the current runtime's ring.
    ///
    /// # Errors
    ///
    /// Outside a ringloop runtime; the data is handed back.
    pub(crate) fn submit(
        mut data: T,
        build: impl FnOnce(&mut T) -> io_uring::squeue::Entry,
    ) -> Result<Multishot<T>, (io::Error, T)> {
        let driver = match context::driver() {
            Ok(driver) => driver,
            Err(e) => return Err((e, data)),
        };
        let sqe = build(&mut data);
        let user_data = {
            let mut d = driver.borrow_mut();
            let user_data = d.push_op(sqe, T::NAME);
            let Some(slot) = d.ops.get_mut(user_data) else {
                unreachable!("push_op inserted this slot and nothing removed it")
            };
            // No CQE can have been routed yet: routing happens only when the
            // driver reaps, and pushing never reaps.
            slot.lifecycle = Lifecycle::Multishot {
                cqes: VecDeque::new(),
                waker: None,
                ended: false,
            };
            user_data
        };
        Ok(Multishot {
            driver,
            user_data,
            data: Some(data),
            ended: false,
        })
    }

    /// The next item, `Pending` until a CQE arrives, `None` after the
    /// terminal CQE was taken.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<T::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let cqe = {
            let mut driver = self.driver.borrow_mut();
            let Some(slot) = driver.ops.get_mut(self.user_data) else {
                unreachable!("a multishot slot lives until its terminal CQE is taken")
            };
            let Lifecycle::Multishot { cqes, waker, .. } = &mut slot.lifecycle else {
                unreachable!("a live multishot op's slot is Multishot")
            };
            let Some(cqe) = cqes.pop_front() else {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                return Poll::Pending;
            };
            if !io_uring::cqueue::more(cqe.flags) {
                driver.ops.remove(self.user_data);
                self.ended = true;
            }
            cqe
        };
        let data = self.data.as_mut().expect("data is present until into_data");
        Poll::Ready(Some(data.on_cqe(cqe)))
    }

    /// Whether the terminal CQE has been taken (the op is over).
    pub(crate) fn is_ended(&self) -> bool {
        self.ended
    }

    /// The op's data back, once the op is over; `None` before.
    pub(crate) fn into_data(mut self) -> Option<T> {
        if self.ended {
            self.data.take()
        } else {
            None
        }
    }
}

impl<T: MultishotData> Drop for Multishot<T> {
    fn drop(&mut self) {
        if self.ended {
            return; // the slot is gone; the kernel is done with the data
        }
        let Some(mut data) = self.data.take() else {
            return;
        };
        let (queued, ended) = {
            let mut driver = self.driver.borrow_mut();
            let Some(slot) = driver.ops.get_mut(self.user_data) else {
                return;
            };
            let Lifecycle::Multishot { cqes, ended, .. } = &mut slot.lifecycle else {
                unreachable!("a live multishot op's slot is Multishot")
            };
            (std::mem::take(cqes), *ended)
        };
        // Finalise outside the borrow: dropping an item may drop resources.
        for cqe in queued {
            drop(data.on_cqe(cqe));
        }
        let mut driver = self.driver.borrow_mut();
        if ended {
            driver.ops.remove(self.user_data);
            return;
        }
        let Some(slot) = driver.ops.get_mut(self.user_data) else {
            unreachable!("nothing reaps while the stream is being dropped")
        };
        slot.lifecycle = Lifecycle::Ignored(Box::new(Parked(data)));
        driver.cancel(self.user_data);
    }
}

/// The data of a dropped multishot op: finalises each CQE until the last.
struct Parked<T: MultishotData>(T);

impl<T: MultishotData> Orphan for Parked<T> {
    fn on_cqe(&mut self, cqe: Cqe) {
        drop(self.0.on_cqe(cqe));
    }
}
