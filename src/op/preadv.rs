//! `IORING_OP_READV` at an offset (`preadv2`): a file read into several
//! owned buffers, filled in order. (`readv.rs` is the stream form, at the
//! current position.)

use super::fs_support::{with_target, FileFd, Target};
use super::iovec;
use crate::buf::IoBufMut;
use crate::driver::op::Readiness;
use crate::driver::{Cqe, Op, OpData};
use io_uring::{opcode, squeue};
use std::io;

/// Most buffers one vectored op takes (`UIO_MAXIOV`).
pub(crate) const MAX_IOVECS: usize = 1024;

pub(crate) struct Preadv<B> {
    /// Keeps the fd (and fixed slot) valid until the CQE.
    target: Target,
    bufs: Vec<B>,
    /// One iovec per buffer, built with the SQE; the kernel reads it (and
    /// writes where it points) until the CQE.
    iovecs: Vec<libc::iovec>,
    pos: u64,
}

// SAFETY: the SQE points at `iovecs` (a Vec's heap memory, owned and never
// resized in flight), whose entries point into the buffers' stable memory
// (IoBufMut contract); the op owns all of them.
unsafe impl<B: IoBufMut> OpData for Preadv<B> {
    type Output = (io::Result<usize>, Vec<B>);
    const NAME: &'static str = "preadv";

    fn submit_now(&self) -> bool {
        self.target.file.direct
    }

    fn sqe(&mut self) -> squeue::Entry {
        self.iovecs = iovec::for_reading(&mut self.bufs);
        let (ptr, len) = (self.iovecs.as_ptr(), self.iovecs.len() as u32);
        with_target!(self.target, |fd| opcode::Readv::new(fd, ptr, len)
            .offset(self.pos)
            .build())
    }

    fn complete(self, cqe: Cqe) -> Self::Output {
        // SAFETY: the CQE is this read's, through iovecs from these buffers.
        unsafe { iovec::filled_vectored(self.bufs, cqe.result) }
    }

    fn readiness(&self) -> Readiness<'_> {
        Readiness::Inline // a regular file: always "ready"
    }

    fn attempt(&mut self) -> i32 {
        let _ = self.sqe(); // aims the iovecs at the buffers
                            // SAFETY: the iovecs point into the buffers' writable stable memory.
        unsafe {
            iovec::positional(
                libc::preadv,
                self.target.file.fd.raw(),
                &self.iovecs,
                self.pos,
            )
        }
    }
}

/// Reads into `bufs` in order, starting at `pos`; returns the total read.
pub(crate) async fn preadv<B: IoBufMut>(
    file: &FileFd,
    bufs: Vec<B>,
    pos: u64,
) -> (io::Result<usize>, Vec<B>) {
    if bufs.len() > MAX_IOVECS {
        return (Err(too_many(bufs.len())), bufs);
    }
    Op::new(Preadv {
        target: Target::current(file),
        bufs,
        iovecs: Vec::new(),
        pos,
    })
    .await
}

pub(crate) fn too_many(n: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{n} buffers in one vectored op; the kernel takes at most {MAX_IOVECS}"),
    )
}
