//! [`SharedFd`]: an fd closed only after the last op using it completed.
//!
//! Every op on a resource holds a clone in its data, and op data lives until
//! the op's terminal CQE (even if the op's future was dropped). So dropping
//! a resource while its ops are in flight never closes the fd under them:
//! the number cannot be reused by a new `open` and hit by a stale SQE still
//! sitting in the submission queue. The close is a plain `close(2)` when the
//! last clone goes; it never blocks on data.
//!
//! Each `SharedFd` also has an id unique in the process: the readiness
//! driver registers descriptors under it, so a reused fd number is never
//! mistaken for the closed one. Ids of closed, registered descriptors are
//! queued (per thread) for the readiness driver to forget.
//!
//! # Fixed slot (sockets)
//!
//! A socket may also sit in a slot of its ring's fixed-file table
//! ([`SharedFd::set_fixed`], from `TcpStream::register` and the like). The
//! slot lives inside the `SharedFd`, so every op holding a clone keeps it
//! reserved until the op's terminal CQE, exactly as it keeps the fd open:
//! the slot is cleared (and its index handed out again) only when the last
//! clone goes, when no SQE can name it. SQEs built with [`sqe_fd!`] name the
//! slot (`IOSQE_FIXED_FILE`) when it belongs to the ring of the current
//! runtime, and the fd otherwise. The fd itself stays open beside the slot,
//! so `AsRawFd`, `into_std` and plain syscalls keep working.

use crate::driver::registry_fs::FileSlot;
use crate::runtime::context;
use std::cell::{Cell, OnceCell, RefCell};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Debug)]
pub(crate) struct SharedFd(Rc<Inner>);

#[derive(Debug)]
struct Inner {
    /// Declared before `fd`: the slot is cleared before the fd is closed.
    fixed: OnceCell<FileSlot>,
    fd: OwnedFd,
    id: u64,
    /// Registered with this thread's readiness driver.
    registered: Cell<bool>,
    /// `O_NONBLOCK` was set for the readiness driver.
    nonblocking: Cell<bool>,
}

thread_local! {
    static CLOSED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

impl SharedFd {
    pub(crate) fn new(fd: OwnedFd) -> SharedFd {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        SharedFd(Rc::new(Inner {
            fixed: OnceCell::new(),
            fd,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            registered: Cell::new(false),
            nonblocking: Cell::new(false),
        }))
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.0.fd.as_raw_fd()
    }

    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.fd.as_fd()
    }

    /// Unique for the life of the process (never 0).
    pub(crate) fn id(&self) -> u64 {
        self.0.id
    }

    /// Readiness driver: sets `O_NONBLOCK` once, so an op's own syscall
    /// can say `EAGAIN` instead of blocking the loop. (io_uring needs no
    /// such flag: it never blocks the loop on a blocking descriptor.)
    pub(crate) fn ensure_nonblocking(&self) {
        if self.0.nonblocking.replace(true) {
            return;
        }
        let fd = self.raw();
        // SAFETY: fcntl on a descriptor we keep open; no pointers.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags >= 0 && flags & libc::O_NONBLOCK == 0 {
                libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
            }
        }
    }

    /// Puts the descriptor in the fixed-file slot `slot` for good (until the
    /// last clone is dropped). Gives the slot back if it already has one.
    pub(crate) fn set_fixed(&self, slot: FileSlot) -> Result<(), FileSlot> {
        self.0.fixed.set(slot)
    }

    /// The fixed-file slot the descriptor is in, if any.
    pub(crate) fn fixed(&self) -> Option<&FileSlot> {
        self.0.fixed.get()
    }

    /// The index an SQE for the current runtime's ring should name: the
    /// fixed slot if the descriptor has one on that ring, `None` (name the
    /// fd) otherwise. No slot costs one branch; a slot, a thread-local read
    /// and a pointer comparison.
    pub(crate) fn fixed_index(&self) -> Option<u32> {
        let slot = self.0.fixed.get()?;
        context::with_core(|core| slot.is_on(&core.driver))
            .unwrap_or(false)
            .then(|| slot.index())
    }

    /// Whether a readiness driver registered this descriptor.
    pub(crate) fn is_registered(&self) -> bool {
        self.0.registered.get()
    }

    /// The readiness driver registered this descriptor.
    pub(crate) fn mark_registered(&self) {
        self.0.registered.set(true);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.registered.get() {
            let _ = CLOSED.try_with(|c| c.borrow_mut().push(self.id));
        }
    }
}

/// Ids of registered descriptors closed on this thread since the last call.
pub(crate) fn take_closed() -> Vec<u64> {
    CLOSED
        .try_with(|c| std::mem::take(&mut *c.borrow_mut()))
        .unwrap_or_default()
}

/// Builds an SQE naming a [`SharedFd`] by its fixed slot on the current
/// ring ([`SharedFd::fixed_index`]) or by its fd:
/// `sqe_fd!(self.fd, |fd| opcode::Recv::new(fd, ptr, len).build())`.
macro_rules! sqe_fd {
    ($shared:expr, |$fd:ident| $build:expr) => {
        match $shared.fixed_index() {
            Some(index) => {
                let $fd = io_uring::types::Fixed(index);
                $build
            }
            None => {
                let $fd = io_uring::types::Fd($shared.raw());
                $build
            }
        }
    };
}
pub(crate) use sqe_fd;
