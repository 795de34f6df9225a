//! Multishot `IORING_OP_RECV` with buffer select (Linux 6.0): one SQE, one
//! CQE per chunk received, each naming a buffer of a [`BufRing`].
//!
//! The op ends (a CQE without `F_MORE`) at EOF (`res == 0`), on an error,
//! and when the ring is empty (`ENOBUFS`; the data stays in the socket).
//! The stream built on it ([`crate::net::RecvStream`]) re-arms after
//! `ENOBUFS` and after an end that carried data.

use super::recv_provided::claim;
use crate::buf::{BufRing, RingBuf};
use crate::driver::multishot::{Multishot, MultishotData};
use crate::driver::Cqe;
use crate::io::shared_fd::sqe_fd;
use crate::io::SharedFd;
use io_uring::{opcode, squeue};
use std::io;

pub(crate) struct RecvMulti {
    /// Keeps the socket open until the terminal CQE.
    fd: SharedFd,
    /// Keeps the ring registered (and its memory mapped) until then.
    ring: BufRing,
}

// SAFETY: the SQE carries no pointer of ours; the buffers it selects are in
// `ring`, which `RecvMulti` keeps alive.
unsafe impl MultishotData for RecvMulti {
    type Item = io::Result<Option<RingBuf>>;
    const NAME: &'static str = "recv_multi";

    fn sqe(&mut self) -> squeue::Entry {
        sqe_fd!(self.fd, |fd| opcode::RecvMulti::new(fd, self.ring.bgid())
            .build())
    }

    fn on_cqe(&mut self, cqe: Cqe) -> Self::Item {
        claim(&self.ring, cqe)
    }
}

/// Receives into buffers of `ring` until EOF, an error or `ENOBUFS`.
pub(crate) fn recv_multi(fd: &SharedFd, ring: &BufRing) -> Multishot<RecvMulti> {
    Multishot::new(RecvMulti {
        fd: fd.clone(),
        ring: ring.clone(),
    })
}
