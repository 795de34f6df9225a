//! Which ringloop types [`Compat`](super::Compat) wraps, and how it starts
//! their ops.
//!
//! Each op is the type's own owned-buffer call (`read`, `write`,
//! `read_at`, …) on an `Rc` clone of the type, boxed: the future is
//! `'static`, so the adapter can keep it across polls, and dropping it
//! drops the ringloop op inside, which keeps its buffer until the kernel's
//! completion. The box is one small allocation per op; the kernel's side of
//! the op costs far more.

use super::core::{ReadOp, ShutdownOp, WriteOp};
use crate::buf::Slice;
use crate::fs::File;
use crate::io::{PipeReader, PipeWriter};
use crate::net::{OwnedReadHalf, OwnedWriteHalf, TcpStream, UnixStream};
use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::rc::Rc;

/// How the adapter drives a type (sealed: the trait is not nameable outside
/// this crate). A direction the type lacks is never called: the public
/// entry points require [`CompatRead`] or [`CompatWrite`].
pub trait Ops: 'static {
    /// Files: one cursor, positional ops, `AsyncSeek`.
    const SEEKABLE: bool = false;

    /// A read of up to `buf.capacity()` bytes (at `pos` for files).
    fn read(io: &Rc<Self>, buf: Vec<u8>, pos: u64) -> ReadOp;

    /// A write of `buf`'s bytes (at `pos` for files).
    fn write(io: &Rc<Self>, buf: Slice<Vec<u8>>, pos: u64) -> WriteOp;

    /// A shutdown of the writing side, for types that have one.
    fn shutdown(_io: &Rc<Self>) -> Option<ShutdownOp> {
        None
    }

    /// Files: the length, for `SeekFrom::End`.
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io")),
        allow(dead_code)
    )]
    fn len(_io: &Rc<Self>) -> io::Result<u64> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// Types whose [`Compat`](super::Compat) reads (`AsyncRead`,
/// `AsyncBufRead`, `hyper::rt::Read`). Sealed.
pub trait CompatRead: Ops {}

/// Types whose [`Compat`](super::Compat) writes (`AsyncWrite`,
/// `hyper::rt::Write`). Sealed.
pub trait CompatWrite: Ops {}

/// Types whose [`Compat`](super::Compat) seeks (`AsyncSeek`): files. Sealed.
pub trait CompatSeek: CompatRead + CompatWrite {}

fn not_readable() -> ! {
    unreachable!("Compat reads only types that are CompatRead")
}

fn not_writable() -> ! {
    unreachable!("Compat writes only types that are CompatWrite")
}

/// The methods of `Ops` from the type's own owned-buffer calls.
macro_rules! op_fns {
    (read) => {
        fn read(io: &Rc<Self>, buf: Vec<u8>, _pos: u64) -> ReadOp {
            let io = Rc::clone(io);
            Box::pin(async move { io.read(buf).await })
        }
    };
    (no read) => {
        fn read(_io: &Rc<Self>, _buf: Vec<u8>, _pos: u64) -> ReadOp {
            not_readable()
        }
    };
    (write) => {
        fn write(io: &Rc<Self>, buf: Slice<Vec<u8>>, _pos: u64) -> WriteOp {
            let io = Rc::clone(io);
            Box::pin(async move { io.write(buf).await })
        }
    };
    (no write) => {
        fn write(_io: &Rc<Self>, _buf: Slice<Vec<u8>>, _pos: u64) -> WriteOp {
            not_writable()
        }
    };
    (shutdown) => {
        fn shutdown(io: &Rc<Self>) -> Option<ShutdownOp> {
            let io = Rc::clone(io);
            Some(Box::pin(async move { io.shutdown(Shutdown::Write).await }))
        }
    };
}

impl Ops for TcpStream {
    op_fns!(read);
    op_fns!(write);
    op_fns!(shutdown);
}
impl CompatRead for TcpStream {}
impl CompatWrite for TcpStream {}

impl Ops for UnixStream {
    op_fns!(read);
    op_fns!(write);
    op_fns!(shutdown);
}
impl CompatRead for UnixStream {}
impl CompatWrite for UnixStream {}

impl Ops for OwnedReadHalf {
    op_fns!(read);
    op_fns!(no write);
}
impl CompatRead for OwnedReadHalf {}

impl Ops for OwnedWriteHalf {
    op_fns!(no read);
    op_fns!(write);
    op_fns!(shutdown);
}
impl CompatWrite for OwnedWriteHalf {}

impl Ops for PipeReader {
    op_fns!(read);
    op_fns!(no write);
}
impl CompatRead for PipeReader {}

/// No shutdown: a pipe's writing end closes when it is dropped.
impl Ops for PipeWriter {
    op_fns!(no read);
    op_fns!(write);
}
impl CompatWrite for PipeWriter {}

impl Ops for File {
    const SEEKABLE: bool = true;

    fn read(io: &Rc<Self>, buf: Vec<u8>, pos: u64) -> ReadOp {
        let io = Rc::clone(io);
        Box::pin(async move { io.read_at(buf, pos).await })
    }

    fn write(io: &Rc<Self>, buf: Slice<Vec<u8>>, pos: u64) -> WriteOp {
        let io = Rc::clone(io);
        Box::pin(async move { io.write_at(buf, pos).await })
    }

    /// `fstat(2)`: a plain syscall on an open descriptor (the metadata op
    /// would need a future of its own for a value the kernel has at hand).
    fn len(io: &Rc<Self>) -> io::Result<u64> {
        // SAFETY: an all-zero `stat` is a valid value of the plain C struct.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `st` is a live, writable `stat`; the fd stays open while
        // `io` is borrowed.
        if unsafe { libc::fstat(io.as_raw_fd(), &mut st) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(st.st_size as u64)
    }
}
impl CompatRead for File {}
impl CompatWrite for File {}
impl CompatSeek for File {}
