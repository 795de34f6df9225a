//! `IORING_OP_LINKAT` (Linux 5.15): create a hard link.

use super::fs_support::{blocking, cvt, ring_supports};
use crate::driver::{Cqe, Op, OpData};
use io_uring::{opcode, squeue, types};
use std::ffi::CString;
use std::io;

pub(crate) struct Link {
    /// Both read by the kernel until the CQE.
    original: CString,
    link: CString,
}

// SAFETY: the SQE points at the two paths' heap allocations, owned by the op.
unsafe impl OpData for Link {
    type Output = io::Result<()>;
    const NAME: &'static str = "linkat";

    fn sqe(&mut self) -> squeue::Entry {
        let cwd = types::Fd(libc::AT_FDCWD);
        opcode::LinkAt::new(cwd, self.original.as_ptr(), cwd, self.link.as_ptr()).build()
    }

    fn complete(self, cqe: Cqe) -> io::Result<()> {
        cqe.result.map(drop)
    }
}

/// `linkat(AT_FDCWD, original, AT_FDCWD, link, 0)`: `original` itself is
/// linked, not what it points to if it is a symlink (as `link(2)` does).
pub(crate) async fn link(original: CString, link: CString) -> io::Result<()> {
    let (_, supported) = ring_supports(opcode::LinkAt::CODE)?;
    if !supported {
        return blocking(move || {
            // SAFETY: both paths are live NUL-terminated strings.
            let ret = unsafe {
                libc::linkat(
                    libc::AT_FDCWD,
                    original.as_ptr(),
                    libc::AT_FDCWD,
                    link.as_ptr(),
                    0,
                )
            };
            cvt(ret.into()).map(drop)
        })
        .await;
    }
    Op::new(Link { original, link }).await
}
