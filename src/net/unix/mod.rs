//! Unix domain sockets: [`UnixListener`], [`UnixStream`], [`UnixDatagram`].
//!
//! Addresses are std's [`SocketAddr`](std::os::unix::net::SocketAddr): a
//! path, or on Linux an abstract name (no file; made with
//! `std::os::linux::net::SocketAddrExt::from_abstract_name`). Methods that
//! take a path have an `_addr` twin that takes such an address.

mod datagram;
mod listener;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use stream::UnixStream;
