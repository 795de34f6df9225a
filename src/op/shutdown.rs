//! `IORING_OP_SHUTDOWN`.

use crate::driver::op::{syscall_res, Readiness};
use crate::driver::{Cqe, Op, OpData};
use crate::io::shared_fd::sqe_fd;
use crate::io::SharedFd;
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct Shutdown {
    /// Keeps the socket open until the terminal CQE.
    fd: SharedFd,
    how: libc::c_int,
}

// SAFETY: the SQE carries no pointer.
unsafe impl OpData for Shutdown {
    type Output = io::Result<()>;
    const NAME: &'static str = "shutdown";

    fn sqe(&mut self) -> squeue::Entry {
        sqe_fd!(self.fd, |fd| opcode::Shutdown::new(fd, self.how).build())
    }

    fn complete(self, cqe: Cqe) -> io::Result<()> {
        cqe.result.map(drop)
    }

    fn readiness(&self) -> Readiness<'_> {
        Readiness::Inline
    }

    fn attempt(&mut self) -> i32 {
        // SAFETY: plain syscall on an fd we keep open.
        syscall_res(unsafe { libc::shutdown(self.fd.raw(), self.how) } as isize)
    }
}

/// Shuts down reading, writing or both (`SHUT_RD`, `SHUT_WR`, `SHUT_RDWR`).
pub(crate) fn shutdown(fd: &SharedFd, how: libc::c_int) -> Op<Shutdown> {
    Op::new(Shutdown {
        fd: fd.clone(),
        how,
    })
}
