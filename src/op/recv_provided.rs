//! `IORING_OP_RECV` with `IOSQE_BUFFER_SELECT`: the kernel picks the buffer
//! from a [`BufRing`] when data arrives.
//!
//! A CQE with `IORING_CQE_F_BUFFER` hands that buffer over; it becomes a
//! [`RingBuf`] at once, so a receive whose future was dropped returns its
//! buffer to the ring when the orphaned output is dropped.

use crate::buf::{BufRing, RingBuf};
use crate::driver::{Cqe, Op, OpData};
use crate::io::shared_fd::sqe_fd;
use crate::io::SharedFd;
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct RecvProvided {
    /// Keeps the socket open until the terminal CQE.
    fd: SharedFd,
    /// Keeps the ring registered (and its memory mapped) until then.
    ring: BufRing,
    flags: libc::c_int,
}

// SAFETY: the SQE carries no pointer of ours; the buffers it may select are
// in `ring`, which `RecvProvided` keeps alive.
unsafe impl OpData for RecvProvided {
    type Output = io::Result<Option<RingBuf>>;
    const NAME: &'static str = "recv_provided";

    fn sqe(&mut self) -> squeue::Entry {
        let len = u32::try_from(self.ring.buf_len()).unwrap_or(u32::MAX);
        sqe_fd!(self.fd, |fd| opcode::Recv::new(
            fd,
            std::ptr::null_mut(),
            len
        )
        .buf_group(self.ring.bgid())
        .flags(self.flags)
        .build()
        .flags(squeue::Flags::BUFFER_SELECT))
    }

    fn complete(self, cqe: Cqe) -> Self::Output {
        claim(&self.ring, cqe)
    }
}

/// Receives into a buffer of `ring`; `Ok(None)` is EOF.
pub(crate) fn recv_provided(fd: &SharedFd, ring: &BufRing, flags: libc::c_int) -> Op<RecvProvided> {
    Op::new(RecvProvided {
        fd: fd.clone(),
        ring: ring.clone(),
        flags,
    })
}

/// Turns a buffer-select receive's CQE into its output: the buffer it
/// names, `None` at EOF, or the error. A buffer is claimed (and so returned
/// to the ring) whenever the CQE names one, whatever the result.
pub(crate) fn claim(ring: &BufRing, cqe: Cqe) -> io::Result<Option<RingBuf>> {
    let len = *cqe.result.as_ref().unwrap_or(&0);
    let buf = ring.claim(cqe.flags, len);
    let n = cqe.result?;
    match buf {
        Some(buf) if n > 0 => Ok(Some(buf)),
        None if n > 0 => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a buffer-select receive reported data but no buffer",
        )),
        _ => Ok(None), // EOF (an empty buffer, if any, goes back on drop)
    }
}
