//! [`RecvStream`]: a connection's bytes as a stream of provided buffers,
//! from one multishot receive.
//!
//! The protocol is documented on the type.

use crate::buf::{BufRing, BufWaiter, RingBuf};
use crate::driver::multishot::Multishot;
use crate::driver::Op;
use crate::io::SharedFd;
use crate::op::recv_multi::{recv_multi, RecvMulti};
use crate::op::recv_provided::{recv_provided, RecvProvided};
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// The bytes a stream socket receives, as buffers of a [`BufRing`].
///
/// Made by `recv_multishot` (for example
/// [`TcpStream::recv_multishot`](crate::net::TcpStream::recv_multishot)).
/// Each item is the next chunk of the stream; `None` is EOF.
///
/// # Protocol
///
/// One multishot `RECV` with buffer select is armed at the first poll and
/// yields a [`RingBuf`] per chunk. When the op ends (a CQE without
/// `F_MORE`), the stream decides, and never silently:
///
/// | how it ended | what the stream does |
/// |---|---|
/// | data (the kernel stopped early) | yields the data, re-arms at the next poll |
/// | `ENOBUFS` (ring empty; the data stays in the socket) | waits until a buffer has been returned since it armed, then re-arms |
/// | `res == 0` (EOF) | ends: `None` |
/// | another error (`ECONNRESET` …) | yields the error, then ends |
///
/// Bytes are yielded in order, none lost or doubled: each CQE's buffer holds
/// the next bytes of the socket, and a re-armed receive starts where the
/// ended one stopped. A kernel without multishot receive (before 6.0, the
/// first CQE is `EINVAL`) gets single-shot buffer-select receives instead.
///
/// Dropping the stream cancels the op; buffers of CQEs nobody took go back
/// to the ring.
pub struct RecvStream {
    fd: SharedFd,
    ring: BufRing,
    /// Our place in the ring's queue while waiting after `ENOBUFS`.
    waiter: BufWaiter,
    state: State,
    /// Multishot receive works on this kernel (cleared on `EINVAL`).
    multishot: bool,
    /// Some data has been received (an `EINVAL` after that is real).
    received: bool,
    /// Times the receive was armed again after it ended.
    rearms: u64,
}

enum State {
    /// Nothing in flight. `Some(epoch)`: the last receive met `ENOBUFS`;
    /// wait until a buffer has been returned after `epoch`.
    Idle(Option<u64>),
    /// A multishot receive in flight, armed at `epoch`.
    Multi(Multishot<RecvMulti>, u64),
    /// A single-shot receive in flight (fallback), armed at `epoch`.
    Single(Op<RecvProvided>, u64),
    /// EOF or a fatal error was yielded.
    Done,
}

impl RecvStream {
    pub(crate) fn new(fd: SharedFd, ring: BufRing) -> RecvStream {
        RecvStream {
            fd,
            waiter: BufWaiter::new(&ring),
            ring,
            state: State::Idle(None),
            multishot: true,
            received: false,
            rearms: 0,
        }
    }

    /// The next chunk received; `None` at EOF or after an error was yielded.
    ///
    /// # Errors
    ///
    /// The receive's error (`ECONNRESET` when the peer reset …); the stream
    /// ends after it.
    pub async fn next(&mut self) -> Option<io::Result<RingBuf>> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Poll form of [`RecvStream::next`].
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<RingBuf>>> {
        loop {
            match &mut self.state {
                State::Done => return Poll::Ready(None),
                State::Idle(wait) => {
                    if let Some(epoch) = *wait {
                        ready!(self.waiter.poll_returned_after(epoch, cx));
                    }
                    let epoch = self.ring.returned();
                    self.state = if self.multishot {
                        State::Multi(recv_multi(&self.fd, &self.ring), epoch)
                    } else {
                        State::Single(recv_provided(&self.fd, &self.ring, 0), epoch)
                    };
                }
                State::Multi(op, epoch) => {
                    let epoch = *epoch;
                    let Some(item) = ready!(op.poll_next(cx)) else {
                        self.rearm(None);
                        continue;
                    };
                    let ended = op.is_ended();
                    match item {
                        Ok(Some(buf)) => {
                            self.received = true;
                            if ended {
                                self.rearm(None);
                            }
                            return Poll::Ready(Some(Ok(buf)));
                        }
                        Ok(None) => {
                            self.state = State::Done;
                            return Poll::Ready(None);
                        }
                        Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                            self.rearm(Some(epoch));
                        }
                        Err(e) if e.raw_os_error() == Some(libc::EINVAL) && !self.received => {
                            // No multishot receive on this kernel.
                            self.multishot = false;
                            self.state = State::Idle(None);
                        }
                        Err(e) => {
                            if ended {
                                self.state = State::Done;
                            }
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                }
                State::Single(op, epoch) => {
                    let epoch = *epoch;
                    let item = ready!(Pin::new(op).poll(cx));
                    self.state = State::Idle(None);
                    match item {
                        Ok(Some(buf)) => return Poll::Ready(Some(Ok(buf))),
                        Ok(None) => {
                            self.state = State::Done;
                            return Poll::Ready(None);
                        }
                        Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                            self.rearm(Some(epoch));
                        }
                        Err(e) => {
                            self.state = State::Done;
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                }
            }
        }
    }

    fn rearm(&mut self, wait: Option<u64>) {
        self.rearms += 1;
        self.state = State::Idle(wait);
    }

    /// How many times the receive was armed again after the kernel ended it
    /// (mostly `ENOBUFS`: the ring ran dry). A high count says the ring is
    /// too small for the traffic.
    pub fn rearms(&self) -> u64 {
        self.rearms
    }

    /// The ring this stream receives into.
    pub fn ring(&self) -> &BufRing {
        &self.ring
    }
}

impl fmt::Debug for RecvStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvStream")
            .field("fd", &self.fd.raw())
            .field("ring", &self.ring)
            .field("multishot", &self.multishot)
            .field("rearms", &self.rearms)
            .finish()
    }
}
