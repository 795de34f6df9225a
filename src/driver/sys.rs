//! The raw `io_uring_enter` and ring-fd registration syscalls.
//!
//! ringloop enters the kernel through one function, [`enter`], so that the
//! registered ring fd (`IORING_REGISTER_RING_FDS`, Linux 5.18: the kernel
//! skips the fd table lookup on every enter) can be used — the `io-uring`
//! crate keeps that registration only inside a short-lived `Submitter`.

use std::io;
use std::os::fd::RawFd;

const IORING_ENTER_REGISTERED_RING: u32 = 1 << 4;
const IORING_REGISTER_RING_FDS: u32 = 20;
const IORING_UNREGISTER_RING_FDS: u32 = 21;

/// `struct io_uring_rsrc_update` from `<linux/io_uring.h>`.
#[repr(C)]
struct RsrcUpdate {
    offset: u32,
    resv: u32,
    data: u64,
}

/// How the ring is named to `io_uring_enter`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RingFd {
    /// The ring's file descriptor.
    Raw(RawFd),
    /// An index in this thread's registered-ring table.
    Registered(u32),
}

/// Registers `fd` in this thread's ring table; `None` if the kernel says no
/// (too old, or the table of 16 is full): the raw fd is used then.
pub(crate) fn register_ring_fd(fd: RawFd) -> Option<u32> {
    let mut update = RsrcUpdate {
        offset: u32::MAX,
        resv: 0,
        data: fd as u64,
    };
    // SAFETY: passes one valid `io_uring_rsrc_update` the kernel may write
    // (it stores the chosen index in `offset`).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_io_uring_register,
            fd,
            IORING_REGISTER_RING_FDS,
            &mut update as *mut RsrcUpdate,
            1,
        )
    };
    (ret == 1).then_some(update.offset)
}

/// Undoes [`register_ring_fd`] (must run on the registering thread).
pub(crate) fn unregister_ring_fd(fd: RawFd, index: u32) {
    let update = RsrcUpdate {
        offset: index,
        resv: 0,
        data: 0,
    };
    // SAFETY: passes one valid `io_uring_rsrc_update` the kernel only reads.
    unsafe {
        libc::syscall(
            libc::SYS_io_uring_register,
            fd,
            IORING_UNREGISTER_RING_FDS,
            &update as *const RsrcUpdate,
            1,
        )
    };
}

/// `io_uring_enter(2)`.
///
/// # Safety
///
/// Every SQE published in the ring up to its tail must be valid (point only
/// to memory that lives until its CQE), and `arg`, if any, must be a live
/// `io_uring_getevents_arg` whose pointers are live for the call (the caller
/// sets `IORING_ENTER_EXT_ARG` in `flags` then).
pub(crate) unsafe fn enter(
    ring: RingFd,
    to_submit: u32,
    min_complete: u32,
    flags: u32,
    arg: Option<&io_uring::types::SubmitArgs<'_, '_>>,
) -> io::Result<usize> {
    #[cfg(feature = "fault-injection")]
    if let Some(err) = super::fault::on_enter() {
        return Err(err);
    }
    let (fd, flags) = match ring {
        RingFd::Raw(fd) => (fd, flags),
        RingFd::Registered(index) => (index as RawFd, flags | IORING_ENTER_REGISTERED_RING),
    };
    let (arg_ptr, arg_size) = match arg {
        Some(a) => (
            a as *const _ as *const libc::c_void,
            std::mem::size_of_val(a),
        ),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: forwarded from the caller's contract.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_io_uring_enter,
            fd,
            to_submit,
            min_complete,
            flags,
            arg_ptr,
            arg_size,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}
