//! `IORING_OP_SEND_ZC` (Linux 6.0): a send the kernel may do without copying.
//!
//! # Protocol
//!
//! Two CQEs: the **result** (bytes sent, or an error), flagged `F_MORE` when
//! a notification follows; then the **notification** (`F_NOTIF`, no
//! `F_MORE`) once the kernel no longer reads the buffer. The buffer is the
//! kernel's until then, so the op runs on the multishot machinery: the
//! future resolves, and hands the buffer back, only at the notification;
//! dropped in between, the buffer waits in the op table for it.

use crate::buf::IoBuf;
use crate::driver::multishot::{Multishot, MultishotData};
use crate::driver::Cqe;
use crate::io::shared_fd::sqe_fd;
use crate::io::SharedFd;
use io_uring::{opcode, squeue};
use std::future::poll_fn;
use std::io;

pub(crate) struct SendZc<B> {
    /// Keeps the socket open until the terminal CQE.
    fd: SharedFd,
    buf: B,
    /// The result CQE's, once it came.
    result: Option<io::Result<u32>>,
}

// SAFETY: the SQE points into `buf`'s stable memory (IoBuf contract), which
// `SendZc` owns until the notification CQE (the terminal one).
unsafe impl<B: IoBuf> MultishotData for SendZc<B> {
    type Item = ();
    const NAME: &'static str = "send_zc";

    fn sqe(&mut self) -> squeue::Entry {
        let len = self.buf.bytes_init().min(u32::MAX as usize) as u32;
        sqe_fd!(self.fd, |fd| opcode::SendZc::new(
            fd,
            self.buf.stable_ptr(),
            len
        )
        .flags(libc::MSG_NOSIGNAL)
        .build())
    }

    fn on_cqe(&mut self, cqe: Cqe) {
        if !io_uring::cqueue::notif(cqe.flags) {
            self.result = Some(cqe.result);
        }
    }
}

/// Sends some of `buf`'s initialised bytes; resolves after the kernel's
/// notification that it is done with the buffer.
pub(crate) async fn send_zc<B: IoBuf>(fd: &SharedFd, buf: B) -> (io::Result<usize>, B) {
    let mut op = Multishot::new(SendZc {
        fd: fd.clone(),
        buf,
        result: None,
    });
    while poll_fn(|cx| op.poll_next(cx)).await.is_some() {}
    let data = op.into_data().expect("the loop ends when the op has ended");
    let result = data
        .result
        .unwrap_or_else(|| Err(io::Error::other("SEND_ZC ended without a result CQE")));
    (result.map(|n| n as usize), data.buf)
}
