//! [`UnixDatagram`].

use crate::buf::{IoBuf, IoBufMut};
use crate::net::addr::SockAddr;
use crate::net::methods::{fd_impls, fixed_file_methods};
use crate::net::socket::Socket;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;

/// A Unix datagram socket.
#[derive(Debug)]
pub struct UnixDatagram {
    socket: Socket,
}

impl UnixDatagram {
    /// A socket bound to the file system path `path`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a bad path; `AddrInUse` if the file exists.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_sockaddr(&SockAddr::from_path(path.as_ref())?)
    }

    /// A socket bound to `addr`: a path or an abstract name.
    ///
    /// # Errors
    ///
    /// As for [`bind`](Self::bind); `InvalidInput` for an unnamed address.
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_sockaddr(&SockAddr::from_unix(addr)?)
    }

    fn bind_sockaddr(addr: &SockAddr) -> io::Result<UnixDatagram> {
        let socket = Socket::new(libc::AF_UNIX, libc::SOCK_DGRAM)?;
        socket.bind(addr)?;
        Ok(UnixDatagram { socket })
    }

    /// A socket bound to no address (it can send, and receive replies only
    /// once connected or if the peer uses a pair).
    ///
    /// # Errors
    ///
    /// The error of `socket(2)`.
    pub fn unbound() -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            socket: Socket::new(libc::AF_UNIX, libc::SOCK_DGRAM)?,
        })
    }

    /// A connected pair of unnamed sockets.
    ///
    /// # Errors
    ///
    /// The error of `socketpair(2)`.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = Socket::pair(libc::SOCK_DGRAM)?;
        Ok((UnixDatagram { socket: a }, UnixDatagram { socket: b }))
    }

    /// Sets the default peer to the socket at `path`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a bad path; the error of `connect(2)`.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.socket
            .connect_now(&SockAddr::from_path(path.as_ref())?)
    }

    /// Sets the default peer to `addr`.
    ///
    /// # Errors
    ///
    /// As for [`connect`](Self::connect).
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.socket.connect_now(&SockAddr::from_unix(addr)?)
    }

    /// Sends `buf`'s initialised bytes as one datagram to the socket at
    /// `path`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a bad path; the send's error.
    pub async fn send_to<B: IoBuf, P: AsRef<Path>>(
        &self,
        buf: B,
        path: P,
    ) -> (io::Result<usize>, B) {
        match SockAddr::from_path(path.as_ref()) {
            Ok(addr) => self.socket.send_to(buf, addr).await,
            Err(e) => (Err(e), buf),
        }
    }

    /// Sends `buf`'s initialised bytes as one datagram to `addr`.
    ///
    /// # Errors
    ///
    /// As for [`send_to`](Self::send_to).
    pub async fn send_to_addr<B: IoBuf>(
        &self,
        buf: B,
        addr: &SocketAddr,
    ) -> (io::Result<usize>, B) {
        match SockAddr::from_unix(addr) {
            Ok(addr) => self.socket.send_to(buf, addr).await,
            Err(e) => (Err(e), buf),
        }
    }

    /// Receives one datagram into `buf`; returns its length (truncated to
    /// the buffer) and its sender's address (unnamed if it is not bound).
    ///
    /// # Errors
    ///
    /// The receive's error.
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> (io::Result<(usize, SocketAddr)>, B) {
        let (res, buf) = self.socket.recv_from(buf).await;
        (res.and_then(|(n, addr)| Ok((n, addr.to_unix()?))), buf)
    }

    /// Sends `buf`'s initialised bytes as one datagram to the connected
    /// peer.
    ///
    /// # Errors
    ///
    /// `NotConnected` if there is no peer; the send's error.
    pub async fn send<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        self.socket.send(buf, 0).await
    }

    /// Receives one datagram into `buf`.
    ///
    /// # Errors
    ///
    /// The receive's error.
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        self.socket.read(buf).await
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// The error of `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()?.to_unix()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` if not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.socket.peer_addr()?.to_unix()
    }

    /// Wraps a std socket.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> UnixDatagram {
        UnixDatagram {
            socket: Socket::from_fd(OwnedFd::from(socket)),
        }
    }

    /// A std socket for the same fd (duplicated).
    ///
    /// # Errors
    ///
    /// The error of `dup` (`EMFILE`).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        Ok(self.socket.into_fd()?.into())
    }

    fn socket(&self) -> &Socket {
        &self.socket
    }

    fixed_file_methods!();
}

fd_impls!(UnixDatagram);
