//! The readiness driver: epoll behind the same op API.
//!
//! # Protocol
//!
//! In the readiness model the kernel never holds an operation: it only says
//! when a descriptor *may* be ready, and the task runs the syscall itself.
//! An op on this driver therefore:
//!
//! 1. runs its non-blocking syscall at once ([`OpData::attempt`]), unless
//!    the descriptor is known not to be ready (readiness flags, below);
//! 2. if that says `EAGAIN`, registers its waker for the descriptor's read or
//!    write readiness ([`Epoll::wait_ready`]) and returns `Pending`;
//! 3. when `epoll_wait` reports the descriptor, the task is woken and goes
//!    back to 1.
//!
//! Regular files are always "ready" to epoll, so file ops run their syscall
//! inline ([`Readiness::Inline`]).
//!
//! Each descriptor is registered once, edge-triggered, for both directions
//! (`EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET`), under the token of its
//! [`SharedFd`](crate::io::SharedFd) id — unique for the life of the process,
//! so a reused fd number never inherits a stale registration.
//! Registrations of closed descriptors are forgotten at the next
//! turn (the kernel already dropped them with the last close).
//!
//! # Readiness flags (no attempt that is sure to fail)
//!
//! A registered descriptor keeps one flag per direction, "may be ready":
//!
//! * **cleared** by an attempt that found nothing: `EAGAIN` (or a connect's
//!   `EINPROGRESS`), or a short read on a stream socket (less than asked,
//!   without `MSG_PEEK`: the receive queue was emptied — `OpData::drained`);
//! * **set** by an event for that direction (`EPOLLIN`/`EPOLLRDHUP` for
//!   reading, `EPOLLOUT` for writing, `EPOLLHUP`/`EPOLLERR` for both), when
//!   its waiters are woken;
//! * while it is clear, an op on that direction **waits without
//!   attempting** (step 1 is skipped): that attempt would say `EAGAIN`.
//!   A descriptor not registered yet has both flags set.
//! * once the peer's close was reported (`EPOLLRDHUP`, `EPOLLHUP`,
//!   `EPOLLERR`), the flag for reading (and for `HUP`/`ERR` writing) is
//!   never cleared again: EOF or the error is reported once, and a short
//!   read of the last bytes must not make the reader wait for it.
//!
//! No wake-up is lost: a flag is cleared right after a syscall that saw the
//! queue empty, on the loop's thread, with no `epoll_wait` in between; so
//! anything that arrives later arrives after that syscall, and with
//! `EPOLLET` every arrival queues the descriptor on epoll's ready list again,
//! which the next `epoll_wait` reports (setting the flag, waking the
//! waiters). Data that arrived between the event and the syscall was seen by
//! the syscall; its edge still comes and costs at most one attempt that
//! says `EAGAIN`. Datagram reads never clear on a short read (a short
//! datagram says nothing of the next one), nor does `MSG_PEEK` (it empties
//! nothing). This is tokio's rule; it makes a request–response exchange
//! cost one `recv` instead of a `recv` and an `EAGAIN` one.
//!
//! Timers arrive through `epoll_wait`'s timeout, remote wakes through the
//! runtime's eventfd, registered level-triggered.
//!
//! [`OpData::attempt`]: super::op::OpData::attempt
//! [`Readiness::Inline`]: super::op::Readiness::Inline

use crate::io::shared_fd::{self, SharedFd};
use crate::runtime::context;
use crate::trace::{Event, Observer, TaskId};
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::task::Waker;
use std::time::Duration;

/// Token of the runtime's eventfd.
const WAKEUP_TOKEN: u64 = 0;

/// Which readiness an op waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interest {
    /// `EPOLLIN`: data to read, a connection to accept, EOF, an error.
    Read,
    /// `EPOLLOUT`: room to write, a connect finished, an error.
    Write,
}

struct Registration {
    readers: Vec<Waker>,
    writers: Vec<Waker>,
    /// "May be ready" per direction (see the module's readiness flags).
    readable: bool,
    writable: bool,
    /// The peer closed its side (`EPOLLRDHUP`/`EPOLLHUP`/`EPOLLERR` was
    /// reported): reading stays "may be ready" for good, since EOF or the
    /// error will not be announced again.
    read_closed: bool,
    /// `EPOLLHUP`/`EPOLLERR` was reported: writing stays "may be ready".
    write_closed: bool,
}

impl Registration {
    fn clear(&mut self, interest: Interest) {
        match interest {
            Interest::Read => self.readable = self.read_closed,
            Interest::Write => self.writable = self.write_closed,
        }
    }
}

/// Hashes the `SharedFd` ids (process-unique counters) with one multiply:
/// the registration lookup is on every attempt.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type Registrations = HashMap<u64, Registration, std::hash::BuildHasherDefault<IdHasher>>;

/// The readiness driver's counters (merged into `Stats`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    /// Ops started (first polls).
    pub(crate) ops: u64,
    pub(crate) epoll_waits: u64,
    /// `epoll_ctl` calls, the driver's own (the eventfd's) included.
    pub(crate) epoll_ctls: u64,
    /// Syscalls ops made themselves (some attempts make two).
    pub(crate) attempts: u64,
    /// Attempts skipped because the descriptor was known not ready.
    pub(crate) skipped_attempts: u64,
    /// Reads of the wake-up eventfd (after a remote wake).
    pub(crate) wakeup_reads: u64,
    pub(crate) eagain_retries: u64,
    /// `epoll_wait` calls interrupted by a signal.
    pub(crate) eintr: u64,
}

pub(crate) struct Epoll {
    epfd: OwnedFd,
    eventfd: OwnedFd,
    /// By `SharedFd` id.
    registrations: Registrations,
    events: Vec<libc::epoll_event>,
    wakers: Vec<Waker>,
    pub(crate) counters: Counters,
    observer: Option<Observer>,
}

impl Epoll {
    pub(crate) fn new(eventfd: OwnedFd, observer: Option<Observer>) -> io::Result<Epoll> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let epoll = Epoll {
            // SAFETY: a fresh descriptor we own.
            epfd: unsafe { OwnedFd::from_raw_fd(fd) },
            eventfd,
            registrations: Registrations::default(),
            events: Vec::with_capacity(256),
            wakers: Vec::new(),
            counters: Counters {
                epoll_ctls: 1, // the eventfd's, just below
                ..Counters::default()
            },
            observer,
        };
        epoll.ctl(
            libc::EPOLL_CTL_ADD,
            epoll.eventfd.as_raw_fd(),
            libc::EPOLLIN as u32,
            WAKEUP_TOKEN,
        )?;
        Ok(epoll)
    }

    fn ctl(&self, op: i32, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: token };
        // SAFETY: `event` is a valid epoll_event for the call's duration.
        if unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), op, fd, &mut event) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Counts an op's first poll.
    pub(crate) fn count_op(&mut self) {
        self.counters.ops += 1;
    }

    /// Counts (and reports) one attempt of an op, which made `syscalls`
    /// syscalls and came to `result`.
    pub(crate) fn count_attempt(&mut self, op: &'static str, result: i32, syscalls: u64) {
        self.counters.attempts += syscalls;
        if result == -libc::EAGAIN || result == -libc::EINPROGRESS {
            self.counters.eagain_retries += 1;
        }
        if let Some(observer) = &self.observer {
            observer(&Event::Attempt {
                task: TaskId(context::current_task()),
                op,
                result,
            });
        }
    }

    /// An attempt on `fd` (the `SharedFd` with id `id`) said `EAGAIN`:
    /// remembers `waker` until `interest` is reported.
    ///
    /// # Errors
    ///
    /// When the descriptor cannot be registered (`EPERM` for regular files,
    /// `ENOMEM`, `ENOSPC` past `max_user_watches`).
    /// Whether an attempt on `fd` for `interest` may find it ready: false
    /// only while its flag is clear (see the module's readiness flags).
    pub(crate) fn may_be_ready(&self, fd: &SharedFd, interest: Interest) -> bool {
        if !fd.is_registered() {
            return true;
        }
        match self.registrations.get(&fd.id()) {
            None => true,
            Some(r) => match interest {
                Interest::Read => r.readable,
                Interest::Write => r.writable,
            },
        }
    }

    /// Counts an attempt skipped because the descriptor is not ready.
    pub(crate) fn count_skipped(&mut self) {
        self.counters.skipped_attempts += 1;
    }

    /// An attempt on `fd` found the direction `interest` drained without
    /// saying `EAGAIN` (a short stream read): clears its flag, so the next
    /// op waits for an event instead of attempting. Nothing to do for a
    /// descriptor not registered yet (its next attempt registers it).
    pub(crate) fn clear_ready(&mut self, fd: &SharedFd, interest: Interest) {
        if let Some(r) = self.registrations.get_mut(&fd.id()) {
            r.clear(interest);
        }
    }

    /// An attempt on `fd` said `EAGAIN` (or the attempt was skipped because
    /// the flag was clear): clears the flag for `interest` and remembers
    /// `waker` until an event for it is reported.
    pub(crate) fn wait_ready(
        &mut self,
        fd: &SharedFd,
        interest: Interest,
        waker: &Waker,
    ) -> io::Result<()> {
        let id = fd.id();
        if !self.registrations.contains_key(&id) {
            fd.mark_registered();
            let fd = fd.raw();
            let events = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
            self.counters.epoll_ctls += 1;
            if let Some(observer) = &self.observer {
                observer(&Event::EpollCtl { fd });
            }
            match self.ctl(libc::EPOLL_CTL_ADD, fd, events, id) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                    self.counters.epoll_ctls += 1;
                    self.ctl(libc::EPOLL_CTL_MOD, fd, events, id)?;
                }
                Err(e) => return Err(e),
            }
            self.registrations.insert(
                id,
                Registration {
                    readers: Vec::new(),
                    writers: Vec::new(),
                    readable: true,
                    writable: true,
                    read_closed: false,
                    write_closed: false,
                },
            );
        }
        let registration = self
            .registrations
            .get_mut(&id)
            .expect("inserted just above");
        registration.clear(interest);
        let waiters = match interest {
            Interest::Read => &mut registration.readers,
            Interest::Write => &mut registration.writers,
        };
        if !waiters.iter().any(|w| w.will_wake(waker)) {
            waiters.push(waker.clone());
        }
        Ok(())
    }

    /// One `epoll_wait`: sleeps up to `timeout` if `wait`, else polls.
    /// Collects the wakers of ready descriptors; returns the event count.
    ///
    /// # Errors
    ///
    /// Errors of `epoll_wait` other than `EINTR` (which returns 0).
    pub(crate) fn turn(&mut self, wait: bool, timeout: Option<Duration>) -> io::Result<usize> {
        for id in shared_fd::take_closed() {
            self.registrations.remove(&id);
        }
        let wait = wait && self.wakers.is_empty();
        let timeout_ms: i32 = match (wait, timeout) {
            (false, _) => 0,
            (true, None) => -1,
            // Round up: never wake before the deadline.
            (true, Some(t)) => t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32,
        };
        self.events.clear();
        self.counters.epoll_waits += 1;
        if let Some(observer) = &self.observer {
            observer(&Event::EpollWait {
                timeout: (timeout_ms >= 0).then(|| Duration::from_millis(timeout_ms as u64)),
            });
        }
        // SAFETY: the buffer has room for `capacity` events; the kernel
        // writes at most that many and we set the length to what it says.
        let n = unsafe {
            libc::epoll_wait(
                self.epfd.as_raw_fd(),
                self.events.as_mut_ptr(),
                self.events.capacity() as i32,
                timeout_ms,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            return if err.kind() == io::ErrorKind::Interrupted {
                self.counters.eintr += 1;
                Ok(0)
            } else {
                Err(err)
            };
        }
        // SAFETY: the kernel initialised the first `n` events.
        unsafe { self.events.set_len(n as usize) };
        if let Some(observer) = &self.observer {
            observer(&Event::EpollReturned { events: n as usize });
        }
        for event in &self.events {
            let (token, flags) = (event.u64, event.events as i32);
            if token == WAKEUP_TOKEN {
                self.counters.wakeup_reads += 1;
                let mut counter = 0u64;
                // SAFETY: reads 8 bytes into a live u64 from our eventfd
                // (non-blocking: EAGAIN means another read got it first).
                unsafe {
                    libc::read(
                        self.eventfd.as_raw_fd(),
                        (&mut counter as *mut u64).cast(),
                        8,
                    )
                };
                continue;
            }
            let Some(registration) = self.registrations.get_mut(&token) else {
                continue; // a closed descriptor's last event
            };
            if flags & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) != 0 {
                registration.read_closed = true;
            }
            if flags & (libc::EPOLLHUP | libc::EPOLLERR) != 0 {
                registration.write_closed = true;
            }
            if flags & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) != 0 {
                registration.readable = true;
                self.wakers.append(&mut registration.readers);
            }
            if flags & (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) != 0 {
                registration.writable = true;
                self.wakers.append(&mut registration.writers);
            }
        }
        if n as usize == self.events.capacity() {
            self.events.reserve(self.events.capacity());
        }
        Ok(n as usize)
    }

    /// Moves the collected wakers into `out` (the loop wakes them).
    pub(crate) fn take_wakers(&mut self, out: &mut Vec<Waker>) {
        super::move_wakers(&mut self.wakers, out);
    }
}
