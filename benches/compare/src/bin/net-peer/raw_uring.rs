//! `io-uring-raw`: the completion model with no runtime at all, to show how
//! close a runtime can get to what io_uring itself costs on this machine.
//!
//! One thread and one ring, set up as ringloop sets up its own
//! (`SINGLE_ISSUER | DEFER_TASKRUN`; unlike ringloop, the ring's fd is not
//! registered). One multishot `ACCEPT`; per connection one multishot `RECV`
//! over a ring of provided buffers (512 buffers of the protocol's buffer
//! length, as `examples/http.rs` runs), and one `SEND` per reply. Each loop
//! turn is one `io_uring_enter`: submit what the last turn queued and wait
//! for at least one CQE. There are no tasks, wakers or futures: a CQE's
//! `user_data` names the connection (its fd) and the op.
//!
//! Replies: HTTP responses are built in the connection's own buffer; an
//! echo sends straight from the provided buffer, which goes back to the
//! ring when its send completes. A connection sends one reply at a time and
//! queues the rest, so each buffer stays where the kernel can read it until
//! its `SEND`'s CQE. A connection's fd is closed only once its receive has
//! ended and no send is in flight, so an fd (the table's index) is never
//! reused while an op names it.

use std::alloc::{self, Layout};
use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::{cqueue, opcode, squeue, types, IoUring};

use super::listening;
use super::session::{Protocol, Reply, Session};

/// Provided buffers in the ring (a power of two).
const BUFFERS: u16 = 512;
/// The buffer group id.
const BGID: u16 = 0;

const ACCEPT: u64 = 1;
const RECV: u64 = 2;
const SEND: u64 = 3;

fn user_data(fd: RawFd, op: u64) -> u64 {
    (fd as u64) << 8 | op
}

/// The listener's multishot accept.
fn accept(lfd: RawFd) -> squeue::Entry {
    opcode::AcceptMulti::new(types::Fd(lfd))
        .flags(libc::SOCK_CLOEXEC)
        .build()
        .user_data(user_data(lfd, ACCEPT))
}

pub fn main(addr: SocketAddr, protocol: Protocol) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    listening(listener.local_addr())?;
    serve(listener, protocol)
}

/// Serves `listener`'s connections until an error.
pub fn serve(listener: TcpListener, protocol: Protocol) -> io::Result<()> {
    let mut ring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(1024)?;
    let buffers = Buffers::register(&ring, protocol.buf_len())?;
    let mut server = Server {
        protocol,
        buffers,
        conns: Vec::new(),
        starved: Vec::new(),
        queued: Vec::new(),
    };
    let lfd = listener.as_raw_fd();
    server.queued.push(accept(lfd));
    let mut cqes = Vec::with_capacity(1024);
    loop {
        server.flush(&mut ring)?;
        match ring.submitter().submit_and_wait(1) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
            Err(e) => return Err(e),
        }
        cqes.extend(
            ring.completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        for (data, res, flags) in cqes.drain(..) {
            let fd = (data >> 8) as RawFd;
            match data & 0xff {
                ACCEPT => server.on_accept(lfd, res, flags),
                RECV => server.on_recv(fd, res, flags),
                SEND => server.on_send(fd, res),
                _ => unreachable!("no other op is submitted"),
            }
        }
        server.buffers.publish();
        for fd in std::mem::take(&mut server.starved) {
            server.arm_recv(fd);
        }
    }
}

struct Server {
    protocol: Protocol,
    buffers: Buffers,
    /// Indexed by fd.
    conns: Vec<Option<Conn>>,
    /// Connections whose receive ended with `ENOBUFS`: re-armed once this
    /// turn's buffers are back in the ring.
    starved: Vec<RawFd>,
    /// SQEs for the next enter.
    queued: Vec<squeue::Entry>,
}

struct Conn {
    session: Session,
    /// HTTP: the bytes of an incomplete request (the session's buffer).
    buf: Vec<u8>,
    /// The reply being sent, and how much of it has gone.
    sending: Option<(Out, usize)>,
    queue: VecDeque<Out>,
    /// The multishot receive is armed.
    receiving: bool,
}

/// A reply: the HTTP responses, or a provided buffer to echo.
enum Out {
    Bytes(Vec<u8>),
    Buffer { bid: u16, len: usize },
}

impl Out {
    fn bytes<'a>(&'a self, buffers: &'a Buffers) -> &'a [u8] {
        match self {
            Out::Bytes(v) => v,
            Out::Buffer { bid, len } => buffers.get(*bid, *len),
        }
    }
}

/// Drops queued replies, giving their provided buffers back.
fn discard(queue: &mut VecDeque<Out>, buffers: &mut Buffers) {
    for out in queue.drain(..) {
        if let Out::Buffer { bid, .. } = out {
            buffers.give_back(bid);
        }
    }
}

impl Server {
    /// Moves the queued SQEs into the SQ, submitting when it is full.
    fn flush(&mut self, ring: &mut IoUring) -> io::Result<()> {
        for sqe in self.queued.drain(..) {
            // SAFETY: every buffer an SQE names (a connection's reply, a
            // provided buffer) stays untouched until that SQE's CQE: a
            // connection sends one reply at a time and is dropped only
            // with no send in flight.
            while unsafe { ring.submission().push(&sqe) }.is_err() {
                ring.submit()?;
            }
        }
        Ok(())
    }

    fn on_accept(&mut self, lfd: RawFd, res: i32, flags: u32) {
        if res >= 0 {
            let fd = res;
            super::set_nodelay(fd);
            *super::slot(&mut self.conns, fd) = Some(Conn {
                session: Session::new(self.protocol),
                buf: vec![0; self.protocol.buf_len()],
                sending: None,
                queue: VecDeque::new(),
                receiving: false,
            });
            self.arm_recv(fd);
        } else {
            super::accept_failed(io::Error::from_raw_os_error(-res));
        }
        if !cqueue::more(flags) {
            self.queued.push(accept(lfd));
        }
    }

    fn arm_recv(&mut self, fd: RawFd) {
        if let Some(conn) = self.conns[fd as usize].as_mut() {
            conn.receiving = true;
            self.queued.push(
                opcode::RecvMulti::new(types::Fd(fd), BGID)
                    .build()
                    .user_data(user_data(fd, RECV)),
            );
        }
    }

    fn on_recv(&mut self, fd: RawFd, res: i32, flags: u32) {
        let more = cqueue::more(flags);
        let buffer = cqueue::buffer_select(flags);
        let conn = self.conns[fd as usize]
            .as_mut()
            .expect("a receive names a live connection");
        if !more {
            conn.receiving = false;
        }
        if res <= 0 {
            if let Some(bid) = buffer {
                self.buffers.give_back(bid);
            }
            if res == -libc::ENOBUFS {
                // Out of buffers: re-armed once this turn's are back.
                self.starved.push(fd);
            } else if !more {
                if res < 0 {
                    // Reset: nothing more can be sent.
                    discard(&mut conn.queue, &mut self.buffers);
                }
                // EOF: the queued replies still go out, then the close.
                self.close_if_idle(fd);
            }
            return;
        }
        let bid = buffer.expect("a receive with data names its buffer");
        let len = res as usize;
        match self.protocol {
            Protocol::Echo => conn.queue.push_back(Out::Buffer { bid, len }),
            Protocol::Http => {
                let reply = match conn.session.read_at() {
                    Some(at) if at + len <= conn.buf.len() => {
                        conn.buf[at..at + len].copy_from_slice(self.buffers.get(bid, len));
                        conn.session.on_read(&mut conn.buf, len)
                    }
                    // A request longer than the buffer: give up on it (the
                    // receive then ends with 0).
                    _ => {
                        shutdown(fd);
                        Reply::Nothing
                    }
                };
                self.buffers.give_back(bid);
                if let Reply::Out = reply {
                    conn.queue.push_back(Out::Bytes(conn.session.take_out()));
                }
            }
        }
        if !more {
            // The kernel ended the multishot with data: arm it again.
            self.arm_recv(fd);
        }
        self.send_next(fd);
    }

    /// Starts the next queued reply unless one is in flight.
    fn send_next(&mut self, fd: RawFd) {
        let conn = self.conns[fd as usize].as_mut().expect("live connection");
        if conn.sending.is_some() {
            return;
        }
        if let Some(out) = conn.queue.pop_front() {
            conn.sending = Some((out, 0));
            self.send_rest(fd);
        }
    }

    /// Sends what is left of the reply in flight.
    fn send_rest(&mut self, fd: RawFd) {
        let conn = self.conns[fd as usize].as_mut().expect("live connection");
        let (out, sent) = conn.sending.as_ref().expect("a reply in flight");
        let bytes = &out.bytes(&self.buffers)[*sent..];
        let sqe = opcode::Send::new(types::Fd(fd), bytes.as_ptr(), bytes.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(user_data(fd, SEND));
        self.queued.push(sqe);
    }

    fn on_send(&mut self, fd: RawFd, res: i32) {
        let conn = self.conns[fd as usize]
            .as_mut()
            .expect("a send names a live connection");
        let (out, sent) = conn
            .sending
            .as_mut()
            .expect("a send CQE for the reply in flight");
        let total = out.bytes(&self.buffers).len();
        if res >= 0 && *sent + (res as usize) < total {
            *sent += res as usize;
            return self.send_rest(fd);
        }
        let (out, _) = conn.sending.take().expect("checked above");
        match out {
            Out::Bytes(v) => conn.session.put_out(v),
            Out::Buffer { bid, .. } => self.buffers.give_back(bid),
        }
        if res < 0 {
            // Reset or broken pipe: drop the rest, end the receive.
            discard(&mut conn.queue, &mut self.buffers);
            shutdown(fd);
        }
        self.send_next(fd);
        self.close_if_idle(fd);
    }

    /// Closes a connection whose receive has ended and that has nothing in
    /// flight: no SQE names its fd any more.
    fn close_if_idle(&mut self, fd: RawFd) {
        let slot = &mut self.conns[fd as usize];
        let idle = slot.as_ref().is_some_and(|c| {
            !c.receiving && c.sending.is_none() && c.queue.is_empty() && !self.starved.contains(&fd)
        });
        if idle {
            *slot = None;
            // SAFETY: `fd` is the accepted socket this connection owned; no
            // op in flight names it and the slot is gone, so it is closed
            // once.
            unsafe { libc::close(fd) };
        }
    }
}

/// The provided-buffer ring: `BUFFERS` entries and the memory they name.
struct Buffers {
    /// Never freed: the kernel may write the ring's head for as long as
    /// the io_uring lives, and this peer runs until it is killed.
    ring: *mut types::BufRingEntry,
    memory: Vec<u8>,
    len: usize,
    /// Our tail, published by [`Buffers::publish`].
    tail: u16,
}

impl Buffers {
    fn register(ring: &IoUring, len: usize) -> io::Result<Buffers> {
        let ring_layout = Layout::from_size_align(
            usize::from(BUFFERS) * size_of::<types::BufRingEntry>(),
            4096,
        )
        .expect("a valid layout");
        // SAFETY: the layout has a non-zero size.
        let entries = unsafe { alloc::alloc_zeroed(ring_layout) }.cast::<types::BufRingEntry>();
        if entries.is_null() {
            alloc::handle_alloc_error(ring_layout);
        }
        let mut buffers = Buffers {
            ring: entries,
            memory: vec![0; usize::from(BUFFERS) * len],
            len,
            tail: 0,
        };
        for bid in 0..BUFFERS {
            buffers.give_back(bid);
        }
        buffers.publish();
        // SAFETY: the ring is page aligned, holds `BUFFERS` entries and
        // lives as long as the process (this peer never unregisters it).
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(entries as u64, BUFFERS, BGID, 0)?
        };
        Ok(buffers)
    }

    /// The first `len` bytes of buffer `bid`.
    fn get(&self, bid: u16, len: usize) -> &[u8] {
        let start = usize::from(bid) * self.len;
        &self.memory[start..start + len]
    }

    /// Writes buffer `bid` at our tail (the kernel sees it once published).
    fn give_back(&mut self, bid: u16) {
        let index = usize::from(self.tail & (BUFFERS - 1));
        let addr = self.memory[usize::from(bid) * self.len..].as_ptr() as u64;
        // SAFETY: `index < BUFFERS`, inside the allocation; the kernel reads
        // only entries below the published tail, and this one is at or past
        // it. `set_*` leave `resv` (entry 0's is the shared tail) alone.
        let entry = unsafe { &mut *self.ring.add(index) };
        entry.set_addr(addr);
        entry.set_len(self.len as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes the buffers given back so far visible to the kernel.
    fn publish(&self) {
        // SAFETY: `tail` points into entry 0 of the live ring; the kernel
        // reads it concurrently, hence the atomic release store, which
        // also orders the entries written before it.
        unsafe {
            let tail = types::BufRingEntry::tail(self.ring).cast_mut();
            AtomicU16::from_ptr(tail).store(self.tail, Ordering::Release);
        }
    }
}

/// Ends the connection's receive (it completes with 0) and any send.
fn shutdown(fd: RawFd) {
    // SAFETY: `fd` is an open socket of ours; shutdown touches no memory.
    unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
}
