//! `IORING_OP_OPENAT` / `IORING_OP_OPENAT2`: open a path, relative to the
//! working directory or to an open directory.
//!
//! The output owns the new fd from the moment the CQE is turned into it: if
//! the future was dropped and the cancel lost the race, the orphaned op is
//! finalised at its CQE and the `OwnedFd` it yields is dropped, which closes
//! the descriptor (no fd leaks).

use super::fs_support::{blocking, cvt, dirfd, ring_supports};
use crate::driver::{Cqe, Op, OpData};
use crate::io::SharedFd;
use io_uring::{opcode, squeue, types};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub(crate) struct Open {
    /// Keeps the directory open until the CQE.
    dir: Option<SharedFd>,
    /// Read by the kernel until the CQE.
    path: CString,
    flags: i32,
    mode: u32,
    /// `openat2`'s argument, read by the kernel until the CQE; only when
    /// `RESOLVE_*` flags are asked for.
    how: Option<Box<types::OpenHow>>,
}

// SAFETY: the SQE points at `path`'s and `how`'s heap allocations, which the
// op owns and which do not move with it.
unsafe impl OpData for Open {
    type Output = io::Result<OwnedFd>;
    const NAME: &'static str = "openat";

    fn sqe(&mut self) -> squeue::Entry {
        let dir = types::Fd(dirfd(self.dir.as_ref()));
        match &self.how {
            None => opcode::OpenAt::new(dir, self.path.as_ptr())
                .flags(self.flags)
                .mode(self.mode)
                .build(),
            Some(how) => opcode::OpenAt2::new(dir, self.path.as_ptr(), &**how).build(),
        }
    }

    fn complete(self, cqe: Cqe) -> io::Result<OwnedFd> {
        let fd = cqe.result?;
        // SAFETY: a successful openat CQE carries a new descriptor that
        // nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }
}

/// What to open: `openat2(2)`'s arguments.
pub(crate) struct OpenArgs {
    pub(crate) flags: i32,
    pub(crate) mode: u32,
    /// `RESOLVE_*` flags; non-zero selects `openat2`.
    pub(crate) resolve: u64,
}

/// Opens `path` (relative to `dir`, or to the working directory).
pub(crate) async fn open(
    dir: Option<&SharedFd>,
    path: CString,
    args: OpenArgs,
) -> io::Result<OwnedFd> {
    let flags = args.flags | libc::O_CLOEXEC;
    let code = if args.resolve == 0 {
        opcode::OpenAt::CODE
    } else {
        opcode::OpenAt2::CODE
    };
    let (_, supported) = ring_supports(code)?;
    if !supported {
        let dir = dir.map(|d| d.as_fd().try_clone_to_owned()).transpose()?;
        return blocking(move || {
            let dirfd = dir.as_ref().map_or(libc::AT_FDCWD, AsRawFd::as_raw_fd);
            let fd = cvt(open_blocking(dirfd, &path, flags, args.mode, args.resolve))?;
            // SAFETY: the syscall returned a new descriptor nobody owns.
            Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
        })
        .await;
    }
    let how = (args.resolve != 0).then(|| {
        Box::new(
            types::OpenHow::new()
                .flags(flags as u64)
                .mode(openat2_mode(flags, args.mode))
                .resolve(args.resolve),
        )
    });
    Op::new(Open {
        dir: dir.cloned(),
        path,
        flags,
        mode: args.mode,
        how,
    })
    .await
}

/// `openat`, or `openat2` when `resolve` is set, as a blocking syscall.
fn open_blocking(dirfd: i32, path: &CString, flags: i32, mode: u32, resolve: u64) -> libc::c_long {
    if resolve == 0 {
        // SAFETY: `path` is a live NUL-terminated string.
        return libc::c_long::from(unsafe { libc::openat(dirfd, path.as_ptr(), flags, mode) });
    }
    /// `struct open_how` of `<linux/openat2.h>`.
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow {
        flags: flags as u64,
        mode: openat2_mode(flags, mode),
        resolve,
    };
    // SAFETY: `path` is a live NUL-terminated string and `how` a live
    // `open_how` whose size is passed along; the kernel only reads them.
    unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    }
}

/// `openat2` refuses a mode (`EINVAL`) unless the call may create a file;
/// `openat` ignores it then.
fn openat2_mode(flags: i32, mode: u32) -> u64 {
    // O_TMPFILE includes the O_DIRECTORY bit: test for all of it.
    if flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
        u64::from(mode)
    } else {
        0
    }
}
