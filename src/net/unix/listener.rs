//! [`UnixListener`].

use super::UnixStream;
use crate::net::addr::SockAddr;
use crate::net::incoming::Incoming;
use crate::net::methods::fd_impls;
use crate::net::socket::Socket;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;

/// Backlog of a Unix listener.
const DEFAULT_BACKLOG: u32 = 1024;

/// A Unix stream socket listening for connections.
#[derive(Debug)]
pub struct UnixListener {
    socket: Socket,
}

impl UnixListener {
    /// Binds to the file system path `path` and listens (backlog 1024).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a path of 108 bytes or more or with a NUL byte;
    /// `AddrInUse` if the file exists; the error of `bind`/`listen`.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::bind_sockaddr(&SockAddr::from_path(path.as_ref())?)
    }

    /// Binds to `addr`: a path or an abstract name.
    ///
    /// # Errors
    ///
    /// As for [`bind`](Self::bind); `InvalidInput` for an unnamed address.
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        UnixListener::bind_sockaddr(&SockAddr::from_unix(addr)?)
    }

    fn bind_sockaddr(addr: &SockAddr) -> io::Result<UnixListener> {
        let socket = Socket::new(libc::AF_UNIX, libc::SOCK_STREAM)?;
        socket.bind(addr)?;
        socket.listen(DEFAULT_BACKLOG)?;
        Ok(UnixListener { socket })
    }

    /// Accepts one connection; returns it and the peer's address (usually
    /// unnamed). Backs off when out of fds, like
    /// [`TcpListener::accept`](crate::net::TcpListener::accept).
    ///
    /// # Errors
    ///
    /// Any other accept error.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (socket, addr) = self.socket.accept().await?;
        Ok((UnixStream::from_socket(socket), addr.to_unix()?))
    }

    /// The accepted connections as a stream, from one multishot accept.
    /// See [`Incoming`].
    pub fn incoming(&self) -> Incoming<UnixStream> {
        fn make(fd: OwnedFd) -> UnixStream {
            UnixStream::from_socket(Socket::from_fd(fd))
        }
        Incoming::new(self.socket.fd().clone(), make)
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// The error of `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()?.to_unix()
    }

    /// Wraps a std listener.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> UnixListener {
        UnixListener {
            socket: Socket::from_fd(OwnedFd::from(listener)),
        }
    }

    /// A std listener for the same socket (a duplicate fd).
    ///
    /// # Errors
    ///
    /// The error of `dup` (`EMFILE`).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        Ok(self.socket.into_fd()?.into())
    }

    fn socket(&self) -> &Socket {
        &self.socket
    }
}

fd_impls!(UnixListener);
