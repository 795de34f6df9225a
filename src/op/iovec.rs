//! What the reading and vectored ops share: iovecs aimed at owned buffers,
//! a read's output (its buffers marked filled up to the count), and the
//! positional vectored syscall of the readiness form.

use crate::buf::{IoBuf, IoBufMut};
use crate::driver::op::syscall_res;
use std::io;
use std::os::fd::RawFd;

/// The output of a read into `buf`: the count, with that many bytes of
/// `buf` marked initialised.
///
/// # Safety
///
/// `result` must be the result of a read the kernel made into `buf`'s
/// writable memory from its start (`stable_mut_ptr`, at most `bytes_total`
/// bytes): a count `n` means it wrote the first `n` bytes.
pub(crate) unsafe fn filled<B: IoBufMut>(
    mut buf: B,
    result: io::Result<u32>,
) -> (io::Result<usize>, B) {
    let result = result.map(|n| {
        // SAFETY: the caller guarantees the kernel wrote these `n` bytes.
        unsafe { buf.set_init(n as usize) };
        n as usize
    });
    (result, buf)
}

/// [`filled`] for a vectored read: the count spread over `bufs` in order.
///
/// # Safety
///
/// `result` must be the result of a read the kernel made through iovecs
/// built by [`for_reading`] from these buffers.
pub(crate) unsafe fn filled_vectored<B: IoBufMut>(
    mut bufs: Vec<B>,
    result: io::Result<u32>,
) -> (io::Result<usize>, Vec<B>) {
    let result = result.map(|n| {
        // SAFETY: the caller guarantees the kernel wrote `n` bytes through
        // iovecs built by `for_reading` from these buffers, in order: what
        // `mark_filled` needs.
        unsafe { mark_filled(&mut bufs, n as usize) };
        n as usize
    });
    (result, bufs)
}

/// `preadv` or `pwritev` (`call`) of `iovecs` on `fd` at `pos`, for the
/// readiness form of the positional vectored ops; the CQE convention's
/// result.
///
/// # Safety
///
/// `iovecs` must point at memory valid for what `call` does to it.
pub(crate) unsafe fn positional(
    call: unsafe extern "C" fn(libc::c_int, *const libc::iovec, libc::c_int, libc::off_t) -> isize,
    fd: RawFd,
    iovecs: &[libc::iovec],
    pos: u64,
) -> i32 {
    let n = iovecs.len().min(libc::c_int::MAX as usize) as libc::c_int;
    // SAFETY: the caller vouches for the iovecs.
    syscall_res(unsafe { call(fd, iovecs.as_ptr(), n, pos as libc::off_t) })
}

/// iovecs over each buffer's writable capacity (for reads).
pub(crate) fn for_reading<B: IoBufMut>(bufs: &mut [B]) -> Vec<libc::iovec> {
    bufs.iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.stable_mut_ptr().cast(),
            iov_len: b.bytes_total(),
        })
        .collect()
}

/// iovecs over each buffer's initialised bytes (for writes).
pub(crate) fn for_writing<B: IoBuf>(bufs: &[B]) -> Vec<libc::iovec> {
    bufs.iter()
        .map(|b| libc::iovec {
            iov_base: b.stable_ptr().cast_mut().cast(),
            iov_len: b.bytes_init(),
        })
        .collect()
}

/// Marks the first `n` bytes, spread over `bufs` in order, as initialised.
///
/// # Safety
///
/// The kernel must have written `n` bytes through iovecs made by
/// [`for_reading`] from these buffers (it fills them in order).
unsafe fn mark_filled<B: IoBufMut>(bufs: &mut [B], n: usize) {
    let mut left = n;
    for buf in bufs {
        let filled = left.min(buf.bytes_total());
        // SAFETY: the caller guarantees `n` bytes were written in order, so
        // the first `filled` bytes of this buffer are.
        unsafe { buf.set_init(filled) };
        left -= filled;
    }
}
