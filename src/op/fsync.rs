//! `IORING_OP_FSYNC`: flush a file's data (and metadata) to storage.
//!
//! Ordering: the kernel starts SQEs in order but completes them in any
//! order, so an fsync covers exactly the writes whose CQEs arrived before it
//! was submitted. `File::sync_all` is only called after the caller awaited
//! its writes, which gives that ordering without links or drains.

use super::fs_support::{blocking, cvt, ring_supports, with_target, FileFd, Target};
use crate::driver::{Cqe, Op, OpData};
use io_uring::{opcode, squeue, types};
use std::io;
use std::os::fd::AsRawFd;

pub(crate) struct Fsync {
    /// Keeps the fd (and fixed slot) valid until the CQE.
    target: Target,
    flags: types::FsyncFlags,
}

// SAFETY: an FSYNC SQE carries no pointer.
unsafe impl OpData for Fsync {
    type Output = io::Result<()>;
    const NAME: &'static str = "fsync";

    fn sqe(&mut self) -> squeue::Entry {
        with_target!(self.target, |fd| opcode::Fsync::new(fd)
            .flags(self.flags)
            .build())
    }

    fn complete(self, cqe: Cqe) -> io::Result<()> {
        cqe.result.map(drop)
    }
}

/// `fsync(2)`, or `fdatasync(2)` if `datasync`.
pub(crate) async fn fsync(file: &FileFd, datasync: bool) -> io::Result<()> {
    let (driver, supported) = ring_supports(opcode::Fsync::CODE)?;
    if !supported {
        let fd = file.dup()?;
        return blocking(move || {
            // SAFETY: plain syscalls on a descriptor the job owns.
            let ret = unsafe {
                if datasync {
                    libc::fdatasync(fd.as_raw_fd())
                } else {
                    libc::fsync(fd.as_raw_fd())
                }
            };
            cvt(ret.into()).map(drop)
        })
        .await;
    }
    let flags = if datasync {
        types::FsyncFlags::DATASYNC
    } else {
        types::FsyncFlags::empty()
    };
    Op::new(Fsync {
        target: Target::new(file, &driver),
        flags,
    })
    .await
}
