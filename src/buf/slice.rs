//! [`Slice`]: a sub-range of an owned buffer that is itself a buffer.

use super::{IoBuf, IoBufMut};
use std::ops::{Bound, RangeBounds};

/// A range `begin..end` of an owned buffer `T`.
///
/// Reads fill `begin..end` of the inner buffer; writes send
/// `begin..min(end, inner.bytes_init())`. [`Slice::into_inner`] gives the
/// whole buffer back.
#[derive(Debug)]
pub struct Slice<T> {
    buf: T,
    begin: usize,
    end: usize,
}

impl<T: IoBuf> Slice<T> {
    pub(crate) fn new(buf: T, range: impl RangeBounds<usize>) -> Self {
        let begin = match range.start_bound() {
            Bound::Included(&n) => n,
            Bound::Excluded(&n) => n + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&n) => n + 1,
            Bound::Excluded(&n) => n,
            Bound::Unbounded => buf.bytes_total(),
        };
        assert!(
            begin <= end && end <= buf.bytes_total(),
            "slice {begin}..{end} out of bounds of a buffer of {} bytes",
            buf.bytes_total()
        );
        Slice { buf, begin, end }
    }

    /// Offset of the slice in the inner buffer.
    pub fn begin(&self) -> usize {
        self.begin
    }

    /// End of the slice in the inner buffer.
    pub fn end(&self) -> usize {
        self.end
    }

    /// The inner buffer.
    pub fn get_ref(&self) -> &T {
        &self.buf
    }

    /// Gives the whole inner buffer back.
    pub fn into_inner(self) -> T {
        self.buf
    }
}

// SAFETY: the pointer is the inner buffer's stable pointer offset by `begin`,
// which is within `bytes_total()` (checked in `new`).
unsafe impl<T: IoBuf> IoBuf for Slice<T> {
    fn stable_ptr(&self) -> *const u8 {
        self.buf.stable_ptr().wrapping_add(self.begin)
    }
    fn bytes_init(&self) -> usize {
        self.buf.bytes_init().clamp(self.begin, self.end) - self.begin
    }
    fn bytes_total(&self) -> usize {
        self.end - self.begin
    }
}

// SAFETY: as above, for the mutable pointer; `set_init` translates the
// slice-relative position to the inner buffer.
unsafe impl<T: IoBufMut> IoBufMut for Slice<T> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.buf.stable_mut_ptr().wrapping_add(self.begin)
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // Only grow the inner buffer's initialised length if everything
        // before `begin` was already initialised.
        if self.buf.bytes_init() >= self.begin {
            // SAFETY: the caller guarantees `pos` bytes from `begin` were
            // written, and the bytes before `begin` are initialised.
            unsafe { self.buf.set_init(self.begin + pos) };
        }
    }
}
