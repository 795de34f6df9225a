//! `IORING_OP_ACCEPT`: one connection (with its peer address), or many
//! (multishot, no addresses).
//!
//! The accepted fd becomes an [`OwnedFd`] in the output as soon as the CQE is
//! turned into one, so an accept whose future or stream was dropped closes
//! the fd it got (the peer sees EOF) instead of leaking it.

use crate::driver::epoll::Interest;
use crate::driver::multishot::{Multishot, MultishotData};
use crate::driver::op::{syscall_res, Readiness};
use crate::driver::{Cqe, Op, OpData};
use crate::io::SharedFd;
use crate::net::SockAddr;
use io_uring::{opcode, squeue, types};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

pub(crate) struct Accept {
    /// Keeps the listener open until the terminal CQE.
    fd: SharedFd,
    /// The kernel writes the peer's address and its length here.
    addr: Box<SockAddr>,
}

// SAFETY: the SQE points into `addr`, a box `Accept` owns.
unsafe impl OpData for Accept {
    type Output = io::Result<(OwnedFd, SockAddr)>;
    const NAME: &'static str = "accept";

    fn sqe(&mut self) -> squeue::Entry {
        let addr = self.addr.as_mut_ptr();
        opcode::Accept::new(types::Fd(self.fd.raw()), addr, self.addr.len_mut())
            .flags(libc::SOCK_CLOEXEC)
            .build()
    }

    fn complete(self, cqe: Cqe) -> Self::Output {
        let fd = cqe.result?;
        // SAFETY: a successful accept's result is a new fd that nobody else
        // owns; it is closed when the output is dropped.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        Ok((fd, *self.addr))
    }

    fn readiness(&self) -> Readiness<'_> {
        Readiness::Wait(&self.fd, Interest::Read)
    }

    fn attempt(&mut self) -> i32 {
        let addr = self.addr.as_mut_ptr();
        // SAFETY: `addr` and its length live in the box `Accept` owns.
        let ret =
            unsafe { libc::accept4(self.fd.raw(), addr, self.addr.len_mut(), libc::SOCK_CLOEXEC) };
        syscall_res(ret as isize)
    }
}

/// Accepts one connection on the listener `fd`.
pub(crate) fn accept(fd: &SharedFd) -> Op<Accept> {
    Op::new(Accept {
        fd: fd.clone(),
        addr: Box::new(SockAddr::empty()),
    })
}

pub(crate) struct AcceptMulti {
    /// Keeps the listener open until the terminal CQE.
    fd: SharedFd,
}

// SAFETY: the SQE carries no pointer.
unsafe impl MultishotData for AcceptMulti {
    type Item = io::Result<OwnedFd>;
    const NAME: &'static str = "accept_multi";

    fn sqe(&mut self) -> squeue::Entry {
        opcode::AcceptMulti::new(types::Fd(self.fd.raw()))
            .flags(libc::SOCK_CLOEXEC)
            .build()
    }

    fn on_cqe(&mut self, cqe: Cqe) -> Self::Item {
        let fd = cqe.result?;
        // SAFETY: as for `Accept`: a fresh fd, owned from here on.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }
}

/// Accepts connections on `fd` until an error ends the op (Linux 5.19).
pub(crate) fn accept_multi(fd: &SharedFd) -> Multishot<AcceptMulti> {
    Multishot::new(AcceptMulti { fd: fd.clone() })
}
