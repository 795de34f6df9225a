//! [`UdpSocket`].

use super::addr::{resolve, resolve_first, SockAddr, ToSocketAddrs};
use super::methods::{fd_impls, fixed_file_methods};
use super::socket::Socket;
use crate::buf::{IoBuf, IoBufMut};
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

/// A UDP socket.
///
/// [`send_to`](Self::send_to) and [`recv_from`](Self::recv_from) are
/// `SENDMSG`/`RECVMSG` ops whose `msghdr`, iovec and address live in one
/// box in the op until its completion; once [`connect`](Self::connect)ed,
/// [`send`](Self::send) and [`recv`](Self::recv) skip the address.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use ringloop::net::UdpSocket;
///
/// let socket = UdpSocket::bind("127.0.0.1:0").await?;
/// let (res, buf) = socket.recv_from(vec![0; 1500]).await;
/// let (n, from) = res?;
/// let (res, _) = socket.send_to(buf, from).await; // echo it
/// res?;
/// # let _ = n; Ok(()) }
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    socket: Socket,
}

impl UdpSocket {
    /// Binds a socket to `addr` (the first of its addresses that works).
    ///
    /// # Errors
    ///
    /// The resolver's error, or the last address's `bind` error.
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let mut last = None;
        for addr in resolve(&addr).await? {
            let addr = SockAddr::from_inet(&addr);
            let socket = Socket::for_addr(&addr, libc::SOCK_DGRAM)?;
            match socket.bind(&addr) {
                Ok(()) => return Ok(UdpSocket { socket }),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve yields at least one address"))
    }

    /// Sets the default peer: [`send`](Self::send) goes there and only its
    /// datagrams are received.
    ///
    /// # Errors
    ///
    /// The resolver's error, or the error of `connect(2)`.
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        let mut last = None;
        for addr in resolve(&addr).await? {
            match self.socket.connect_now(&SockAddr::from_inet(&addr)) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve yields at least one address"))
    }

    /// Sends `buf`'s initialised bytes as one datagram to `addr` (its first
    /// address).
    ///
    /// # Errors
    ///
    /// The resolver's error; the send's error (`MessageTooLong` …).
    pub async fn send_to<B: IoBuf, A: ToSocketAddrs>(
        &self,
        buf: B,
        addr: A,
    ) -> (io::Result<usize>, B) {
        match resolve_first(&addr).await {
            Ok(addr) => self.socket.send_to(buf, SockAddr::from_inet(&addr)).await,
            Err(e) => (Err(e), buf),
        }
    }

    /// Receives one datagram into `buf`; returns its length (truncated to
    /// the buffer) and its sender.
    ///
    /// # Errors
    ///
    /// The receive's error.
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> (io::Result<(usize, SocketAddr)>, B) {
        let (res, buf) = self.socket.recv_from(buf).await;
        (res.and_then(|(n, addr)| Ok((n, addr.to_inet()?))), buf)
    }

    /// Sends `buf`'s initialised bytes as one datagram to the connected
    /// peer.
    ///
    /// # Errors
    ///
    /// `DestinationAddressRequired`-style errors (`ENOTCONN`/`EDESTADDRREQ`)
    /// if not connected; `ConnectionRefused` after an ICMP unreachable.
    pub async fn send<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        self.socket.send(buf, 0).await
    }

    /// Receives one datagram from the connected peer into `buf`.
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
        self.socket.local_addr()?.to_inet()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` if not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.socket.peer_addr()?.to_inet()
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// The error of `setsockopt(2)`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.socket
            .set_opt(libc::SOL_SOCKET, libc::SO_BROADCAST, libc::c_int::from(on))
    }

    /// Wraps a std socket.
    pub fn from_std(socket: std::net::UdpSocket) -> UdpSocket {
        UdpSocket {
            socket: Socket::from_fd(OwnedFd::from(socket)),
        }
    }

    /// A std socket for the same fd (duplicated: ops still in flight keep
    /// the original until they complete).
    ///
    /// # Errors
    ///
    /// The error of `dup` (`EMFILE`).
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        Ok(self.socket.into_fd()?.into())
    }

    fn socket(&self) -> &Socket {
        &self.socket
    }

    fixed_file_methods!();
}

fd_impls!(UdpSocket);
