//! Cancellation leaks nothing: dropped accepts, receives, streams and
//! connects give back every fd and every provided buffer, and a `SEND_ZC`
//! buffer outlives its notification.
//!
//! Every test here counts fds (the table is per process), so each holds
//! [`exclusive_fd_table`] for its whole run.

mod common;
mod net_common;

use common::{
    eventually, exclusive_fd_table, open_fds, poll_once, run_uring, watchdog, DropLog, Rng,
};
use net_common::tcp_pair;
use ringloop::buf::{BufRing, IoBuf};
use ringloop::net::{TcpListener, TcpStream};
use ringloop::trace::Event;
use ringloop::{Builder, Runtime};
use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

/// Lets the loop submit and reap without sleeping, `turns` times.
async fn turns(turns: u64) {
    for _ in 0..turns {
        ringloop::yield_now().await;
    }
}

#[test]
fn a_dropped_accept_never_leaks_the_connection_it_got() {
    let _fds = exclusive_fd_table();
    run_uring(60, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let before = open_fds();
        let mut rng = Rng::from_env_or_clock("a_dropped_accept_never_leaks");
        let mut clients = Vec::new();
        for _ in 0..1000 {
            let mut accept = pin!(listener.accept());
            assert!(poll_once(accept.as_mut()).await.is_pending());
            // The handshake completes in the kernel, without an accept.
            clients.push(std::net::TcpStream::connect(addr).unwrap());
            // Drop at a random point: before the CQE, or after it was
            // stored but never taken.
            turns(rng.below(3)).await;
        }
        // Connections the cancelled accepts did not take wait in the backlog.
        let mut left_in_backlog = 0;
        while let Ok(Ok((stream, _))) =
            ringloop::time::timeout(Duration::from_millis(100), listener.accept()).await
        {
            left_in_backlog += 1;
            drop(stream);
        }
        assert!(
            left_in_backlog < 1000,
            "some cancelled accepts got a connection before the cancel"
        );
        for client in &mut clients {
            client
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut byte = [0u8; 1];
            let n = client.read(&mut byte).expect("EOF, not a hang");
            assert_eq!(n, 0, "every accepted fd was closed: the client sees EOF");
        }
        drop(clients);
        eventually("every fd closed", || open_fds() == before).await;
    });
}

/// Reads from every client until EOF (each must see one: no connection is
/// left talking to nobody).
fn assert_all_see_eof(clients: &mut [std::net::TcpStream]) {
    for client in clients {
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut byte = [0u8; 1];
        let n = client.read(&mut byte).expect("EOF, not a hang");
        assert_eq!(n, 0, "the accepted fd was closed: the client sees EOF");
    }
}

#[test]
fn a_dropped_incoming_closes_the_connections_nobody_took() {
    let _fds = exclusive_fd_table();
    run_uring(30, || async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let before = open_fds();
        let mut incoming = listener.incoming();
        assert!(poll_once(pin!(incoming.next())).await.is_pending(), "armed");
        let mut clients: Vec<_> = (0..20)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        ringloop::time::sleep(Duration::from_millis(20)).await; // CQEs queue up
        drop(incoming); // 20 accepted fds nobody took: all closed
        assert_all_see_eof(&mut clients);
        drop(clients);
        eventually("every fd closed", || open_fds() == before).await;
    });
}

#[test]
fn dropped_reads_free_their_buffers_only_after_their_cqes() {
    let _fds = exclusive_fd_table();
    watchdog(60, || {
        let log = DropLog::new();
        let rt = log.uring_runtime();
        rt.block_on(async {
            let before = open_fds();
            let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
            let mut rng = Rng::from_env_or_clock("dropped_reads_free_their_buffers");
            for id in 0..1000 {
                let mut read = pin!(server.read(log.buf(id, 16)));
                assert!(poll_once(read.as_mut()).await.is_pending());
                if rng.below(2) == 0 {
                    // Data may complete the read before the cancel lands.
                    let (res, _) = client.write(b"x".to_vec()).await;
                    res.unwrap();
                }
                turns(rng.below(3)).await;
            }
            drop((client, server));
            eventually("every fd closed", || open_fds() == before).await;
        });
        drop(rt);
        log.assert_each_dropped_once_after_its_cqes(0..1000);
    });
}

#[test]
fn ten_thousand_cancelled_buffer_select_reads_keep_the_pool_full() {
    let _fds = exclusive_fd_table();
    run_uring(120, || async {
        let before = open_fds();
        let ring = BufRing::new(16, 64).unwrap();
        {
            let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
            let mut rng = Rng::from_env_or_clock("cancelled_buffer_select_reads");
            let mut written = 0;
            for _ in 0..10_000 {
                let mut read = pin!(server.read_ring(&ring));
                assert!(poll_once(read.as_mut()).await.is_pending());
                if rng.below(3) == 0 {
                    // SAFETY: writes one byte from a live buffer.
                    let n = unsafe { libc::write(client.as_raw_fd(), b"x".as_ptr().cast(), 1) };
                    assert_eq!(n, 1);
                    written += 1;
                }
                turns(rng.below(3)).await;
            }
            let mut left = 0;
            while let Ok((res, _)) =
                ringloop::time::timeout(Duration::from_millis(20), server.read(vec![0; 4096])).await
            {
                left += res.unwrap();
            }
            assert!(
                left < written,
                "some cancelled reads took data, and so a buffer, before the cancel"
            );
        }
        eventually("every buffer back in the ring", || ring.available() == 16).await;

        // The kernel has all 16 too: a fresh connection fills each of
        // them, held at once, with no ENOBUFS.
        let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
        let (res, _) = client.write_all(vec![7u8; 16 * 64]).await;
        res.unwrap();
        ringloop::time::sleep(Duration::from_millis(10)).await;
        let mut stream = server.recv_multishot(&ring);
        let mut held = Vec::new();
        let mut bytes = 0;
        while bytes < 16 * 64 {
            let chunk = stream.next().await.unwrap().unwrap();
            bytes += chunk.len();
            held.push(chunk);
        }
        assert_eq!(held.len(), 16, "16 full buffers");
        assert_eq!(stream.rearms(), 0, "the ring never ran dry");
        drop((held, stream, client, server));
        assert_eq!(ring.available(), 16);
        drop(ring);
        eventually("every fd closed", || open_fds() == before).await;
    });
}

#[test]
fn a_dropped_recv_stream_returns_every_buffer() {
    let _fds = exclusive_fd_table();
    run_uring(30, || async {
        let ring = BufRing::new(8, 16).unwrap();
        let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
        for round in 0..50 {
            let mut stream = server.recv_multishot(&ring);
            assert!(poll_once(pin!(stream.next())).await.is_pending());
            let (res, _) = client.write_all(vec![round as u8; 40]).await;
            res.unwrap();
            turns(round % 3).await; // CQEs may be queued, unclaimed
            drop(stream);
            eventually("buffers back", || ring.available() == 8).await;
            // Drain what the cancelled receive left in the socket.
            let _ =
                ringloop::time::timeout(Duration::from_millis(2), server.read(vec![0; 64])).await;
        }
    });
}

#[test]
fn a_timed_out_connect_is_cancelled_and_closes_its_socket() {
    let _fds = exclusive_fd_table();
    run_uring(30, || async {
        // A listener that never accepts, with the smallest backlog: once
        // its queue is full, the kernel drops SYNs and connects hang.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.set_backlog(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let before = open_fds();
        let mut held = Vec::new();
        let mut timed_out = false;
        for _ in 0..16 {
            match TcpStream::connect_timeout(addr, Duration::from_millis(200)).await {
                Ok(stream) => held.push(stream),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
                    timed_out = true;
                    break;
                }
            }
        }
        assert!(timed_out, "a full backlog makes connects hang");
        drop(held);
        eventually("the cancelled connect's socket closed", || {
            open_fds() == before
        })
        .await;
    });
}

/// What the `SEND_ZC` tests record: CQEs of the op, and the buffer's drop.
#[derive(Clone, Debug, PartialEq)]
enum Zc {
    Sqe(u64),
    Cqe { user_data: u64, flags: u32 },
    Dropped,
}

/// `IORING_CQE_F_NOTIF`.
const F_NOTIF: u32 = 1 << 3;

/// A buffer that logs its drop into the timeline.
struct ZcBuf(Vec<u8>, Rc<RefCell<Vec<Zc>>>);

impl Drop for ZcBuf {
    fn drop(&mut self) {
        self.1.borrow_mut().push(Zc::Dropped);
    }
}

// SAFETY: the Vec's heap allocation is stable across moves and lives until
// the ZcBuf is dropped.
unsafe impl IoBuf for ZcBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.0.len()
    }
    fn bytes_total(&self) -> usize {
        self.0.len()
    }
}

fn zc_runtime(log: &Rc<RefCell<Vec<Zc>>>) -> Runtime {
    let log = Rc::clone(log);
    Builder::new()
        .driver(ringloop::Driver::Uring)
        .on_event(move |event| match *event {
            Event::SqePushed {
                user_data,
                op: "send_zc",
                ..
            } => log.borrow_mut().push(Zc::Sqe(user_data)),
            Event::CqeReaped {
                user_data, flags, ..
            } => log.borrow_mut().push(Zc::Cqe { user_data, flags }),
            _ => {}
        })
        .build()
        .unwrap()
}

/// Asserts the buffer of the one `SEND_ZC` in `log` was dropped once, after
/// the op's notification CQE.
fn assert_dropped_after_notification(log: &[Zc]) {
    let key = zc_key(log).expect("a SEND_ZC was submitted");
    let notif = log
        .iter()
        .position(|e| matches!(e, Zc::Cqe { user_data, flags } if *user_data == key && flags & F_NOTIF != 0))
        .expect("the notification CQE came");
    let dropped: Vec<usize> = (0..log.len()).filter(|&i| log[i] == Zc::Dropped).collect();
    assert_eq!(dropped.len(), 1, "dropped once: {log:?}");
    assert!(
        dropped[0] > notif,
        "the buffer outlived the notification: {log:?}"
    );
}

/// The `user_data` of the one `SEND_ZC` in `log`, once submitted.
fn zc_key(log: &[Zc]) -> Option<u64> {
    log.iter().find_map(|e| match e {
        Zc::Sqe(k) => Some(*k),
        _ => None,
    })
}

/// Whether `log` has a CQE of `key` whose flags contain `flag`.
fn has_cqe(log: &[Zc], key: u64, flag: u32) -> bool {
    log.iter().any(
        |e| matches!(e, Zc::Cqe { user_data, flags } if *user_data == key && flags & flag != 0),
    )
}

/// `IORING_CQE_F_MORE`.
const F_MORE: u32 = 1 << 1;

/// Whether this kernel has `SEND_ZC` (else the tests have nothing to show).
fn send_zc_supported() -> bool {
    let supported = ringloop::Builder::new()
        .driver(ringloop::Driver::Uring)
        .build()
        .unwrap()
        .supports_opcode(io_uring_send_zc());
    if !supported {
        eprintln!("SEND_ZC unsupported on this kernel: skipped");
    }
    supported
}

/// Reads and discards everything until EOF.
async fn drain(stream: TcpStream) {
    loop {
        let (res, _) = stream.read(vec![0; 1 << 20]).await;
        if res.unwrap() == 0 {
            return;
        }
    }
}

#[test]
fn a_send_zc_resolves_only_after_its_notification() {
    let _fds = exclusive_fd_table();
    watchdog(30, || {
        if !send_zc_supported() {
            return;
        }
        let log = Rc::new(RefCell::new(Vec::new()));
        let rt = zc_runtime(&log);
        rt.block_on(async {
            let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
            let reader = ringloop::spawn(drain(server));
            // 8 MiB does not fit in the socket buffers: the peer must read
            // before the kernel lets go of the pages.
            let buf = ZcBuf(vec![1u8; 8 << 20], Rc::clone(&log));
            let (res, buf) = client.send_zc(buf).await;
            assert!(res.unwrap() > 0);
            let key = zc_key(&log.borrow()).unwrap();
            assert!(
                has_cqe(&log.borrow(), key, F_NOTIF),
                "the buffer came back before the kernel's notification"
            );
            drop(buf);
            drop(client);
            reader.await.unwrap();
        });
        drop(rt);
        assert_dropped_after_notification(&log.borrow());
    });
}

#[test]
fn a_send_zc_dropped_between_its_two_cqes_keeps_its_buffer_until_the_notification() {
    let _fds = exclusive_fd_table();
    watchdog(30, || {
        if !send_zc_supported() {
            return;
        }
        let log = Rc::new(RefCell::new(Vec::new()));
        let rt = zc_runtime(&log);
        rt.block_on(async {
            let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
            let buf = ZcBuf(vec![1u8; 8 << 20], Rc::clone(&log));
            let mut send = Box::pin(client.send_zc(buf));
            assert!(poll_once(send.as_mut()).await.is_pending());
            // The peer does not read: the result comes (a partial send, with
            // F_MORE), the notification cannot (pages still queued).
            let key = zc_key(&log.borrow()).unwrap();
            eventually("the result CQE", || has_cqe(&log.borrow(), key, F_MORE)).await;
            assert!(!has_cqe(&log.borrow(), key, F_NOTIF), "no notification yet");
            drop(send); // between the two CQEs
            ringloop::time::sleep(Duration::from_millis(20)).await;
            assert!(
                !log.borrow().contains(&Zc::Dropped),
                "the kernel may still read the pages: the buffer must be parked"
            );
            drop(client);
            drain(server).await; // the pages go out; the notification comes
            eventually("the buffer is dropped", || {
                log.borrow().contains(&Zc::Dropped)
            })
            .await;
        });
        drop(rt);
        assert_dropped_after_notification(&log.borrow());
    });
}

#[test]
fn send_zc_futures_dropped_at_random_points_never_free_early() {
    let _fds = exclusive_fd_table();
    watchdog(30, || {
        if !send_zc_supported() {
            return;
        }
        let mut rng = Rng::from_env_or_clock("send_zc_futures_dropped_at_random_points");
        for round in 0..200 {
            let log = Rc::new(RefCell::new(Vec::new()));
            let rt = zc_runtime(&log);
            rt.block_on(async {
                let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
                let buf = ZcBuf(vec![round as u8; 64 * 1024], Rc::clone(&log));
                let mut send = Box::pin(client.send_zc(buf));
                assert!(poll_once(send.as_mut()).await.is_pending());
                turns(rng.below(3)).await;
                drop(send);
                drop(client);
                drain(server).await;
                eventually("the buffer is dropped", || {
                    log.borrow().contains(&Zc::Dropped)
                })
                .await;
            });
            drop(rt);
            assert_dropped_after_notification(&log.borrow());
        }
    });
}

/// `IORING_OP_SEND_ZC`.
fn io_uring_send_zc() -> u8 {
    47
}

#[test]
fn send_zc_to_a_closed_peer_is_an_error() {
    let _fds = exclusive_fd_table();
    run_uring(10, || async {
        let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
        drop(server);
        let mut last = None;
        for _ in 0..50 {
            let (res, _) = client.send_zc(vec![1u8; 4096]).await;
            if let Err(e) = res {
                last = Some(e);
                break;
            }
        }
        let e = last.expect("sends to a closed peer fail");
        assert!(
            matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
            "{e}"
        );
        let _ = std::io::stderr().flush();
    });
}

#[test]
fn dropping_the_runtime_with_network_ops_in_flight_closes_everything() {
    let _fds = exclusive_fd_table();
    watchdog(30, || {
        let before = open_fds();
        let rt = ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let ring = BufRing::new(8, 64).unwrap();
            // 128 pending receives (multishot, buffer-select and plain), a
            // multishot accept with connections queued, and pending accepts.
            let mut keep = Vec::new();
            for i in 0..64 {
                let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
                let ring = ring.clone();
                ringloop::spawn(async move {
                    match i % 3 {
                        0 => drop(server.recv_multishot(&ring).next().await),
                        1 => drop(server.read_ring(&ring).await),
                        _ => drop(server.read(vec![0; 64]).await),
                    }
                });
                ringloop::spawn(async move { drop(client.read(vec![0; 64]).await) });
            }
            let listener = std::rc::Rc::new(listener);
            for _ in 0..8 {
                let l = std::rc::Rc::clone(&listener);
                ringloop::spawn(async move { drop(l.accept().await) });
            }
            ringloop::spawn(async move {
                let mut incoming = listener.incoming();
                loop {
                    let _ = incoming.next().await;
                    ringloop::time::sleep(Duration::from_secs(60)).await;
                }
            });
            for _ in 0..10 {
                keep.push(std::net::TcpStream::connect(addr).unwrap());
            }
            ringloop::time::sleep(Duration::from_millis(20)).await;
            keep
        });
        drop(rt); // cancels and drains everything
        assert_eq!(
            open_fds(),
            before,
            "every socket, the ring and its fds are closed"
        );
    });
}
