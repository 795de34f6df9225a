//! One file per operation. Each holds three things: the data the op owns
//! while in flight, how that data becomes an SQE, and how the terminal CQE
//! becomes the op's output. The shared submit/poll/cancel machinery lives
//! once, in `driver::op`.

pub(crate) mod accept;
pub(crate) mod close;
pub(crate) mod connect;
pub(crate) mod fallocate;
pub(crate) mod fs_support;
pub(crate) mod fsync;
pub(crate) mod ftruncate;
pub(crate) mod iovec;
pub(crate) mod link;
pub(crate) mod mkdir;
pub(crate) mod msghdr;
pub(crate) mod nop;
pub(crate) mod open;
pub(crate) mod preadv;
pub(crate) mod pwritev;
pub(crate) mod read;
pub(crate) mod read_fixed;
pub(crate) mod readv;
pub(crate) mod recv;
pub(crate) mod recv_multi;
pub(crate) mod recv_provided;
pub(crate) mod recvmsg;
pub(crate) mod rename;
pub(crate) mod send;
pub(crate) mod send_zc;
pub(crate) mod sendmsg;
pub(crate) mod shutdown;
pub(crate) mod statx;
pub(crate) mod symlink;
pub(crate) mod unlink;
pub(crate) mod write;
pub(crate) mod write_fixed;
pub(crate) mod writev;
