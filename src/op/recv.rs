//! `IORING_OP_RECV` into an owned buffer.

use super::iovec;
use crate::buf::IoBufMut;
use crate::driver::epoll::Interest;
use crate::driver::op::{syscall_res, Readiness};
use crate::driver::{Cqe, Op, OpData};
use crate::io::shared_fd::sqe_fd;
use crate::io::SharedFd;
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct Recv<B> {
    /// Keeps the socket open until the terminal CQE.
    fd: SharedFd,
    buf: B,
    flags: libc::c_int,
    /// The socket is a stream: a short read means its queue was emptied.
    stream: bool,
}

// SAFETY: the SQE points into `buf`'s stable memory (IoBufMut contract),
// which `Recv` owns.
unsafe impl<B: IoBufMut> OpData for Recv<B> {
    type Output = (io::Result<usize>, B);
    const NAME: &'static str = "recv";

    fn sqe(&mut self) -> squeue::Entry {
        // One op moves at most u32::MAX bytes; callers loop for more.
        let len = self.buf.bytes_total().min(u32::MAX as usize) as u32;
        sqe_fd!(self.fd, |fd| opcode::Recv::new(
            fd,
            self.buf.stable_mut_ptr(),
            len
        )
        .flags(self.flags)
        .build())
    }

    fn complete(self, cqe: Cqe) -> Self::Output {
        // SAFETY: the CQE is this read's, into `buf` from its start.
        unsafe { iovec::filled(self.buf, cqe.result) }
    }

    fn readiness(&self) -> Readiness<'_> {
        Readiness::Wait(&self.fd, Interest::Read)
    }

    fn attempt(&mut self) -> i32 {
        let len = self.buf.bytes_total().min(u32::MAX as usize);
        // SAFETY: the pointer is valid for `len` writable bytes (IoBufMut).
        let ret = unsafe {
            libc::recv(
                self.fd.raw(),
                self.buf.stable_mut_ptr().cast(),
                len,
                self.flags | libc::MSG_DONTWAIT,
            )
        };
        syscall_res(ret)
    }

    /// A short read (some bytes, fewer than asked) on a stream socket
    /// emptied its receive queue — unless it only peeked.
    fn drained(&self, res: i32) -> bool {
        self.stream
            && self.flags & libc::MSG_PEEK == 0
            && res > 0
            && (res as usize) < self.buf.bytes_total()
    }
}

/// Receives up to `buf.bytes_total()` bytes with `recv(2)` flags `flags`;
/// `Ok(0)` is EOF. `stream`: `fd` is a stream socket (TCP, Unix stream),
/// which lets the readiness driver treat a short read as "drained".
pub(crate) fn recv<B: IoBufMut>(
    fd: &SharedFd,
    buf: B,
    flags: libc::c_int,
    stream: bool,
) -> Op<Recv<B>> {
    Op::new(Recv {
        fd: fd.clone(),
        buf,
        flags,
        stream,
    })
}
