//! `IORING_OP_SYMLINKAT` (Linux 5.15): create a symbolic link.

use super::fs_support::{blocking, cvt, ring_supports};
use crate::driver::{Cqe, Op, OpData};
use io_uring::{opcode, squeue, types};
use std::ffi::CString;
use std::io;

pub(crate) struct Symlink {
    /// Both read by the kernel until the CQE.
    target: CString,
    link: CString,
}

// SAFETY: the SQE points at the two paths' heap allocations, owned by the op.
unsafe impl OpData for Symlink {
    type Output = io::Result<()>;
    const NAME: &'static str = "symlinkat";

    fn sqe(&mut self) -> squeue::Entry {
        let cwd = types::Fd(libc::AT_FDCWD);
        opcode::SymlinkAt::new(cwd, self.target.as_ptr(), self.link.as_ptr()).build()
    }

    fn complete(self, cqe: Cqe) -> io::Result<()> {
        cqe.result.map(drop)
    }
}

/// `symlinkat(target, AT_FDCWD, link)`: `link` will point to `target`.
pub(crate) async fn symlink(target: CString, link: CString) -> io::Result<()> {
    let (_, supported) = ring_supports(opcode::SymlinkAt::CODE)?;
    if !supported {
        return blocking(move || {
            // SAFETY: both paths are live NUL-terminated strings.
            let ret = unsafe { libc::symlinkat(target.as_ptr(), libc::AT_FDCWD, link.as_ptr()) };
            cvt(ret.into()).map(drop)
        })
        .await;
    }
    Op::new(Symlink { target, link }).await
}
