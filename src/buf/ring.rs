//! [`BufRing`]: a ring of provided buffers the kernel picks from.
//!
//! With a buffer ring, a receive does not name its buffer when it is
//! submitted: the kernel takes one from the ring when data arrives, and the
//! CQE says which (`IORING_CQE_F_BUFFER`, buffer id in the upper 16 bits of
//! the flags). That is what lets one multishot recv serve a connection for
//! its whole life, and lets ten thousand idle connections share a few
//! buffers instead of pinning one each.
//!
//! # Protocol
//!
//! * **Memory.** One anonymous mapping holds the ring (`entries` ×
//!   `struct io_uring_buf`, page aligned) followed by `entries` buffers of
//!   `buf_len` bytes. It is registered as buffer group `bgid` with
//!   `IORING_REGISTER_PBUF_RING` and unmapped only after the group is
//!   unregistered (or the io_uring is gone) — and only when no op that may
//!   select from it is in flight, because every such op holds a clone of the
//!   ring in its data.
//! * **Ownership of a buffer.** A buffer is the kernel's while it is in the
//!   ring; a CQE with `F_BUFFER` hands it to the program as a [`RingBuf`];
//!   dropping the `RingBuf` writes the entry back at the ring's tail and
//!   publishes the new tail (release store), which returns it to the kernel.
//!   A CQE nobody claims (its op was dropped) is finalised the same way, so
//!   the pool never shrinks.
//! * **Exhaustion.** When the ring is empty, a receive fails with `ENOBUFS`
//!   and no data is lost (it stays in the socket). A receiver that met it
//!   waits ([`BufWaiter`]) until a buffer has come back since it armed, then
//!   re-arms: an empty ring makes receivers sleep, never spin.
//! * **Waking.** Each returned buffer wakes **one** waiting receiver, first
//!   come first served, so a thousand receivers sharing a dry ring do not
//!   all re-arm for every buffer. A waiter dropped after it was woken but
//!   before it used the wake passes it on to the next one, so no wake is
//!   lost.

use crate::driver::registry::unregister_buf_ring;
use crate::driver::Driver;
use crate::runtime::context;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::os::fd::RawFd;
use std::ptr::{self, NonNull};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU16, Ordering};
use std::task::{Context, Poll, Waker};

/// Most entries a ring may have (the kernel's limit).
const MAX_ENTRIES: u16 = 32768;

/// Next buffer group id to try; groups are per io_uring, so a process-wide
/// counter only has to avoid ids still registered on the same ring (the
/// kernel answers `EEXIST`, and the next id is tried).
static NEXT_BGID: AtomicU16 = AtomicU16::new(0);

/// `struct io_uring_buf`. In entry 0, `resv` is the ring's tail.
#[repr(C)]
struct RawBuf {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

/// A ring of `entries` provided buffers of `buf_len` bytes each, registered
/// with the current runtime's io_uring.
///
/// Cloning is cheap and shares the ring: one ring can serve every
/// connection of a runtime. Buffers come out of receives as [`RingBuf`]s
/// and go back to the ring when those are dropped.
///
/// ```no_run
/// # async fn demo(stream: ringloop::net::TcpStream) -> std::io::Result<()> {
/// let ring = ringloop::buf::BufRing::new(64, 4096)?;
/// let mut chunks = stream.recv_multishot(&ring);
/// while let Some(chunk) = chunks.next().await {
///     let chunk = chunk?; // a RingBuf: derefs to the bytes received
///     println!("{} bytes", chunk.len());
/// } // each chunk returns to the ring when dropped
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct BufRing(Rc<Inner>);

struct Inner {
    /// Start of the mapping: the ring entries.
    ring: NonNull<RawBuf>,
    /// Start of the buffers, `entries * buf_len` bytes.
    bufs: NonNull<u8>,
    map_len: usize,
    entries: u16,
    buf_len: u32,
    bgid: u16,
    /// Our copy of the tail we publish.
    tail: Cell<u16>,
    /// Buffers handed to the program (as `RingBuf`s) and not yet returned.
    out: Cell<u16>,
    /// Buffers returned so far (an epoch for receivers that met `ENOBUFS`).
    returned: Cell<u64>,
    /// Receivers waiting for a buffer to come back, in arrival order.
    waiters: RefCell<WaitQueue>,
    /// The driver the group is registered with, and its ring fd.
    driver: Weak<RefCell<Driver>>,
    ring_fd: RawFd,
}

impl BufRing {
    /// Maps, fills and registers a ring of `entries` buffers of `buf_len`
    /// bytes with the current runtime.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `entries` is not a power of two in `1..=32768` or
    /// `buf_len` is zero or above `u32::MAX`; the error of `mmap` or of the
    /// registration (`EINVAL` before Linux 5.19); `Other` outside a
    /// ringloop runtime.
    pub fn new(entries: u16, buf_len: usize) -> io::Result<BufRing> {
        if !entries.is_power_of_two() || entries > MAX_ENTRIES {
            return Err(invalid(
                "buffer ring entries must be a power of two up to 32768",
            ));
        }
        let buf_len_u32 = u32::try_from(buf_len)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| invalid("buffer length must be in 1..=u32::MAX"))?;
        let page = page_size();
        let ring_bytes =
            (usize::from(entries) * std::mem::size_of::<RawBuf>()).next_multiple_of(page);
        let map_len = usize::from(entries)
            .checked_mul(buf_len)
            .and_then(|b| b.checked_add(ring_bytes))
            .ok_or_else(|| invalid("buffer ring too large"))?;
        let handle = context::driver()?;
        handle.borrow().uring()?; // provided buffers need io_uring
                                  // SAFETY: a fresh private anonymous mapping; the result is checked.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `base..base+map_len` is the mapping made above. A child
        // made by fork must not see memory the parent's kernel ring writes.
        unsafe { libc::madvise(base, map_len, libc::MADV_DONTFORK) };
        let ring = NonNull::new(base.cast::<RawBuf>()).expect("mmap never returns null on success");
        // SAFETY: `ring_bytes < map_len`, so the offset stays in the mapping.
        let bufs = unsafe { ring.cast::<u8>().add(ring_bytes) };
        let guard = handle.borrow();
        let Ok(driver) = guard.uring() else {
            unreachable!("checked before the mapping was made")
        };
        let mut inner = Inner {
            ring,
            bufs,
            map_len,
            entries,
            buf_len: buf_len_u32,
            bgid: 0,
            tail: Cell::new(0),
            out: Cell::new(0),
            returned: Cell::new(0),
            waiters: RefCell::new(WaitQueue::default()),
            driver: Rc::downgrade(&handle),
            ring_fd: driver.ring_fd(),
        };
        // Every buffer starts in the ring: push them all, publish once.
        for bid in 0..entries {
            inner.push(bid, false);
        }
        inner.publish();
        let mut last_err = None;
        for _ in 0..=u16::MAX {
            let bgid = NEXT_BGID.fetch_add(1, Ordering::Relaxed);
            // SAFETY: the ring is page aligned (start of a mapping), holds
            // `entries` entries, and stays mapped until `Inner::drop`, which
            // unregisters the group first (or finds the io_uring closed).
            match unsafe { driver.register_buf_ring(ring.as_ptr() as u64, entries, bgid) } {
                Ok(()) => {
                    inner.bgid = bgid;
                    return Ok(BufRing(Rc::new(inner)));
                }
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => last_err = Some(e),
                Err(e) => {
                    inner.driver = Weak::new(); // not registered: nothing to undo
                    return Err(e);
                }
            }
        }
        inner.driver = Weak::new();
        Err(last_err.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EEXIST)))
    }

    /// Number of buffers in the ring.
    pub fn entries(&self) -> u16 {
        self.0.entries
    }

    /// Length of each buffer.
    pub fn buf_len(&self) -> usize {
        self.0.buf_len as usize
    }

    /// Buffers the program does not hold: in the ring, or picked by the
    /// kernel for a CQE not processed yet. Equal to [`BufRing::entries`]
    /// when every [`RingBuf`] has been dropped.
    pub fn available(&self) -> usize {
        usize::from(self.0.entries - self.0.out.get())
    }

    /// The buffer group id (for building SQEs).
    pub(crate) fn bgid(&self) -> u16 {
        self.0.bgid
    }

    /// How many buffers have been returned to the ring so far.
    pub(crate) fn returned(&self) -> u64 {
        self.0.returned.get()
    }

    /// Claims the buffer a CQE names (`IORING_CQE_F_BUFFER`), holding `len`
    /// bytes the kernel wrote; `None` if the CQE carries no buffer.
    pub(crate) fn claim(&self, flags: u32, len: u32) -> Option<RingBuf> {
        let bid = io_uring::cqueue::buffer_select(flags)?;
        if bid >= self.0.entries || len > self.0.buf_len {
            // Not ours: the kernel only hands out ids we pushed, with at
            // most `buf_len` bytes. Refuse rather than trust it.
            return None;
        }
        self.0.out.set(self.0.out.get() + 1);
        Some(RingBuf {
            ring: self.clone(),
            bid,
            len: len as usize,
        })
    }
}

impl Inner {
    /// Writes buffer `bid` at the tail; `publish` makes it visible.
    fn push(&self, bid: u16, publish: bool) {
        let tail = self.tail.get();
        let index = usize::from(tail & (self.entries - 1));
        // SAFETY: `index < entries`, so the entry is inside the ring; the
        // kernel does not read entries at or past the published tail, and
        // the fields written exclude `resv` (entry 0's `resv` is the tail).
        unsafe {
            let entry = self.ring.as_ptr().add(index);
            ptr::addr_of_mut!((*entry).addr).write(self.buf_ptr(bid) as u64);
            ptr::addr_of_mut!((*entry).len).write(self.buf_len);
            ptr::addr_of_mut!((*entry).bid).write(bid);
        }
        self.tail.set(tail.wrapping_add(1));
        if publish {
            self.publish();
        }
    }

    /// Stores our tail into the shared ring (release: entries first).
    fn publish(&self) {
        // SAFETY: entry 0's `resv` is the ring's tail, a naturally aligned
        // u16 inside the mapping that the kernel reads with acquire loads;
        // we are its only writer and write it only atomically.
        let tail = unsafe { AtomicU16::from_ptr(ptr::addr_of_mut!((*self.ring.as_ptr()).resv)) };
        tail.store(self.tail.get(), Ordering::Release);
    }

    fn buf_ptr(&self, bid: u16) -> *mut u8 {
        // SAFETY: `bid < entries`, so the offset stays inside the buffers.
        unsafe {
            self.bufs
                .as_ptr()
                .add(usize::from(bid) * self.buf_len as usize)
        }
    }

    /// Gives buffer `bid` back to the kernel and wakes waiting receivers.
    fn give_back(&self, bid: u16) {
        self.push(bid, true);
        self.out.set(self.out.get() - 1);
        self.returned.set(self.returned.get() + 1);
        self.wake_one();
    }

    fn wake_one(&self) {
        let waker = self.waiters.borrow_mut().queue.pop_front();
        if let Some((_, waker)) = waker {
            waker.wake();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Every op that could select from the group held a clone, so none
        // is in flight. Unregister while the ring is provably open (we hold
        // the driver); if it is gone, closing it released the group.
        if let Some(driver) = self.driver.upgrade() {
            if unregister_buf_ring(self.ring_fd, self.bgid).is_err() {
                // The kernel may still reference the memory: leak it.
                return;
            }
            drop(driver);
        }
        // SAFETY: the mapping made in `new`; the kernel no longer uses it.
        unsafe { libc::munmap(self.ring.as_ptr().cast(), self.map_len) };
    }
}

/// Receivers waiting for buffers: `(key, waker)` in arrival order.
#[derive(Default)]
struct WaitQueue {
    queue: VecDeque<(u64, Waker)>,
    next_key: u64,
}

/// A receiver's place in a ring's wait queue.
///
/// A receive that failed with `ENOBUFS` at `epoch` (the ring's
/// [`BufRing::returned`] count when it was armed) waits with
/// [`BufWaiter::poll_returned_after`] until a buffer has been returned
/// since; every returned buffer wakes one waiter. Dropping a waiter that was
/// woken but did not use the wake passes it on.
pub(crate) struct BufWaiter {
    ring: BufRing,
    /// Our entry in the queue; `None` when not registered (or the wake was
    /// used).
    key: Option<u64>,
}

impl BufWaiter {
    pub(crate) fn new(ring: &BufRing) -> BufWaiter {
        BufWaiter {
            ring: ring.clone(),
            key: None,
        }
    }

    /// `Ready` once a buffer has been returned after `epoch`; otherwise
    /// queues (or refreshes) `cx`'s waker.
    pub(crate) fn poll_returned_after(&mut self, epoch: u64, cx: &mut Context<'_>) -> Poll<()> {
        let inner = &self.ring.0;
        let mut waiters = inner.waiters.borrow_mut();
        let entry = self
            .key
            .and_then(|key| waiters.queue.iter_mut().find(|(k, _)| *k == key));
        if inner.returned.get() > epoch {
            // Done waiting: leave the queue (if still in it), use the wake.
            if let Some(key) = self.key.take() {
                waiters.queue.retain(|(k, _)| *k != key);
            }
            return Poll::Ready(());
        }
        match entry {
            Some((_, waker)) => waker.clone_from(cx.waker()),
            None => {
                let key = waiters.next_key;
                waiters.next_key += 1;
                waiters.queue.push_back((key, cx.waker().clone()));
                self.key = Some(key);
            }
        }
        Poll::Pending
    }
}

impl Drop for BufWaiter {
    fn drop(&mut self) {
        let Some(key) = self.key else {
            return;
        };
        let inner = &self.ring.0;
        let queued = {
            let mut waiters = inner.waiters.borrow_mut();
            let before = waiters.queue.len();
            waiters.queue.retain(|(k, _)| *k != key);
            waiters.queue.len() != before
        };
        if !queued {
            // We were woken (popped) but never used the wake: pass it on.
            inner.wake_one();
        }
    }
}

impl fmt::Debug for BufRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufRing")
            .field("bgid", &self.0.bgid)
            .field("entries", &self.0.entries)
            .field("buf_len", &self.0.buf_len)
            .field("available", &self.available())
            .finish()
    }
}

/// A buffer taken from a [`BufRing`] by a receive: the bytes received.
///
/// Dereferences to those bytes. Dropping it returns the buffer to its ring.
/// It is also an [`IoBuf`](crate::buf::IoBuf), so it can be written back
/// out without a copy (an echo server sends what it received).
pub struct RingBuf {
    ring: BufRing,
    bid: u16,
    len: usize,
}

impl RingBuf {
    /// The buffer's capacity (the ring's buffer length).
    pub fn capacity(&self) -> usize {
        self.ring.buf_len()
    }
}

impl Deref for RingBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the buffer is the program's (the kernel handed it over in
        // a CQE and cannot pick it until it is pushed back), `len` bytes of
        // it were written by the kernel, and the mapping lives while the
        // ring does (`self.ring`).
        unsafe { std::slice::from_raw_parts(self.ring.0.buf_ptr(self.bid), self.len) }
    }
}

impl DerefMut for RingBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`; `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ring.0.buf_ptr(self.bid), self.len) }
    }
}

impl Drop for RingBuf {
    fn drop(&mut self) {
        self.ring.0.give_back(self.bid);
    }
}

impl fmt::Debug for RingBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingBuf")
            .field("bid", &self.bid)
            .field("len", &self.len)
            .finish()
    }
}

// SAFETY: the pointer is into the ring's mapping, which does not move and
// lives as long as the `BufRing` this value holds; `len` bytes are
// initialised (written by the kernel) and `len <= capacity`.
unsafe impl crate::buf::IoBuf for RingBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ring.0.buf_ptr(self.bid)
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.len
    }
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}
