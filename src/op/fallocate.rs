//! `IORING_OP_FALLOCATE`: allocate (or punch, zero, collapse) a file range.

use super::fs_support::{blocking, cvt, ring_supports, with_target, FileFd, Target};
use crate::driver::{Cqe, Op, OpData};
use io_uring::{opcode, squeue};
use std::io;
use std::os::fd::AsRawFd;

pub(crate) struct Fallocate {
    /// Keeps the fd (and fixed slot) valid until the CQE.
    target: Target,
    offset: u64,
    len: u64,
    mode: i32,
}

// SAFETY: a FALLOCATE SQE carries no pointer.
unsafe impl OpData for Fallocate {
    type Output = io::Result<()>;
    const NAME: &'static str = "fallocate";

    fn sqe(&mut self) -> squeue::Entry {
        with_target!(self.target, |fd| opcode::Fallocate::new(fd, self.len)
            .offset(self.offset)
            .mode(self.mode)
            .build())
    }

    fn complete(self, cqe: Cqe) -> io::Result<()> {
        cqe.result.map(drop)
    }
}

/// `fallocate(2)` of `len` bytes at `offset` with `mode` (`FALLOC_FL_*`).
pub(crate) async fn fallocate(file: &FileFd, offset: u64, len: u64, mode: i32) -> io::Result<()> {
    let (driver, supported) = ring_supports(opcode::Fallocate::CODE)?;
    if !supported {
        let fd = file.dup()?;
        return blocking(move || {
            // SAFETY: a plain syscall on a descriptor the job owns; the
            // caller checked that both values fit in `off_t`.
            let ret = unsafe { libc::fallocate(fd.as_raw_fd(), mode, offset as i64, len as i64) };
            cvt(ret.into()).map(drop)
        })
        .await;
    }
    Op::new(Fallocate {
        target: Target::new(file, &driver),
        offset,
        len,
        mode,
    })
    .await
}
