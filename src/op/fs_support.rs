//! What the file-system ops share: how an op names its file ([`FileFd`]:
//! the fd, or a fixed slot of the ring's file table), path arguments, and
//! the blocking-pool fallback for opcodes the kernel lacks.
//!
//! # Fallback protocol
//!
//! Ops newer than ringloop's minimum kernel (5.11) are probed: each op
//! function asks [`ring_supports`] first and, if the ring cannot do it, runs
//! the equivalent syscall on the blocking pool ([`blocking`]). The pool job
//! owns everything it touches: paths are moved in, and an fd is `dup`ed so
//! that dropping the future (which may close the original) cannot make the
//! job act on a reused number. Setting `RINGLOOP_FS_BLOCKING=1` forces every
//! probed op onto the pool (for tests, and to compare the two paths).

use crate::driver::registry_fs::FileSlot;
use crate::driver::Handle;
use crate::io::SharedFd;
use crate::runtime::context;
use std::ffi::CString;
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;
use std::sync::OnceLock;

/// A file as ops name it: its fd, kept open until every op using it has
/// completed, and the fixed slot it is registered in, if any (kept reserved
/// the same way).
#[derive(Clone, Debug)]
pub(crate) struct FileFd {
    pub(crate) fd: SharedFd,
    pub(crate) fixed: Option<Rc<FileSlot>>,
    /// Opened with `O_DIRECT`: its ops go to the device, and are submitted
    /// at once rather than batched at the next park (`OpData::submit_now`).
    pub(crate) direct: bool,
}

impl FileFd {
    pub(crate) fn new(fd: SharedFd) -> FileFd {
        FileFd {
            fd,
            fixed: None,
            direct: false,
        }
    }

    /// A duplicate of the fd for a blocking-pool job.
    pub(crate) fn dup(&self) -> io::Result<OwnedFd> {
        self.fd.as_fd().try_clone_to_owned()
    }
}

/// A file as one op names it in its SQE: the op holds a [`FileFd`] clone
/// until its CQE, and names the fixed slot if the file has one on the ring
/// the op is submitted to (a `File` can outlive its runtime and be used on
/// another), the fd otherwise.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) file: FileFd,
    pub(crate) fixed: Option<u32>,
}

impl Target {
    /// A plain descriptor (streams, pipes): never a fixed slot.
    pub(crate) fn fd(fd: &SharedFd) -> Target {
        Target {
            file: FileFd::new(fd.clone()),
            fixed: None,
        }
    }

    /// As [`Target::new`] for the current runtime's ring, without taking a
    /// handle to its driver: a file with no fixed slot (the common case)
    /// costs no lookup at all, one with a slot a thread-local read and a
    /// pointer comparison. The slot is the one the file was registered in
    /// ([`FileFd::fixed`]) or, failing that on this ring, its hot-file slot
    /// (`fs::hot`). Outside a runtime the fd is named (the op then fails at
    /// its first poll, as every op does there).
    pub(crate) fn current(file: &FileFd) -> Target {
        let fixed = file
            .fixed
            .as_ref()
            .and_then(|slot| {
                context::with_core(|core| slot.is_on(&core.driver))
                    .unwrap_or(false)
                    .then(|| slot.index())
            })
            .or_else(|| file.fd.fixed_index());
        Target {
            file: file.clone(),
            fixed,
        }
    }

    /// As [`Target::current`], for the ring of `driver`.
    pub(crate) fn new(file: &FileFd, driver: &Handle) -> Target {
        let on_ring = |slot: &FileSlot| slot.is_on(driver).then(|| slot.index());
        let fixed = file
            .fixed
            .as_deref()
            .and_then(on_ring)
            .or_else(|| file.fd.fixed().and_then(on_ring));
        Target {
            file: file.clone(),
            fixed,
        }
    }
}

/// Builds an SQE naming a [`Target`] by its fixed slot or by its fd:
/// `with_target!(target, |fd| opcode::Fsync::new(fd).build())`.
macro_rules! with_target {
    ($target:expr, |$fd:ident| $build:expr) => {
        match $target.fixed {
            Some(index) => {
                let $fd = io_uring::types::Fixed(index);
                $build
            }
            None => {
                let $fd = io_uring::types::Fd($target.file.fd.raw());
                $build
            }
        }
    };
}
pub(crate) use with_target;

/// The current runtime's driver and whether its ring supports `opcode`
/// (and the fallback is not forced).
///
/// # Errors
///
/// Outside a ringloop runtime.
pub(crate) fn ring_supports(opcode: u8) -> io::Result<(Handle, bool)> {
    let driver = context::driver()?;
    let supported = !forced_blocking() && driver.borrow().supports(opcode);
    Ok((driver, supported))
}

fn forced_blocking() -> bool {
    static FORCED: OnceLock<bool> = OnceLock::new();
    *FORCED.get_or_init(|| {
        std::env::var_os("RINGLOOP_FS_BLOCKING").is_some_and(|v| !v.is_empty() && v != "0")
    })
}

/// Runs `f` on the blocking pool and waits for it.
///
/// # Errors
///
/// `f`'s error, or `Other` if `f` panicked.
pub(crate) async fn blocking<T, F>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    crate::runtime::spawn_blocking(f).await?
}

/// A path as the kernel reads it.
///
/// # Errors
///
/// `InvalidInput` if the path contains a NUL byte.
pub(crate) fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("path contains a NUL byte: {path:?}"),
        )
    })
}

/// The result of a libc call that returns -1 and sets `errno` on failure.
pub(crate) fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `AT_FDCWD` or the fd of `dir`.
pub(crate) fn dirfd(dir: Option<&SharedFd>) -> RawFd {
    dir.map_or(libc::AT_FDCWD, SharedFd::raw)
}
