//! Clear errors for `O_DIRECT` I/O whose buffer, offset or length is not
//! aligned as the device needs.
//!
//! The kernel answers a misaligned `O_DIRECT` read or write with a bare
//! `EINVAL`. On a file opened with `O_DIRECT`, ringloop turns that `EINVAL`
//! into an `InvalidInput` error that names the address, offset and length it
//! was given and the alignment the file needs (from `statx`'s
//! `STATX_DIOALIGN`, Linux 6.1, when the file system reports it). Nothing
//! is checked before submitting, so aligned I/O pays nothing for this.

use std::fmt;
use std::io;
use std::os::fd::RawFd;

/// A misaligned `O_DIRECT` request, as the error's inner value.
#[derive(Debug)]
pub(crate) struct Misaligned {
    op: &'static str,
    addr: usize,
    len: usize,
    offset: u64,
    /// `(memory, offset)` alignment from `STATX_DIOALIGN`, if known.
    needed: Option<(u32, u32)>,
}

impl fmt::Display for Misaligned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "O_DIRECT {} failed with EINVAL: buffer address {:#x}, file offset {} and length {} \
             must be aligned to the device's block size",
            self.op, self.addr, self.offset, self.len
        )?;
        match self.needed {
            Some((mem, off)) => write!(
                f,
                " (this file needs the address aligned to {mem} and offset and length to {off})"
            )?,
            None => f.write_str(" (usually 512 or 4096 bytes)")?,
        }
        f.write_str("; use ringloop::buf::AlignedBuf or a FixedBufPool for the buffer")
    }
}

impl std::error::Error for Misaligned {}

/// Explains `err` if it is the `EINVAL` of a misaligned `O_DIRECT` request
/// on `fd`; returns it unchanged otherwise.
pub(crate) fn explain(
    err: io::Error,
    fd: RawFd,
    op: &'static str,
    addr: *const u8,
    len: usize,
    offset: u64,
) -> io::Error {
    if err.raw_os_error() != Some(libc::EINVAL) {
        return err;
    }
    let needed = dio_align(fd);
    let aligned = |(mem, off): (u32, u32)| {
        let (mem, off) = (mem.max(1) as usize, u64::from(off.max(1)));
        addr as usize % mem == 0 && offset % off == 0 && len as u64 % off == 0
    };
    if needed.is_some_and(aligned) {
        // Aligned after all: the EINVAL has another cause.
        return err;
    }
    io::Error::new(
        io::ErrorKind::InvalidInput,
        Misaligned {
            op,
            addr: addr as usize,
            len,
            offset,
            needed,
        },
    )
}

/// The `O_DIRECT` alignment of `fd` (`STATX_DIOALIGN`), if the file system
/// reports it. A plain syscall: this runs on an error path only.
fn dio_align(fd: RawFd) -> Option<(u32, u32)> {
    // SAFETY: statx is plain old data; all zeroes is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: the path is a static empty C string, `stx` is writable; both
    // outlive the call.
    let ret = unsafe {
        libc::statx(
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_DIOALIGN,
            &mut stx,
        )
    };
    let known = ret == 0 && stx.stx_mask & libc::STATX_DIOALIGN != 0 && stx.stx_dio_mem_align > 0;
    known.then_some((stx.stx_dio_mem_align, stx.stx_dio_offset_align))
}
