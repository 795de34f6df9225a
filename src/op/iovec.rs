//! What the vectored ops share: iovecs aimed at owned buffers, and marking
//! the bytes a vectored read filled.

use crate::buf::{IoBuf, IoBufMut};

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
pub(crate) unsafe fn mark_filled<B: IoBufMut>(bufs: &mut [B], n: usize) {
    let mut left = n;
    for buf in bufs {
        let filled = left.min(buf.bytes_total());
        // SAFETY: the caller guarantees `n` bytes were written in order, so
        // the first `filled` bytes of this buffer are.
        unsafe { buf.set_init(filled) };
        left -= filled;
    }
}
