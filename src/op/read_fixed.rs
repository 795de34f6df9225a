//! `IORING_OP_READ_FIXED`: read at an offset into a registered buffer.

use super::fs_support::{with_target, FileFd, Target};
use super::iovec;
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

    fn submit_now(&self) -> bool {
        self.target.file.direct
    }

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
        // SAFETY: the CQE is this read's, into `buf` from its start.
        unsafe { iovec::filled(self.buf, cqe.result) }
    }
}

/// The op reading up to `buf.bytes_total()` bytes at `pos` into a
/// registered buffer, or the error (with the buffer back) if the buffer
/// cannot be used on this thread's runtime. Checked here, synchronously,
/// so that the caller awaits the op itself: no extra future layer.
pub(crate) fn read_fixed_at<B: FixedIoBuf + IoBufMut>(
    file: &FileFd,
    buf: B,
    pos: u64,
) -> Result<Op<ReadFixed<B>>, (io::Error, B)> {
    if let Err(e) = check_pool(&buf) {
        return Err((e, buf));
    }
    Ok(Op::new(ReadFixed {
        target: Target::current(file),
        buf,
        pos,
    }))
}

/// Whether `buf`'s pool is registered with the current runtime's ring
/// (read through the thread-local context, no driver handle taken).
///
/// # Errors
///
/// `Other` outside a runtime; `InvalidInput` for another runtime's pool.
pub(crate) fn check_pool<B: FixedIoBuf>(buf: &B) -> io::Result<()> {
    match context::with_core(|core| buf.fixed_buf().is_on(&core.driver)) {
        Some(true) => Ok(()),
        Some(false) => Err(foreign_pool()),
        None => Err(context::not_in_runtime()),
    }
}

pub(crate) fn foreign_pool() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "this FixedBuf belongs to a pool registered with another runtime's ring",
    )
}
