//! `IORING_OP_FTRUNCATE` (Linux 6.9): set a file's length. Older kernels
//! run `ftruncate(2)` on the blocking pool.

use super::fs_support::{blocking, cvt, ring_supports, with_target, FileFd, Target};
use crate::driver::{Cqe, Op, OpData};
use io_uring::{opcode, squeue};
use std::io;
use std::os::fd::AsRawFd;

pub(crate) struct Ftruncate {
    /// Keeps the fd (and fixed slot) valid until the CQE.
    target: Target,
    len: u64,
}

// SAFETY: an FTRUNCATE SQE carries no pointer.
unsafe impl OpData for Ftruncate {
    type Output = io::Result<()>;
    const NAME: &'static str = "ftruncate";

    fn sqe(&mut self) -> squeue::Entry {
        with_target!(self.target, |fd| opcode::Ftruncate::new(fd, self.len)
            .build())
    }

    fn complete(self, cqe: Cqe) -> io::Result<()> {
        cqe.result.map(drop)
    }
}

/// `ftruncate(2)` to `len` bytes.
pub(crate) async fn ftruncate(file: &FileFd, len: u64) -> io::Result<()> {
    let (driver, supported) = ring_supports(opcode::Ftruncate::CODE)?;
    if !supported {
        let fd = file.dup()?;
        return blocking(move || {
            // SAFETY: a plain syscall on a descriptor the job owns; the
            // caller checked that `len` fits in `off_t`.
            let ret = unsafe { libc::ftruncate(fd.as_raw_fd(), len as i64) };
            cvt(ret.into()).map(drop)
        })
        .await;
    }
    Op::new(Ftruncate {
        target: Target::new(file, &driver),
        len,
    })
    .await
}
