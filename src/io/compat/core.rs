//! The adapter core: two owned buffers, the ops in flight, and the copies
//! between them and the caller's slices. The trait layers (`tokio.rs`,
//! `futures.rs`, `hyper.rs`) only translate their signatures to these
//! methods.
//!
//! # Read side
//!
//! `buf[consumed..]` holds bytes read but not yet handed out. When it is
//! empty, [`Core::poll_fill_buf`] moves `buf` into a read op (which owns it
//! until its CQE) and keeps the op in `read_op`; polls return `Pending`
//! until the op completes, and the buffer comes back holding what the
//! kernel wrote. Callers copy out of it ([`Core::poll_read`]) or look at
//! it and [`Core::consume`] (the `AsyncBufRead` traits).
//!
//! # Write side
//!
//! [`Core::poll_write`] copies the caller's bytes into `staged` and returns
//! how many it took. When no write op is in flight, the staged bytes are
//! handed to one at once (`staged` and `spare` swap: the op owns the full
//! buffer, new bytes go to the other), so data goes out without waiting
//! for a flush; while one is in flight, new bytes wait in `staged` (up to
//! its capacity, then `poll_write` returns `Pending`) and follow in the
//! next op, which is started by the next `poll_write`, `poll_flush` or
//! `poll_shutdown`. A short write is continued with the rest of the same
//! buffer before anything staged after it. [`Core::poll_flush`] returns
//! `Ready` once nothing is staged or in flight. An op's error is reported
//! by the next `poll_write` / `poll_flush` (the bytes of that op are lost,
//! as with any buffered writer).
//!
//! # Files: one cursor
//!
//! For a file (`seekable`), `pos` is the caller's position: consuming read
//! bytes and accepting written bytes advance it. Reads start at `pos` and
//! first flush the staged writes (a read sees the writes before it);
//! writes first drop the unread read-ahead (waiting for a read op in
//! flight), so each op's offset follows from `pos`: a read op starts at
//! `pos`, a write op of `len` bytes at `pos - staged - len`.
//!
//! # Wakers and halves
//!
//! Each side polls only its own ops, with the waker of the call that
//! polls it: a reading task and a writing task (e.g. after
//! `tokio::io::split`) never steal each other's wake-ups.

use super::Ops;
use crate::buf::{IoBuf, Slice};
use std::future::Future;
use std::io::{self, IoSlice, SeekFrom};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

/// A read op in flight: it owns the read buffer until it completes.
pub(super) type ReadOp = Pin<Box<dyn Future<Output = (io::Result<usize>, Vec<u8>)>>>;
/// A write op in flight: it owns the part of the write buffer it sends.
pub(super) type WriteOp = Pin<Box<dyn Future<Output = (io::Result<usize>, Slice<Vec<u8>>)>>>;
/// A shutdown of the writing side.
pub(super) type ShutdownOp = Pin<Box<dyn Future<Output = io::Result<()>>>>;

pub(super) struct Core {
    read_cap: usize,
    /// Read-ahead: `buf[consumed..]` is unread. Empty with no capacity while
    /// `read_op` owns it.
    buf: Vec<u8>,
    consumed: usize,
    read_op: Option<ReadOp>,

    write_cap: usize,
    /// Bytes accepted by `poll_write`, not yet in an op.
    staged: Vec<u8>,
    /// The other write buffer, when no op holds it.
    spare: Vec<u8>,
    write_op: Option<WriteOp>,
    /// Bytes of the write op in flight (files: to compute offsets).
    in_flight: usize,
    /// A write op's error, for the next `poll_write` / `poll_flush`.
    write_error: Option<io::Error>,
    shutdown: Shutdown,

    /// Files: the caller's position. Unused otherwise.
    pos: u64,
    seekable: bool,
    /// A seek started (`tokio::io::AsyncSeek::start_seek`) and not finished.
    #[cfg_attr(not(feature = "tokio-io"), allow(dead_code))]
    pub(super) pending_seek: Option<SeekFrom>,
}

enum Shutdown {
    Open,
    InFlight(ShutdownOp),
    Done,
}

impl Core {
    pub(super) fn new(read_cap: usize, write_cap: usize, seekable: bool, pos: u64) -> Core {
        Core {
            read_cap: read_cap.max(1),
            buf: Vec::new(),
            consumed: 0,
            read_op: None,
            write_cap: write_cap.max(1),
            staged: Vec::new(),
            spare: Vec::new(),
            write_op: None,
            in_flight: 0,
            write_error: None,
            shutdown: Shutdown::Open,
            pos,
            seekable,
            pending_seek: None,
        }
    }

    /// The caller's position in a file (0 for a stream).
    pub(super) fn position(&self) -> u64 {
        self.pos
    }

    /// The bytes read ahead and not yet handed out.
    pub(super) fn read_buffer(&self) -> &[u8] {
        &self.buf[self.consumed..]
    }

    /// Bytes accepted by `poll_write` that the kernel has not yet taken.
    pub(super) fn unflushed(&self) -> usize {
        self.staged.len() + self.in_flight
    }

    /// The unread bytes, reading more first if there are none. An empty
    /// slice is the end of the stream.
    pub(super) fn poll_fill_buf<S: Ops>(
        &mut self,
        io: &Rc<S>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<&[u8]>> {
        if self.consumed < self.buf.len() {
            return Poll::Ready(Ok(&self.buf[self.consumed..]));
        }
        if self.read_op.is_none() {
            if self.seekable {
                // A read sees the writes before it.
                ready!(self.poll_flush::<S>(io, cx))?;
            }
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            buf.reserve_exact(self.read_cap);
            self.consumed = 0;
            self.read_op = Some(S::read(io, buf, self.pos));
        }
        let op = self.read_op.as_mut().expect("started just above");
        let (result, buf) = ready!(op.as_mut().poll(cx));
        self.read_op = None;
        self.buf = buf; // its length is what the op read (0 on error)
        result?;
        Poll::Ready(Ok(&self.buf[..]))
    }

    /// Marks `amt` unread bytes as handed out.
    pub(super) fn consume(&mut self, amt: usize) {
        let amt = amt.min(self.buf.len() - self.consumed);
        self.consumed += amt;
        if self.seekable {
            self.pos += amt as u64;
        }
    }

    /// Copies up to `room` unread bytes out through `put` (reading more
    /// first if there are none); returns how many. `Ok(0)` with room is EOF.
    pub(super) fn poll_read<S: Ops>(
        &mut self,
        io: &Rc<S>,
        cx: &mut Context<'_>,
        room: usize,
        put: impl FnOnce(&[u8]),
    ) -> Poll<io::Result<usize>> {
        if room == 0 {
            return Poll::Ready(Ok(0));
        }
        let data = ready!(self.poll_fill_buf::<S>(io, cx))?;
        let n = data.len().min(room);
        put(&data[..n]);
        self.consume(n);
        Poll::Ready(Ok(n))
    }

    /// Copies as much of `data` as fits into the staged buffer; returns how
    /// much. Starts a write op if none is in flight.
    pub(super) fn poll_write<S: Ops>(
        &mut self,
        io: &Rc<S>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with::<S>(io, cx, data.len(), |staged, room| {
            let n = data.len().min(room);
            staged.extend_from_slice(&data[..n]);
            n
        })
    }

    /// As [`Core::poll_write`], for the slices of `bufs` in order (one copy
    /// into the staged buffer, no flattening by the caller first).
    pub(super) fn poll_write_vectored<S: Ops>(
        &mut self,
        io: &Rc<S>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total = bufs.iter().map(|b| b.len()).sum();
        self.poll_write_with::<S>(io, cx, total, |staged, mut room| {
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(room);
                staged.extend_from_slice(&b[..take]);
                n += take;
                room -= take;
                if room == 0 {
                    break;
                }
            }
            n
        })
    }

    /// The write path: `fill(staged, room)` appends at most `room` of the
    /// `len` bytes offered and says how many.
    fn poll_write_with<S: Ops>(
        &mut self,
        io: &Rc<S>,
        cx: &mut Context<'_>,
        len: usize,
        fill: impl FnOnce(&mut Vec<u8>, usize) -> usize,
    ) -> Poll<io::Result<usize>> {
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        if self.seekable {
            ready!(self.poll_drop_read_ahead(cx));
        }
        // Progress without waiting: take the op's result if it is there,
        // and start the next op with what was staged behind it.
        if self.poll_write_op::<S>(io, cx).is_ready() && !self.staged.is_empty() {
            self.start_write::<S>(io, cx);
        }
        if let Some(e) = self.write_error.take() {
            return Poll::Ready(Err(e));
        }
        let room = self.write_cap.saturating_sub(self.staged.len());
        if room == 0 {
            // Full behind the op in flight, which has this task's waker.
            return Poll::Pending;
        }
        self.staged.reserve_exact(room);
        let n = fill(&mut self.staged, room);
        if self.seekable {
            self.pos += n as u64;
        }
        if self.write_op.is_none() {
            self.start_write::<S>(io, cx);
        }
        Poll::Ready(Ok(n))
    }

    /// Waits until every accepted byte has been taken by the kernel.
    pub(super) fn poll_flush<S: Ops>(
        &mut self,
        io: &Rc<S>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.poll_write_op::<S>(io, cx));
            if let Some(e) = self.write_error.take() {
                return Poll::Ready(Err(e));
            }
            if self.staged.is_empty() {
                return Poll::Ready(Ok(()));
            }
            self.start_write::<S>(io, cx);
        }
    }

    /// Flushes, then shuts down the writing side (sockets: the peer reads
    /// EOF; files and pipes: only the flush). Once done, stays done.
    pub(super) fn poll_shutdown<S: Ops>(
        &mut self,
        io: &Rc<S>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(self.poll_flush::<S>(io, cx))?;
        loop {
            match &mut self.shutdown {
                Shutdown::Open => {
                    self.shutdown = match S::shutdown(io) {
                        Some(op) => Shutdown::InFlight(op),
                        None => Shutdown::Done,
                    }
                }
                Shutdown::InFlight(op) => {
                    let result = ready!(op.as_mut().poll(cx));
                    self.shutdown = Shutdown::Done;
                    return Poll::Ready(match result {
                        // The peer is gone already: the side is shut.
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
                        other => other,
                    });
                }
                Shutdown::Done => return Poll::Ready(Ok(())),
            }
        }
    }

    /// Files: flushes, drops the read-ahead and moves the cursor.
    /// `SeekFrom::Current(0)` only reports the position.
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io")),
        allow(dead_code)
    )]
    pub(super) fn poll_seek<S: Ops>(
        &mut self,
        io: &Rc<S>,
        cx: &mut Context<'_>,
        to: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        if to == SeekFrom::Current(0) {
            return Poll::Ready(Ok(self.pos));
        }
        ready!(self.poll_flush::<S>(io, cx))?;
        ready!(self.poll_drop_read_ahead(cx));
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => S::len(io)?.checked_add_signed(d),
        };
        match target {
            Some(n) if n <= i64::MAX as u64 => {
                self.pos = n;
                Poll::Ready(Ok(n))
            }
            _ => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("seek to {to:?} from {} leaves 0..=i64::MAX", self.pos),
            ))),
        }
    }

    /// Waits for a read op in flight, then forgets the unread bytes.
    fn poll_drop_read_ahead(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(op) = &mut self.read_op {
            let (_, buf) = ready!(op.as_mut().poll(cx));
            self.read_op = None;
            self.buf = buf;
        }
        self.buf.clear();
        self.consumed = 0;
        Poll::Ready(())
    }

    /// Hands the staged bytes to a new write op (none is in flight) and
    /// polls it once, so that it is submitted and has this task's waker.
    fn start_write<S: Ops>(&mut self, io: &Rc<S>, cx: &mut Context<'_>) {
        debug_assert!(self.write_op.is_none() && !self.staged.is_empty());
        let full = std::mem::replace(&mut self.staged, std::mem::take(&mut self.spare));
        let len = full.len();
        let offset = self.write_offset(len);
        self.in_flight = len;
        self.write_op = Some(S::write(io, full.slice(..len), offset));
        let _ = self.poll_write_op::<S>(io, cx);
    }

    /// Files: where an op of `len` bytes, the next after the ones in flight
    /// and before the staged ones, writes.
    fn write_offset(&self, len: usize) -> u64 {
        if self.seekable {
            self.pos - (self.staged.len() + len) as u64
        } else {
            0
        }
    }

    /// Drives the write op in flight: `Ready` once none is (its error, if
    /// any, is left in `write_error`); a short write goes on with the rest
    /// of its buffer.
    fn poll_write_op<S: Ops>(&mut self, io: &Rc<S>, cx: &mut Context<'_>) -> Poll<()> {
        while let Some(op) = &mut self.write_op {
            let (result, slice) = ready!(op.as_mut().poll(cx));
            self.write_op = None;
            let (begin, end) = (slice.begin(), slice.end());
            let mut buf = slice.into_inner();
            match result {
                Ok(n) if n > 0 && begin + n < end => {
                    // Short: the rest goes first, at the following offset.
                    let rest = end - (begin + n);
                    let offset = self.write_offset(rest);
                    self.in_flight = rest;
                    self.write_op = Some(S::write(io, buf.slice(begin + n..end), offset));
                    continue;
                }
                Ok(0) => self.write_error = Some(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) => self.write_error = Some(e),
            }
            self.in_flight = 0;
            buf.clear();
            self.spare = buf;
        }
        Poll::Ready(())
    }
}
