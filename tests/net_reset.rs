//! A hostile peer cannot kill the process: resets and closed peers are
//! `io::Error`s, with `SIGPIPE` at its default action (terminate).
//!
//! Rust programs ignore `SIGPIPE` before `main`, which would hide a send
//! without `MSG_NOSIGNAL`. So each test re-runs itself in a child process
//! that restores the default action first; the parent checks the child
//! passed and was not killed by a signal. A control test shows the child
//! does die when something raises `SIGPIPE`.
//!
//! (Recent kernels add `MSG_NOSIGNAL` to io_uring's `SEND`/`SENDMSG`
//! themselves; these tests catch what they do not cover, such as a socket
//! write through `IORING_OP_WRITE`/`WRITEV`, and older kernels.)

mod common;
mod net_common;

use common::watchdog;
use net_common::{default_sigpipe, in_child, is_child, reset_on_close, tcp_pair};
use ringloop::buf::BufRing;
use ringloop::net::UnixStream;
use ringloop::Runtime;
use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;

/// In the parent: runs `name` in a child and asserts it passed.
/// Returns `true` in the child, which then runs the body.
fn child_runs(name: &str) -> bool {
    if is_child() {
        default_sigpipe();
        return true;
    }
    let out = in_child(name);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child died: {:?} (signal {:?}: 13 is SIGPIPE)\n{stdout}\n{}",
        out.status,
        out.status.signal(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1 passed"),
        "the child ran the test:\n{stdout}"
    );
    false
}

#[test]
fn control_a_plain_send_to_a_closed_peer_kills_the_child() {
    if !is_child() {
        let out = in_child("control_a_plain_send_to_a_closed_peer_kills_the_child");
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "the child must die of SIGPIPE, else these tests prove nothing: {:?}",
            out.status
        );
        return;
    }
    default_sigpipe();
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(b);
    // SAFETY: sends one byte from a live buffer; no MSG_NOSIGNAL on purpose.
    unsafe {
        libc::send(
            std::os::fd::AsRawFd::as_raw_fd(&a),
            b"x".as_ptr().cast(),
            1,
            0,
        )
    };
    unreachable!("SIGPIPE ends the process before this line");
}

fn is_reset_or_broken(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::ConnectionReset | ErrorKind::BrokenPipe)
}

#[test]
fn a_reset_during_a_read_is_an_error() {
    if !child_runs("a_reset_during_a_read_is_an_error") {
        return;
    }
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
            let read = ringloop::spawn(async move { server.read(vec![0; 64]).await.0 });
            ringloop::time::sleep(std::time::Duration::from_millis(10)).await; // in flight
            reset_on_close(&client);
            drop(client);
            let err = read.await.unwrap().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        });
    });
}

#[test]
fn a_reset_during_writes_is_an_error_on_every_send_path() {
    if !child_runs("a_reset_during_writes_is_an_error_on_every_send_path") {
        return;
    }
    watchdog(20, || {
        Runtime::new().unwrap().block_on(async {
            let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
            // The server streams 1 MiB writes; the client reads a little,
            // then resets the connection mid-stream.
            let writer = ringloop::spawn(async move {
                loop {
                    let (res, _) = server.write_all(vec![0u8; 1 << 20]).await;
                    if let Err(e) = res {
                        return (e, server);
                    }
                }
            });
            let (res, _) = client.read(vec![0; 4096]).await;
            assert!(res.unwrap() > 0);
            reset_on_close(&client);
            drop(client);
            let (err, server) = writer.await.unwrap();
            assert!(is_reset_or_broken(err.kind()), "{err}");

            // Every way of sending to the dead peer fails with an error
            // (EPIPE now), none raises SIGPIPE.
            let (res, _) = server.write(vec![1u8; 10]).await;
            assert!(is_reset_or_broken(res.unwrap_err().kind()));
            let (res, _) = server.send(vec![1u8; 10], 0).await;
            assert!(is_reset_or_broken(res.unwrap_err().kind()));
            let (res, _) = server.writev(vec![vec![1u8; 10], vec![2u8; 10]]).await;
            assert!(is_reset_or_broken(res.unwrap_err().kind()));
            let (res, _) = server.send_zc(vec![1u8; 10]).await;
            assert!(is_reset_or_broken(res.unwrap_err().kind()));
            let (res, _) = server.write_all(vec![1u8; 10]).await;
            assert!(is_reset_or_broken(res.unwrap_err().kind()));
        });
    });
}

#[test]
fn writing_to_a_closed_unix_peer_is_broken_pipe() {
    if !child_runs("writing_to_a_closed_unix_peer_is_broken_pipe") {
        return;
    }
    watchdog(10, || {
        Runtime::new().unwrap().block_on(async {
            let (a, b) = UnixStream::pair().unwrap();
            drop(b);
            let (res, _) = a.write(b"x".to_vec()).await;
            assert_eq!(res.unwrap_err().kind(), ErrorKind::BrokenPipe);
            let (res, _) = a.writev(vec![b"x".to_vec()]).await;
            assert_eq!(res.unwrap_err().kind(), ErrorKind::BrokenPipe);
            let (res, _) = a.send_zc(b"x".to_vec()).await; // falls back to send
            assert_eq!(res.unwrap_err().kind(), ErrorKind::BrokenPipe);
        });
    });
}

#[test]
fn a_reset_ends_a_multishot_receive_with_the_error() {
    if !child_runs("a_reset_ends_a_multishot_receive_with_the_error") {
        return;
    }
    watchdog(10, || {
        ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .build()
            .unwrap()
            .block_on(async {
                let (client, server) = tcp_pair("127.0.0.1:0").await.unwrap();
                let ring = BufRing::new(4, 64).unwrap();
                let mut stream = server.recv_multishot(&ring);
                let (res, _) = client.write_all(b"some data".to_vec()).await;
                res.unwrap();
                let chunk = stream.next().await.unwrap().unwrap();
                assert_eq!(&chunk[..], b"some data");
                reset_on_close(&client);
                drop(client);
                let err = stream.next().await.unwrap().unwrap_err();
                assert_eq!(err.kind(), ErrorKind::ConnectionReset);
                assert!(stream.next().await.is_none());
                let (res, _) = server.write(b"late".to_vec()).await;
                assert!(is_reset_or_broken(res.unwrap_err().kind()));
            });
    });
}
