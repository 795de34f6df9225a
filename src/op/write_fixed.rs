//! `IORING_OP_WRITE_FIXED`: write at an offset from a registered buffer.

use super::fs_support::{with_target, FileFd, Target};
use super::read_fixed::check_pool;
use crate::buf::FixedIoBuf;
use crate::driver::{Cqe, Op, OpData};
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct WriteFixed<B> {
    /// Keeps the fd (and fixed slot) valid until the CQE.
    target: Target,
    /// Keeps the buffer checked out (and its pool registered) until the CQE.
    buf: B,
    pos: u64,
}

// SAFETY: the SQE points into `buf`'s stable memory (a registered buffer of
// a pool that stays registered while `buf` lives), which the op owns.
unsafe impl<B: FixedIoBuf> OpData for WriteFixed<B> {
    type Output = (io::Result<usize>, B);
    const NAME: &'static str = "write_fixed";

    fn submit_now(&self) -> bool {
        self.target.file.direct
    }

    fn sqe(&mut self) -> squeue::Entry {
        // A registered buffer is at most 1 GiB: the length fits.
        let len = self.buf.bytes_init() as u32;
        let index = self.buf.fixed_buf().buf_index();
        let ptr = self.buf.stable_ptr();
        with_target!(self.target, |fd| opcode::WriteFixed::new(
            fd, ptr, len, index
        )
        .offset(self.pos)
        .build())
    }

    fn complete(self, cqe: Cqe) -> Self::Output {
        (cqe.result.map(|n| n as usize), self.buf)
    }
}

/// The op writing the initialised bytes of a registered buffer at `pos`,
/// or the error (with the buffer back) if the buffer cannot be used on this
/// thread's runtime (see [`read_fixed_at`](super::read_fixed::read_fixed_at)).
pub(crate) fn write_fixed_at<B: FixedIoBuf>(
    file: &FileFd,
    buf: B,
    pos: u64,
) -> Result<Op<WriteFixed<B>>, (io::Error, B)> {
    if let Err(e) = check_pool(&buf) {
        return Err((e, buf));
    }
    Ok(Op::new(WriteFixed {
        target: Target::current(file),
        buf,
        pos,
    }))
}
