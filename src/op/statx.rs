//! `IORING_OP_STATX`: a file's metadata, by path or by fd (`AT_EMPTY_PATH`).

use super::fs_support::{blocking, cvt, dirfd, ring_supports};
use crate::driver::{Cqe, Op, OpData};
use crate::io::SharedFd;
use io_uring::{opcode, squeue, types};
use std::borrow::Cow;
use std::ffi::CStr;
use std::io;
use std::os::fd::AsRawFd;

// The kernel writes a 256-byte `struct statx`; the buffer must hold it all.
const _: () = assert!(std::mem::size_of::<libc::statx>() == 256);

pub(crate) struct Statx {
    /// Keeps the directory (or the file itself) open until the CQE.
    dir: Option<SharedFd>,
    /// Read by the kernel until the CQE (`""` with `AT_EMPTY_PATH`).
    path: Cow<'static, CStr>,
    flags: i32,
    mask: u32,
    /// Written by the kernel until the CQE; boxed so it does not move.
    buf: Box<libc::statx>,
}

// SAFETY: the SQE points at `path` (a heap CString or static data) and at
// the boxed `buf`, which the op owns and which do not move with it.
unsafe impl OpData for Statx {
    type Output = io::Result<libc::statx>;
    const NAME: &'static str = "statx";

    fn sqe(&mut self) -> squeue::Entry {
        let buf: *mut libc::statx = &mut *self.buf;
        let dir = types::Fd(dirfd(self.dir.as_ref()));
        opcode::Statx::new(dir, self.path.as_ptr(), buf.cast())
            .flags(self.flags)
            .mask(self.mask)
            .build()
    }

    fn complete(self, cqe: Cqe) -> io::Result<libc::statx> {
        cqe.result?;
        Ok(*self.buf)
    }
}

/// `statx(2)` of `path` relative to `dir` (or the working directory).
pub(crate) async fn statx(
    dir: Option<&SharedFd>,
    path: Cow<'static, CStr>,
    flags: i32,
    mask: u32,
) -> io::Result<libc::statx> {
    let (_, supported) = ring_supports(opcode::Statx::CODE)?;
    if !supported {
        let dir = dir.map(|d| d.as_fd().try_clone_to_owned()).transpose()?;
        return blocking(move || {
            let dirfd = dir.as_ref().map_or(libc::AT_FDCWD, AsRawFd::as_raw_fd);
            let mut buf = zeroed();
            // SAFETY: `path` is NUL-terminated and `buf` a writable statx,
            // both live for the call.
            cvt(unsafe { libc::statx(dirfd, path.as_ptr(), flags, mask, &mut buf) }.into())?;
            Ok(buf)
        })
        .await;
    }
    Op::new(Statx {
        dir: dir.cloned(),
        path,
        flags,
        mask,
        buf: Box::new(zeroed()),
    })
    .await
}

fn zeroed() -> libc::statx {
    // SAFETY: `statx` is plain old data (integers only): all zeroes is a
    // valid value.
    unsafe { std::mem::zeroed() }
}
