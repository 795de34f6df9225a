//! Vectored send: `IORING_OP_SENDMSG` with one iovec per owned buffer and
//! `MSG_NOSIGNAL` (a plain `WRITEV` on a socket whose peer is gone would
//! raise `SIGPIPE`).

use super::iovec;
use crate::buf::IoBuf;
use crate::driver::epoll::Interest;
use crate::driver::op::{syscall_res, Readiness};
use crate::driver::{Cqe, Op, OpData};
use crate::io::shared_fd::sqe_fd;
use crate::io::SharedFd;
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct Writev<B> {
    /// Keeps the socket open until the terminal CQE.
    fd: SharedFd,
    bufs: Vec<B>,
    /// One iovec per buffer.
    iovecs: Vec<libc::iovec>,
    /// Points at `iovecs`; read by the kernel at issue and on retry.
    msg: Box<libc::msghdr>,
}

// SAFETY: the SQE points at `msg` (a box `Writev` owns), which points at
// `iovecs` (heap memory, never resized in flight), which point into each
// buffer's stable memory; the kernel only reads through them.
unsafe impl<B: IoBuf> OpData for Writev<B> {
    type Output = (io::Result<usize>, Vec<B>);
    const NAME: &'static str = "writev";

    fn sqe(&mut self) -> squeue::Entry {
        self.iovecs = iovec::for_writing(&self.bufs);
        self.msg.msg_iov = self.iovecs.as_mut_ptr();
        self.msg.msg_iovlen = self.iovecs.len();
        sqe_fd!(self.fd, |fd| opcode::SendMsg::new(fd, &*self.msg)
            .flags(libc::MSG_NOSIGNAL as u32)
            .build())
    }

    fn complete(self, cqe: Cqe) -> Self::Output {
        (cqe.result.map(|n| n as usize), self.bufs)
    }

    fn readiness(&self) -> Readiness<'_> {
        Readiness::Wait(&self.fd, Interest::Write)
    }

    fn attempt(&mut self) -> i32 {
        let _ = self.sqe(); // aims the msghdr and iovecs at the buffers
        let flags = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
        // SAFETY: the msghdr points at iovecs into the buffers' memory.
        syscall_res(unsafe { libc::sendmsg(self.fd.raw(), &*self.msg, flags) })
    }
}

/// Sends the initialised bytes of `bufs`, in order, as one stream write.
pub(crate) fn writev<B: IoBuf>(fd: &SharedFd, bufs: Vec<B>) -> Op<Writev<B>> {
    Op::new(Writev {
        fd: fd.clone(),
        bufs,
        iovecs: Vec::new(),
        // SAFETY: an all-zero msghdr is valid (no name, no iovec).
        msg: Box::new(unsafe { std::mem::zeroed() }),
    })
}
