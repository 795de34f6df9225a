//! [`OwnedReadHalf`] and [`OwnedWriteHalf`]: a [`TcpStream`] in two owned
//! halves, for a reading task and a writing task.
//!
//! Both halves hold the same socket (the fd closes when the last of them,
//! and every op they started, is gone). Dropping the writing half shuts
//! down the writing side (`shutdown(SHUT_WR)`), so the peer reads EOF, as a
//! closed stream would tell it.

use super::TcpStream;
use crate::net::methods::{fd_impls, stream_read_methods, stream_write_methods};
use crate::net::socket::Socket;
use std::fmt;
use std::io;
use std::net::SocketAddr;

/// The reading half of a [`TcpStream`], from [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    socket: Socket,
}

/// The writing half of a [`TcpStream`], from [`TcpStream::into_split`].
/// Dropping it shuts down the writing side.
pub struct OwnedWriteHalf {
    /// `None` once reunited (then dropping does not shut down).
    socket: Option<Socket>,
}

pub(super) fn split(socket: Socket) -> (OwnedReadHalf, OwnedWriteHalf) {
    (
        OwnedReadHalf {
            socket: socket.clone(),
        },
        OwnedWriteHalf {
            socket: Some(socket),
        },
    )
}

impl OwnedReadHalf {
    /// Puts the halves back together.
    ///
    /// # Errors
    ///
    /// The two halves, if they come from different streams.
    pub fn reunite(
        self,
        write: OwnedWriteHalf,
    ) -> Result<TcpStream, (OwnedReadHalf, OwnedWriteHalf)> {
        if write.socket().raw() != self.socket.raw() {
            return Err((self, write));
        }
        let mut write = write;
        write.socket = None;
        Ok(TcpStream::from_socket(self.socket))
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` if the connection is gone.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.socket.peer_addr()?.to_inet()
    }

    fn socket(&self) -> &Socket {
        &self.socket
    }

    stream_read_methods!();
}

impl OwnedWriteHalf {
    /// The peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` if the connection is gone.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.socket().peer_addr()?.to_inet()
    }

    fn socket(&self) -> &Socket {
        self.socket
            .as_ref()
            .expect("the socket is taken only by reunite, which consumes the half")
    }

    stream_write_methods!();
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if let Some(socket) = &self.socket {
            // Never blocks; ENOTCONN (already gone) is fine to ignore.
            // SAFETY: plain syscall on an fd the socket keeps open.
            unsafe { libc::shutdown(socket.raw(), libc::SHUT_WR) };
        }
    }
}

impl fmt::Debug for OwnedWriteHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedWriteHalf")
            .field("socket", &self.socket)
            .finish()
    }
}

fd_impls!(OwnedReadHalf, OwnedWriteHalf);
