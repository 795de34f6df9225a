//! `IORING_OP_RENAMEAT` (Linux 5.11): rename a file or directory.

use super::fs_support::{blocking, cvt, ring_supports};
use crate::driver::{Cqe, Op, OpData};
use io_uring::{opcode, squeue, types};
use std::ffi::CString;
use std::io;

pub(crate) struct Rename {
    /// Both read by the kernel until the CQE.
    from: CString,
    to: CString,
}

// SAFETY: the SQE points at the two paths' heap allocations, owned by the op.
unsafe impl OpData for Rename {
    type Output = io::Result<()>;
    const NAME: &'static str = "renameat";

    fn sqe(&mut self) -> squeue::Entry {
        let cwd = types::Fd(libc::AT_FDCWD);
        opcode::RenameAt::new(cwd, self.from.as_ptr(), cwd, self.to.as_ptr()).build()
    }

    fn complete(self, cqe: Cqe) -> io::Result<()> {
        cqe.result.map(drop)
    }
}

/// `renameat2(AT_FDCWD, from, AT_FDCWD, to, 0)`.
pub(crate) async fn rename(from: CString, to: CString) -> io::Result<()> {
    let (_, supported) = ring_supports(opcode::RenameAt::CODE)?;
    if !supported {
        return blocking(move || {
            // SAFETY: both paths are live NUL-terminated strings.
            let ret = unsafe {
                libc::renameat(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr())
            };
            cvt(ret.into()).map(drop)
        })
        .await;
    }
    Op::new(Rename { from, to }).await
}
