//! [`UnixStream`].

use crate::net::addr::SockAddr;
use crate::net::methods::{
    fd_impls, fixed_file_methods, stream_read_methods, stream_write_methods,
};
use crate::net::socket::Socket;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;

/// A connected Unix stream socket. Same I/O methods as
/// [`TcpStream`](crate::net::TcpStream).
#[derive(Debug)]
pub struct UnixStream {
    socket: Socket,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a bad path; `NotFound`, `ConnectionRefused` …
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        UnixStream::connect_sockaddr(SockAddr::from_path(path.as_ref())?).await
    }

    /// Connects to `addr`: a path or an abstract name.
    ///
    /// # Errors
    ///
    /// As for [`connect`](Self::connect).
    pub async fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        UnixStream::connect_sockaddr(SockAddr::from_unix(addr)?).await
    }

    async fn connect_sockaddr(addr: SockAddr) -> io::Result<UnixStream> {
        let socket = Socket::new(libc::AF_UNIX, libc::SOCK_STREAM)?;
        socket.connect(addr).await?;
        Ok(UnixStream { socket })
    }

    /// A connected pair of unnamed sockets.
    ///
    /// # Errors
    ///
    /// The error of `socketpair(2)`.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = Socket::pair(libc::SOCK_STREAM)?;
        Ok((UnixStream::from_socket(a), UnixStream::from_socket(b)))
    }

    pub(crate) fn from_socket(socket: Socket) -> UnixStream {
        UnixStream { socket }
    }

    /// Wraps a std stream.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> UnixStream {
        UnixStream::from_socket(Socket::from_fd(OwnedFd::from(stream)))
    }

    /// A std stream for the same socket (a duplicate fd).
    ///
    /// # Errors
    ///
    /// The error of `dup` (`EMFILE`).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        Ok(self.socket.into_fd()?.into())
    }

    /// The local address (unnamed for a connecting socket).
    ///
    /// # Errors
    ///
    /// The error of `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()?.to_unix()
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` if the connection is gone.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.socket.peer_addr()?.to_unix()
    }

    fn socket(&self) -> &Socket {
        &self.socket
    }

    stream_read_methods!();
    stream_write_methods!();
    fixed_file_methods!();
}

fd_impls!(UnixStream);
