//! `IORING_OP_SENDMSG` of one owned buffer to an address (`send_to` on
//! datagram sockets), always with `MSG_NOSIGNAL`.

use super::msghdr::MsgHdr;
use crate::buf::IoBuf;
use crate::driver::epoll::Interest;
use crate::driver::op::{syscall_res, Readiness};
use crate::driver::{Cqe, Op, OpData};
use crate::io::shared_fd::sqe_fd;
use crate::io::SharedFd;
use crate::net::SockAddr;
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct SendMsg<B> {
    /// Keeps the socket open until the terminal CQE.
    fd: SharedFd,
    buf: B,
    /// The msghdr, its iovec and the destination address.
    hdr: Box<MsgHdr>,
}

// SAFETY: the SQE points at `hdr` (a box `SendMsg` owns), which points at
// itself and into `buf`'s stable memory (IoBuf contract); the kernel only
// reads through the iovec.
unsafe impl<B: IoBuf> OpData for SendMsg<B> {
    type Output = (io::Result<usize>, B);
    const NAME: &'static str = "sendmsg";

    fn sqe(&mut self) -> squeue::Entry {
        let len = self.buf.bytes_init();
        let msg = self.hdr.point(self.buf.stable_ptr().cast_mut(), len);
        sqe_fd!(self.fd, |fd| opcode::SendMsg::new(fd, msg)
            .flags(libc::MSG_NOSIGNAL as u32)
            .build())
    }

    fn complete(self, cqe: Cqe) -> Self::Output {
        (cqe.result.map(|n| n as usize), self.buf)
    }

    fn readiness(&self) -> Readiness<'_> {
        Readiness::Wait(&self.fd, Interest::Write)
    }

    fn attempt(&mut self) -> i32 {
        let len = self.buf.bytes_init();
        let msg = self.hdr.point(self.buf.stable_ptr().cast_mut(), len);
        let flags = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
        // SAFETY: `msg` is the header `point` just aimed at `buf`.
        syscall_res(unsafe { libc::sendmsg(self.fd.raw(), msg, flags) })
    }
}

/// Sends `buf`'s initialised bytes to `addr` as one message.
pub(crate) fn send_to<B: IoBuf>(fd: &SharedFd, buf: B, addr: SockAddr) -> Op<SendMsg<B>> {
    Op::new(SendMsg {
        fd: fd.clone(),
        buf,
        hdr: MsgHdr::new(Some(addr)),
    })
}
