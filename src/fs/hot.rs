//! Hot files: a [`File`](super::File) that keeps doing ops is put in a slot
//! of a fixed-file table that the runtime registers for the purpose, so that
//! its later ops name the slot (`IOSQE_FIXED_FILE`) instead of the fd, and
//! the kernel skips looking the descriptor up and counting a reference to
//! the file on every op. What [`FixedFiles`](super::FixedFiles) does on
//! request, done by the runtime for the files that gain from it.
//!
//! # Protocol
//!
//! * **When.** A file is promoted at its [`HOT_AFTER`]th op, once: a slot
//!   costs two `io_uring_register` calls over the file's life (fill it,
//!   clear it), against one descriptor lookup saved per later op, so only
//!   files that keep doing ops are worth it; a file opened for a handful of
//!   reads never pays. (The threshold is a choice, not a measured
//!   break-even.) A file that could not be promoted (table full, hot files
//!   off) is not tried again.
//! * **The table.** Registered at the first promotion on a runtime, with
//!   [`Builder::hot_files`](crate::Builder::hot_files) slots (default
//!   [`DEFAULT_SLOTS`]; 0 turns hot files off). io_uring keeps one file
//!   table per ring, so hot files are off on a runtime whose ring already
//!   has one (a [`FixedFiles`](super::FixedFiles)), and a `FixedFiles`
//!   created later takes the ring over if no hot file holds a slot then
//!   (otherwise it fails with `ResourceBusy`, naming this). If the kernel
//!   refuses the table (`RLIMIT_NOFILE` below the slot count, an old
//!   kernel), hot files are off for that runtime: files keep their fds.
//! * **The slot** lives in the file's [`SharedFd`](crate::io::SharedFd), as
//!   a registered socket's does: every op holding a clone keeps it reserved
//!   until its terminal CQE, and it is cleared only when the last clone
//!   goes, when no SQE can name it. SQEs name it only on the ring it belongs
//!   to; on any other runtime the file is named by its fd.
//! * **Explicitly registered** files ([`File::register`](super::File::register))
//!   are left alone.

use super::fixed_files;
use crate::driver::registry_fs::{FileSlot, FileTable};
use crate::driver::Handle;
use crate::io::SharedFd;
use crate::runtime::context;
use std::cell::RefCell;
use std::rc::Rc;

/// Ops after which a file is promoted.
pub(crate) const HOT_AFTER: u32 = 128;

/// Slots of the hot-file table when the builder does not say.
pub(crate) const DEFAULT_SLOTS: u32 = 64;

/// A runtime's hot-file state.
pub(crate) struct HotFiles {
    slots: u32,
    table: RefCell<Table>,
}

enum Table {
    /// Not registered yet.
    Unused,
    Registered(Rc<FileTable>),
    /// Turned off (0 slots, the ring has another table, or the kernel said
    /// no): no promotion on this runtime.
    Off,
}

impl HotFiles {
    pub(crate) fn new(slots: u32) -> HotFiles {
        HotFiles {
            slots,
            table: RefCell::new(if slots == 0 {
                Table::Off
            } else {
                Table::Unused
            }),
        }
    }

    /// A slot holding `fd`, registering the table first if need be; `None`
    /// if hot files are off or every slot is taken.
    fn slot_for(&self, driver: &Handle, fd: std::os::fd::RawFd) -> Option<FileSlot> {
        let mut table = self.table.borrow_mut();
        if let Table::Unused = *table {
            // An epoll runtime has no ring (`register` fails): off as well.
            *table = match FileTable::register(driver, self.slots) {
                Ok(t) => Table::Registered(t),
                Err(_) => Table::Off,
            };
        }
        let Table::Registered(t) = &*table else {
            return None;
        };
        t.insert(fd).ok().flatten()
    }

    /// A [`FixedFiles`](super::FixedFiles) table is about to be registered
    /// on this runtime's ring: hot files give the ring up if no hot file
    /// holds a slot, and are off from now on.
    ///
    /// # Errors
    ///
    /// `ResourceBusy` if hot files hold slots.
    pub(crate) fn yield_ring(&self) -> std::io::Result<()> {
        let mut table = self.table.borrow_mut();
        if let Table::Registered(t) = &*table {
            if Rc::strong_count(t) > 1 {
                return Err(fixed_files::hot_files_busy(
                    t.len() as usize - t.available(),
                ));
            }
        }
        // Dropping our handle to an unused table unregisters it.
        *table = Table::Off;
        Ok(())
    }
}

/// Promotes the file behind `fd` on the current runtime, if it can be.
pub(crate) fn promote(fd: &SharedFd) {
    if fd.fixed().is_some() {
        return;
    }
    let slot = context::with_core(|core| core.hot_files.slot_for(&core.driver, fd.raw()));
    if let Some(Some(slot)) = slot {
        // Cannot fail: the fd had no slot just above, and nothing between
        // gave it one (single thread). Were it to, the spare slot is
        // cleared as it drops.
        let _ = fd.set_fixed(slot);
    }
}
