//! `IORING_OP_CLOSE`: close a descriptor and report close's error.

use super::fs_support::ring_supports;
use crate::driver::{Cqe, Op, OpData};
use io_uring::{opcode, squeue, types};
use std::io;
use std::os::fd::{IntoRawFd, OwnedFd, RawFd};

/// The descriptor now belongs to the kernel's close; the op holds only its
/// number, to close it itself if the kernel never ran the close.
pub(crate) struct Close {
    fd: RawFd,
}

// SAFETY: a CLOSE SQE carries no pointer.
unsafe impl OpData for Close {
    type Output = io::Result<()>;
    const NAME: &'static str = "close";

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Close::new(types::Fd(self.fd)).build()
    }

    fn complete(self, cqe: Cqe) -> io::Result<()> {
        match cqe.result {
            Ok(_) => Ok(()),
            // Cancelled before it ran (a dropped future whose close was
            // punted to a worker): the fd is still open and still ours.
            Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => close_now(self.fd),
            // Never submitted (polled outside a runtime): likewise.
            Err(e) if e.raw_os_error().is_none() => close_now(self.fd).and(Err(e)),
            Err(e) => Err(e),
        }
    }
}

/// Closes `fd` on the ring (or inline if the ring cannot) and reports the
/// error of `close(2)`; the descriptor is closed whatever the outcome.
pub(crate) async fn close(fd: OwnedFd) -> io::Result<()> {
    let (_, supported) = ring_supports(opcode::Close::CODE)?;
    let fd = fd.into_raw_fd();
    if !supported {
        return close_now(fd);
    }
    Op::new(Close { fd }).await
}

fn close_now(fd: RawFd) -> io::Result<()> {
    // SAFETY: the caller owns `fd` and gives it up here.
    if unsafe { libc::close(fd) } < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
