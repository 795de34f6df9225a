//! [`AlignedBuf`]: an owned buffer whose address is aligned, for `O_DIRECT`.

use super::storage;
use super::{IoBuf, IoBufMut};
use std::alloc::{self, Layout};
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::OnceLock;

/// The system's page size.
pub(crate) fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(page).unwrap_or(4096).max(1)
    })
}

/// A heap buffer of fixed capacity whose first byte is aligned to a power
/// of two (the page size by default).
///
/// `O_DIRECT` reads and writes need the buffer address, the file offset and
/// the length aligned to the device's logical block size (often 512 or
/// 4096 bytes; `Metadata::dio_mem_align` and `dio_offset_align` give the
/// exact values). Buffered reads gain from it too: the kernel's copy out of
/// the page cache can be much slower into a buffer that does not start on a
/// 64-byte boundary (see the `fs` module docs, "Large buffered reads").
/// Like a `Vec<u8>` of fixed capacity: `len()` bytes are
/// initialised and visible through `Deref`; reads fill it from the start,
/// writes send the first `len()` bytes.
///
/// ```no_run
/// # async fn demo(file: ringloop::fs::File) -> std::io::Result<()> {
/// use ringloop::buf::AlignedBuf;
/// let buf = AlignedBuf::new(64 * 1024)?;
/// let (n, buf) = file.read_at(buf, 0).await;
/// println!("read {} bytes into {:p}", n?, buf.as_ptr());
/// # Ok(()) }
/// ```
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
    capacity: usize,
    align: usize,
}

// SAFETY: the buffer uniquely owns its allocation, like a `Vec<u8>`.
unsafe impl Send for AlignedBuf {}
// SAFETY: `&AlignedBuf` only gives shared reads of initialised bytes.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// An empty buffer of `capacity` bytes aligned to the page size.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `capacity` overflows when rounded to the page size;
    /// `OutOfMemory` if the allocation fails.
    pub fn new(capacity: usize) -> io::Result<AlignedBuf> {
        AlignedBuf::with_alignment(capacity, page_size())
    }

    /// An empty buffer of `capacity` bytes aligned to `align` bytes.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `align` is not a power of two or the size
    /// overflows; `OutOfMemory` if the allocation fails.
    pub fn with_alignment(capacity: usize, align: usize) -> io::Result<AlignedBuf> {
        let layout = Layout::from_size_align(capacity, align).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "no buffer of {capacity} bytes aligned to {align}: the alignment must be \
                     a power of two and the size must not overflow"
                ),
            )
        })?;
        let ptr = if capacity == 0 {
            // A dangling but aligned pointer: nothing is ever read or
            // written through it (capacity 0), nothing is freed.
            NonNull::new(align as *mut u8).unwrap_or(NonNull::dangling())
        } else {
            // SAFETY: the layout has a non-zero size.
            let ptr = unsafe { alloc::alloc(layout) };
            NonNull::new(ptr).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    format!("could not allocate {capacity} bytes aligned to {align}"),
                )
            })?
        };
        Ok(AlignedBuf {
            ptr,
            len: 0,
            capacity,
            align,
        })
    }

    /// Number of initialised bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is initialised.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Size of the allocation.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Alignment of the first byte.
    pub fn alignment(&self) -> usize {
        self.align
    }

    /// Sets the length to 0.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Shortens the buffer to `len` bytes (no effect if already shorter).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Appends `data`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if it does not fit; nothing is copied then.
    pub fn extend_from_slice(&mut self, data: &[u8]) -> io::Result<()> {
        // SAFETY: the allocation holds `capacity` writable bytes owned by
        // `self`; `data` cannot overlap them (we hold `&mut self`).
        unsafe { storage::extend(self.ptr.as_ptr(), &mut self.len, self.capacity, data) }
    }

    /// Sets the length to `new_len`, filling new bytes with `value`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `new_len` is above the capacity.
    pub fn resize(&mut self, new_len: usize, value: u8) -> io::Result<()> {
        // SAFETY: the allocation holds `capacity` writable bytes owned by
        // `self`, and `resize` writes only below `capacity`.
        unsafe {
            storage::resize(
                self.ptr.as_ptr(),
                &mut self.len,
                self.capacity,
                new_len,
                value,
            )
        }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if self.capacity > 0 {
            // SAFETY: allocated in `with_alignment` with this size and
            // alignment (checked valid there).
            unsafe {
                alloc::dealloc(
                    self.ptr.as_ptr(),
                    Layout::from_size_align_unchecked(self.capacity, self.align),
                );
            }
        }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes are initialised; the pointer is
        // valid and aligned even when `len` is 0.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`, with unique access through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .field("alignment", &self.align)
            .finish()
    }
}

// SAFETY: the allocation does not move when the value moves and lives until
// drop; `len <= capacity` bytes are initialised.
unsafe impl IoBuf for AlignedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.capacity
    }
}

// SAFETY: as above; the whole capacity is writable and `set_init` only
// grows `len` to what the kernel wrote.
unsafe impl IoBufMut for AlignedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        self.len = self.len.max(pos);
    }
}
