//! The io_uring driver: ring setup, submission, the one wait, reaping.
//!
//! # Protocol
//!
//! * **Push never fails.** An SQE goes into the SQ ring; when the ring is
//!   full the driver submits what it has (one `io_uring_enter`, no wait) and
//!   retries; when the kernel refuses more (`EAGAIN`, `EBUSY`) the SQE waits
//!   in a user-space backlog that is flushed, in order, at the next enter.
//!   Cancels go through the same path, so a cancel can always be queued.
//! * **One enter per park.** [`Uring::turn`] submits everything queued and,
//!   if asked to wait, sleeps in the same `io_uring_enter` until one CQE or
//!   the timeout (`IORING_ENTER_EXT_ARG`) — a thousand timers cost one
//!   timespec, not a thousand SQEs. Every enter carries `GETEVENTS` so that
//!   deferred task work (`DEFER_TASKRUN`) runs.
//! * **Transient errors never reach an op.** `EINTR` is retried (or ends the
//!   wait early), `ETIME` is the timeout, `EAGAIN`/`EBUSY`/`ENOMEM` reap,
//!   back off and retry,
//!   and a CQ overflow (`IORING_SQ_CQ_OVERFLOW`) is drained by entering again
//!   until the flag clears. `IORING_FEAT_NODROP` is required, so the kernel
//!   never drops a CQE.
//! * **Drop drains.** Dropping the driver cancels every op still in flight
//!   and reaps until each has its terminal CQE (bounded by
//!   [`DRAIN_LIMIT`]); data the kernel may still own after that is leaked,
//!   never freed.

use super::op::{Lifecycle, OpTable, RawCqe, Routed, CANCEL_TAG, EVENTFD_TAG, MSG_WAKE_TAG};
use super::setup::{build_ring, check_features, RingConfig, SetupFlags};
use super::sys;
use crate::runtime::context;
use crate::trace::{Event, Observer, TaskId};
use io_uring::{opcode, squeue, types, EnterFlags, IoUring, Probe};
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::task::Waker;
use std::time::{Duration, Instant};

/// How long dropping a driver waits for cancelled ops to complete.
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// The driver's counters; the runtime merges them into [`crate::Stats`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub(crate) ops_submitted: u64,
    pub(crate) cancels: u64,
    pub(crate) cqes_reaped: u64,
    pub(crate) stale_cqes: u64,
    pub(crate) enters: u64,
    pub(crate) waits: u64,
    pub(crate) sq_full_flushes: u64,
    pub(crate) backlogged: u64,
    pub(crate) cq_overflow_drains: u64,
    pub(crate) eintr_retries: u64,
    pub(crate) msg_ring_wakes_sent: u64,
    pub(crate) msg_ring_wakes_received: u64,
}

/// One ring, its op table, and the driver's own wake-up read.
pub(crate) struct Uring {
    pub(super) ring: IoUring,
    /// How `io_uring_enter` names the ring (registered index if possible).
    ring_fd: sys::RingFd,
    /// The ops in flight, addressed by `user_data`.
    pub(crate) ops: OpTable,
    /// SQEs waiting for room in the SQ ring (in order).
    backlog: VecDeque<squeue::Entry>,
    /// Wakers of ops completed by reaping, woken by the loop.
    wakers: Vec<Waker>,
    /// The runtime's wake-up eventfd: a read on it is kept armed while the
    /// loop sleeps, so a remote wake ends the wait.
    eventfd: OwnedFd,
    /// Target of the eventfd read; the kernel writes it until the read's CQE.
    eventfd_buf: Box<u64>,
    eventfd_armed: bool,
    pub(crate) counters: Counters,
    flags: SetupFlags,
    /// Naive mode: one `io_uring_enter` per op (see `RingConfig`).
    submit_each_op: bool,
    probe: Option<Box<Probe>>,
    observer: Option<Observer>,
}

impl Uring {
    /// Sets up a ring, dropping setup flags the kernel refuses.
    pub(crate) fn new(
        config: &RingConfig,
        eventfd: OwnedFd,
        observer: Option<Observer>,
    ) -> io::Result<Uring> {
        let (ring, flags) = build_ring(config)?;
        check_features(&ring)?;
        let mut probe = Probe::new();
        let probe = ring
            .submitter()
            .register_probe(&mut probe)
            .ok()
            .map(|()| Box::new(probe));
        let raw = ring.as_raw_fd();
        let ring_fd = match sys::register_ring_fd(raw) {
            Some(index) => sys::RingFd::Registered(index),
            None => sys::RingFd::Raw(raw),
        };
        Ok(Uring {
            ring,
            ring_fd,
            ops: OpTable::default(),
            backlog: VecDeque::new(),
            wakers: Vec::new(),
            eventfd,
            eventfd_buf: Box::new(0),
            eventfd_armed: false,
            counters: Counters::default(),
            flags,
            submit_each_op: config.submit_each_op,
            probe,
            observer,
        })
    }

    /// The setup flags the kernel accepted.
    pub(crate) fn flags(&self) -> SetupFlags {
        self.flags
    }

    /// Whether the kernel supports `opcode` (probed once at setup).
    pub(crate) fn supports(&self, opcode: u8) -> bool {
        self.probe.as_ref().is_some_and(|p| p.is_supported(opcode))
    }

    /// Queues the SQE of a new op whose poller is `waker`; returns its
    /// `user_data`.
    pub(crate) fn push_op(&mut self, sqe: squeue::Entry, name: &'static str, waker: Waker) -> u64 {
        let task = context::current_task();
        let user_data = self.ops.insert(task, Lifecycle::Waiting(waker));
        self.counters.ops_submitted += 1;
        if let Some(observer) = &self.observer {
            observer(&Event::SqePushed {
                task: TaskId(task),
                user_data,
                op: name,
            });
        }
        self.push(sqe.user_data(user_data));
        if self.submit_each_op {
            self.submit_now();
        }
        user_data
    }

    /// Hands everything queued to the kernel now, without waiting.
    pub(crate) fn submit_now(&mut self) {
        // Errors here are transient ones the next turn retries.
        let _ = self.enter(0, None);
    }

    /// Queues an `ASYNC_CANCEL` for the op `user_data`.
    pub(crate) fn cancel(&mut self, user_data: u64) {
        self.counters.cancels += 1;
        self.push(
            opcode::AsyncCancel::new(user_data)
                .build()
                .user_data(CANCEL_TAG),
        );
    }

    fn push(&mut self, sqe: squeue::Entry) {
        if self.backlog.is_empty() {
            if self.try_push(&sqe) {
                return;
            }
            self.counters.sq_full_flushes += 1;
            if self.enter(0, None).is_ok() && self.try_push(&sqe) {
                return;
            }
        }
        self.counters.backlogged += 1;
        self.backlog.push_back(sqe);
    }

    fn try_push(&mut self, sqe: &squeue::Entry) -> bool {
        // SAFETY: every SQE pushed points only into memory that stays valid
        // until its terminal CQE: op data obeys the `OpData` contract and is
        // kept in the op table until then; the eventfd buffer is the driver's
        // and the driver drains before freeing it; cancels carry no pointer.
        unsafe { self.ring.submission().push(sqe).is_ok() }
    }

    /// Moves backlogged SQEs into the SQ ring while there is room.
    fn refill_from_backlog(&mut self) {
        while let Some(sqe) = self.backlog.front() {
            let sqe = sqe.clone();
            if !self.try_push(&sqe) {
                break;
            }
            self.backlog.pop_front();
        }
    }

    /// Moves the collected wakers into `out` (the loop wakes them).
    pub(crate) fn take_wakers(&mut self, out: &mut Vec<Waker>) {
        super::move_wakers(&mut self.wakers, out);
    }

    /// Whether anything is queued for the kernel.
    pub(crate) fn has_unsubmitted(&mut self) -> bool {
        !self.backlog.is_empty() || !self.ring.submission().is_empty()
    }

    /// Submits everything queued; if `wait`, sleeps until one CQE arrives or
    /// `timeout` passes; then reaps. Returns the number of CQEs reaped.
    ///
    /// # Errors
    ///
    /// Only errors that are not transient (`EBADF`, `EFAULT`, `EINVAL` …):
    /// they mean the ring itself is broken.
    pub(crate) fn turn(&mut self, wait: bool, timeout: Option<Duration>) -> io::Result<usize> {
        let mut reaped = 0;
        let mut wait = wait && self.wakers.is_empty() && self.ring.completion().is_empty();
        let mut busy_retries = 0;
        loop {
            self.refill_from_backlog();
            let needs_enter = wait || self.has_unsubmitted() || {
                let sq = self.ring.submission();
                sq.taskrun() || sq.cq_overflow()
            };
            if needs_enter {
                match self.enter(u32::from(wait), timeout.filter(|_| wait)) {
                    Ok(_) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ETIME) => {}
                    Err(e) if e.raw_os_error() == Some(libc::EINTR) => {
                        self.counters.eintr_retries += 1;
                        if !wait {
                            continue;
                        }
                    }
                    Err(e)
                        if matches!(
                            e.raw_os_error(),
                            Some(libc::EAGAIN | libc::EBUSY | libc::ENOMEM)
                        ) =>
                    {
                        // The kernel is short of memory for requests or the
                        // CQ is overflowing: make room by reaping, retry.
                        busy_retries += 1;
                        if self.reap() == 0 && busy_retries > 3 {
                            std::thread::sleep(Duration::from_micros(100));
                        }
                        if busy_retries < 1000 {
                            continue;
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            wait = false;
            reaped += self.reap();
            if self.ring.submission().cq_overflow() {
                self.counters.cq_overflow_drains += 1;
                continue;
            }
            if !self.backlog.is_empty() {
                continue;
            }
            return Ok(reaped);
        }
    }

    /// The single `io_uring_enter` call site.
    fn enter(&mut self, min_complete: u32, timeout: Option<Duration>) -> io::Result<usize> {
        let to_submit = self.ring.submission().len() as u32;
        let flags = EnterFlags::GETEVENTS;
        self.counters.enters += 1;
        if min_complete > 0 {
            self.counters.waits += 1;
        }
        if let Some(observer) = &self.observer {
            observer(&Event::Enter {
                to_submit,
                min_complete,
                timeout,
            });
        }
        let started = self.observer.as_ref().map(|_| Instant::now());
        let result = if let Some(timeout) = timeout {
            let ts = types::Timespec::from(timeout);
            let args = types::SubmitArgs::new().timespec(&ts);
            // SAFETY: `args` is a live `io_uring_getevents_arg` (SubmitArgs is
            // repr(transparent) over it) pointing at the live `ts`, flagged by
            // EXT_ARG; every published SQE is valid (see `try_push`).
            unsafe {
                sys::enter(
                    self.ring_fd,
                    to_submit,
                    min_complete,
                    (flags | EnterFlags::EXT_ARG).bits(),
                    Some(&args),
                )
            }
        } else {
            // SAFETY: no argument; every published SQE is valid (`try_push`).
            unsafe { sys::enter(self.ring_fd, to_submit, min_complete, flags.bits(), None) }
        };
        if let (Some(observer), Some(started)) = (&self.observer, started) {
            observer(&Event::EnterReturned {
                result: match &result {
                    Ok(n) => *n as i64,
                    Err(e) => -i64::from(e.raw_os_error().unwrap_or(0)),
                },
                elapsed: started.elapsed(),
            });
        }
        result
    }

    /// Ends the sleep of the ring `target_fd` by posting a CQE into it
    /// (`IORING_OP_MSG_RING`), submitted at once. Returns false if this
    /// kernel cannot (the caller writes the target's eventfd instead).
    pub(crate) fn msg_ring_wake(&mut self, target_fd: RawFd) -> bool {
        if !self.supports(opcode::MsgRingData::CODE) {
            return false;
        }
        let sqe = opcode::MsgRingData::new(types::Fd(target_fd), 0, MSG_WAKE_TAG, None)
            .build()
            .user_data(CANCEL_TAG);
        self.push(sqe);
        self.counters.msg_ring_wakes_sent += 1;
        // Submit now: a wake must not wait for this loop's next park.
        self.enter(0, None).is_ok()
    }

    /// Before the loop sleeps: makes sure the eventfd read is in flight, so
    /// a wake from another thread can end the wait. (The drain does not call
    /// this: it must not leave a fresh read behind.)
    pub(crate) fn arm_wakeup(&mut self) {
        if self.eventfd_armed {
            return;
        }
        let buf: *mut u64 = &mut *self.eventfd_buf;
        let sqe = opcode::Read::new(types::Fd(self.eventfd.as_raw_fd()), buf.cast(), 8)
            .build()
            .user_data(EVENTFD_TAG);
        self.eventfd_armed = true;
        self.push(sqe);
    }

    /// Routes every available CQE; returns how many.
    fn reap(&mut self) -> usize {
        let mut n = 0;
        let mut cq = self.ring.completion();
        cq.sync();
        for entry in &mut cq {
            n += 1;
            let user_data = entry.user_data();
            if user_data == CANCEL_TAG {
                continue;
            }
            if user_data == MSG_WAKE_TAG {
                // Another core's MSG_RING: its only job was to end our wait.
                self.counters.msg_ring_wakes_received += 1;
                continue;
            }
            if user_data == EVENTFD_TAG {
                self.eventfd_armed = false;
                if let Some(observer) = &self.observer {
                    observer(&Event::WakeupCqe {
                        result: entry.result(),
                    });
                }
                continue;
            }
            if let Some(observer) = &self.observer {
                let task = self.ops.get_mut(user_data).map(|s| TaskId(s.task));
                observer(&Event::CqeReaped {
                    user_data,
                    result: entry.result(),
                    flags: entry.flags(),
                    task,
                });
            }
            match self.ops.complete(
                user_data,
                RawCqe {
                    res: entry.result(),
                    flags: entry.flags(),
                },
            ) {
                Routed::Op(Some(waker)) => self.wakers.push(waker),
                Routed::Op(None) => {}
                Routed::Stale => self.counters.stale_cqes += 1,
            }
        }
        self.counters.cqes_reaped += n as u64;
        n
    }
}

impl Drop for Uring {
    fn drop(&mut self) {
        self.drain();
        if let sys::RingFd::Registered(index) = self.ring_fd {
            sys::unregister_ring_fd(self.ring.as_raw_fd(), index);
        }
    }
}

impl Uring {
    /// Cancels every op in flight and reaps until each has its terminal
    /// CQE, within [`DRAIN_LIMIT`]; leaks what the kernel may still own.
    fn drain(&mut self) {
        for user_data in self.ops.in_flight_keys() {
            self.cancel(user_data);
        }
        if self.eventfd_armed {
            self.push(
                opcode::AsyncCancel::new(EVENTFD_TAG)
                    .build()
                    .user_data(CANCEL_TAG),
            );
        }
        let deadline = Instant::now() + DRAIN_LIMIT;
        while self.ops.in_flight() > 0 || self.eventfd_armed {
            let now = Instant::now();
            if now >= deadline {
                // The kernel still owns these: leak rather than free.
                std::mem::forget(std::mem::take(&mut self.ops));
                std::mem::forget(std::mem::replace(&mut self.eventfd_buf, Box::new(0)));
                break;
            }
            let slice = (deadline - now).min(Duration::from_millis(50));
            if self.turn(true, Some(slice)).is_err() {
                std::mem::forget(std::mem::take(&mut self.ops));
                std::mem::forget(std::mem::replace(&mut self.eventfd_buf, Box::new(0)));
                break;
            }
            self.wakers.clear();
        }
    }
}
