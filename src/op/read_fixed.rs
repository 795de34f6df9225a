//! `IORING_OP_READ_FIXED`: read at an offset into a registered buffer.

use super::fs_support::{with_target, FileFd, Target};
use crate::buf::{FixedIoBuf, IoBufMut};
use crate::driver::{Cqe, Op, OpData};
use crate::runtime::context;
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct ReadFixed<B> {
    /// Keeps the fd (and fixed slot) valid until the CQE.
    target: Target,
    /// Keeps the buffer checked out (and its pool registered) until the CQE.
    buf: B,
    pos: u64,
}

// SAFETY: the SQE points into `buf`'s stable memory (a registered buffer of
// a pool that stays registered while `buf` lives), which the op owns.
unsafe impl<B: FixedIoBuf + IoBufMut> OpData for ReadFixed<B> {
    type Output = (io::Result<usize>, B);
    const NAME: &'static str = "read_fixed";

    fn sqe(&mut self) -> squeue::Entry {
        // A registered buffer is at most 1 GiB: the length fits.
        let len = self.buf.bytes_total() as u32;
        let index = self.buf.fixed_buf().buf_index();
        let ptr = self.buf.stable_mut_ptr();
        with_target!(self.target, |fd| opcode::ReadFixed::new(
            fd, ptr, len, index
        )
        .offset(self.pos)
        .build())
    }

    fn complete(self, cqe: Cqe) -> Self::Output {
        let mut buf = self.buf;
        let result = cqe.result.map(|n| {
            // SAFETY: the kernel reports `n` bytes written into the buffer.
            unsafe { buf.set_init(n as usize) };
            n as usize
        });
        (result, buf)
    }
}

/// Reads up to `buf.bytes_total()` bytes at `pos` into a registered buffer.
pub(crate) async fn read_fixed_at<B: FixedIoBuf + IoBufMut>(
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
    Op::new(ReadFixed {
        target: Target::new(file, &driver),
        buf,
        pos,
    })
    .await
}

pub(crate) fn foreign_pool() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "this FixedBuf belongs to a pool registered with another runtime's ring",
    )
}
