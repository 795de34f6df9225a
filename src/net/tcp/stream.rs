//! [`TcpStream`].

use super::{OwnedReadHalf, OwnedWriteHalf};
use crate::net::addr::{resolve, SockAddr, ToSocketAddrs};
use crate::net::methods::{
    fd_impls, fixed_file_methods, stream_read_methods, stream_write_methods,
};
use crate::net::socket::Socket;
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;

/// A TCP connection.
///
/// Reads and writes take owned buffers and hand them back with the result
/// (see [`crate::buf`]); every send carries `MSG_NOSIGNAL`, so a vanished
/// peer is an `io::Error`, never a `SIGPIPE`.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use ringloop::net::TcpStream;
///
/// let stream = TcpStream::connect("127.0.0.1:8080").await?;
/// let (res, _) = stream.write_all(b"hello" as &'static [u8]).await;
/// res?;
/// let (res, buf) = stream.read(vec![0; 1024]).await;
/// println!("{:?}", &buf[..res?]);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TcpStream {
    socket: Socket,
}

impl TcpStream {
    /// Connects to `addr`, trying each of its addresses in turn. Host
    /// names are resolved on the blocking pool.
    ///
    /// # Errors
    ///
    /// The resolver's error, or the last address's connect error
    /// (`ConnectionRefused` …).
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let mut last = None;
        for addr in resolve(&addr).await? {
            let addr = SockAddr::from_inet(&addr);
            let socket = Socket::for_addr(&addr, libc::SOCK_STREAM)?;
            match socket.connect(addr).await {
                Ok(()) => return Ok(TcpStream { socket }),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve yields at least one address"))
    }

    /// Like [`connect`](Self::connect), giving up after `timeout` (name
    /// resolution included). The connect in flight is cancelled and its
    /// socket closed.
    ///
    /// # Errors
    ///
    /// `TimedOut` when the time is up; otherwise as for
    /// [`connect`](Self::connect).
    pub async fn connect_timeout<A: ToSocketAddrs>(
        addr: A,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        crate::time::timeout(timeout, TcpStream::connect(addr)).await?
    }

    pub(crate) fn from_socket(socket: Socket) -> TcpStream {
        TcpStream { socket }
    }

    /// Wraps a std stream.
    pub fn from_std(stream: std::net::TcpStream) -> TcpStream {
        TcpStream::from_socket(Socket::from_fd(OwnedFd::from(stream)))
    }

    /// A std stream for the same connection (a duplicate fd: ops still in
    /// flight keep the original until they complete).
    ///
    /// # Errors
    ///
    /// The error of `dup` (`EMFILE`).
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        Ok(self.socket.into_fd()?.into())
    }

    /// The local address of the connection.
    ///
    /// # Errors
    ///
    /// The error of `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()?.to_inet()
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` if the connection is gone.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.socket.peer_addr()?.to_inet()
    }

    /// Sets `TCP_NODELAY`: send small segments at once instead of
    /// coalescing them (Nagle's algorithm).
    ///
    /// # Errors
    ///
    /// The error of `setsockopt(2)`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.socket.set_opt(
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            libc::c_int::from(nodelay),
        )
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// The error of `getsockopt(2)`.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(self.socket.opt(libc::IPPROTO_TCP, libc::TCP_NODELAY)? != 0)
    }

    /// Splits the stream into a reading and a writing half, each owned,
    /// so two tasks can use them at once. Dropping the writing half shuts
    /// down the writing side (the peer reads EOF);
    /// [`OwnedReadHalf::reunite`] puts them back together.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        super::split::split(self.socket)
    }

    fn socket(&self) -> &Socket {
        &self.socket
    }

    stream_read_methods!();
    stream_write_methods!();
    fixed_file_methods!();
}

fd_impls!(TcpStream);
