//! [`Socket`]: the fd every type of `net` wraps, and the operations they
//! share.
//!
//! Setup calls that never block (`socket`, `bind`, `listen`, `setsockopt`,
//! `getsockname`, a datagram `connect`) are plain syscalls: a trip through
//! the ring would add a wait for nothing. Everything that can wait on the
//! network (accept, stream connect, send, receive, shutdown) is an op.
//!
//! Sockets are created blocking (`SOCK_CLOEXEC` only): io_uring polls them
//! internally, and a blocking fd behaves the same if handed to std.

use super::addr::{cvt, SockAddr};
use super::recv_stream::RecvStream;
use crate::buf::{BufRing, BufWaiter, IoBuf, IoBufMut, RingBuf, Slice};
use crate::driver::Op;
use crate::fs::FixedFiles;
use crate::io::{SharedFd, WriteAll};
use crate::op;
use crate::runtime::context;
use std::io;
use std::net::Shutdown;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

#[derive(Clone, Debug)]
pub(crate) struct Socket {
    fd: SharedFd,
}

impl Socket {
    /// `socket(domain, ty | SOCK_CLOEXEC, 0)`.
    pub(crate) fn new(domain: libc::c_int, ty: libc::c_int) -> io::Result<Socket> {
        // SAFETY: plain syscall; the result is checked.
        let fd = cvt(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: a fresh fd nobody else owns.
        Ok(Socket::from_fd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// A connected pair of Unix sockets of type `ty`.
    pub(crate) fn pair(ty: libc::c_int) -> io::Result<(Socket, Socket)> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two fds socketpair writes.
        cvt(unsafe {
            libc::socketpair(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr())
        })?;
        // SAFETY: two fresh fds nobody else owns.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok((Socket::from_fd(a), Socket::from_fd(b)))
    }

    pub(crate) fn from_fd(fd: OwnedFd) -> Socket {
        Socket {
            fd: SharedFd::new(fd),
        }
    }

    /// A socket for `addr`'s family.
    pub(crate) fn for_addr(addr: &SockAddr, ty: libc::c_int) -> io::Result<Socket> {
        Socket::new(addr.family(), ty)
    }

    pub(crate) fn fd(&self) -> &SharedFd {
        &self.fd
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.raw()
    }

    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// An fd for the same socket that the caller owns. Ops still in flight
    /// (dropped futures waiting for their CQE) keep the original open until
    /// they complete, so this duplicates it.
    pub(crate) fn into_fd(self) -> io::Result<OwnedFd> {
        self.fd.as_fd().try_clone_to_owned()
    }

    /// Puts the socket in a slot of `table`; its ops then name the slot
    /// (see [`SharedFd`]'s fixed slot protocol). Registering again in the
    /// same table does nothing.
    pub(crate) fn register(&self, table: &FixedFiles) -> io::Result<()> {
        if let Some(slot) = self.fd.fixed() {
            return if table.owns(slot) {
                Ok(())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "this socket is already registered in another table",
                ))
            };
        }
        let slot = table.insert(self.raw())?;
        if self.fd.set_fixed(slot).is_err() {
            unreachable!("checked above that the socket has no slot; one thread");
        }
        Ok(())
    }

    pub(crate) fn is_registered(&self) -> bool {
        self.fd.fixed().is_some()
    }

    pub(crate) fn bind(&self, addr: &SockAddr) -> io::Result<()> {
        // SAFETY: `addr` points to `addr.len()` valid bytes.
        cvt(unsafe { libc::bind(self.raw(), addr.as_ptr(), addr.len()) }).map(drop)
    }

    pub(crate) fn listen(&self, backlog: u32) -> io::Result<()> {
        let backlog = libc::c_int::try_from(backlog).unwrap_or(libc::c_int::MAX);
        // SAFETY: plain syscall on our fd.
        cvt(unsafe { libc::listen(self.raw(), backlog) }).map(drop)
    }

    /// `connect(2)` without waiting: for datagram sockets, which only record
    /// the peer.
    pub(crate) fn connect_now(&self, addr: &SockAddr) -> io::Result<()> {
        // SAFETY: `addr` points to `addr.len()` valid bytes.
        cvt(unsafe { libc::connect(self.raw(), addr.as_ptr(), addr.len()) }).map(drop)
    }

    pub(crate) fn set_opt(
        &self,
        level: libc::c_int,
        name: libc::c_int,
        value: libc::c_int,
    ) -> io::Result<()> {
        // SAFETY: `value` is a live int and the length says so.
        cvt(unsafe {
            libc::setsockopt(
                self.raw(),
                level,
                name,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    pub(crate) fn opt(&self, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `value` has room for an int and `len` says so.
        cvt(unsafe {
            libc::getsockopt(
                self.raw(),
                level,
                name,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        })?;
        Ok(value)
    }

    pub(crate) fn local_addr(&self) -> io::Result<SockAddr> {
        SockAddr::local(self.raw())
    }

    pub(crate) fn peer_addr(&self) -> io::Result<SockAddr> {
        SockAddr::peer(self.raw())
    }

    /// Connects to `addr`, waiting for the handshake on the ring.
    pub(crate) async fn connect(&self, addr: SockAddr) -> io::Result<()> {
        op::connect::connect(&self.fd, addr).await
    }

    /// Accepts one connection. Out of fds (`EMFILE`, `ENFILE`) or kernel
    /// memory, it sleeps (1 ms, doubling to 128 ms) and tries again: the
    /// connection waits in the backlog, and the loop does not spin.
    /// `ECONNABORTED` (the peer gave up first) is skipped.
    pub(crate) async fn accept(&self) -> io::Result<(Socket, SockAddr)> {
        let mut backoff = Backoff::default();
        loop {
            match op::accept::accept(&self.fd).await {
                Ok((fd, addr)) => return Ok((Socket::from_fd(fd), addr)),
                Err(e) if is_exhaustion(&e) => crate::time::sleep(backoff.next()).await,
                Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// A receive on a datagram socket (or one of unknown type).
    pub(crate) async fn read<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        op::recv::recv(&self.fd, buf, 0, false).await
    }

    /// A receive on a stream socket (TCP, Unix stream): a short read tells
    /// the readiness driver the queue is empty.
    pub(crate) async fn recv_stream<B: IoBufMut>(
        &self,
        buf: B,
        flags: libc::c_int,
    ) -> (io::Result<usize>, B) {
        op::recv::recv(&self.fd, buf, flags, true).await
    }

    pub(crate) async fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> (io::Result<usize>, Vec<B>) {
        op::readv::readv(&self.fd, bufs).await
    }

    pub(crate) async fn read_ring(&self, ring: &BufRing) -> io::Result<Option<RingBuf>> {
        // An empty ring fails with ENOBUFS at once: wait for a buffer.
        let mut waiter = BufWaiter::new(ring);
        let mut epoch = ring.returned();
        loop {
            match op::recv_provided::recv_provided(&self.fd, ring, 0).await {
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    std::future::poll_fn(|cx| waiter.poll_returned_after(epoch, cx)).await;
                    epoch = ring.returned();
                }
                other => return other,
            }
        }
    }

    pub(crate) fn recv_multishot(&self, ring: &BufRing) -> RecvStream {
        RecvStream::new(self.fd.clone(), ring.clone())
    }

    pub(crate) fn send<B: IoBuf>(&self, buf: B, flags: libc::c_int) -> Op<op::send::Send<B>> {
        op::send::send(&self.fd, buf, flags)
    }

    pub(crate) fn write_all<B: IoBuf>(&self, buf: B) -> WriteAll<'_, B, op::send::Send<Slice<B>>> {
        WriteAll::new(&self.fd, buf, |fd, range| op::send::send(fd, range, 0))
    }

    pub(crate) async fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> (io::Result<usize>, Vec<B>) {
        op::writev::writev(&self.fd, bufs).await
    }

    /// `SEND_ZC` where the kernel has it and the socket supports it, a
    /// plain send otherwise.
    pub(crate) async fn send_zc<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        if !supports(io_uring::opcode::SendZc::CODE) {
            return self.send(buf, 0).await;
        }
        match op::send_zc::send_zc(&self.fd, buf).await {
            (Err(e), buf) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => self.send(buf, 0).await,
            other => other,
        }
    }

    pub(crate) async fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let how = match how {
            Shutdown::Read => libc::SHUT_RD,
            Shutdown::Write => libc::SHUT_WR,
            Shutdown::Both => libc::SHUT_RDWR,
        };
        op::shutdown::shutdown(&self.fd, how).await
    }

    pub(crate) async fn send_to<B: IoBuf>(&self, buf: B, addr: SockAddr) -> (io::Result<usize>, B) {
        op::sendmsg::send_to(&self.fd, buf, addr).await
    }

    pub(crate) async fn recv_from<B: IoBufMut>(
        &self,
        buf: B,
    ) -> (io::Result<(usize, SockAddr)>, B) {
        op::recvmsg::recv_from(&self.fd, buf).await
    }
}

/// Whether the current runtime's kernel has `opcode` (false outside one).
pub(crate) fn supports(opcode: u8) -> bool {
    context::driver().is_ok_and(|d| d.borrow().supports(opcode))
}

/// Errors that say "out of fds or memory": accepting again at once would
/// fail the same way.
pub(crate) fn is_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Sleeps between accepts that failed for lack of fds: 1 ms, doubling, at
/// most 128 ms.
#[derive(Debug)]
pub(crate) struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff(Duration::from_millis(1))
    }
}

impl Backoff {
    pub(crate) fn next(&mut self) -> Duration {
        let now = self.0;
        self.0 = (now * 2).min(Duration::from_millis(128));
        now
    }

    pub(crate) fn reset(&mut self) {
        *self = Backoff::default();
    }
}
