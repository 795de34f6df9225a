//! Registered ("fixed") buffers: [`FixedBufPool`] and [`FixedBuf`].
//!
//! A pool is one page-aligned allocation cut into `count` buffers of `size`
//! bytes, registered with the current runtime's ring
//! (`IORING_REGISTER_BUFFERS`). The kernel pins the pages once, at
//! registration, instead of mapping them on every op: reads and writes
//! through [`File::read_fixed_at`](crate::fs::File::read_fixed_at) and
//! [`File::write_fixed_at`](crate::fs::File::write_fixed_at) skip that work.
//!
//! # Protocol
//!
//! * A [`FixedBuf`] is checked out of its pool ([`FixedBufPool::try_next`],
//!   [`FixedBufPool::next`]) and goes back when dropped. An op in flight
//!   owns it (in the op table, if its future was dropped) until its
//!   terminal CQE, like any buffer.
//! * The registration lives as long as anything refers to the pool: the
//!   pool handle, or any of its buffers. When the last goes, the table is
//!   unregistered, then the memory is freed — never the other way round.
//! * One pool per runtime: io_uring keeps one buffer table per ring, so a
//!   second pool fails with `ResourceBusy` until the first is gone.
//! * Pinned memory counts against `RLIMIT_MEMLOCK` for processes without
//!   `CAP_IPC_LOCK`; when the kernel refuses, [`FixedBufPool::new`] says so
//!   with an `OutOfMemory` error naming the limit.

use super::storage;
use super::{IoBuf, IoBufMut, Slice};
use crate::driver::registry_fs::BufferTable;
use crate::driver::Handle;
use std::alloc::{self, Layout};
use std::cell::RefCell;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::rc::Rc;
use std::task::{Poll, Waker};

/// Most buffers one table holds (`IORING_MAX_REG_BUFFERS`).
pub const MAX_FIXED_BUFS: usize = 1 << 14;
/// Largest registrable buffer (the kernel's limit per buffer).
pub const MAX_FIXED_BUF_SIZE: usize = 1 << 30;

/// A pool of buffers registered with the current runtime's ring.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use ringloop::buf::FixedBufPool;
/// let pool = FixedBufPool::new(32, 64 * 1024)?;
/// let file = ringloop::fs::File::open("data.bin").await?;
/// let buf = pool.next().await;
/// let (n, buf) = file.read_fixed_at(buf, 0).await;
/// println!("{:?}", &buf[..n?]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct FixedBufPool {
    inner: Rc<PoolInner>,
}

/// Shared by the pool handle and every buffer checked out of it.
struct PoolInner {
    /// Dropped first (fields drop in declaration order): unregisters the
    /// memory before `memory` frees it.
    table: BufferTable,
    memory: Memory,
    buf_size: usize,
    count: usize,
    state: RefCell<State>,
}

struct State {
    /// Indices of buffers not checked out.
    free: Vec<u16>,
    /// Tasks waiting in [`FixedBufPool::next`]; all are woken when a buffer
    /// comes back (a dropped waiter must not swallow the wake).
    waiters: Vec<Waker>,
}

/// One page-aligned, zeroed heap allocation.
struct Memory {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl Memory {
    fn zeroed(layout: Layout) -> io::Result<Memory> {
        // SAFETY: the layout's size is non-zero (checked by the caller).
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(ptr).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "could not allocate {} bytes for a fixed buffer pool",
                    layout.size()
                ),
            )
        })?;
        Ok(Memory { ptr, layout })
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with this layout.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

impl FixedBufPool {
    /// Allocates `count` buffers of `size` bytes (page-aligned, so usable
    /// with `O_DIRECT` when `size` is a multiple of the block size) and
    /// registers them with the current runtime's ring.
    ///
    /// # Errors
    ///
    /// * `InvalidInput`: `count` is 0 or above [`MAX_FIXED_BUFS`], `size` is
    ///   0 or above [`MAX_FIXED_BUF_SIZE`].
    /// * `OutOfMemory`: the kernel would not pin the memory (the message
    ///   gives `RLIMIT_MEMLOCK`), or the allocation failed.
    /// * `ResourceBusy`: this runtime already has a pool.
    /// * `Other`: outside a ringloop runtime.
    pub fn new(count: usize, size: usize) -> io::Result<FixedBufPool> {
        if count == 0 || count > MAX_FIXED_BUFS || size == 0 || size > MAX_FIXED_BUF_SIZE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a fixed buffer pool holds 1 to {MAX_FIXED_BUFS} buffers of 1 byte to \
                     {MAX_FIXED_BUF_SIZE} bytes; asked for {count} of {size}"
                ),
            ));
        }
        let driver = crate::runtime::context::driver()?;
        let page = super::aligned::page_size();
        let layout = count
            .checked_mul(size)
            .and_then(|total| Layout::from_size_align(total, page).ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{count} buffers of {size} bytes overflow the address space"),
                )
            })?;
        let memory = Memory::zeroed(layout)?;
        let iovecs: Vec<libc::iovec> = (0..count)
            .map(|i| libc::iovec {
                // SAFETY: `i * size` is within the allocation of
                // `count * size` bytes.
                iov_base: unsafe { memory.ptr.as_ptr().add(i * size) }.cast(),
                iov_len: size,
            })
            .collect();
        // SAFETY: the iovecs cover `memory`, which `PoolInner` frees only
        // after dropping the table (field order), and which is used only by
        // ops naming a checked-out buffer.
        let table = unsafe { BufferTable::register(&driver, &iovecs) }
            .map_err(|e| registration_error(e, count, size))?;
        Ok(FixedBufPool {
            inner: Rc::new(PoolInner {
                table,
                memory,
                buf_size: size,
                count,
                state: RefCell::new(State {
                    free: (0..count as u16).rev().collect(),
                    waiters: Vec::new(),
                }),
            }),
        })
    }

    /// A free buffer (empty: `len() == 0`), if there is one.
    pub fn try_next(&self) -> Option<FixedBuf> {
        let index = self.inner.state.borrow_mut().free.pop()?;
        Some(FixedBuf {
            pool: Rc::clone(&self.inner),
            index,
            len: 0,
        })
    }

    /// Waits for a free buffer.
    pub async fn next(&self) -> FixedBuf {
        poll_fn(|cx| match self.try_next() {
            Some(buf) => Poll::Ready(buf),
            None => {
                let mut state = self.inner.state.borrow_mut();
                if !state.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    state.waiters.push(cx.waker().clone());
                }
                Poll::Pending
            }
        })
        .await
    }

    /// Size of each buffer.
    pub fn buf_size(&self) -> usize {
        self.inner.buf_size
    }

    /// Number of buffers.
    pub fn count(&self) -> usize {
        self.inner.count
    }

    /// Number of buffers not checked out.
    pub fn available(&self) -> usize {
        self.inner.state.borrow().free.len()
    }
}

fn registration_error(e: io::Error, count: usize, size: usize) -> io::Error {
    let what = format!("registering {count} fixed buffers of {size} bytes with io_uring");
    match e.raw_os_error() {
        Some(libc::ENOMEM) => {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: `limit` is a writable rlimit.
            let known = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } == 0;
            let limit = if !known {
                "unknown".to_string()
            } else if limit.rlim_cur == libc::RLIM_INFINITY {
                "unlimited".to_string()
            } else {
                format!("{} bytes", limit.rlim_cur)
            };
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "{what} failed with ENOMEM: the kernel would not pin {} bytes; the \
                     locked-memory limit RLIMIT_MEMLOCK is {limit} (raise it with `ulimit -l`, \
                     or grant CAP_IPC_LOCK, or use a smaller pool)",
                    count * size
                ),
            )
        }
        Some(libc::EBUSY) => io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!(
                "{what} failed with EBUSY: this runtime already has a fixed buffer pool \
                 (io_uring keeps one buffer table per ring); drop it and its buffers first"
            ),
        ),
        _ => io::Error::new(e.kind(), format!("{what} failed: {e}")),
    }
}

impl fmt::Debug for FixedBufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBufPool")
            .field("count", &self.count())
            .field("buf_size", &self.buf_size())
            .field("available", &self.available())
            .finish()
    }
}

/// One buffer of a [`FixedBufPool`]; goes back to the pool when dropped.
///
/// Like a `Vec<u8>` of fixed capacity: `len()` bytes are initialised and
/// visible through `Deref`; reads fill it from the start (`len` becomes the
/// bytes read), writes send its first `len()` bytes.
pub struct FixedBuf {
    pool: Rc<PoolInner>,
    index: u16,
    len: usize,
}

impl FixedBuf {
    /// Index of the buffer in the ring's table.
    pub fn buf_index(&self) -> u16 {
        self.index
    }

    /// Number of initialised bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is initialised.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Size of the buffer.
    pub fn capacity(&self) -> usize {
        self.pool.buf_size
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
        let capacity = self.capacity();
        // SAFETY: this buffer's `capacity()` bytes of the pool's allocation
        // are writable, and no op owns the buffer (we hold it).
        unsafe { storage::extend(self.ptr(), &mut self.len, capacity, data) }
    }

    /// Sets the length to `new_len`, filling new bytes with `value`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `new_len` is above the capacity.
    pub fn resize(&mut self, new_len: usize, value: u8) -> io::Result<()> {
        let capacity = self.capacity();
        // SAFETY: this buffer's `capacity()` bytes of the pool's allocation
        // are writable, no op owns the buffer (we hold it), and `resize`
        // writes only below `capacity`.
        unsafe { storage::resize(self.ptr(), &mut self.len, capacity, new_len, value) }
    }

    fn ptr(&self) -> *mut u8 {
        // SAFETY: `index < count`, so the offset is within the allocation.
        unsafe {
            self.pool
                .memory
                .ptr
                .as_ptr()
                .add(usize::from(self.index) * self.pool.buf_size)
        }
    }

    /// Whether the buffer's pool is registered with the ring of `driver`.
    pub(crate) fn is_on(&self, driver: &Handle) -> bool {
        self.pool.table.is_on(driver)
    }
}

impl Drop for FixedBuf {
    fn drop(&mut self) {
        let waiters = {
            let mut state = self.pool.state.borrow_mut();
            state.free.push(self.index);
            std::mem::take(&mut state.waiters)
        };
        for waker in waiters {
            waker.wake();
        }
    }
}

impl Deref for FixedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes of the buffer are initialised (the
        // pool is zeroed) and not written by the kernel while we hold it.
        unsafe { std::slice::from_raw_parts(self.ptr(), self.len) }
    }
}

impl DerefMut for FixedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr(), self.len) }
    }
}

impl fmt::Debug for FixedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBuf")
            .field("index", &self.index)
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .finish()
    }
}

// SAFETY: the pointer is into the pool's allocation, which does not move
// and is kept alive by `self.pool`; `len <= capacity` bytes are initialised.
unsafe impl IoBuf for FixedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: as above; the whole capacity is writable, and `set_init` only
// grows `len` to what the kernel wrote.
unsafe impl IoBufMut for FixedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        self.len = self.len.max(pos);
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::FixedBuf {}
    impl Sealed for super::Slice<super::FixedBuf> {}
}

/// A buffer of a [`FixedBufPool`]: a [`FixedBuf`] or a [`Slice`] of one.
/// The fixed read and write ops take these.
pub trait FixedIoBuf: IoBuf + sealed::Sealed {
    /// The registered buffer this one is (part of).
    fn fixed_buf(&self) -> &FixedBuf;
}

impl FixedIoBuf for FixedBuf {
    fn fixed_buf(&self) -> &FixedBuf {
        self
    }
}

impl FixedIoBuf for Slice<FixedBuf> {
    fn fixed_buf(&self) -> &FixedBuf {
        self.get_ref()
    }
}
