//! The readiness driver's per-descriptor readiness flags (`driver::epoll`):
//! an op waits without a syscall while its descriptor is known not ready,
//! and no wake-up is ever lost for it. Each "no lost wake-up" test would
//! hang (and fail by its watchdog or timeout) if an event did not set the
//! flag again, or if a read cleared it wrongly. Also: what the counters
//! count (a connect's check is two syscalls; `EINPROGRESS` is reported as
//! such; the driver's own `epoll_ctl` is counted).

mod common;

use common::watchdog;
use ringloop::buf::IoBuf;
use ringloop::net::{TcpListener, TcpStream, UdpSocket, UnixStream};
use ringloop::trace::Event;
use ringloop::{Builder, Driver, Stats};
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

/// Runs `body` on an epoll runtime under a watchdog; returns its counters.
fn on_epoll<F, Fut>(body: F) -> Stats
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    watchdog(20, move || {
        let rt = Builder::new().driver(Driver::Epoll).build().unwrap();
        rt.block_on(body());
        rt.stats()
    })
}

/// Awaits `f`, failing the test if it takes more than 5 s (a lost wake-up).
async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    match ringloop::time::timeout(Duration::from_secs(5), f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no wake-up within 5 s (lost?)"),
    }
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

const ROUND_TRIPS: u64 = 200;

#[test]
fn a_request_response_exchange_makes_no_attempt_that_is_sure_to_fail() {
    let stats = on_epoll(|| async {
        let (client, server) = tcp_pair().await;
        let before = ringloop::stats();
        let echo = ringloop::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let (res, b) = server.read(buf).await;
                let n = res.unwrap();
                if n == 0 {
                    return;
                }
                let (res, b) = server.write_all(b.slice(..n)).await;
                res.unwrap();
                buf = b.into_inner();
            }
        });
        for i in 0..ROUND_TRIPS {
            let msg = format!("request {i}").into_bytes();
            let len = msg.len();
            let (res, _) = client.write_all(msg).await;
            res.unwrap();
            let (res, buf) = within("the reply", client.read(vec![0u8; 4096])).await;
            assert_eq!(res.unwrap(), len, "the whole reply in one read");
            assert_eq!(&buf[..len], format!("request {i}").as_bytes());
        }
        drop(client);
        echo.await.unwrap();
        let used = ringloop::stats().since(&before);
        // Per round trip: the client's send and read, the server's read and
        // send; each read is short, so the next read of that stream waits
        // for the event instead of attempting and meeting EAGAIN.
        assert!(
            used.eagain_retries <= ROUND_TRIPS / 10,
            "reads after a short read should wait, not attempt: {used:?}"
        );
        assert!(
            used.skipped_attempts >= ROUND_TRIPS,
            "the waits without a syscall are counted: {used:?}"
        );
        assert!(
            used.attempts <= 4 * ROUND_TRIPS + 10,
            "about four syscalls per round trip besides epoll_wait: {used:?}"
        );
    });
    assert!(stats.epoll_waits > 0);
}

#[test]
fn data_that_arrives_after_a_short_read_wakes_the_reader() {
    on_epoll(|| async {
        let (client, server) = tcp_pair().await;
        let (res, _) = client.write_all(b"first".to_vec()).await;
        res.unwrap();
        let (res, _) = server.read(vec![0u8; 64]).await;
        assert_eq!(res.unwrap(), 5, "a short read: the flag is now clear");
        // The next bytes come later, from another task: only epoll's event
        // can tell the reader.
        let writer = ringloop::spawn(async move {
            for chunk in [&b"second"[..], b"third"] {
                ringloop::time::sleep(Duration::from_millis(20)).await;
                let (res, _) = client.write_all(chunk.to_vec()).await;
                res.unwrap();
            }
            client
        });
        let (res, buf) = within("the second chunk", server.read(vec![0u8; 64])).await;
        assert_eq!(&buf[..res.unwrap()], b"second");
        let (res, buf) = within("the third chunk", server.read(vec![0u8; 64])).await;
        assert_eq!(&buf[..res.unwrap()], b"third");
        drop(writer.await.unwrap());
        let (res, _) = within("EOF", server.read(vec![0u8; 64])).await;
        assert_eq!(res.unwrap(), 0);
    });
}

#[test]
fn a_full_read_keeps_the_flag_so_the_rest_is_read_without_an_event() {
    on_epoll(|| async {
        let (client, server) = tcp_pair().await;
        let (res, _) = client.write_all(b"0123456789".to_vec()).await;
        res.unwrap();
        ringloop::time::sleep(Duration::from_millis(10)).await;
        let mut got = Vec::new();
        while got.len() < 10 {
            // 4 bytes at a time: full reads, then a short one.
            let (res, buf) = within("the rest", server.read(vec![0u8; 4])).await;
            got.extend_from_slice(&buf[..res.unwrap()]);
        }
        assert_eq!(got, b"0123456789");
        drop(client);
    });
}

#[test]
fn a_short_datagram_read_does_not_hide_the_next_datagram() {
    on_epoll(|| async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = b.local_addr().unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        let sender = ringloop::spawn(async move {
            // The reader is waiting first (so its socket is registered).
            ringloop::time::sleep(Duration::from_millis(20)).await;
            let (res, _) = a.send_to(b"zero".to_vec(), to).await;
            res.unwrap();
            ringloop::time::sleep(Duration::from_millis(20)).await;
            // Three at once: one event for all of them.
            for msg in [&b"one"[..], b"two", b"three"] {
                let (res, _) = a.send_to(msg.to_vec(), to).await;
                res.unwrap();
            }
        });
        // Every datagram is short of the buffer; after "one", no new event
        // will come for "two" and "three".
        for want in [&b"zero"[..], b"one", b"two", b"three"] {
            let (res, buf) = within("the next datagram", b.recv(vec![0u8; 64])).await;
            assert_eq!(&buf[..res.unwrap()], want);
        }
        sender.await.unwrap();
    });
}

#[test]
fn a_short_peek_does_not_hide_the_bytes_it_peeked() {
    on_epoll(|| async {
        let (x, y) = UnixStream::pair().unwrap();
        let writer = ringloop::spawn(async move {
            // The peek waits first (so the socket is registered).
            ringloop::time::sleep(Duration::from_millis(20)).await;
            let (res, _) = x.write_all(b"abc".to_vec()).await;
            res.unwrap();
            x
        });
        let (res, buf) = within("the bytes", y.recv(vec![0u8; 16], libc::MSG_PEEK)).await;
        assert_eq!(&buf[..res.unwrap()], b"abc");
        // No new event will come: the bytes are still there to read.
        let (res, buf) = within("the peeked bytes", y.read(vec![0u8; 16])).await;
        assert_eq!(&buf[..res.unwrap()], b"abc");
        drop(writer.await.unwrap());
    });
}

#[test]
fn eof_reported_with_the_last_bytes_is_read_after_their_short_read() {
    on_epoll(|| async {
        let (client, server) = tcp_pair().await;
        let closer = ringloop::spawn(async move {
            // The reader waits first (so its socket is registered); then the
            // last bytes and the FIN arrive together: one event for both.
            ringloop::time::sleep(Duration::from_millis(20)).await;
            let (res, _) = client.write_all(b"last".to_vec()).await;
            res.unwrap();
            client.shutdown(std::net::Shutdown::Write).await.unwrap();
            client
        });
        let (res, buf) = within("the data", server.read(vec![0u8; 64])).await;
        let n = res.unwrap();
        assert_eq!(&buf[..n], &b"last"[..n]);
        let mut got = n;
        while got < 4 {
            let (res, _) = within("the rest", server.read(vec![0u8; 64])).await;
            got += res.unwrap();
        }
        // No event will announce the EOF again.
        for _ in 0..3 {
            let (res, _) = within("EOF, again and again", server.read(vec![0u8; 64])).await;
            assert_eq!(res.unwrap(), 0);
        }
        drop(closer.await.unwrap());
    });
}

#[test]
fn a_writer_blocked_by_a_full_buffer_is_woken_when_the_peer_reads() {
    on_epoll(|| async {
        let (x, y) = UnixStream::pair().unwrap();
        const LEN: usize = 4 << 20;
        let writer = ringloop::spawn(async move {
            let (res, _) = x.write_all(vec![7u8; LEN]).await;
            res.unwrap();
        });
        let mut got = 0;
        while got < LEN {
            let (res, _) = within("more bytes", y.read(vec![0u8; 100_000])).await;
            got += res.unwrap();
        }
        within("the writer", writer).await.unwrap();
    });
}

#[test]
fn a_connect_counts_each_syscall_and_reports_einprogress_as_such() {
    let attempts: Rc<RefCell<Vec<(&'static str, i32)>>> = Rc::default();
    let seen = Rc::clone(&attempts);
    let rt = Builder::new()
        .driver(Driver::Epoll)
        .on_event(move |e| {
            if let Event::Attempt { op, result, .. } = e {
                seen.borrow_mut().push((op, *result));
            }
        })
        .build()
        .unwrap();
    // The driver's own epoll_ctl (its eventfd) is counted from the start.
    assert_eq!(rt.stats().epoll_ctls, 1);
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let before = rt.stats();
    rt.block_on(async {
        let _stream = TcpStream::connect(addr).await.unwrap();
    });
    let used = rt.stats().since(&before);
    let connects: Vec<i32> = attempts
        .borrow()
        .iter()
        .filter(|(op, _)| *op == "connect")
        .map(|&(_, r)| r)
        .collect();
    assert_eq!(
        connects.first(),
        Some(&-libc::EINPROGRESS),
        "the first attempt says what connect(2) said: {connects:?}"
    );
    assert_eq!(connects.last(), Some(&0), "then the check succeeds");
    // connect(2), then for each check getsockopt and getpeername.
    let expected = 1 + 2 * (connects.len() as u64 - 1);
    assert_eq!(used.attempts, expected, "{connects:?} {used:?}");
    assert_eq!(
        used.io_syscalls(),
        used.epoll_waits + used.epoll_ctls + used.attempts + used.wakeup_reads
    );
}
