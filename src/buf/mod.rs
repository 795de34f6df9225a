//! Buffers the kernel may own.
//!
//! io_uring reads into and writes out of memory *while the task is parked*,
//! so the memory must outlive the operation even if the future that started
//! it is dropped. ringloop therefore takes buffers **by value**: an operation
//! moves the buffer in, keeps it in the op table until the kernel's terminal
//! completion, and hands it back with the result:
//!
//! ```no_run
//! # async fn demo(reader: ringloop::io::PipeReader) -> std::io::Result<()> {
//! let buf = vec![0u8; 4096];
//! let (res, buf) = reader.read(buf).await;
//! let n = res?;
//! println!("{:?}", &buf[..n]);
//! # Ok(()) }
//! ```
//!
//! The traits are `unsafe` because the runtime trusts them with raw pointers:
//! an implementation promises that [`IoBuf::stable_ptr`] points at
//! [`IoBuf::bytes_init`] readable bytes (and, for [`IoBufMut`],
//! [`IoBuf::bytes_total`] writable ones) that stay at that address while
//! the value is moved around, until it is dropped. Heap-backed containers
//! (`Vec<u8>`, `Box<[u8]>`, `String`, `bytes::Bytes`-like types) satisfy this;
//! arrays on the stack do not. Because every safe API takes the buffer by
//! value and with a `'static` bound, `mem::forget` on a future can only leak
//! the buffer, never let the kernel write into memory that was freed.

mod aligned;
mod fixed;
mod ring;
mod slice;
mod storage;

pub use aligned::AlignedBuf;
pub use fixed::{FixedBuf, FixedBufPool, FixedIoBuf, MAX_FIXED_BUFS, MAX_FIXED_BUF_SIZE};
pub(crate) use ring::BufWaiter;
pub use ring::{BufRing, RingBuf};
pub use slice::Slice;

/// A buffer the kernel may read from for the duration of an operation.
///
/// # Safety
///
/// `stable_ptr()` must point to `bytes_init()` initialised bytes that stay
/// valid and at the same address when `self` is moved, until `self` is
/// dropped; `bytes_init() <= bytes_total()`.
pub unsafe trait IoBuf: Unpin + 'static {
    /// Pointer to the first byte; stable across moves of `self`.
    fn stable_ptr(&self) -> *const u8;
    /// Number of initialised bytes, the bytes a write sends.
    fn bytes_init(&self) -> usize;
    /// Capacity: the bytes a read may fill.
    fn bytes_total(&self) -> usize;

    /// A view of `range` of this buffer that is itself a buffer: reads fill
    /// only that part, writes send only that part.
    ///
    /// # Panics
    ///
    /// If the range is out of bounds of `bytes_total()`.
    fn slice(self, range: impl std::ops::RangeBounds<usize>) -> Slice<Self>
    where
        Self: Sized,
    {
        Slice::new(self, range)
    }
}

/// A buffer the kernel may write into for the duration of an operation.
///
/// # Safety
///
/// As for [`IoBuf`], and `stable_mut_ptr()` must point to `bytes_total()`
/// writable bytes; `set_init(n)` is only called after the kernel reported that
/// the first `n` bytes were written.
pub unsafe trait IoBufMut: IoBuf {
    /// Mutable pointer to the first byte; stable across moves of `self`.
    fn stable_mut_ptr(&mut self) -> *mut u8;
    /// Records that the first `pos` bytes are initialised (never shrinks).
    ///
    /// # Safety
    ///
    /// The first `pos` bytes must really be initialised.
    unsafe fn set_init(&mut self, pos: usize);
}

// SAFETY: a Vec's heap allocation does not move when the Vec value moves; the
// pointer is valid for `capacity` bytes of which `len` are initialised.
unsafe impl IoBuf for Vec<u8> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: as above; writes go to the spare capacity and `set_init` only grows
// `len` to what the kernel reported written.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        if self.len() < pos {
            // SAFETY: the caller guarantees `pos` bytes are initialised and
            // `pos <= capacity` because the kernel was given `capacity` bytes.
            unsafe { self.set_len(pos) };
        }
    }
}

// SAFETY: a boxed slice is a fixed heap allocation, fully initialised.
unsafe impl IoBuf for Box<[u8]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: the whole boxed slice is writable and always initialised.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, _pos: usize) {}
}

// SAFETY: a String's heap buffer is stable across moves; writes are not
// offered (no `IoBufMut`), so UTF-8 validity cannot be broken.
unsafe impl IoBuf for String {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: `'static` data is never freed, so the pointer is valid forever.
unsafe impl IoBuf for &'static [u8] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: as for `&'static [u8]`.
unsafe impl IoBuf for &'static str {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}
