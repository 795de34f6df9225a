//! `IORING_OP_CONNECT` to a boxed address.

use crate::driver::epoll::Interest;
use crate::driver::op::{syscall_res, Readiness};
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
    /// Readiness driver: `connect(2)` said `EINPROGRESS`; the next attempts
    /// ask the socket how it ended.
    in_progress: bool,
    /// Syscalls the last attempt made (1 or 2).
    syscalls: u8,
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

    fn readiness(&self) -> Readiness<'_> {
        Readiness::Wait(&self.fd, Interest::Write)
    }

    /// Non-blocking connect: `EINPROGRESS` (returned as such; the driver
    /// waits on it like `EAGAIN`) waits for writability, then `SO_ERROR`
    /// gives the outcome (`getpeername` tells a spurious wake from a
    /// finished connect: `EAGAIN` while it is still in progress).
    fn attempt(&mut self) -> i32 {
        let fd = self.fd.raw();
        self.syscalls = 1;
        if !self.in_progress {
            // SAFETY: the address lives in the box `Connect` owns.
            let ret = unsafe { libc::connect(fd, self.addr.as_ptr(), self.addr.len()) };
            let res = syscall_res(ret as isize);
            self.in_progress = res == -libc::EINPROGRESS;
            return res;
        }
        let mut err: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `err` and `len` are live locals of the sizes given.
        let ret = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if ret < 0 {
            return syscall_res(ret as isize);
        }
        if err != 0 {
            return -err;
        }
        self.syscalls = 2;
        let mut peer: libc::sockaddr_storage = unsafe_zeroed();
        let mut peer_len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: `peer` is a live sockaddr_storage of `peer_len` bytes.
        let ret = unsafe {
            libc::getpeername(
                fd,
                (&mut peer as *mut libc::sockaddr_storage).cast(),
                &mut peer_len,
            )
        };
        match syscall_res(ret as isize) {
            res if res == -libc::ENOTCONN => -libc::EAGAIN,
            res => res,
        }
    }

    fn attempt_syscalls(&self) -> u64 {
        u64::from(self.syscalls)
    }
}

/// Connects the socket `fd` to `addr`.
pub(crate) fn connect(fd: &SharedFd, addr: SockAddr) -> Op<Connect> {
    Op::new(Connect {
        fd: fd.clone(),
        addr: Box::new(addr),
        in_progress: false,
        syscalls: 0,
    })
}

fn unsafe_zeroed() -> libc::sockaddr_storage {
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    unsafe { std::mem::zeroed() }
}
