//! Tables the fs layer registers with the ring: fixed buffers
//! (`IORING_REGISTER_BUFFERS`) and fixed files (`IORING_REGISTER_FILES`).
//!
//! # Protocol
//!
//! * **Register** through the driver's submitter, from user code (the driver
//!   is not borrowed then): [`BufferTable::register`],
//!   [`FileTable::register`]. Each table remembers the ring's fd and a
//!   *weak* reference to its driver: a strong one would make a cycle (an
//!   orphaned op in the driver's table holds a buffer, which holds the
//!   pool, which would hold the driver) and keep a dropped runtime's ring
//!   alive forever.
//! * **Update and tear down** (fill or clear a file slot, unregister a
//!   table) with a raw `io_uring_register` on that fd, never through the
//!   driver: the last owner of a slot or a table may be an orphaned op's
//!   data, finalised while the driver is borrowed (inside reaping). The fd
//!   is used only while the weak reference can be upgraded, i.e. while the
//!   driver (and so the ring behind the fd) is alive. Once the driver is
//!   gone — or is being dropped, draining its ops — nothing is done: closing
//!   the ring releases every registration, and no op can name them again.
//! * **Nothing is cleared while it can still be named.** An op that names a
//!   fixed buffer or a fixed file slot holds a strong reference to it (the
//!   buffer, or the [`FileSlot`]) until its terminal CQE, so when an index is
//!   cleared or handed out again no SQE naming it can sit in the SQ, the
//!   backlog or the kernel.
//! * io_uring allows **one** buffer table and **one** file table per ring; a
//!   second registration fails with `EBUSY`, which callers report as such.

use super::{Driver, Handle};
use std::cell::RefCell;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::{Rc, Weak};

/// `IORING_UNREGISTER_BUFFERS` (`<linux/io_uring.h>`).
const IORING_UNREGISTER_BUFFERS: libc::c_uint = 1;
/// `IORING_UNREGISTER_FILES`.
const IORING_UNREGISTER_FILES: libc::c_uint = 3;
/// `IORING_REGISTER_FILES_UPDATE`.
const IORING_REGISTER_FILES_UPDATE: libc::c_uint = 6;

/// `struct io_uring_files_update` of `<linux/io_uring.h>`.
#[repr(C)]
struct FilesUpdate {
    offset: u32,
    resv: u32,
    fds: u64,
}

/// A ring named by its fd, and its driver by a weak reference.
struct RingRef {
    driver: Weak<RefCell<Driver>>,
    fd: RawFd,
}

impl RingRef {
    fn new(driver: &Handle) -> io::Result<RingRef> {
        let fd = driver.borrow().uring()?.ring.as_raw_fd();
        Ok(RingRef {
            driver: Rc::downgrade(driver),
            fd,
        })
    }

    fn is_on(&self, driver: &Handle) -> bool {
        // The weak reference keeps the allocation, so no other driver can
        // sit at this address while we compare.
        std::ptr::eq(self.driver.as_ptr(), Rc::as_ptr(driver))
    }

    /// `io_uring_register(fd, opcode, arg, nr_args)` without borrowing the
    /// driver.
    ///
    /// # Errors
    ///
    /// `EBADF` if the driver is gone (its ring is closed); the kernel's.
    ///
    /// # Safety
    ///
    /// `arg` must be what the kernel expects for `opcode` (null for the
    /// unregister opcodes), valid for the call.
    unsafe fn register(
        &self,
        opcode: libc::c_uint,
        arg: *const libc::c_void,
        nr_args: libc::c_uint,
    ) -> io::Result<libc::c_long> {
        if self.driver.strong_count() == 0 {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        // SAFETY: the driver is alive (checked just above, on its only
        // thread), so `self.fd` is still its ring; `arg` is the caller's to
        // vouch for.
        let ret =
            unsafe { libc::syscall(libc::SYS_io_uring_register, self.fd, opcode, arg, nr_args) };
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(ret)
        }
    }
}

/// The ring's fixed-buffer table; unregistered when dropped.
pub(crate) struct BufferTable {
    ring: RingRef,
}

impl BufferTable {
    /// Registers `iovecs` as the ring's fixed buffers (index = position).
    ///
    /// # Errors
    ///
    /// The kernel's: `EBUSY` (the ring already has a buffer table), `ENOMEM`
    /// (pinning exceeds `RLIMIT_MEMLOCK` or memory is short), `EINVAL`/
    /// `EOVERFLOW` (bad sizes), `EFAULT` (bad addresses).
    ///
    /// # Safety
    ///
    /// Each iovec must describe memory that stays allocated (and is not used
    /// by anything but ops naming it) until the returned table is dropped.
    pub(crate) unsafe fn register(driver: &Handle, iovecs: &[libc::iovec]) -> io::Result<Self> {
        let ring = RingRef::new(driver)?;
        // SAFETY: the caller guarantees the memory outlives the table, and
        // the table unregisters it before it is dropped (see `Drop`).
        unsafe {
            driver
                .borrow()
                .uring()?
                .ring
                .submitter()
                .register_buffers(iovecs)?
        };
        Ok(BufferTable { ring })
    }

    /// Whether this table belongs to the ring of `driver`.
    pub(crate) fn is_on(&self, driver: &Handle) -> bool {
        self.ring.is_on(driver)
    }
}

impl Drop for BufferTable {
    fn drop(&mut self) {
        // SAFETY: UNREGISTER_BUFFERS takes no argument. Failure is ignored:
        // it only happens if the driver is gone, and closing its ring
        // released the table anyway.
        let _ = unsafe {
            self.ring
                .register(IORING_UNREGISTER_BUFFERS, std::ptr::null(), 0)
        };
    }
}

/// The ring's fixed-file table: `len` slots, handed out as [`FileSlot`]s.
pub(crate) struct FileTable {
    ring: RingRef,
    len: u32,
    /// Slots not in use (their kernel entry is empty).
    free: RefCell<Vec<u32>>,
}

impl FileTable {
    /// Registers an empty (sparse) table of `len` slots.
    ///
    /// # Errors
    ///
    /// The kernel's: `EBUSY` (the ring already has a file table), `EMFILE`
    /// (`len` above `RLIMIT_NOFILE`), `EINVAL` (`len` 0 or above the
    /// kernel's maximum), `ENOMEM`.
    pub(crate) fn register(driver: &Handle, len: u32) -> io::Result<Rc<FileTable>> {
        let ring = RingRef::new(driver)?;
        let empty = vec![-1 as RawFd; len as usize];
        driver
            .borrow()
            .uring()?
            .ring
            .submitter()
            .register_files(&empty)?;
        Ok(Rc::new(FileTable {
            ring,
            len,
            free: RefCell::new((0..len).rev().collect()),
        }))
    }

    /// Number of slots.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// Number of free slots.
    pub(crate) fn available(&self) -> usize {
        self.free.borrow().len()
    }

    /// Whether this table belongs to the ring of `driver`.
    pub(crate) fn is_on(&self, driver: &Handle) -> bool {
        self.ring.is_on(driver)
    }

    /// Puts `fd` into a free slot (the kernel takes its own reference to
    /// the file, so the slot stays valid whatever happens to `fd`).
    ///
    /// # Errors
    ///
    /// `None` inside: every slot is taken. The kernel's error otherwise
    /// (`EBADF` for a bad fd).
    pub(crate) fn insert(self: &Rc<Self>, fd: RawFd) -> io::Result<Option<FileSlot>> {
        let Some(index) = self.free.borrow_mut().pop() else {
            return Ok(None);
        };
        if let Err(e) = self.update(index, fd) {
            self.free.borrow_mut().push(index);
            return Err(e);
        }
        Ok(Some(FileSlot {
            table: Rc::clone(self),
            index,
        }))
    }

    fn update(&self, index: u32, fd: RawFd) -> io::Result<()> {
        let fds = [fd];
        let update = FilesUpdate {
            offset: index,
            resv: 0,
            fds: fds.as_ptr() as u64,
        };
        // SAFETY: FILES_UPDATE reads one `io_uring_files_update` whose `fds`
        // points at `nr_args` (1) fds; both live on this frame for the call.
        unsafe {
            self.ring.register(
                IORING_REGISTER_FILES_UPDATE,
                (&update as *const FilesUpdate).cast(),
                1,
            )?
        };
        Ok(())
    }
}

impl Drop for FileTable {
    fn drop(&mut self) {
        // SAFETY: UNREGISTER_FILES takes no argument. Failure is ignored, as
        // for buffers.
        let _ = unsafe {
            self.ring
                .register(IORING_UNREGISTER_FILES, std::ptr::null(), 0)
        };
    }
}

/// One slot of a [`FileTable`], holding a file; cleared and freed when the
/// last owner (the `File`, or an op in flight on it) drops it.
pub(crate) struct FileSlot {
    table: Rc<FileTable>,
    index: u32,
}

impl FileSlot {
    /// The index SQEs name (`IOSQE_FIXED_FILE`).
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// Whether the slot belongs to the ring of `driver`.
    pub(crate) fn is_on(&self, driver: &Handle) -> bool {
        self.table.is_on(driver)
    }

    /// Whether the slot is one of `table`'s.
    pub(crate) fn in_table(&self, table: &Rc<FileTable>) -> bool {
        Rc::ptr_eq(&self.table, table)
    }
}

impl Drop for FileSlot {
    fn drop(&mut self) {
        // Clearing drops the kernel's reference to the file. If it fails
        // (the ring is going away), the slot is not reused: leaking an index
        // is safe, naming a stale file is not.
        if self.table.update(self.index, -1).is_ok() {
            self.table.free.borrow_mut().push(self.index);
        }
    }
}

impl fmt::Debug for FileSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileSlot({} of {})", self.index, self.table.len)
    }
}
