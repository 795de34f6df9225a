//! Resources registered with the ring: provided-buffer rings.
//!
//! # Protocol
//!
//! * **Register** through the driver ([`Uring::register_buf_ring`]), from
//!   user code, when the driver is not borrowed.
//! * **Unregister** through the ring's fd ([`unregister_buf_ring`]), because
//!   the last owner of a buffer ring may be an orphaned op finalised while
//!   the driver is borrowed (inside reaping). The caller proves the ring is
//!   still open by holding a strong reference to the driver while it calls.
//!   If the driver is already gone, nothing needs unregistering: closing the
//!   ring released every registration.

use super::uring::Uring;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// `IORING_UNREGISTER_PBUF_RING` (not exported by the io-uring crate).
const IORING_UNREGISTER_PBUF_RING: libc::c_uint = 23;

/// `struct io_uring_buf_reg` of `<linux/io_uring.h>`.
#[repr(C)]
struct BufReg {
    ring_addr: u64,
    ring_entries: u32,
    bgid: u16,
    flags: u16,
    resv: [u64; 3],
}

impl Uring {
    /// Registers `entries` provided-buffer ring entries at `ring_addr` as
    /// buffer group `bgid` (`IORING_REGISTER_PBUF_RING`, Linux 5.19).
    ///
    /// # Errors
    ///
    /// `EEXIST` if `bgid` is taken, `EINVAL` on an older kernel or a bad
    /// size (entries must be a power of two, at most 32768).
    ///
    /// # Safety
    ///
    /// `ring_addr` must be page aligned and point to `entries` writable
    /// `struct io_uring_buf` that stay valid until the group is unregistered
    /// or the ring is closed.
    pub(crate) unsafe fn register_buf_ring(
        &self,
        ring_addr: u64,
        entries: u16,
        bgid: u16,
    ) -> io::Result<()> {
        // SAFETY: the caller guarantees the ring memory (see above).
        unsafe {
            self.ring
                .submitter()
                .register_buf_ring_with_flags(ring_addr, entries, bgid, 0)
        }
    }

    /// The io_uring fd, for [`unregister_buf_ring`].
    pub(crate) fn ring_fd(&self) -> RawFd {
        self.ring.as_raw_fd()
    }
}

/// Unregisters buffer group `bgid` from the ring `ring_fd`.
///
/// The caller must hold a strong reference to the driver that owns
/// `ring_fd` (so the number still names that ring), and no op using the
/// group may be in flight.
pub(crate) fn unregister_buf_ring(ring_fd: RawFd, bgid: u16) -> io::Result<()> {
    let reg = BufReg {
        ring_addr: 0,
        ring_entries: 0,
        bgid,
        flags: 0,
        resv: [0; 3],
    };
    // SAFETY: `reg` is a valid `io_uring_buf_reg` that outlives the call;
    // the kernel only reads it. A wrong fd yields an error, not UB.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_io_uring_register,
            ring_fd,
            IORING_UNREGISTER_PBUF_RING,
            &reg as *const BufReg,
            1,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
