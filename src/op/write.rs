//! `IORING_OP_WRITE` from an owned buffer.

use crate::buf::IoBuf;
use crate::driver::{Cqe, Op, OpData};
use crate::io::SharedFd;
use io_uring::{opcode, squeue, types};
use std::io;

pub(crate) struct Write<B> {
    /// Keeps the fd open until the terminal CQE.
    fd: SharedFd,
    buf: B,
    offset: u64,
}

// SAFETY: the SQE points into `buf`'s stable memory (IoBuf contract), which
// `Write` owns.
unsafe impl<B: IoBuf> OpData for Write<B> {
    type Output = (io::Result<usize>, B);
    const NAME: &'static str = "write";

    fn sqe(&mut self) -> squeue::Entry {
        // One op moves at most u32::MAX bytes; callers loop for more.
        let len = self.buf.bytes_init().min(u32::MAX as usize) as u32;
        opcode::Write::new(types::Fd(self.fd.raw()), self.buf.stable_ptr(), len)
            .offset(self.offset)
            .build()
    }

    fn complete(self, cqe: Cqe) -> Self::Output {
        (cqe.result.map(|n| n as usize), self.buf)
    }
}

/// Writes up to `buf.bytes_init()` bytes (capped at `u32::MAX` per op) at
/// `offset` (`CURRENT_POSITION` for streams).
pub(crate) fn write_at<B: IoBuf>(fd: &SharedFd, buf: B, offset: u64) -> Op<Write<B>> {
    Op::new(Write {
        fd: fd.clone(),
        buf,
        offset,
    })
}
