//! `IORING_OP_MKDIRAT` (Linux 5.15): create a directory.

use super::fs_support::{blocking, cvt, ring_supports};
use crate::driver::{Cqe, Op, OpData};
use io_uring::{opcode, squeue, types};
use std::ffi::CString;
use std::io;

pub(crate) struct Mkdir {
    /// Read by the kernel until the CQE.
    path: CString,
    mode: u32,
}

// SAFETY: the SQE points at `path`'s heap allocation, owned by the op.
unsafe impl OpData for Mkdir {
    type Output = io::Result<()>;
    const NAME: &'static str = "mkdirat";

    fn sqe(&mut self) -> squeue::Entry {
        opcode::MkDirAt::new(types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .mode(self.mode)
            .build()
    }

    fn complete(self, cqe: Cqe) -> io::Result<()> {
        cqe.result.map(drop)
    }
}

/// `mkdirat(AT_FDCWD, path, mode)`.
pub(crate) async fn mkdir(path: CString, mode: u32) -> io::Result<()> {
    let (_, supported) = ring_supports(opcode::MkDirAt::CODE)?;
    if !supported {
        return blocking(move || {
            // SAFETY: `path` is a live NUL-terminated string.
            cvt(unsafe { libc::mkdirat(libc::AT_FDCWD, path.as_ptr(), mode) }.into()).map(drop)
        })
        .await;
    }
    Op::new(Mkdir { path, mode }).await
}
