//! [`Compat`]: ringloop streams and files behind the I/O traits of the
//! rest of the ecosystem — `tokio::io` (feature `tokio-io`), `futures_io`
//! (feature `futures-io`) and `hyper::rt` (feature `hyper`) — so that
//! hyper, tokio-rustls, tower and friends run on ringloop.
//!
//! ```
//! # #[cfg(not(feature = "futures-io"))]
//! # fn main() {}
//! # #[cfg(feature = "futures-io")]
//! # fn main() -> std::io::Result<()> {
//! use futures_io::{AsyncRead, AsyncWrite};
//! use ringloop::io::Compat;
//! use ringloop::net::UnixStream;
//! use std::future::poll_fn;
//! use std::pin::Pin;
//!
//! ringloop::Runtime::new()?.block_on(async {
//!     let (a, b) = UnixStream::pair()?;
//!     let (mut a, mut b) = (Compat::new(a), Compat::new(b));
//!     poll_fn(|cx| Pin::new(&mut a).poll_write(cx, b"ping")).await?;
//!     poll_fn(|cx| Pin::new(&mut a).poll_flush(cx)).await?;
//!     let mut buf = [0u8; 16];
//!     let n = poll_fn(|cx| Pin::new(&mut b).poll_read(cx, &mut buf)).await?;
//!     assert_eq!(&buf[..n], b"ping");
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Why a buffered adapter, and what it costs
//!
//! The traits lend the callee the *caller's* memory (`&mut [u8]`, `&[u8]`)
//! for the duration of one `poll_*` call. A completion-based op needs its
//! buffer for as long as the kernel has it — past the `poll` that returned
//! `Pending`, and past a drop of the future — so it cannot use a borrowed
//! slice. `Compat` therefore owns one read buffer and two write buffers
//! (one in an op, one filling) and **copies**:
//!
//! * reading: kernel → `Compat`'s read buffer (the op) → the caller's
//!   slice (a `memcpy` in `poll_read`);
//! * writing: the caller's slice → `Compat`'s write buffer (a `memcpy` in
//!   `poll_write`) → kernel (the op).
//!
//! That is one extra copy of every byte in each direction, compared with
//! ringloop's own owned-buffer calls (`stream.read(buf)`), which hand the
//! caller's buffer to the kernel. The `AsyncBufRead` impls avoid the read
//! copy for callers that parse in place (`poll_fill_buf` lends the read
//! buffer itself). Each op is also one small boxed future.
//!
//! Measured by `benches/compat.rs` (loopback TCP echo, client and server on
//! one pinned core, the server raw or behind `Compat`, 5 interleaved
//! rounds, medians; Linux 6.18, AMD EPYC, 2026-11-25):
//!
//! | echo | raw ringloop | `Compat`, tokio traits | `Compat`, futures traits |
//! |---|--:|--:|--:|
//! | ping-pong, 64 B messages | 83.1 k msgs/s | 86.1 k (1.04x) | 85.2 k (1.02x) |
//! | stream, 64 KiB writes | 965 MB/s | 923 MB/s (0.96x) | 922 MB/s (0.96x) |
//!
//! Per message the adapter is lost in the noise (the syscalls and wake-ups
//! dominate); per byte the two copies cost about 4% of loopback throughput
//! (about 0.05 ns per byte echoed). The `hyper` scenario of the comparison
//! suite (`BENCHMARKS.md`) puts hyper over `Compat` beside the same hyper
//! server on tokio's current-thread runtime.
//!
//! # Protocol
//!
//! * **Reads** fill the read buffer with one op (`RECV` on sockets, `READ`
//!   on pipes and files) when it is empty, and hand out what it holds. The
//!   op in flight is kept inside the adapter, so `poll_read` can be called
//!   again and again, from any number of polls, until it completes.
//! * **Writes** are copied into the write buffer and handed to the kernel
//!   **at once** when no write op is in flight; otherwise they follow the
//!   op in flight, started by the next call to `poll_write`, `poll_flush` or
//!   `poll_shutdown`. `poll_write` returns `Pending` only when the buffer is
//!   full. As with any buffered writer, **flush** (or shut down) to make
//!   sure everything went out and to see the errors of writes already
//!   accepted. Short writes continue in order.
//! * **Shutdown** flushes, then shuts down the writing side of a socket
//!   (`shutdown(SHUT_WR)`: the peer reads EOF); for files and pipes it only
//!   flushes.
//! * **Files** have one cursor ([`Compat::position`], starting at 0 or at
//!   [`Compat::file_at`]'s offset): reads and writes advance it, a read
//!   first flushes the writes before it, a write drops the unread
//!   read-ahead, and `AsyncSeek` moves it.
//! * **Halves**: reading and writing use separate buffers and ops, so a
//!   `tokio::io::split` or `futures::io::AsyncReadExt::split` of one
//!   `Compat` reads and writes at the same time without either side
//!   stealing the other's wake-ups.
//!
//! # Dropping
//!
//! Dropping a `Compat` drops its ops in flight, which hands their buffers
//! to ringloop's op table until the kernel's completion (guarantee 1 of the
//! crate): safe by construction. Bytes staged but not yet flushed are
//! discarded, as is unread read-ahead; flush or shut down first.

mod core;
#[cfg(feature = "futures-io")]
mod futures;
#[cfg(feature = "hyper")]
mod hyper;
mod ops;
#[cfg(feature = "tokio-io")]
mod tokio;

use self::core::Core;
use self::ops::Ops;
use crate::fs::File;
use std::fmt;
use std::rc::Rc;

pub use self::ops::{CompatRead, CompatSeek, CompatWrite};

/// Capacity of each of the adapter's buffers unless chosen with
/// [`Compat::with_capacity`]: 16 KiB.
pub const DEFAULT_BUF_SIZE: usize = 16 * 1024;

/// A ringloop stream or file behind the `tokio::io`, `futures_io` and
/// `hyper::rt` I/O traits (see the [module docs](self) for the protocol
/// and the copy it costs).
///
/// Implemented for [`TcpStream`](crate::net::TcpStream),
/// [`UnixStream`](crate::net::UnixStream), [`File`] (with a cursor), and
/// read-only or write-only for the owned halves of a `TcpStream` and the
/// ends of a [`pipe`](crate::io::pipe).
pub struct Compat<S> {
    /// Shared with the ops in flight (each holds a clone until it ends).
    io: Rc<S>,
    core: Core,
}

impl<S: Ops> Compat<S> {
    /// Wraps `io` with buffers of [`DEFAULT_BUF_SIZE`] (allocated on first
    /// use: a read-only user never allocates write buffers).
    pub fn new(io: S) -> Compat<S> {
        Compat::with_capacity(DEFAULT_BUF_SIZE, DEFAULT_BUF_SIZE, io)
    }

    /// Wraps `io` with a read buffer of `read` bytes and two write buffers
    /// of `write` bytes: the most one read op reads and one write op sends.
    pub fn with_capacity(read: usize, write: usize, io: S) -> Compat<S> {
        Compat {
            io: Rc::new(io),
            core: Core::new(read, write, S::SEEKABLE, 0),
        }
    }

    /// The wrapped stream or file.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The bytes read ahead and not yet handed out.
    pub fn read_buffer(&self) -> &[u8] {
        self.core.read_buffer()
    }

    /// Bytes accepted by writes that the kernel has not yet taken (staged,
    /// or in an op in flight). Zero after a successful flush.
    pub fn unflushed(&self) -> usize {
        self.core.unflushed()
    }

    /// The stream or file back. Ops in flight are dropped (cancelled, their
    /// buffers kept until their completions); read-ahead and unflushed
    /// bytes are discarded: flush first.
    pub fn into_inner(self) -> S {
        let Compat { io, core } = self;
        drop(core); // the ops and their clones of `io`
        match Rc::try_unwrap(io) {
            Ok(io) => io,
            Err(_) => unreachable!("only the adapter's ops share the stream, and they are gone"),
        }
    }

    fn parts(&mut self) -> (&Rc<S>, &mut Core) {
        (&self.io, &mut self.core)
    }
}

impl Compat<File> {
    /// Wraps `file` with its cursor at `pos`.
    pub fn file_at(file: File, pos: u64) -> Compat<File> {
        Compat {
            io: Rc::new(file),
            core: Core::new(DEFAULT_BUF_SIZE, DEFAULT_BUF_SIZE, true, pos),
        }
    }
}

impl<S> Compat<S> {
    /// A file's cursor: where the next read reads, or the next write
    /// writes (0 for streams).
    pub fn position(&self) -> u64 {
        self.core.position()
    }
}

// The stream is never pinned through the adapter (it sits behind an `Rc`)
// and every op is boxed: moving a `Compat` moves nothing the kernel uses.
impl<S> Unpin for Compat<S> {}

impl<S: fmt::Debug> fmt::Debug for Compat<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compat")
            .field("io", &self.io)
            .field("read_buffered", &self.core.read_buffer().len())
            .field("unflushed", &self.core.unflushed())
            .field("position", &self.core.position())
            .finish()
    }
}
