//! `IORING_OP_WRITE` from an owned buffer.

use super::fs_support::{with_target, FileFd, Target};
use crate::buf::IoBuf;
use crate::driver::epoll::Interest;
use crate::driver::op::{syscall_res, Readiness};
use crate::driver::{Cqe, Op, OpData};
use crate::io::SharedFd;
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct Write<B> {
    /// Keeps the fd (and the fixed slot, if the SQE names one) valid until
    /// the terminal CQE.
    target: Target,
    buf: B,
    offset: u64,
}

// SAFETY: the SQE points into `buf`'s stable memory (IoBuf contract), which
// `Write` owns.
unsafe impl<B: IoBuf> OpData for Write<B> {
    type Output = (io::Result<usize>, B);
    const NAME: &'static str = "write";

    fn submit_now(&self) -> bool {
        self.target.file.direct
    }

    fn sqe(&mut self) -> squeue::Entry {
        // One op moves at most u32::MAX bytes; callers loop for more.
        let len = self.buf.bytes_init().min(u32::MAX as usize) as u32;
        let ptr = self.buf.stable_ptr();
        with_target!(self.target, |fd| opcode::Write::new(fd, ptr, len)
            .offset(self.offset)
            .build())
    }

    fn complete(self, cqe: Cqe) -> Self::Output {
        (cqe.result.map(|n| n as usize), self.buf)
    }

    fn readiness(&self) -> Readiness<'_> {
        if self.offset == u64::MAX {
            Readiness::Wait(&self.target.file.fd, Interest::Write)
        } else {
            Readiness::Inline // a regular file: always "ready"
        }
    }

    fn attempt(&mut self) -> i32 {
        let len = self.buf.bytes_init().min(u32::MAX as usize);
        let ptr = self.buf.stable_ptr().cast();
        // SAFETY: `ptr` is valid for `len` readable bytes (IoBuf contract).
        let ret = unsafe {
            if self.offset == u64::MAX {
                libc::write(self.target.file.fd.raw(), ptr, len)
            } else {
                libc::pwrite(
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

/// Writes up to `buf.bytes_init()` bytes (capped at `u32::MAX` per op) at
/// `offset` (`CURRENT_POSITION` for streams).
pub(crate) fn write_at<B: IoBuf>(fd: &SharedFd, buf: B, offset: u64) -> Op<Write<B>> {
    Op::new(Write {
        target: Target::fd(fd),
        buf,
        offset,
    })
}

/// As [`write_at`], on a file: names the file's fixed slot if it is
/// registered with the current runtime's ring, its fd otherwise.
pub(crate) fn write_file_at<B: IoBuf>(file: &FileFd, buf: B, offset: u64) -> Op<Write<B>> {
    Op::new(Write {
        target: Target::current(file),
        buf,
        offset,
    })
}
