//! `epoll-raw`: the readiness model with no runtime at all, to show how
//! close a runtime can get to what epoll itself costs on this machine.
//!
//! One thread, one epoll instance, every socket non-blocking and registered
//! edge-triggered for reading and writing (`EPOLLIN | EPOLLOUT | EPOLLET`,
//! as tokio registers its sockets). A readable edge: read into the
//! connection's buffer, reply with `write`, and read again only if the last
//! read filled the buffer (a shorter read drained the socket, so the next
//! edge will say when there is more: the same shortcut tokio takes, which
//! saves the read that would return `EAGAIN`; after a hang-up it reads on
//! to the EOF, which no later edge would report). What a `write` cannot take
//! waits in the connection for its writable edge. A turn of the loop is one
//! `epoll_wait` for up to 1,024 events.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, RawFd};

use super::listening;
use super::session::{Protocol, Reply, Session};

pub fn main(addr: SocketAddr, protocol: Protocol) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    listening(listener.local_addr())?;
    serve(listener, protocol)
}

/// Serves `listener`'s connections until an error.
pub fn serve(listener: TcpListener, protocol: Protocol) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    // SAFETY: plain syscall, no memory passed.
    let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if epfd < 0 {
        return Err(io::Error::last_os_error());
    }
    let lfd = listener.as_raw_fd();
    add(epfd, lfd, libc::EPOLLIN as u32)?;
    // Indexed by fd.
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    loop {
        // SAFETY: `events` has room for the 1,024 events the kernel may write.
        let n = unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), 1024, -1) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in &events[..n as usize] {
            let fd = event.u64 as RawFd;
            if fd == lfd {
                accept_all(epfd, lfd, protocol, &mut conns);
                continue;
            }
            let Some(conn) = conns[fd as usize].as_mut() else {
                continue;
            };
            let hup = event.events & (libc::EPOLLRDHUP | libc::EPOLLERR | libc::EPOLLHUP) as u32;
            let open = (event.events & libc::EPOLLOUT as u32 == 0 || conn.flush(fd))
                && (event.events & libc::EPOLLIN as u32 == 0 && hup == 0
                    || conn.on_readable(fd, hup != 0));
            if !open {
                conns[fd as usize] = None;
                // SAFETY: the connection's socket, closed once (its slot is
                // gone); closing also removes it from the epoll set.
                unsafe { libc::close(fd) };
            }
        }
    }
}

struct Conn {
    session: Session,
    buf: Vec<u8>,
    /// What `write` has not taken yet, from `unsent`.
    unsent: Vec<u8>,
    sent: usize,
    /// The peer has sent its EOF: close once `unsent` is out.
    eof: bool,
}

impl Conn {
    /// Reads and replies until the socket is drained; false: close it.
    /// After a hang-up, reads until EOF: no edge will come after it.
    fn on_readable(&mut self, fd: RawFd, hup: bool) -> bool {
        loop {
            let Some(at) = self.session.read_at() else {
                return false; // a request longer than the buffer
            };
            let want = self.buf.len() - at;
            // SAFETY: `buf[at..]` is `want` writable bytes.
            let n = unsafe { libc::read(fd, self.buf[at..].as_mut_ptr().cast(), want) };
            if n < 0 {
                return io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock;
            }
            if n == 0 {
                self.eof = true;
                return !self.unsent.is_empty();
            }
            let n = n as usize;
            let ok = match self.session.on_read(&mut self.buf, n) {
                Reply::Nothing => true,
                Reply::Echo(len) => self.write(fd, Bytes::Buf(len)),
                Reply::Out => self.write(fd, Bytes::Out),
            };
            if !ok {
                return false;
            }
            if n < want && !hup {
                return true; // drained: the next edge brings more
            }
        }
    }

    /// Writes a reply, keeping what the socket does not take.
    fn write(&mut self, fd: RawFd, what: Bytes) -> bool {
        let bytes = match what {
            Bytes::Buf(len) => &self.buf[..len],
            Bytes::Out => self.session.out(),
        };
        if !self.unsent.is_empty() {
            self.unsent.extend_from_slice(bytes);
            return true;
        }
        // SAFETY: `bytes` is readable for its length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::WouldBlock {
            return false;
        }
        let n = n.max(0) as usize;
        if n < bytes.len() {
            self.unsent.extend_from_slice(&bytes[n..]);
        }
        true
    }

    /// Writes what was kept; false: close (an error, or all of it is out
    /// after the peer's EOF).
    fn flush(&mut self, fd: RawFd) -> bool {
        while self.sent < self.unsent.len() {
            let rest = &self.unsent[self.sent..];
            // SAFETY: `rest` is readable for its length.
            let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
            if n < 0 {
                return io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock;
            }
            self.sent += n as usize;
        }
        self.unsent.clear();
        self.sent = 0;
        !self.eof
    }
}

enum Bytes {
    /// The first bytes of the read buffer (echo).
    Buf(usize),
    /// The session's responses (HTTP).
    Out,
}

fn accept_all(epfd: RawFd, lfd: RawFd, protocol: Protocol, conns: &mut Vec<Option<Conn>>) {
    loop {
        let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        // SAFETY: no address is asked for (null pointers are allowed).
        let fd = unsafe { libc::accept4(lfd, std::ptr::null_mut(), std::ptr::null_mut(), flags) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::WouldBlock {
                super::accept_failed(e);
            }
            return;
        }
        super::set_nodelay(fd);
        let interest = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
        if add(epfd, fd, interest).is_err() {
            // SAFETY: the socket just accepted, owned by no one else.
            unsafe { libc::close(fd) };
            continue;
        }
        *super::slot(conns, fd) = Some(Conn {
            session: Session::new(protocol),
            buf: vec![0; protocol.buf_len()],
            unsent: Vec::new(),
            sent: 0,
            eof: false,
        });
    }
}

fn add(epfd: RawFd, fd: RawFd, events: u32) -> io::Result<()> {
    let mut event = libc::epoll_event {
        events,
        u64: fd as u64,
    };
    // SAFETY: `event` is a valid epoll_event for the call's duration.
    if unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut event) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
