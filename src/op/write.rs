//! `IORING_OP_WRITE` from an owned buffer.

use crate::buf::IoBuf;
use crate::driver::{Cqe, Op, OpData};
use crate::io::SharedFd;
use io_uring::{opcode, types};
use std::io;

pub(crate) struct Write<B> {
    /// Keeps the fd open until the terminal CQE.
    fd: SharedFd,
    buf: B,
}

// SAFETY: the SQE points into `buf`'s stable memory (IoBuf contract), which
// `Write` owns.
unsafe impl<B: IoBuf> OpData for Write<B> {
    type Output = (io::Result<usize>, B);
    const NAME: &'static str = "write";

    fn complete(self, cqe: Cqe) -> Self::Output {
        (cqe.result.map(|n| n as usize), self.buf)
    }
}

/// Writes up to `buf.bytes_init()` bytes (capped at `u32::MAX` per op) at
/// `offset` (`CURRENT_POSITION` for streams).
pub(crate) async fn write_at<B: IoBuf>(
    fd: &SharedFd,
    buf: B,
    offset: u64,
) -> (io::Result<usize>, B) {
    let data = Write {
        fd: fd.clone(),
        buf,
    };
    let op = Op::submit(data, |d| {
        let len = d.buf.bytes_init().min(u32::MAX as usize) as u32;
        opcode::Write::new(types::Fd(d.fd.raw()), d.buf.stable_ptr(), len)
            .offset(offset)
            .build()
    });
    match op {
        Ok(op) => op.await,
        Err((e, data)) => (Err(e), data.buf),
    }
}
