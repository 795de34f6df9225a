//! `IORING_OP_READV` into several owned buffers, filled in order.

use super::iovec;
use crate::buf::IoBufMut;
use crate::driver::epoll::Interest;
use crate::driver::op::{syscall_res, Readiness};
use crate::driver::{Cqe, Op, OpData};
use crate::io::shared_fd::sqe_fd;
use crate::io::SharedFd;
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct Readv<B> {
    /// Keeps the fd open until the terminal CQE.
    fd: SharedFd,
    bufs: Vec<B>,
    /// One iovec per buffer; the kernel reads them at issue and on retry.
    iovecs: Vec<libc::iovec>,
}

// SAFETY: the SQE points at `iovecs` (a Vec's heap memory, owned and never
// resized in flight), which point into each buffer's stable memory.
unsafe impl<B: IoBufMut> OpData for Readv<B> {
    type Output = (io::Result<usize>, Vec<B>);
    const NAME: &'static str = "readv";

    fn sqe(&mut self) -> squeue::Entry {
        self.iovecs = iovec::for_reading(&mut self.bufs);
        let n = self.iovecs.len().min(u32::MAX as usize) as u32;
        sqe_fd!(self.fd, |fd| opcode::Readv::new(
            fd,
            self.iovecs.as_ptr(),
            n
        )
        .offset(u64::MAX)
        .build())
    }

    fn complete(self, cqe: Cqe) -> Self::Output {
        // SAFETY: the CQE is this read's, through iovecs from these buffers.
        unsafe { iovec::filled_vectored(self.bufs, cqe.result) }
    }

    fn readiness(&self) -> Readiness<'_> {
        Readiness::Wait(&self.fd, Interest::Read)
    }

    fn attempt(&mut self) -> i32 {
        let _ = self.sqe(); // aims the iovecs at the buffers
        let n = self.iovecs.len().min(libc::c_int::MAX as usize) as libc::c_int;
        // SAFETY: the iovecs point into the buffers' stable memory.
        syscall_res(unsafe { libc::readv(self.fd.raw(), self.iovecs.as_ptr(), n) })
    }
}

/// Reads into `bufs` in order (at the current position for streams).
pub(crate) fn readv<B: IoBufMut>(fd: &SharedFd, bufs: Vec<B>) -> Op<Readv<B>> {
    Op::new(Readv {
        fd: fd.clone(),
        bufs,
        iovecs: Vec::new(),
    })
}
