//! [`WriteAll`]: all of a buffer's initialised bytes, in as many writes as
//! it takes, on a stream socket or a pipe.
//!
//! # Protocol
//!
//! * Each step is one op on the range not written yet
//!   (`buf.slice(written..len)`); the op owns the buffer while it is in
//!   flight and hands it back with its result.
//! * `Ok(0)` ends with `WriteZero` (the kernel accepts nothing, so another
//!   try would loop forever); `Interrupted` tries the same range again; any
//!   other error ends with that error. The buffer always comes back.
//! * An empty buffer needs no op: the future is ready at its first poll.
//! * Dropped mid-way, the op in flight is dropped like any op: the kernel
//!   keeps the buffer until its CQE. How much was written is then unknown
//!   to the caller, as with any cancelled write.
//!
//! Written by hand rather than as an `async fn` so that a send that takes
//! the whole buffer at once, the common case, costs one future's poll
//! instead of three nested state machines' (`benches/compare/instructions.sh`
//! counts what the HTTP example spends per request).

use crate::buf::{IoBuf, Slice};
use crate::driver::{Op, OpData};
use crate::io::SharedFd;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// Makes the op that writes one range.
pub(crate) type Step<B, D> = fn(&SharedFd, Slice<B>) -> Op<D>;

/// The future of a whole-buffer write (module docs).
pub(crate) struct WriteAll<'a, B: IoBuf, D: OpData> {
    fd: &'a SharedFd,
    step: Step<B, D>,
    state: State<B, D>,
    written: usize,
    len: usize,
}

enum State<B, D: OpData> {
    /// The op on `written..len` is in flight (or not yet polled).
    Writing(Op<D>),
    /// No op: `Some` holds an empty buffer until the first poll returns
    /// it; `None` once the future has returned `Ready`.
    Empty(Option<B>),
}

impl<'a, B, D> WriteAll<'a, B, D>
where
    B: IoBuf,
    D: OpData<Output = (io::Result<usize>, Slice<B>)>,
{
    /// Writes all of `buf`'s initialised bytes to `fd`, one `step` op at a
    /// time.
    pub(crate) fn new(fd: &'a SharedFd, buf: B, step: Step<B, D>) -> Self {
        let len = buf.bytes_init();
        let state = if len == 0 {
            State::Empty(Some(buf))
        } else {
            State::Writing(step(fd, buf.slice(0..len)))
        };
        WriteAll {
            fd,
            step,
            state,
            written: 0,
            len,
        }
    }
}

impl<B: IoBuf, D: OpData> Unpin for WriteAll<'_, B, D> {}

impl<B, D> Future for WriteAll<'_, B, D>
where
    B: IoBuf,
    D: OpData<Output = (io::Result<usize>, Slice<B>)>,
{
    type Output = (io::Result<()>, B);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            let op = match &mut this.state {
                State::Writing(op) => op,
                State::Empty(buf) => {
                    let buf = buf.take().expect("WriteAll polled after it returned Ready");
                    return Poll::Ready((Ok(()), buf));
                }
            };
            let (result, slice) = ready!(Pin::new(op).poll(cx));
            let buf = slice.into_inner();
            match result {
                Ok(0) => return Poll::Ready((Err(io::ErrorKind::WriteZero.into()), buf)),
                Ok(n) => this.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready((Err(e), buf)),
            }
            if this.written >= this.len {
                this.state = State::Empty(None);
                return Poll::Ready((Ok(()), buf));
            }
            this.state = State::Writing((this.step)(this.fd, buf.slice(this.written..this.len)));
        }
    }
}
