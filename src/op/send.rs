//! `IORING_OP_SEND` from an owned buffer, always with `MSG_NOSIGNAL`.

use crate::buf::IoBuf;
use crate::driver::epoll::Interest;
use crate::driver::op::{syscall_res, Readiness};
use crate::driver::{Cqe, Op, OpData};
use crate::io::shared_fd::sqe_fd;
use crate::io::SharedFd;
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct Send<B> {
    /// Keeps the socket open until the terminal CQE.
    fd: SharedFd,
    buf: B,
    flags: libc::c_int,
}

// SAFETY: the SQE points into `buf`'s stable memory (IoBuf contract), which
// `Send` owns.
unsafe impl<B: IoBuf> OpData for Send<B> {
    type Output = (io::Result<usize>, B);
    const NAME: &'static str = "send";

    fn sqe(&mut self) -> squeue::Entry {
        // One op moves at most u32::MAX bytes; callers loop for more.
        let len = self.buf.bytes_init().min(u32::MAX as usize) as u32;
        sqe_fd!(self.fd, |fd| opcode::Send::new(
            fd,
            self.buf.stable_ptr(),
            len
        )
        .flags(self.flags | libc::MSG_NOSIGNAL)
        .build())
    }

    fn complete(self, cqe: Cqe) -> Self::Output {
        (cqe.result.map(|n| n as usize), self.buf)
    }

    fn readiness(&self) -> Readiness<'_> {
        Readiness::Wait(&self.fd, Interest::Write)
    }

    fn attempt(&mut self) -> i32 {
        let len = self.buf.bytes_init().min(u32::MAX as usize);
        // SAFETY: the pointer is valid for `len` readable bytes (IoBuf).
        let ret = unsafe {
            libc::send(
                self.fd.raw(),
                self.buf.stable_ptr().cast(),
                len,
                self.flags | libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        syscall_res(ret)
    }
}

/// Sends some of `buf`'s initialised bytes with `send(2)` flags `flags`
/// plus `MSG_NOSIGNAL` (a closed peer is `EPIPE`, never `SIGPIPE`).
pub(crate) fn send<B: IoBuf>(fd: &SharedFd, buf: B, flags: libc::c_int) -> Op<Send<B>> {
    Op::new(Send {
        fd: fd.clone(),
        buf,
        flags,
    })
}
