//! [`FixedFiles`]: a table of registered files on the runtime's ring.

use crate::driver::registry_fs::{FileSlot, FileTable};
use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;

/// A table of registered ("fixed") files on the current runtime's ring
/// (`IORING_REGISTER_FILES`).
///
/// A file put in the table with [`File::register`](super::File::register)
/// is named by its slot index in SQEs, which spares the kernel a descriptor
/// lookup (and, in a multi-threaded process, an atomic reference count) on
/// every op: worth it for hot descriptors under many small ops. The kernel
/// holds its own reference to each registered file; a slot is cleared when
/// its file is closed and the file's last op has completed.
///
/// io_uring keeps one file table per ring, so a runtime has at most one
/// `FixedFiles` at a time; it is unregistered when the handle and every
/// registered file are gone.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use ringloop::fs::{File, FixedFiles};
/// let table = FixedFiles::new(16)?;
/// let mut file = File::open("data.bin").await?;
/// file.register(&table)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct FixedFiles {
    table: Rc<FileTable>,
}

impl FixedFiles {
    /// Registers an empty table of `slots` files with the current
    /// runtime's ring.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for 0 slots or more than the kernel allows;
    /// `ResourceBusy` if this runtime already has a table (another
    /// `FixedFiles`, or its table for hot files while hot files are in it:
    /// see [`Builder::hot_files`](crate::Builder::hot_files)); `QuotaExceeded`
    /// if `slots` is above `RLIMIT_NOFILE`; `Other` outside a runtime.
    pub fn new(slots: u32) -> io::Result<FixedFiles> {
        if slots == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a fixed file table needs at least one slot",
            ));
        }
        let driver = crate::runtime::context::driver()?;
        // One file table per ring: the runtime's hot-file table gives way.
        if let Some(Err(e)) = crate::runtime::context::with_core(|core| core.hot_files.yield_ring())
        {
            return Err(e);
        }
        let table = FileTable::register(&driver, slots).map_err(|e| {
            let what = format!("registering a table of {slots} fixed files with io_uring");
            match e.raw_os_error() {
                Some(libc::EBUSY) => io::Error::new(
                    io::ErrorKind::ResourceBusy,
                    format!(
                        "{what} failed with EBUSY: this runtime already has one (io_uring \
                         keeps one file table per ring)"
                    ),
                ),
                Some(libc::EMFILE) => io::Error::new(
                    io::ErrorKind::QuotaExceeded,
                    format!("{what} failed with EMFILE: more slots than RLIMIT_NOFILE allows"),
                ),
                Some(libc::EINVAL) => io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{what} failed with EINVAL: more slots than the kernel allows"),
                ),
                _ => io::Error::new(e.kind(), format!("{what} failed: {e}")),
            }
        })?;
        Ok(FixedFiles { table })
    }

    /// Number of slots.
    pub fn slots(&self) -> u32 {
        self.table.len()
    }

    /// Number of free slots.
    pub fn available(&self) -> usize {
        self.table.available()
    }

    pub(crate) fn owns(&self, slot: &FileSlot) -> bool {
        slot.in_table(&self.table)
    }

    pub(crate) fn insert(&self, fd: RawFd) -> io::Result<FileSlot> {
        self.table.insert(fd)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::QuotaExceeded,
                format!(
                    "all {} slots of the fixed file table are in use",
                    self.slots()
                ),
            )
        })
    }
}

impl fmt::Debug for FixedFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedFiles")
            .field("slots", &self.slots())
            .field("available", &self.available())
            .finish()
    }
}

/// The error of [`FixedFiles::new`] on a runtime whose hot-file table holds
/// `in_use` files.
pub(crate) fn hot_files_busy(in_use: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::ResourceBusy,
        format!(
            "registering a fixed file table with io_uring: this runtime's ring already has \
             one, for hot files ({in_use} of them in it now; io_uring keeps one file table per \
             ring). Build the runtime with `Builder::hot_files(0)` to manage the table \
             yourself, or create the FixedFiles before the files become hot"
        ),
    )
}
