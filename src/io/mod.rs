//! I/O resources shared by the other modules, and pipes.
//!
//! Reads and writes follow the owned-buffer ("rent") style of every
//! io_uring API: the buffer goes in by value and comes back with the
//! result, `(io::Result<usize>, B)`, because the kernel owns it while the
//! operation is in flight (see [`crate::buf`]).

mod pipe;
pub(crate) mod shared_fd;

pub use pipe::{pipe, PipeReader, PipeWriter};
pub(crate) use shared_fd::SharedFd;
