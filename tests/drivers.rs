//! The two drivers behind one API: the same TCP echo gives the same bytes
//! on io_uring and on epoll; each runtime says which driver it runs on and
//! counts the syscalls of its own model; a bad `RINGLOOP_DRIVER` is an
//! `InvalidInput` error.
//!
//! Every runtime here names its driver explicitly, so the suite's second
//! pass (`RINGLOOP_DRIVER=epoll`) runs the same checks.

mod common;

use common::{report, reported, run_in_child, watchdog};
use ringloop::buf::IoBuf;
use ringloop::net::{TcpListener, TcpStream};
use ringloop::{Builder, Driver, Runtime, Stats};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// The messages the client sends, one after the other: small, empty-free,
/// and one larger than a socket buffer's first read.
fn messages() -> Vec<Vec<u8>> {
    vec![
        b"ping".to_vec(),
        (0..=255u8).collect(),
        (0..200_000u32).map(|i| (i * 7 + 3) as u8).collect(),
        b"last".to_vec(),
    ]
}

/// On one runtime: a server task accepts one connection and echoes until
/// EOF; a client task sends each message and reads back as many bytes.
/// Returns what the client read back, message by message.
fn echo_on(rt: &Runtime) -> io::Result<Vec<Vec<u8>>> {
    rt.block_on(async {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let server = ringloop::spawn(async move {
            let (stream, _) = listener.accept().await?;
            let mut buf = vec![0u8; 4096];
            loop {
                let (res, b) = stream.read(buf).await;
                let n = res?;
                if n == 0 {
                    return Ok::<_, io::Error>(());
                }
                let (res, b) = stream.write_all(b.slice(..n)).await;
                res?;
                buf = b.into_inner();
            }
        });
        let client = ringloop::spawn(async move {
            let stream = TcpStream::connect(addr).await?;
            let (reader, mut writer) = stream.into_split();
            let mut replies = Vec::new();
            for message in messages() {
                let want = message.len();
                // Send from another task, so that a message larger than the
                // socket buffers cannot block while nobody reads the echo.
                let send = ringloop::spawn(async move {
                    let (res, _) = writer.write_all(message).await;
                    res.map(|()| writer)
                });
                let mut reply = Vec::with_capacity(want);
                while reply.len() < want {
                    let room = (want - reply.len()).min(65536);
                    let (res, chunk) = reader.read(vec![0u8; room]).await;
                    let n = res?;
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the server closed early",
                        ));
                    }
                    reply.extend_from_slice(&chunk[..n]);
                }
                replies.push(reply);
                writer = send.await.map_err(io::Error::other)??;
            }
            drop(writer); // EOF: the server's loop ends
            Ok(replies)
        });
        let replies = client.await.map_err(io::Error::other)??;
        server.await.map_err(io::Error::other)??;
        Ok(replies)
    })
}

fn runtime(driver: Driver) -> Runtime {
    Builder::new()
        .driver(driver)
        .build()
        .unwrap_or_else(|e| panic!("a runtime on {driver:?}: {e}"))
}

/// Runs the echo on `driver`; returns the replies and the runtime's counters.
fn echo_with_stats(driver: Driver) -> (Vec<Vec<u8>>, Stats) {
    watchdog(30, move || {
        let rt = runtime(driver);
        let replies = echo_on(&rt).unwrap_or_else(|e| panic!("echo on {driver:?}: {e}"));
        (replies, rt.stats())
    })
}

#[test]
fn the_same_echo_gives_the_same_bytes_on_io_uring_and_on_epoll() {
    let (on_uring, _) = echo_with_stats(Driver::Uring);
    let (on_epoll, _) = echo_with_stats(Driver::Epoll);
    let sent = messages();
    assert_eq!(on_uring.len(), sent.len());
    for (i, message) in sent.iter().enumerate() {
        assert!(
            on_uring[i] == *message,
            "io_uring: reply {i} differs from what was sent ({} bytes vs {})",
            on_uring[i].len(),
            message.len()
        );
        assert!(
            on_epoll[i] == on_uring[i],
            "epoll: reply {i} differs from io_uring's ({} bytes vs {})",
            on_epoll[i].len(),
            on_uring[i].len()
        );
    }
}

#[test]
fn runtime_driver_reports_the_driver_that_was_asked_for() {
    assert_eq!(runtime(Driver::Uring).driver(), Driver::Uring);
    assert_eq!(runtime(Driver::Epoll).driver(), Driver::Epoll);
    // Auto resolves to one of them (which one depends on the machine and
    // on RINGLOOP_DRIVER), never to Auto.
    assert_ne!(runtime(Driver::Auto).driver(), Driver::Auto);
}

#[test]
fn on_epoll_stats_count_epoll_waits_and_attempts_and_no_enters() {
    let (_, stats) = echo_with_stats(Driver::Epoll);
    assert!(stats.epoll_waits > 0, "epoll_wait calls counted: {stats:?}");
    assert!(stats.epoll_ctls > 0, "epoll_ctl calls counted: {stats:?}");
    // accept, connect, and at least one recv and one send per message.
    let least = 2 + 2 * messages().len() as u64;
    assert!(
        stats.attempts >= least,
        "the ops' own syscalls counted ({} < {least}): {stats:?}",
        stats.attempts
    );
    assert!(stats.eagain_retries > 0, "EAGAINs counted: {stats:?}");
    assert_eq!(stats.enters, 0, "no io_uring_enter on epoll: {stats:?}");
    assert_eq!(stats.cqes_reaped, 0, "no CQEs on epoll: {stats:?}");
    assert_eq!(
        stats.io_syscalls(),
        stats.epoll_waits + stats.epoll_ctls + stats.attempts + stats.wakeup_reads
    );
}

#[test]
fn on_io_uring_stats_count_enters_and_cqes_and_no_epoll_waits() {
    let (_, stats) = echo_with_stats(Driver::Uring);
    assert!(stats.enters > 0, "io_uring_enter calls counted: {stats:?}");
    assert!(
        stats.cqes_reaped >= stats.ops_submitted,
        "a CQE for each op: {stats:?}"
    );
    assert_eq!(stats.epoll_waits, 0, "no epoll_wait on io_uring: {stats:?}");
    assert_eq!(stats.epoll_ctls, 0, "no epoll_ctl on io_uring: {stats:?}");
    assert_eq!(
        stats.attempts, 0,
        "ops never run their own syscalls: {stats:?}"
    );
    assert_eq!(stats.io_syscalls(), stats.enters);
}

/// The value the child process runs with.
const BOGUS: &str = "bogus";

#[test]
fn ringloop_driver_bogus_makes_runtime_new_fail_with_invalid_input() {
    const TEST: &str = "ringloop_driver_bogus_makes_runtime_new_fail_with_invalid_input";
    if std::env::var("RINGLOOP_DRIVER").as_deref() == Ok(BOGUS) {
        // The child: the variable is set for this process only.
        match Runtime::new() {
            Ok(rt) => report("new", format!("ok on {:?}", rt.driver())),
            Err(e) => {
                report("new", "error");
                report("kind", format!("{:?}", e.kind()));
                report("message", e);
            }
        }
        // An explicit choice does not read the variable.
        match Builder::new().driver(Driver::Epoll).build() {
            Ok(rt) => report("explicit", format!("{:?}", rt.driver())),
            Err(e) => report("explicit", format!("error: {e}")),
        }
        return;
    }
    let lines = run_in_child(TEST, "RINGLOOP_DRIVER", BOGUS, Duration::from_secs(20));
    assert_eq!(
        reported(&lines, "new"),
        "error",
        "Runtime::new must refuse RINGLOOP_DRIVER=bogus: {lines:?}"
    );
    assert_eq!(reported(&lines, "kind"), "InvalidInput", "{lines:?}");
    assert!(
        reported(&lines, "message").contains("bogus"),
        "the message names the bad value: {lines:?}"
    );
    assert_eq!(reported(&lines, "explicit"), "Epoll", "{lines:?}");
}
