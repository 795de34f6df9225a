//! `IORING_OP_READ` into an owned buffer.

use crate::buf::IoBufMut;
use crate::driver::{Cqe, Op, OpData};
use crate::io::SharedFd;
use io_uring::{opcode, squeue, types};
use std::io;

/// Offset meaning "the file position" (streams, pipes, sockets).
pub(crate) const CURRENT_POSITION: u64 = u64::MAX;

pub(crate) struct Read<B> {
    /// Keeps the fd open until the terminal CQE.
    fd: SharedFd,
    buf: B,
    offset: u64,
}

// SAFETY: the SQE points into `buf`'s stable memory (IoBufMut contract),
// which `Read` owns.
unsafe impl<B: IoBufMut> OpData for Read<B> {
    type Output = (io::Result<usize>, B);
    const NAME: &'static str = "read";

    fn sqe(&mut self) -> squeue::Entry {
        // One op moves at most u32::MAX bytes; callers loop for more.
        let len = self.buf.bytes_total().min(u32::MAX as usize) as u32;
        opcode::Read::new(types::Fd(self.fd.raw()), self.buf.stable_mut_ptr(), len)
            .offset(self.offset)
            .build()
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

/// Reads up to `buf.bytes_total()` bytes (capped at `u32::MAX` per op) at
/// `offset` ([`CURRENT_POSITION`] for streams).
pub(crate) fn read_at<B: IoBufMut>(fd: &SharedFd, buf: B, offset: u64) -> Op<Read<B>> {
    Op::new(Read {
        fd: fd.clone(),
        buf,
        offset,
    })
}
