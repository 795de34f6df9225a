//! Networking on the ring: TCP, UDP and Unix sockets.
//!
//! Every operation that can wait on the network is one io_uring op; the
//! calls that never block (`socket`, `bind`, `listen`, socket options) are
//! plain syscalls. Reads and writes take owned buffers and give them back
//! with the result, `(io::Result<usize>, B)` (see [`crate::buf`]).
//!
//! ```
//! use ringloop::net::{TcpListener, TcpStream};
//!
//! ringloop::Runtime::new()?.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let client = TcpStream::connect(addr).await?;
//!     let (server, _peer) = listener.accept().await?;
//!     let (res, _) = client.write_all(b"ping" as &'static [u8]).await;
//!     res?;
//!     let (res, buf) = server.read(vec![0; 16]).await;
//!     assert_eq!(&buf[..res?], b"ping");
//!     Ok::<_, std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # What io_uring adds over readiness
//!
//! * [`TcpListener::incoming`] is **one multishot accept**: one SQE, a CQE
//!   per connection ([`Incoming`] states its protocol).
//! * `recv_multishot(&ring)` is **one multishot receive** with a provided
//!   buffer ring ([`BufRing`](crate::buf::BufRing)): a CQE per chunk, no SQE
//!   per read, buffers shared by every connection ([`RecvStream`] states
//!   how `ENOBUFS` and the end of the op re-arm, never silently).
//! * `send_zc` sends without copying and keeps the buffer until the
//!   kernel's notification.
//! * `register(&FixedFiles)` puts a socket in the ring's fixed-file table:
//!   its receives and sends then name the slot instead of the fd (opt-in;
//!   the slot is freed after the socket's last op, and the fd stays usable).
//!
//! # Failure behaviour
//!
//! * Every send carries `MSG_NOSIGNAL`: a peer that is gone is a
//!   `BrokenPipe` or `ConnectionReset` error, never a `SIGPIPE`. EOF reads
//!   0 (or `None` from a stream).
//! * A dropped accept never leaks its connection: an fd the kernel made
//!   after the drop is closed (the peer sees EOF).
//! * Out of fds, accepting backs off (1 ms doubling to 128 ms) instead of
//!   spinning; the connections wait in the backlog.
//! * Fds close only after every op using them has completed, so an fd
//!   number is never reused under an op in flight.
//! * Host names are resolved on the blocking pool ([`ToSocketAddrs`]).
//!   Kernel features are probed at run time: multishot accept, multishot
//!   receive and `SEND_ZC` fall back to single-shot ops or plain sends.

mod addr;
mod incoming;
pub(crate) mod methods;
mod recv_stream;
pub(crate) mod socket;
mod tcp;
mod udp;
mod unix;

pub(crate) use addr::SockAddr;
pub use addr::ToSocketAddrs;
pub use incoming::Incoming;
pub use recv_stream::RecvStream;
pub use tcp::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
