//! [`Incoming`]: the connections a listener accepts, from one multishot
//! accept.
//!
//! The protocol is documented on the type.

use super::socket::{is_exhaustion, Backoff};
use crate::driver::multishot::Multishot;
use crate::driver::Op;
use crate::io::SharedFd;
use crate::op::accept::{accept, accept_multi, Accept, AcceptMulti};
use crate::time::Sleep;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// The connections accepted by a listener, as a stream.
///
/// Made by [`TcpListener::incoming`](crate::net::TcpListener::incoming) and
/// [`UnixListener::incoming`](crate::net::UnixListener::incoming). It keeps
/// the listening socket open while it lives.
///
/// # Protocol
///
/// One multishot `ACCEPT` is armed at the first poll; each CQE is a new
/// connection (its fd owned at once, so a connection nobody takes is closed,
/// never leaked). When the op ends or fails:
///
/// | what happened | what the stream does |
/// |---|---|
/// | ended after a connection | yields it, re-arms at the next poll |
/// | `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM` | sleeps (1 ms doubling to 128 ms), re-arms; connections wait in the backlog |
/// | `ECONNABORTED` (the peer gave up) | skipped |
/// | `EINVAL` before any connection (kernel before 5.19) | falls back to single-shot accepts, for good |
/// | any other error | yielded; the next poll re-arms |
pub struct Incoming<S> {
    fd: SharedFd,
    make: fn(OwnedFd) -> S,
    state: State,
    multishot: bool,
    accepted: bool,
    backoff: Backoff,
}

enum State {
    Idle,
    Multi(Multishot<AcceptMulti>),
    Single(Op<Accept>),
    Sleep(Sleep),
}

impl<S> Incoming<S> {
    pub(crate) fn new(fd: SharedFd, make: fn(OwnedFd) -> S) -> Incoming<S> {
        Incoming {
            fd,
            make,
            state: State::Idle,
            // Multishot accept is an io_uring feature (never on epoll).
            multishot: crate::net::socket::supports(io_uring::opcode::Accept::CODE),
            accepted: false,
            backoff: Backoff::default(),
        }
    }

    /// The next connection.
    ///
    /// # Errors
    ///
    /// An accept error other than the transient ones handled above; the
    /// stream can be polled again after it.
    pub async fn next(&mut self) -> io::Result<S> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Poll form of [`Incoming::next`].
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<S>> {
        loop {
            let (result, ended) = match &mut self.state {
                State::Idle => {
                    self.state = if self.multishot {
                        State::Multi(accept_multi(&self.fd))
                    } else {
                        State::Single(accept(&self.fd))
                    };
                    continue;
                }
                State::Sleep(sleep) => {
                    ready!(Pin::new(sleep).poll(cx));
                    self.state = State::Idle;
                    continue;
                }
                State::Multi(op) => match ready!(op.poll_next(cx)) {
                    Some(result) => (result, op.is_ended()),
                    None => {
                        self.state = State::Idle;
                        continue;
                    }
                },
                State::Single(op) => (ready!(Pin::new(op).poll(cx)).map(|(fd, _)| fd), true),
            };
            if ended {
                self.state = State::Idle;
            }
            match result {
                Ok(fd) => {
                    self.accepted = true;
                    self.backoff.reset();
                    return Poll::Ready(Ok((self.make)(fd)));
                }
                Err(e) if is_exhaustion(&e) => {
                    // Drops a multishot op still armed (cancelling it).
                    self.state = State::Sleep(crate::time::sleep(self.backoff.next()));
                }
                Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => {}
                Err(e)
                    if e.raw_os_error() == Some(libc::EINVAL)
                        && self.multishot
                        && !self.accepted =>
                {
                    self.multishot = false;
                    self.state = State::Idle;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl<S> fmt::Debug for Incoming<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("fd", &self.fd.raw())
            .field("multishot", &self.multishot)
            .finish()
    }
}
