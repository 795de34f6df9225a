//! `IORING_OP_RECVMSG` into one owned buffer, with the sender's address
//! (`recv_from` on datagram sockets).

use super::msghdr::MsgHdr;
use crate::buf::IoBufMut;
use crate::driver::epoll::Interest;
use crate::driver::op::{syscall_res, Readiness};
use crate::driver::{Cqe, Op, OpData};
use crate::io::shared_fd::sqe_fd;
use crate::io::SharedFd;
use crate::net::SockAddr;
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct RecvMsg<B> {
    /// Keeps the socket open until the terminal CQE.
    fd: SharedFd,
    buf: B,
    /// The msghdr, its iovec and the address buffer the kernel fills.
    hdr: Box<MsgHdr>,
}

// SAFETY: the SQE points at `hdr` (a box `RecvMsg` owns), which points at
// itself and into `buf`'s stable memory (IoBufMut contract).
unsafe impl<B: IoBufMut> OpData for RecvMsg<B> {
    type Output = (io::Result<(usize, SockAddr)>, B);
    const NAME: &'static str = "recvmsg";

    fn sqe(&mut self) -> squeue::Entry {
        let len = self.buf.bytes_total();
        let msg = self.hdr.point(self.buf.stable_mut_ptr(), len);
        sqe_fd!(self.fd, |fd| opcode::RecvMsg::new(fd, msg).build())
    }

    fn complete(self, cqe: Cqe) -> Self::Output {
        let mut buf = self.buf;
        let mut hdr = self.hdr;
        let result = cqe.result.map(|n| {
            // SAFETY: the kernel reports `n` bytes written into the buffer.
            unsafe { buf.set_init(n as usize) };
            *hdr.addr.len_mut() = hdr.msg.msg_namelen;
            (n as usize, hdr.addr.clone())
        });
        (result, buf)
    }

    fn readiness(&self) -> Readiness<'_> {
        Readiness::Wait(&self.fd, Interest::Read)
    }

    fn attempt(&mut self) -> i32 {
        let len = self.buf.bytes_total();
        let msg = self.hdr.point(self.buf.stable_mut_ptr(), len);
        // SAFETY: `msg` is the header `point` just aimed at `buf`.
        syscall_res(unsafe { libc::recvmsg(self.fd.raw(), msg, libc::MSG_DONTWAIT) })
    }
}

/// Receives one message into `buf` and the address it came from.
pub(crate) fn recv_from<B: IoBufMut>(fd: &SharedFd, buf: B) -> Op<RecvMsg<B>> {
    Op::new(RecvMsg {
        fd: fd.clone(),
        buf,
        // An empty address: the kernel may write up to its full size.
        hdr: MsgHdr::new(Some(SockAddr::empty())),
    })
}
