//! The side structures of `sendmsg`/`recvmsg` ops, boxed together.
//!
//! One allocation holds the `msghdr`, the single `iovec` it points to and
//! the address it names; the header points into its own box, which does not
//! move when the op data moves. The kernel reads them at issue (and again
//! if the op is retried asynchronously) and, for `recvmsg`, writes the
//! address and `msg_namelen` back at completion — so the box lives in the op
//! data until the terminal CQE.

use crate::net::SockAddr;
use std::ptr;

pub(crate) struct MsgHdr {
    pub(crate) msg: libc::msghdr,
    iov: libc::iovec,
    pub(crate) addr: SockAddr,
}

impl MsgHdr {
    /// A header for one buffer and, if given, an address (`None`: the
    /// socket's connected peer).
    pub(crate) fn new(addr: Option<SockAddr>) -> Box<MsgHdr> {
        let named = addr.is_some();
        let mut hdr = Box::new(MsgHdr {
            // SAFETY: an all-zero msghdr is valid (no name, no iovec).
            msg: unsafe { std::mem::zeroed() },
            iov: libc::iovec {
                iov_base: ptr::null_mut(),
                iov_len: 0,
            },
            addr: addr.unwrap_or_else(SockAddr::empty),
        });
        if named {
            hdr.msg.msg_name = hdr.addr.as_mut_ptr().cast();
            hdr.msg.msg_namelen = hdr.addr.len();
        }
        hdr
    }

    /// Points the header at `len` bytes at `base`; returns the header's
    /// address for the SQE.
    pub(crate) fn point(&mut self, base: *mut u8, len: usize) -> *mut libc::msghdr {
        self.iov.iov_base = base.cast();
        self.iov.iov_len = len;
        self.msg.msg_iov = &mut self.iov;
        self.msg.msg_iovlen = 1;
        &mut self.msg
    }
}
