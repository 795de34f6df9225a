//! I/O resources shared by the other modules, and pipes.
//!
//! Reads and writes follow the owned-buffer ("rent") style of every
//! io_uring API: the buffer goes in by value and comes back with the
//! result, `(io::Result<usize>, B)`, because the kernel owns it while the
//! operation is in flight (see [`crate::buf`]).
//!
//! `Compat` (features `tokio-io`, `futures-io`, `hyper`) puts ringloop
//! streams and files behind the borrowed-slice I/O traits of the rest of
//! the ecosystem, at the cost of one copy per byte each way.

#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
pub mod compat;
mod pipe;
pub(crate) mod shared_fd;
mod write_all;

#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
pub use compat::Compat;
pub use pipe::{pipe, PipeReader, PipeWriter};
pub(crate) use shared_fd::SharedFd;
pub(crate) use write_all::WriteAll;
