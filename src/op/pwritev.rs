//! `IORING_OP_WRITEV` at an offset (`pwritev2`): a file write from several
//! owned buffers, in order. (`writev.rs` is the socket form.)

use super::fs_support::{with_target, FileFd, Target};
use super::iovec;
use super::preadv::{too_many, MAX_IOVECS};
use crate::buf::IoBuf;
use crate::driver::op::Readiness;
use crate::driver::{Cqe, Op, OpData};
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct Pwritev<B> {
    /// Keeps the fd (and fixed slot) valid until the CQE.
    target: Target,
    bufs: Vec<B>,
    /// One iovec per buffer, built with the SQE; read by the kernel until
    /// the CQE.
    iovecs: Vec<libc::iovec>,
    pos: u64,
}

// SAFETY: the SQE points at `iovecs` (a Vec's heap memory, owned and never
// resized in flight), whose entries point into the buffers' stable memory
// (IoBuf contract); the op owns all of them.
unsafe impl<B: IoBuf> OpData for Pwritev<B> {
    type Output = (io::Result<usize>, Vec<B>);
    const NAME: &'static str = "pwritev";

    fn submit_now(&self) -> bool {
        self.target.file.direct
    }

    fn sqe(&mut self) -> squeue::Entry {
        self.iovecs = iovec::for_writing(&self.bufs);
        let (ptr, len) = (self.iovecs.as_ptr(), self.iovecs.len() as u32);
        with_target!(self.target, |fd| opcode::Writev::new(fd, ptr, len)
            .offset(self.pos)
            .build())
    }

    fn complete(self, cqe: Cqe) -> Self::Output {
        (cqe.result.map(|n| n as usize), self.bufs)
    }

    fn readiness(&self) -> Readiness<'_> {
        Readiness::Inline // a regular file: always "ready"
    }

    fn attempt(&mut self) -> i32 {
        let _ = self.sqe(); // aims the iovecs at the buffers
                            // SAFETY: the iovecs point at the buffers' initialised stable memory.
        unsafe {
            iovec::positional(
                libc::pwritev,
                self.target.file.fd.raw(),
                &self.iovecs,
                self.pos,
            )
        }
    }
}

/// Writes the initialised bytes of `bufs` in order, starting at `pos`;
/// returns the total written.
pub(crate) async fn pwritev<B: IoBuf>(
    file: &FileFd,
    bufs: Vec<B>,
    pos: u64,
) -> (io::Result<usize>, Vec<B>) {
    if bufs.len() > MAX_IOVECS {
        return (Err(too_many(bufs.len())), bufs);
    }
    Op::new(Pwritev {
        target: Target::current(file),
        bufs,
        iovecs: Vec::new(),
        pos,
    })
    .await
}
