//! Anonymous pipes on the ring.

use super::{SharedFd, WriteAll};
use crate::buf::{IoBuf, IoBufMut};
use crate::op::read::{read_at, CURRENT_POSITION};
use crate::op::write::write_at;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Creates a pipe (`pipe2` with `O_CLOEXEC`).
///
/// # Errors
///
/// The error of `pipe2` (`EMFILE` when out of descriptors …).
pub fn pipe() -> io::Result<(PipeReader, PipeWriter)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both are fresh descriptors we own.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((PipeReader(SharedFd::new(r)), PipeWriter(SharedFd::new(w))))
}

/// The read end of a pipe.
#[derive(Debug)]
pub struct PipeReader(SharedFd);

/// The write end of a pipe.
#[derive(Debug)]
pub struct PipeWriter(SharedFd);

impl PipeReader {
    /// Reads at most `buf.bytes_total()` bytes into `buf`; `Ok(0)` is EOF
    /// (every writer closed).
    pub fn read<B: IoBufMut>(&self, buf: B) -> impl Future<Output = (io::Result<usize>, B)> {
        read_at(&self.0, buf, CURRENT_POSITION)
    }
}

impl PipeWriter {
    /// Writes some of `buf`'s initialised bytes; returns how many.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` when every reader is closed.
    pub fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = (io::Result<usize>, B)> {
        write_at(&self.0, buf, CURRENT_POSITION)
    }

    /// Writes all of `buf`'s initialised bytes.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` when every reader is closed; `WriteZero` if the kernel
    /// accepts nothing.
    pub fn write_all<B: IoBuf>(&self, buf: B) -> impl Future<Output = (io::Result<()>, B)> + '_ {
        WriteAll::new(&self.0, buf, |fd, range| {
            write_at(fd, range, CURRENT_POSITION)
        })
    }
}

macro_rules! fd_traits {
    ($t:ty) => {
        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                self.0.raw()
            }
        }
        impl AsFd for $t {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.0.as_fd()
            }
        }
    };
}

fd_traits!(PipeReader);
fd_traits!(PipeWriter);
