//! The op table and the `Op<T>` future: the lifecycle of one operation.
//!
//! ```text
//!            push SQE                 terminal CQE            poll
//!  (none) ───────────▶ Submitted ─────────────────▶ Completed ─────▶ (slot freed,
//!                         │  ▲ poll: store waker        ▲            output built)
//!                         ▼  │                          │
//!                      Waiting ────── terminal CQE ─────┘ (wake)
//!                         │
//!      Op dropped before  │ the CQE: data moves into the slot, ASYNC_CANCEL queued
//!                         ▼
//!                      Ignored ───── terminal CQE ─────▶ data finalised and freed
//! ```
//!
//! A multishot op lives in `Multishot` until a CQE without `IORING_CQE_F_MORE`
//! ends it; each CQE is queued in the slot until the owner takes it.
//!
//! An op whose CQE was stored but never taken (`Completed` when its future is
//! dropped) is *finalised*: its data and result go through
//! [`OpData::complete`] and the output is dropped, so a kernel-made fd or a
//! provided buffer in the result is closed or returned, not leaked.

use super::epoll::Interest;
use super::uring::Uring;
use super::{Driver, Handle};
use crate::io::SharedFd;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Slot indices at and above this are reserved for the driver's own SQEs.
pub(crate) const RESERVED_INDEX: u32 = u32::MAX - 15;
/// `user_data` of `ASYNC_CANCEL` SQEs (their CQEs are ignored).
pub(crate) const CANCEL_TAG: u64 = u64::MAX;
/// `user_data` of the wake-up eventfd read.
pub(crate) const EVENTFD_TAG: u64 = u64::MAX - 1;
/// `user_data` of a CQE another runtime posted into this ring with
/// `IORING_OP_MSG_RING` to end its sleep.
pub(crate) const MSG_WAKE_TAG: u64 = u64::MAX - 2;

/// One completion as the op sees it.
#[derive(Debug)]
pub(crate) struct Cqe {
    /// `res` of the CQE: a non-negative value, or the errno as an error.
    pub(crate) result: io::Result<u32>,
    /// `flags` of the CQE (`F_MORE`, `F_BUFFER`, `F_NOTIF` …).
    pub(crate) flags: u32,
}

/// A CQE as stored in the table until its op is polled (8 bytes).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawCqe {
    pub(crate) res: i32,
    pub(crate) flags: u32,
}

impl From<RawCqe> for Cqe {
    fn from(raw: RawCqe) -> Cqe {
        Cqe::from_raw(raw.res, raw.flags)
    }
}

impl Cqe {
    pub(crate) fn from_raw(res: i32, flags: u32) -> Cqe {
        let result = if res < 0 {
            Err(io::Error::from_raw_os_error(-res))
        } else {
            Ok(res as u32)
        };
        Cqe { result, flags }
    }
}

/// The data one operation owns while it is in flight, and how its CQE
/// becomes its output.
///
/// # Safety
///
/// The SQE built for this data may only point into memory that `self` owns
/// and that does **not** move when `self` moves (heap allocations: a `Vec`'s
/// buffer, a `Box`ed `sockaddr`), valid until `self` is dropped. The driver
/// keeps `self` alive until the terminal CQE, moving it at will.
pub(crate) unsafe trait OpData: 'static {
    /// What awaiting the op yields.
    type Output;
    /// Name used in traces and errors.
    const NAME: &'static str;
    /// Builds the SQE (its `user_data` is set by the driver). Called once,
    /// at the op's first poll; may point into `self`'s stable memory.
    fn sqe(&mut self) -> io_uring::squeue::Entry;
    /// Turns the terminal CQE into the output. Runs on the loop thread, maybe
    /// while the driver is borrowed: it must not submit ops.
    fn complete(self, cqe: Cqe) -> Self::Output;
    /// Whether the op should reach the kernel at once instead of with the
    /// next park's batch. Device-bound ops (`O_DIRECT` file I/O) say yes: a
    /// virtio disk serves a stream of single submissions faster than the
    /// same requests in batches, while for page-cache and socket I/O the
    /// batch is cheaper (measured in `benches/compare`, scenario
    /// `fileread`).
    fn submit_now(&self) -> bool {
        false
    }
    /// How the op runs on the readiness (epoll) driver. The default has no
    /// readiness form: the op fails there with `Unsupported`.
    fn readiness(&self) -> Readiness<'_> {
        Readiness::Unsupported
    }
    /// The readiness form's syscall, run once without blocking on a socket
    /// or pipe; returns what the CQE's `res` would be (a count, or
    /// `-errno`, `-EAGAIN` when not ready).
    fn attempt(&mut self) -> i32 {
        -libc::EOPNOTSUPP
    }
    /// How many syscalls the last [`attempt`](OpData::attempt) made (for
    /// the counters; a connect's check makes two).
    fn attempt_syscalls(&self) -> u64 {
        1
    }
    /// Whether the attempt's result `res` shows that the descriptor has
    /// nothing more in its direction although it did not say `EAGAIN`: a
    /// short read on a stream socket. The readiness driver then waits for
    /// the next event instead of attempting again (see `driver::epoll`).
    /// Only ops that know their descriptor is a stream may say yes.
    fn drained(&self, _res: i32) -> bool {
        false
    }
}

/// An op's readiness form (see `driver::epoll`).
pub(crate) enum Readiness<'a> {
    /// Run [`OpData::attempt`] at once: the descriptor is always "ready"
    /// (regular files) or there is none (NOP).
    Inline,
    /// Run `attempt`; on `EAGAIN`, wait until `epoll` reports the
    /// descriptor ready for this direction, then run it again.
    Wait(&'a SharedFd, Interest),
    /// The op has no readiness form (provided buffers, `SEND_ZC` …).
    Unsupported,
}

/// Runs `f` (a syscall returning -1 and setting errno on failure) and
/// converts its result to the CQE convention: the value, or `-errno`.
pub(crate) fn syscall_res(ret: isize) -> i32 {
    if ret < 0 {
        -std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    } else {
        i32::try_from(ret).unwrap_or(i32::MAX)
    }
}

/// Data of a dropped op, parked until its terminal CQE; finalised then.
pub(crate) trait Orphan {
    /// Receives each CQE that arrives after the owner went away.
    fn on_cqe(&mut self, cqe: Cqe);
}

/// A dropped op's data and, if CQEs with `F_MORE` came first (`SEND_ZC`:
/// the result, then the notification), the first of them.
struct Parked<T: OpData> {
    data: Option<T>,
    first: Option<Cqe>,
}

impl<T: OpData> Orphan for Parked<T> {
    fn on_cqe(&mut self, cqe: Cqe) {
        if io_uring::cqueue::more(cqe.flags) {
            self.first.get_or_insert(cqe);
            return;
        }
        if let Some(data) = self.data.take() {
            drop(data.complete(self.first.take().unwrap_or(cqe)));
        }
    }
}

/// Where one operation is in its life. One slot per op in flight.
#[cfg_attr(not(test), allow(dead_code))] // `Multishot` is built by net's streams
pub(crate) enum Lifecycle {
    /// The SQE is queued or in the kernel; the op has not been polled since.
    Submitted,
    /// In flight; this waker wants the terminal CQE.
    Waiting(Waker),
    /// The owner dropped the op mid-flight; its data waits here for the
    /// terminal CQE (a cancel has been queued).
    Ignored(Box<dyn Orphan>),
    /// The terminal CQE arrived; its result waits for the next poll.
    Completed(RawCqe),
    /// A multishot op (multishot accept and recv are its users): CQEs not yet taken, the waker, and whether the
    /// terminal CQE (no `F_MORE`) has arrived.
    Multishot {
        /// CQEs in arrival order. Boxed so that this rare variant does not
        /// make every slot of the table twice as large.
        #[allow(clippy::box_collection)]
        cqes: Box<VecDeque<Cqe>>,
        /// The consumer's waker.
        waker: Option<Waker>,
        /// The terminal CQE is in `cqes` (or was taken).
        ended: bool,
    },
}

pub(crate) struct Slot {
    generation: u32,
    /// Task that submitted the op (for traces); 0 = the root future.
    pub(crate) task: u64,
    pub(crate) lifecycle: Lifecycle,
}

/// The op table: slots addressed by `user_data`.
#[derive(Default)]
pub(crate) struct OpTable {
    slots: slab::Slab<Slot>,
    next_generation: u32,
}

/// What a CQE did to the table.
pub(crate) enum Routed {
    /// A live op took it; wake this waker, if any.
    Op(Option<Waker>),
    /// Stale or unknown `user_data`: ignored.
    Stale,
}

impl OpTable {
    /// Adds a slot for a new op and returns its `user_data`.
    pub(crate) fn insert(&mut self, task: u64, lifecycle: Lifecycle) -> u64 {
        let generation = self.next_generation;
        self.next_generation = generation.wrapping_add(1);
        let index = self.slots.insert(Slot {
            generation,
            task,
            lifecycle,
        });
        assert!(
            (index as u64) < RESERVED_INDEX as u64,
            "more than 4 billion ops in flight"
        );
        (u64::from(generation) << 32) | index as u64
    }

    fn index(&self, user_data: u64) -> Option<usize> {
        let index = (user_data & 0xffff_ffff) as u32;
        let generation = (user_data >> 32) as u32;
        if index >= RESERVED_INDEX {
            return None;
        }
        let slot = self.slots.get(index as usize)?;
        (slot.generation == generation).then_some(index as usize)
    }

    pub(crate) fn get_mut(&mut self, user_data: u64) -> Option<&mut Slot> {
        let index = self.index(user_data)?;
        self.slots.get_mut(index)
    }

    /// Removes the slot (its terminal CQE has been taken).
    pub(crate) fn remove(&mut self, user_data: u64) -> Option<Slot> {
        let index = self.index(user_data)?;
        Some(self.slots.remove(index))
    }

    /// The single-shot op `user_data` is polled: takes its result if the
    /// terminal CQE is in (freeing the slot), else keeps `waker`.
    pub(crate) fn poll_op(&mut self, user_data: u64, waker: &Waker) -> Poll<RawCqe> {
        let Some(index) = self.index(user_data) else {
            unreachable!("a live op's slot is never freed before it takes its CQE")
        };
        match &mut self.slots[index].lifecycle {
            Lifecycle::Completed(cqe) => {
                let cqe = *cqe;
                self.slots.remove(index);
                Poll::Ready(cqe)
            }
            Lifecycle::Waiting(w) => {
                if !w.will_wake(waker) {
                    w.clone_from(waker);
                }
                Poll::Pending
            }
            Lifecycle::Submitted => {
                self.slots[index].lifecycle = Lifecycle::Waiting(waker.clone());
                Poll::Pending
            }
            Lifecycle::Ignored(_) | Lifecycle::Multishot { .. } => {
                unreachable!("a live single-shot op is never ignored or multishot")
            }
        }
    }

    /// Number of ops still waiting for a terminal CQE.
    pub(crate) fn in_flight(&self) -> usize {
        self.slots
            .iter()
            .filter(|(_, s)| !s.is_terminated())
            .count()
    }

    /// `user_data` of every op still waiting for its terminal CQE.
    pub(crate) fn in_flight_keys(&self) -> Vec<u64> {
        self.slots
            .iter()
            .filter(|(_, s)| !s.is_terminated())
            .map(|(i, s)| (u64::from(s.generation) << 32) | i as u64)
            .collect()
    }

    /// Number of slots (in flight or holding an untaken result).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Routes one CQE to its op.
    pub(crate) fn complete(&mut self, user_data: u64, cqe: RawCqe) -> Routed {
        let more = io_uring::cqueue::more(cqe.flags);
        let Some(index) = self.index(user_data) else {
            return Routed::Stale;
        };
        let slot = &mut self.slots[index];
        match &mut slot.lifecycle {
            Lifecycle::Submitted => {
                slot.lifecycle = Lifecycle::Completed(cqe);
                Routed::Op(None)
            }
            Lifecycle::Waiting(_) => {
                let Lifecycle::Waiting(waker) =
                    std::mem::replace(&mut slot.lifecycle, Lifecycle::Completed(cqe))
                else {
                    unreachable!("matched Waiting just above")
                };
                Routed::Op(Some(waker))
            }
            Lifecycle::Ignored(orphan) => {
                orphan.on_cqe(cqe.into());
                if !more {
                    self.slots.remove(index);
                }
                Routed::Op(None)
            }
            Lifecycle::Completed(_) => {
                // A single-shot op that got a second CQE: the kernel only does
                // this for ops we submit as multishot, which never sit here.
                unreachable!("second CQE for a completed single-shot op")
            }
            Lifecycle::Multishot { cqes, waker, ended } => {
                cqes.push_back(cqe.into());
                *ended = !more;
                Routed::Op(waker.take())
            }
        }
    }
}

impl Slot {
    /// Whether the terminal CQE has arrived.
    fn is_terminated(&self) -> bool {
        match &self.lifecycle {
            Lifecycle::Completed(_) => true,
            Lifecycle::Multishot { ended, .. } => *ended,
            _ => false,
        }
    }
}

/// The future of one single-shot operation.
///
/// Lazy: nothing reaches the ring until the first poll, which builds the SQE
/// ([`OpData::sqe`]), queues it with the poller's waker already in place,
/// and returns `Pending`. Resolves to [`OpData::complete`] of the terminal
/// CQE. Polled outside a runtime, it completes at once with an error.
pub(crate) struct Op<T: OpData> {
    /// The driver, once submitted (or, on epoll, first attempted).
    driver: Option<Handle>,
    /// Runs on the readiness driver: no slot, nothing in the kernel.
    on_epoll: bool,
    user_data: u64,
    /// `None` once the output has been produced: a completed op is inert.
    data: Option<T>,
}

impl<T: OpData> Op<T> {
    /// An op that will run `data` when first polled.
    pub(crate) fn new(data: T) -> Op<T> {
        Op {
            driver: None,
            on_epoll: false,
            user_data: 0,
            data: Some(data),
        }
    }
}

impl<T: OpData> Op<T> {
    /// The op's key, once submitted to a ring (for tests that inject CQEs).
    #[cfg(test)]
    pub(crate) fn user_data(&self) -> Option<u64> {
        (self.driver.is_some() && !self.on_epoll).then_some(self.user_data)
    }
}

impl<T: OpData> Unpin for Op<T> {}

impl<T: OpData> Future for Op<T> {
    type Output = T::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = &mut *self;
        if this.on_epoll {
            return this.poll_ready(cx);
        }
        let Some(driver) = &this.driver else {
            let data = this
                .data
                .as_mut()
                .expect("Op polled after it returned Ready");
            match crate::runtime::context::driver() {
                Ok(driver) => {
                    let mut guard = driver.borrow_mut();
                    let Driver::Uring(uring) = &mut *guard else {
                        if let Driver::Epoll(epoll) = &mut *guard {
                            epoll.count_op();
                        }
                        drop(guard);
                        this.driver = Some(driver);
                        this.on_epoll = true;
                        return this.poll_ready(cx);
                    };
                    let sqe = data.sqe();
                    this.user_data = uring.push_op(sqe, T::NAME, cx.waker().clone());
                    if data.submit_now() {
                        uring.submit_now();
                    }
                    drop(guard);
                    this.driver = Some(driver);
                    return Poll::Pending;
                }
                Err(e) => {
                    let data = this.data.take().expect("checked above");
                    return Poll::Ready(data.complete(Cqe {
                        result: Err(e),
                        flags: 0,
                    }));
                }
            }
        };
        let cqe = match uring(&mut driver.borrow_mut())
            .ops
            .poll_op(this.user_data, cx.waker())
        {
            Poll::Ready(cqe) => Cqe::from(cqe),
            Poll::Pending => return Poll::Pending,
        };
        let data = this
            .data
            .take()
            .expect("op data is present until the output is produced");
        Poll::Ready(data.complete(cqe))
    }
}

impl<T: OpData> Op<T> {
    /// The readiness model: the task runs the syscall itself; on `EAGAIN`
    /// it waits for epoll to report the descriptor, then tries again. While
    /// the descriptor is known not ready it waits without the syscall (the
    /// readiness flags of `driver::epoll`).
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<T::Output> {
        let driver = self.driver.as_ref().expect("set before the first attempt");
        let data = self
            .data
            .as_mut()
            .expect("Op polled after it returned Ready");
        let res = match data.readiness() {
            Readiness::Unsupported => -libc::EOPNOTSUPP,
            Readiness::Inline => data.attempt(),
            Readiness::Wait(fd, interest) => {
                fd.ensure_nonblocking();
                let mut guard = driver.borrow_mut();
                let Driver::Epoll(epoll) = &mut *guard else {
                    unreachable!("an op that started on epoll stays on its driver")
                };
                if epoll.may_be_ready(fd, interest) {
                    drop(guard);
                    data.attempt()
                } else {
                    epoll.count_skipped();
                    match epoll.wait_ready(fd, interest, cx.waker()) {
                        Ok(()) => return Poll::Pending,
                        Err(e) => {
                            drop(guard);
                            let data = self.data.take().expect("checked above");
                            let res = -e.raw_os_error().unwrap_or(libc::EIO);
                            return Poll::Ready(data.complete(Cqe::from_raw(res, 0)));
                        }
                    }
                }
            }
        };
        // A connect in progress waits like EAGAIN (and is reported as what
        // it is).
        let not_ready = res == -libc::EAGAIN || res == -libc::EINPROGRESS;
        let mut guard = driver.borrow_mut();
        let Driver::Epoll(epoll) = &mut *guard else {
            unreachable!("an op that started on epoll stays on its driver")
        };
        epoll.count_attempt(T::NAME, res, data.attempt_syscalls());
        let res = match data.readiness() {
            Readiness::Wait(fd, interest) if not_ready => {
                match epoll.wait_ready(fd, interest, cx.waker()) {
                    Ok(()) => return Poll::Pending,
                    Err(e) => -e.raw_os_error().unwrap_or(libc::EIO),
                }
            }
            Readiness::Wait(fd, interest) => {
                if data.drained(res) {
                    epoll.clear_ready(fd, interest);
                }
                res
            }
            _ => res,
        };
        drop(guard);
        let data = self.data.take().expect("checked above");
        Poll::Ready(data.complete(Cqe::from_raw(res, 0)))
    }
}

/// The io_uring driver an op submitted to a ring lives on.
fn uring(driver: &mut Driver) -> &mut Uring {
    match driver {
        Driver::Uring(u) => u,
        Driver::Epoll(_) => unreachable!("an op submitted to a ring stays on its driver"),
    }
}

impl<T: OpData> Drop for Op<T> {
    fn drop(&mut self) {
        if self.on_epoll {
            return; // the kernel never held anything: the data just drops
        }
        let (Some(driver), Some(data)) = (&self.driver, self.data.take()) else {
            return; // never submitted, or completed: inert
        };
        let finished = {
            let mut guard = driver.borrow_mut();
            let driver = uring(&mut guard);
            let Some(slot) = driver.ops.get_mut(self.user_data) else {
                return;
            };
            if let Lifecycle::Completed(_) = slot.lifecycle {
                match driver.ops.remove(self.user_data).map(|s| s.lifecycle) {
                    Some(Lifecycle::Completed(cqe)) => Some((data, Cqe::from(cqe))),
                    _ => unreachable!("the slot was Completed a moment ago"),
                }
            } else {
                slot.lifecycle = Lifecycle::Ignored(orphan(data));
                driver.cancel(self.user_data);
                None
            }
        };
        // Finalise outside the borrow: dropping the output may drop resources.
        if let Some((data, cqe)) = finished {
            drop(data.complete(cqe));
        }
    }
}

/// Boxes the data of a dropped op so the table can finalise it at its CQE.
pub(crate) fn orphan<T: OpData>(data: T) -> Box<dyn Orphan> {
    Box::new(Parked {
        data: Some(data),
        first: None,
    })
}
