//! `IORING_OP_CONNECT` to a boxed address.

use crate::driver::{Cqe, Op, OpData};
use crate::io::SharedFd;
use crate::net::SockAddr;
use io_uring::{opcode, squeue, types};
use std::io;

pub(crate) struct Connect {
    /// Keeps the socket open until the terminal CQE.
    fd: SharedFd,
    /// The kernel reads the address from here (also after an async retry).
    addr: Box<SockAddr>,
}

// SAFETY: the SQE points into `addr`, a box `Connect` owns.
unsafe impl OpData for Connect {
    type Output = io::Result<()>;
    const NAME: &'static str = "connect";

    fn sqe(&mut self) -> squeue::Entry {
        opcode::Connect::new(
            types::Fd(self.fd.raw()),
            self.addr.as_ptr(),
            self.addr.len(),
        )
        .build()
    }

    fn complete(self, cqe: Cqe) -> io::Result<()> {
        cqe.result.map(drop)
    }
}

/// Connects the socket `fd` to `addr`.
pub(crate) fn connect(fd: &SharedFd, addr: SockAddr) -> Op<Connect> {
    Op::new(Connect {
        fd: fd.clone(),
        addr: Box::new(addr),
    })
}
