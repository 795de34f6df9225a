//! [`SharedFd`]: an fd closed only after the last op using it completed.
//!
//! Every op on a resource holds a clone in its data, and op data lives until
//! the op's terminal CQE (even if the op's future was dropped). So dropping
//! a resource while its ops are in flight never closes the fd under them:
//! the number cannot be reused by a new `open` and hit by a stale SQE still
//! sitting in the submission queue. The close is a plain `close(2)` when the
//! last clone goes; it never blocks on data.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::rc::Rc;

#[derive(Clone, Debug)]
pub(crate) struct SharedFd(Rc<OwnedFd>);

impl SharedFd {
    pub(crate) fn new(fd: OwnedFd) -> SharedFd {
        SharedFd(Rc::new(fd))
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    pub(crate) fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.0.as_fd()
    }
}
