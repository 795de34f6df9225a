//! `IORING_OP_WRITE_FIXED`: write at an offset from a registered buffer.

use super::fs_support::{with_target, FileFd, Target};
use super::read_fixed::foreign_pool;
use crate::buf::FixedIoBuf;
use crate::driver::{Cqe, Op, OpData};
use crate::runtime::context;
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

/// Writes the initialised bytes of a registered buffer at `pos`.
pub(crate) async fn write_fixed_at<B: FixedIoBuf>(
    file: &FileFd,
    buf: B,
    pos: u64,
) -> (io::Result<usize>, B) {
    let driver = match context::driver() {
        Ok(driver) => driver,
        Err(e) => return (Err(e), buf),
    };
    if !buf.fixed_buf().is_on(&driver) {
        return (Err(foreign_pool()), buf);
    }
    Op::new(WriteFixed {
        target: Target::new(file, &driver),
        buf,
        pos,
    })
    .await
}
