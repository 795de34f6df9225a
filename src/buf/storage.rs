//! What the fixed-capacity buffers ([`AlignedBuf`](super::AlignedBuf),
//! [`FixedBuf`](super::FixedBuf)) share: the first `len` of `capacity`
//! bytes at a stable pointer are initialised, and they grow in place up to
//! the capacity, never past it.

use std::io;

/// Appends `data` after the `*len` initialised bytes at `ptr`.
///
/// # Errors
///
/// `InvalidInput` if it does not fit in `capacity`; nothing is copied then.
///
/// # Safety
///
/// `ptr` must be valid for writes of `capacity` bytes, owned by the caller
/// (no op in flight on it), and must not overlap `data`.
pub(super) unsafe fn extend(
    ptr: *mut u8,
    len: &mut usize,
    capacity: usize,
    data: &[u8],
) -> io::Result<()> {
    let end = len.checked_add(data.len()).filter(|&e| e <= capacity);
    let Some(end) = end else {
        return Err(no_room(*len, data.len(), capacity));
    };
    // SAFETY: `len..end` is within the `capacity` writable bytes the caller
    // vouches for, and `data` does not overlap them.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr.add(*len), data.len()) };
    *len = end;
    Ok(())
}

/// Sets `*len` to `new_len`, filling new bytes with `value`.
///
/// # Errors
///
/// `InvalidInput` if `new_len` is above `capacity`.
///
/// # Safety
///
/// As for [`extend`].
pub(super) unsafe fn resize(
    ptr: *mut u8,
    len: &mut usize,
    capacity: usize,
    new_len: usize,
    value: u8,
) -> io::Result<()> {
    if new_len > capacity {
        return Err(no_room(0, new_len, capacity));
    }
    if new_len > *len {
        // SAFETY: `len..new_len` is within the caller's `capacity` bytes.
        unsafe { ptr.add(*len).write_bytes(value, new_len - *len) };
    }
    *len = new_len;
    Ok(())
}

fn no_room(len: usize, more: usize, capacity: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{more} more bytes do not fit in a buffer holding {len} of {capacity}"),
    )
}
