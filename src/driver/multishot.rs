//! Ops that complete with several CQEs: [`Multishot`], a stream of them.
//!
//! One SQE, many CQEs: multishot accept yields one fd per CQE, multishot
//! recv one provided buffer per CQE, and `SEND_ZC` a result CQE followed by
//! a notification CQE. Every CQE but the last carries `IORING_CQE_F_MORE`.
//!
//! # Protocol
//!
//! ```text
//!   first poll: push SQE    CQE (F_MORE)            CQE (no F_MORE)
//!  (none) ───────────▶ Multishot ─────────▶ Multishot ─────────────────▶ ended
//!                        │  queued in the slot, taken by poll_next      (slot freed
//!                        │                                               when taken)
//!     stream dropped     ▼ queued CQEs finalised, data moves into the slot,
//!     before the end:      ASYNC_CANCEL queued
//!                      Ignored ── each CQE finalised ── CQE (no F_MORE) ──▶ slot and
//!                                                                        data freed
//! ```
//!
//! * The SQE is pushed at the first poll, and the slot is
//!   `Lifecycle::Multishot` from then on (nothing is reaped between the push
//!   and the switch, so no CQE can be routed to it as a single-shot op).
//! * [`Multishot::poll_next`] takes CQEs in arrival order and turns each into
//!   an item with [`MultishotData::on_cqe`]. Taking the terminal CQE frees the
//!   slot; the stream then yields `None`.
//! * **Every CQE is finalised.** A CQE nobody will take — queued when the
//!   stream is dropped, or arriving after — still goes through `on_cqe`, and
//!   the item is dropped: an accepted fd is closed, a provided buffer goes
//!   back to its ring. The data lives in the slot until the terminal CQE
//!   (the kernel owns what it points to until then).

use super::op::{Cqe, Lifecycle, Orphan};
use super::uring::Uring;
use super::{Driver, Handle};
use crate::runtime::context;
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
    /// Builds the SQE (its `user_data` is set by the driver). Called once,
    /// at the first poll.
    fn sqe(&mut self) -> io_uring::squeue::Entry;
    /// Turns one CQE into an item. May run inside reaping, with the driver
    /// borrowed: it must not submit ops.
    fn on_cqe(&mut self, cqe: Cqe) -> Self::Item;
}

/// A multishot op: a stream of items, one per CQE.
///
/// Lazy like [`Op`](super::Op): the SQE is pushed at the first
/// [`Multishot::poll_next`]. Polled outside a runtime, it yields one item
/// made from an error CQE and ends.
pub(crate) struct Multishot<T: MultishotData> {
    /// The driver, once submitted.
    driver: Option<Handle>,
    user_data: u64,
    /// `None` only after [`Multishot::into_data`].
    data: Option<T>,
    /// The terminal CQE has been taken and the slot freed.
    ended: bool,
}

impl<T: MultishotData> Multishot<T> {
    /// A multishot op that will run `data` when first polled.
    pub(crate) fn new(data: T) -> Multishot<T> {
        Multishot {
            driver: None,
            user_data: 0,
            data: Some(data),
            ended: false,
        }
    }

    /// The next item, `Pending` until a CQE arrives, `None` after the
    /// terminal CQE was taken.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<T::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let data = self
            .data
            .as_mut()
            .expect("data is present until the op ends");
        let Some(driver) = &self.driver else {
            match context::driver() {
                Ok(driver) => {
                    let mut guard = driver.borrow_mut();
                    let d = match guard.uring_mut() {
                        Ok(d) => d,
                        Err(e) => {
                            drop(guard);
                            self.ended = true;
                            let cqe = Cqe {
                                result: Err(e),
                                flags: 0,
                            };
                            return Poll::Ready(Some(data.on_cqe(cqe)));
                        }
                    };
                    let sqe = data.sqe();
                    let user_data = d.push_op(sqe, T::NAME, cx.waker().clone());
                    let Some(slot) = d.ops.get_mut(user_data) else {
                        unreachable!("push_op inserted this slot and nothing removed it")
                    };
                    // No CQE can have been routed yet: routing happens only
                    // when the driver reaps, and pushing never reaps.
                    let waker = match std::mem::replace(&mut slot.lifecycle, Lifecycle::Submitted) {
                        Lifecycle::Waiting(waker) => Some(waker),
                        _ => unreachable!("push_op makes a Waiting slot"),
                    };
                    slot.lifecycle = Lifecycle::Multishot {
                        cqes: Box::default(),
                        waker,
                        ended: false,
                    };
                    drop(guard);
                    self.user_data = user_data;
                    self.driver = Some(driver);
                    return Poll::Pending;
                }
                Err(e) => {
                    self.ended = true;
                    let cqe = Cqe {
                        result: Err(e),
                        flags: 0,
                    };
                    return Poll::Ready(Some(data.on_cqe(cqe)));
                }
            }
        };
        let cqe = {
            let mut guard = driver.borrow_mut();
            let driver = uring(&mut guard);
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
        Poll::Ready(Some(data.on_cqe(cqe)))
    }

    /// Whether the op is over: its terminal CQE has been taken.
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
        let Some(driver) = self.driver.take() else {
            return; // never submitted
        };
        if self.ended {
            return; // the slot is gone; the kernel is done with the data
        }
        let Some(mut data) = self.data.take() else {
            return;
        };
        let (queued, ended) = {
            let mut guard = driver.borrow_mut();
            let driver = uring(&mut guard);
            let Some(slot) = driver.ops.get_mut(self.user_data) else {
                return;
            };
            let Lifecycle::Multishot { cqes, ended, .. } = &mut slot.lifecycle else {
                unreachable!("a live multishot op's slot is Multishot")
            };
            (std::mem::take(&mut **cqes), *ended)
        };
        // Finalise outside the borrow: dropping an item may drop resources.
        for cqe in queued {
            drop(data.on_cqe(cqe));
        }
        let mut guard = driver.borrow_mut();
        let d = uring(&mut guard);
        if ended {
            d.ops.remove(self.user_data);
            drop(guard);
            return; // `data` drops here, after the borrow
        }
        let Some(slot) = d.ops.get_mut(self.user_data) else {
            unreachable!("nothing reaps while the stream is being dropped")
        };
        slot.lifecycle = Lifecycle::Ignored(Box::new(Parked(data)));
        d.cancel(self.user_data);
    }
}

/// The io_uring driver a submitted multishot op lives on.
fn uring(driver: &mut Driver) -> &mut Uring {
    match driver {
        Driver::Uring(u) => u,
        Driver::Epoll(_) => unreachable!("multishot ops are only submitted on io_uring"),
    }
}

/// The data of a dropped multishot op: finalises each CQE until the last.
struct Parked<T: MultishotData>(T);

impl<T: MultishotData> Orphan for Parked<T> {
    fn on_cqe(&mut self, cqe: Cqe) {
        drop(self.0.on_cqe(cqe));
    }
}
