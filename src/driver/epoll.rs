//! The readiness driver: epoll behind the same op API.
//!
//! # Protocol
//!
//! In the readiness model the kernel never holds an operation: it only says
//! when a descriptor *may* be ready, and the task runs the syscall itself.
//! An op on this driver therefore:
//!
//! 1. runs its non-blocking syscall at once ([`OpData::attempt`]);
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
//! so a reused fd number never inherits a stale registration. An op always attempts before it waits, so an edge consumed
//! by an earlier read never strands data: edge-triggered is safe here.
//! Registrations of closed descriptors are forgotten at the next
//! turn (the kernel already dropped them with the last close).
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

#[derive(Default)]
struct Registration {
    readers: Vec<Waker>,
    writers: Vec<Waker>,
}

/// The readiness driver's counters (merged into `Stats`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    /// Ops started (first polls).
    pub(crate) ops: u64,
    pub(crate) epoll_waits: u64,
    pub(crate) epoll_ctls: u64,
    pub(crate) attempts: u64,
    pub(crate) eagain_retries: u64,
    /// `epoll_wait` calls interrupted by a signal.
    pub(crate) eintr: u64,
}

pub(crate) struct Epoll {
    epfd: OwnedFd,
    eventfd: OwnedFd,
    /// By `SharedFd` id.
    registrations: HashMap<u64, Registration>,
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
            registrations: HashMap::new(),
            events: Vec::with_capacity(256),
            wakers: Vec::new(),
            counters: Counters::default(),
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

    /// Counts (and reports) one syscall an op ran itself.
    pub(crate) fn count_attempt(&mut self, op: &'static str, result: i32) {
        self.counters.attempts += 1;
        if result == -libc::EAGAIN {
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
            self.registrations.insert(id, Registration::default());
        }
        let registration = self
            .registrations
            .get_mut(&id)
            .expect("inserted just above");
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
            if flags & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) != 0 {
                self.wakers.append(&mut registration.readers);
            }
            if flags & (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) != 0 {
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
        out.append(&mut self.wakers);
    }
}
