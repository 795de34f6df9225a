//! `IORING_OP_UNLINKAT` (Linux 5.11): remove a file or an empty directory.

use super::fs_support::{blocking, cvt, ring_supports};
use crate::driver::{Cqe, Op, OpData};
use io_uring::{opcode, squeue, types};
use std::ffi::CString;
use std::io;

pub(crate) struct Unlink {
    /// Read by the kernel until the CQE.
    path: CString,
    flags: i32,
}

// SAFETY: the SQE points at `path`'s heap allocation, owned by the op.
unsafe impl OpData for Unlink {
    type Output = io::Result<()>;
    const NAME: &'static str = "unlinkat";

    fn sqe(&mut self) -> squeue::Entry {
        opcode::UnlinkAt::new(types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(self.flags)
            .build()
    }

    fn complete(self, cqe: Cqe) -> io::Result<()> {
        cqe.result.map(drop)
    }
}

/// `unlinkat(AT_FDCWD, path, dir ? AT_REMOVEDIR : 0)`.
pub(crate) async fn unlink(path: CString, dir: bool) -> io::Result<()> {
    let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
    let (_, supported) = ring_supports(opcode::UnlinkAt::CODE)?;
    if !supported {
        return blocking(move || {
            // SAFETY: `path` is a live NUL-terminated string.
            cvt(unsafe { libc::unlinkat(libc::AT_FDCWD, path.as_ptr(), flags) }.into()).map(drop)
        })
        .await;
    }
    Op::new(Unlink { path, flags }).await
}
