//! [`TcpListener`].

use super::TcpStream;
use crate::net::addr::{resolve, SockAddr, ToSocketAddrs};
use crate::net::incoming::Incoming;
use crate::net::socket::Socket;
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

/// Backlog of a listener made by [`TcpListener::bind`].
const DEFAULT_BACKLOG: u32 = 1024;

/// A TCP socket listening for connections.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use ringloop::net::TcpListener;
///
/// let listener = TcpListener::bind("127.0.0.1:8080").await?;
/// let mut incoming = listener.incoming();
/// loop {
///     let stream = incoming.next().await?;
///     ringloop::spawn(async move {
///         let (res, buf) = stream.read(vec![0; 4096]).await;
///         if let Ok(n) = res {
///             let _ = stream.write_all(buf).await;
///             let _ = n;
///         }
///     });
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct TcpListener {
    socket: Socket,
}

impl TcpListener {
    /// Binds to `addr` (the first of its addresses that works) with
    /// `SO_REUSEADDR`, and listens with a backlog of 1024.
    ///
    /// # Errors
    ///
    /// The resolver's error, or the last address's `bind`/`listen` error
    /// (`AddrInUse` …).
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        TcpListener::bind_with(&addr, false).await
    }

    /// Like [`bind`](Self::bind), with `SO_REUSEPORT` too: several
    /// listeners (one per thread, each with its own runtime) can share the
    /// address, and the kernel spreads connections among them.
    ///
    /// # Errors
    ///
    /// As for [`bind`](Self::bind).
    pub async fn bind_reuseport<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        TcpListener::bind_with(&addr, true).await
    }

    async fn bind_with<A: ToSocketAddrs>(addr: &A, reuse_port: bool) -> io::Result<TcpListener> {
        let mut last = None;
        for addr in resolve(addr).await? {
            match TcpListener::bind_one(&SockAddr::from_inet(&addr), reuse_port) {
                Ok(listener) => return Ok(listener),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve yields at least one address"))
    }

    fn bind_one(addr: &SockAddr, reuse_port: bool) -> io::Result<TcpListener> {
        let socket = Socket::for_addr(addr, libc::SOCK_STREAM)?;
        socket.set_opt(libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        if reuse_port {
            socket.set_opt(libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
        }
        socket.bind(addr)?;
        socket.listen(DEFAULT_BACKLOG)?;
        Ok(TcpListener { socket })
    }

    /// Sets the length of the queue of connections not yet accepted (the
    /// kernel caps it at `net.core.somaxconn`).
    ///
    /// # Errors
    ///
    /// The error of `listen(2)`.
    pub fn set_backlog(&self, backlog: u32) -> io::Result<()> {
        self.socket.listen(backlog)
    }

    /// Accepts one connection; returns it and the peer's address.
    ///
    /// Out of file descriptors (`EMFILE`, `ENFILE`) or kernel memory, it
    /// waits (1 ms, doubling to 128 ms) and tries again instead of failing
    /// or spinning: the connection waits in the backlog. Dropping the
    /// future cancels the accept; a connection accepted anyway is closed.
    ///
    /// # Errors
    ///
    /// Any other accept error.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (socket, addr) = self.socket.accept().await?;
        Ok((TcpStream::from_socket(socket), addr.to_inet()?))
    }

    /// The accepted connections as a stream, from one multishot accept
    /// (single-shot accepts on kernels before 5.19). See [`Incoming`].
    pub fn incoming(&self) -> Incoming<TcpStream> {
        fn make(fd: OwnedFd) -> TcpStream {
            TcpStream::from_socket(Socket::from_fd(fd))
        }
        Incoming::new(self.socket.fd().clone(), make)
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// The error of `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()?.to_inet()
    }

    /// Wraps a std listener (which must be listening).
    pub fn from_std(listener: std::net::TcpListener) -> TcpListener {
        TcpListener {
            socket: Socket::from_fd(OwnedFd::from(listener)),
        }
    }

    /// A std listener for the same socket (a duplicate fd: ops still in
    /// flight keep the original until they complete).
    ///
    /// # Errors
    ///
    /// The error of `dup` (`EMFILE`).
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        Ok(self.socket.into_fd()?.into())
    }

    fn socket(&self) -> &Socket {
        &self.socket
    }
}

crate::net::methods::fd_impls!(TcpListener);
