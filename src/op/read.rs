//! `IORING_OP_READ` into an owned buffer.

use super::fs_support::{with_target, FileFd, Target};
use super::iovec;
use crate::buf::IoBufMut;
use crate::driver::epoll::Interest;
use crate::driver::op::{syscall_res, Readiness};
use crate::driver::{Cqe, Op, OpData};
use crate::io::SharedFd;
use io_uring::{opcode, squeue};
use std::io;

/// Offset meaning "the file position" (streams, pipes, sockets).
pub(crate) const CURRENT_POSITION: u64 = u64::MAX;

pub(crate) struct Read<B> {
    /// Keeps the fd (and the fixed slot, if the SQE names one) valid until
    /// the terminal CQE.
    target: Target,
    buf: B,
    offset: u64,
}

// SAFETY: the SQE points into `buf`'s stable memory (IoBufMut contract),
// which `Read` owns.
unsafe impl<B: IoBufMut> OpData for Read<B> {
    type Output = (io::Result<usize>, B);
    const NAME: &'static str = "read";

    fn submit_now(&self) -> bool {
        self.target.file.direct
    }

    fn sqe(&mut self) -> squeue::Entry {
        // One op moves at most u32::MAX bytes; callers loop for more.
        let len = self.buf.bytes_total().min(u32::MAX as usize) as u32;
        let ptr = self.buf.stable_mut_ptr();
        with_target!(self.target, |fd| opcode::Read::new(fd, ptr, len)
            .offset(self.offset)
            .build())
    }

    fn complete(self, cqe: Cqe) -> Self::Output {
        // SAFETY: the CQE is this read's, into `buf` from its start.
        unsafe { iovec::filled(self.buf, cqe.result) }
    }

    fn readiness(&self) -> Readiness<'_> {
        if self.offset == CURRENT_POSITION {
            Readiness::Wait(&self.target.file.fd, Interest::Read)
        } else {
            Readiness::Inline // a regular file: always "ready"
        }
    }

    fn attempt(&mut self) -> i32 {
        let len = self.buf.bytes_total().min(u32::MAX as usize);
        let ptr = self.buf.stable_mut_ptr().cast();
        // SAFETY: `ptr` is valid for `len` writable bytes (IoBufMut contract).
        let ret = unsafe {
            if self.offset == CURRENT_POSITION {
                libc::read(self.target.file.fd.raw(), ptr, len)
            } else {
                libc::pread(
                    self.target.file.fd.raw(),
                    ptr,
                    len,
                    self.offset as libc::off_t,
                )
            }
        };
        syscall_res(ret)
    }
}

/// Reads up to `buf.bytes_total()` bytes (capped at `u32::MAX` per op) at
/// `offset` ([`CURRENT_POSITION`] for streams).
pub(crate) fn read_at<B: IoBufMut>(fd: &SharedFd, buf: B, offset: u64) -> Op<Read<B>> {
    Op::new(Read {
        target: Target::fd(fd),
        buf,
        offset,
    })
}

/// As [`read_at`], on a file: the SQE names the file's fixed slot if it is
/// registered with the current runtime's ring (no descriptor lookup in the
/// kernel), its fd otherwise.
pub(crate) fn read_file_at<B: IoBufMut>(file: &FileFd, buf: B, offset: u64) -> Op<Read<B>> {
    Op::new(Read {
        target: Target::current(file),
        buf,
        offset,
    })
}
