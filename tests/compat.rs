//! `ringloop::io::Compat`: ringloop streams and files behind the
//! `tokio::io` and `futures_io` traits, through an adapter that owns its
//! buffers (features `tokio-io` and `futures-io`; the test suite turns both
//! on through its self dev-dependency).
//!
//! Every test runs on both drivers, each under a watchdog.

#![cfg(all(feature = "tokio-io", feature = "futures-io"))]

mod common;

use common::{watchdog, DropLog, Entry};
use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use ringloop::io::{pipe, Compat};
use ringloop::net::{TcpListener, TcpStream, UnixStream};
use ringloop::{Builder, Driver};
use std::future::{poll_fn, Future};
use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

/// Runs `body` on a runtime of each driver, each run under a watchdog.
fn on_both_drivers<F, Fut>(secs: u64, body: F)
where
    F: Fn(Driver) -> Fut + Send + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    for driver in [Driver::Uring, Driver::Epoll] {
        let body = body.clone();
        watchdog(secs, move || {
            let rt = Builder::new().driver(driver).build().expect("runtime");
            rt.block_on(body(driver));
        });
    }
}

/// `len` bytes that show any reordering, loss or duplication.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// The tokio traits' calls, by hand (tokio's `io-util` is not a dependency).
mod tk {
    use super::*;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    pub async fn read<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| {
            let mut rb = ReadBuf::new(buf);
            match Pin::new(&mut *r).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().len())),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    pub async fn write<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| Pin::new(&mut *w).poll_write(cx, data)).await
    }

    pub async fn write_all<W: AsyncWrite + Unpin>(w: &mut W, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = write(w, data).await?;
            assert!(n > 0, "poll_write accepted nothing");
            data = &data[n..];
        }
        Ok(())
    }

    pub async fn flush<W: AsyncWrite + Unpin>(w: &mut W) -> io::Result<()> {
        poll_fn(|cx| Pin::new(&mut *w).poll_flush(cx)).await
    }

    pub async fn shutdown<W: AsyncWrite + Unpin>(w: &mut W) -> io::Result<()> {
        poll_fn(|cx| Pin::new(&mut *w).poll_shutdown(cx)).await
    }
}

/// Reads with ringloop's own calls until EOF.
async fn read_to_eof(stream: &TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    loop {
        let (res, buf) = stream.read(vec![0u8; 65536]).await;
        let n = res.unwrap();
        if n == 0 {
            return all;
        }
        all.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn tokio_traits_echo_a_megabyte_over_tcp_byte_for_byte() {
    on_both_drivers(20, |_| async {
        let (client, server) = tcp_pair().await;
        // The server is an adapter: read, write back, flush, until EOF.
        let echo = ringloop::spawn(async move {
            let mut io = Compat::new(server);
            let mut buf = vec![0u8; 3000]; // not a multiple of anything
            loop {
                let n = tk::read(&mut io, &mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                tk::write_all(&mut io, &buf[..n]).await.unwrap();
                tk::flush(&mut io).await.unwrap();
            }
            tk::shutdown(&mut io).await.unwrap();
        });
        let (reader, writer) = client.into_split();
        let sent = pattern(1 << 20);
        let send = ringloop::spawn({
            let sent = sent.clone();
            async move {
                let (res, _) = writer.write_all(sent).await;
                res.unwrap();
                // Dropping the writing half shuts it down: the echo ends.
            }
        });
        let mut got = Vec::new();
        loop {
            let (res, buf) = reader.read(vec![0u8; 65536]).await;
            match res.unwrap() {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        send.await.unwrap();
        echo.await.unwrap();
        assert!(got == sent, "the echo differs from what was sent");
    });
}

#[test]
fn futures_traits_echo_through_split_halves_that_read_and_write_at_once() {
    on_both_drivers(20, |_| async {
        let (a, b) = UnixStream::pair().unwrap();
        // Echo side: `copy` from its reading half into its writing half.
        let echo = ringloop::spawn(async move {
            let (mut r, mut w) = Compat::new(b).split();
            let copied = futures::io::copy(&mut r, &mut w).await.unwrap();
            w.close().await.unwrap();
            copied
        });
        // Client side: one task writes while another reads (a megabyte is
        // more than the socket buffers: both must make progress at once).
        let (mut r, mut w) = Compat::new(a).split();
        let sent = pattern(1 << 20);
        let writer = ringloop::spawn({
            let sent = sent.clone();
            async move {
                w.write_all(&sent).await.unwrap();
                w.close().await.unwrap(); // the echo's copy then ends
            }
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(echo.await.unwrap(), sent.len() as u64);
        assert!(got == sent, "the echo differs from what was sent");
    });
}

#[test]
fn a_small_read_buffer_hands_out_a_long_message_in_pieces_then_eof_reads_zero() {
    on_both_drivers(10, |_| async {
        let (client, server) = tcp_pair().await;
        let sent = pattern(1000);
        let (res, _) = client.write_all(sent.clone()).await;
        res.unwrap();
        drop(client);
        let mut io = Compat::with_capacity(7, 7, server);
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            let n = tk::read(&mut io, &mut buf).await.unwrap();
            assert!(
                n <= 7,
                "one read hands out at most the read buffer ({n} > 7)"
            );
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, sent);
        assert_eq!(
            tk::read(&mut io, &mut buf).await.unwrap(),
            0,
            "EOF stays EOF"
        );
    });
}

#[test]
fn buffered_reads_lend_the_read_buffer_and_consume_moves_past_what_was_used() {
    on_both_drivers(10, |_| async {
        let (client, server) = tcp_pair().await;
        let (res, _) = client.write_all(b"one\ntwo\nrest".to_vec()).await;
        res.unwrap();
        drop(client);
        let mut io = Compat::new(server);
        let mut line = String::new();
        io.read_line(&mut line).await.unwrap();
        assert_eq!(line, "one\n");
        // Everything the one read op brought in is still there, unread.
        assert_eq!(io.read_buffer(), b"two\nrest");
        let data = poll_fn(|cx| {
            tokio::io::AsyncBufRead::poll_fill_buf(Pin::new(&mut io), cx).map_ok(|d| d.to_vec())
        })
        .await
        .unwrap();
        assert_eq!(data, b"two\nrest", "fill_buf lends the same bytes");
        tokio::io::AsyncBufRead::consume(Pin::new(&mut io), 4);
        let mut rest = Vec::new();
        io.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"rest");
    });
}

#[test]
fn writes_take_at_most_the_write_buffer_and_a_flush_leaves_nothing_unflushed() {
    on_both_drivers(10, |_| async {
        let (client, server) = tcp_pair().await;
        let mut io = Compat::with_capacity(8, 8, client);
        let sent = pattern(100);
        let mut rest = &sent[..];
        while !rest.is_empty() {
            let n = tk::write(&mut io, rest).await.unwrap();
            assert!(
                (1..=8).contains(&n),
                "one write takes 1..=8 bytes, took {n}"
            );
            assert!(
                io.unflushed() <= 16,
                "at most one buffer staged, one in flight"
            );
            rest = &rest[n..];
        }
        tk::flush(&mut io).await.unwrap();
        assert_eq!(io.unflushed(), 0);
        tk::shutdown(&mut io).await.unwrap();
        assert_eq!(read_to_eof(&server).await, sent);
    });
}

#[test]
fn bytes_written_without_a_flush_still_go_out_when_no_write_is_in_flight() {
    on_both_drivers(10, |_| async {
        let (client, server) = tcp_pair().await;
        let mut io = Compat::new(client);
        assert_eq!(tk::write(&mut io, b"hello").await.unwrap(), 5);
        // No flush: the write op started at once, and the kernel completes it
        // while this task waits for the peer.
        let (res, buf) = server.read(vec![0u8; 16]).await;
        assert_eq!(&buf[..res.unwrap()], b"hello");
        drop(io);
    });
}

#[test]
fn shutdown_flushes_first_then_the_peer_reads_eof() {
    on_both_drivers(10, |_| async {
        let (client, server) = tcp_pair().await;
        let mut io = Compat::with_capacity(16, 16, client);
        let sent = pattern(200);
        for chunk in sent.chunks(50) {
            // Unflushed: written in pieces the buffer cannot hold at once.
            tk::write_all(&mut io, chunk).await.unwrap();
        }
        tk::shutdown(&mut io).await.unwrap();
        tk::shutdown(&mut io).await.unwrap(); // done once, stays done
        assert_eq!(read_to_eof(&server).await, sent);
        // The reading side is still open after the write side's shutdown.
        let (res, _) = server.write_all(b"bye".to_vec()).await;
        res.unwrap();
        let mut buf = [0u8; 8];
        let n = tk::read(&mut io, &mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"bye");
    });
}

#[test]
fn the_error_of_a_write_already_accepted_surfaces_at_the_next_write_or_flush() {
    on_both_drivers(10, |_| async {
        let (client, server) = tcp_pair().await;
        drop(server);
        let mut io = Compat::new(client);
        let chunk = pattern(4096);
        let mut error = None;
        for _ in 0..1000 {
            let result = match tk::write(&mut io, &chunk).await {
                Ok(_) => tk::flush(&mut io).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                error = Some(e);
                break;
            }
        }
        let e = error.expect("writing to a closed peer fails within 1000 writes");
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "a closed peer is BrokenPipe or ConnectionReset, got {e:?}"
        );
    });
}

#[test]
fn owned_halves_and_pipe_ends_go_one_way_each() {
    on_both_drivers(10, |_| async {
        let (client, server) = tcp_pair().await;
        let (client_r, client_w) = client.into_split();
        let (server_r, server_w) = server.into_split();
        let (mut to_server, mut at_server) = (Compat::new(client_w), Compat::new(server_r));
        tk::write_all(&mut to_server, b"over tcp").await.unwrap();
        tk::shutdown(&mut to_server).await.unwrap();
        let mut got = Vec::new();
        at_server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"over tcp");
        drop((client_r, server_w));

        let (r, w) = pipe().unwrap();
        let (mut w, mut r) = (Compat::new(w), Compat::new(r));
        w.write_all(b"over a pipe").await.unwrap();
        w.close().await.unwrap(); // a pipe: only the flush
        drop(w); // the last writer closes: EOF
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"over a pipe");
    });
}

#[test]
fn a_file_has_one_cursor_for_reads_writes_and_seeks() {
    on_both_drivers(10, |driver| async move {
        let path = std::env::temp_dir().join(format!(
            "ringloop-compat-{}-{driver:?}.txt",
            std::process::id()
        ));
        let file = ringloop::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .unwrap();
        let mut io = Compat::new(file);
        io.write_all(b"hello world").await.unwrap();
        assert_eq!(io.position(), 11);
        assert_eq!(io.seek(SeekFrom::Start(0)).await.unwrap(), 0);
        let mut word = [0u8; 5];
        io.read_exact(&mut word).await.unwrap();
        assert_eq!(&word, b"hello");
        assert_eq!(io.position(), 5, "the cursor counts what was handed out");
        // A write goes where the reader is, not after the read-ahead.
        io.write_all(b"_").await.unwrap();
        let mut rest = String::new();
        io.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "world", "a read sees the write before it");
        assert_eq!(io.seek(SeekFrom::End(-5)).await.unwrap(), 6);
        assert_eq!(io.seek(SeekFrom::Current(-6)).await.unwrap(), 0);
        assert!(
            io.seek(SeekFrom::Current(-1)).await.is_err(),
            "before the start"
        );
        io.close().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello_world");

        let file = ringloop::fs::File::open(&path).await.unwrap();
        let mut tail = String::new();
        Compat::file_at(file, 6)
            .read_to_string(&mut tail)
            .await
            .unwrap();
        assert_eq!(tail, "world");
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn dropping_an_adapter_with_a_read_in_flight_cancels_it_and_closes_the_socket_after_its_cqe() {
    for driver in [Driver::Uring, Driver::Epoll] {
        watchdog(10, move || {
            let log = DropLog::new();
            let rt = Builder::new()
                .driver(driver)
                .on_event(log.observer())
                .build()
                .unwrap();
            rt.block_on(async {
                let (client, server) = tcp_pair().await;
                let mut io = Compat::new(server);
                let mut buf = [0u8; 16];
                // Nothing to read: the read op is in flight, owning the
                // adapter's read buffer.
                let mut read = Box::pin(tk::read(&mut io, &mut buf));
                assert!(common::poll_once(read.as_mut()).await.is_pending());
                drop(read);
                let recvs = |log: &DropLog| {
                    log.entries()
                        .into_iter()
                        .filter_map(|e| match e {
                            Entry::Sqe {
                                user_data,
                                op: "recv",
                            } => Some(user_data),
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                };
                drop(io);
                if driver == Driver::Uring {
                    let [recv] = recvs(&log)[..] else {
                        panic!("one recv SQE, got {:?}", recvs(&log))
                    };
                    common::eventually("the cancelled recv's CQE", || log.has_cqe(recv)).await;
                    assert!(
                        ringloop::stats().cancels >= 1,
                        "the drop cancelled the read"
                    );
                }
                // The op held the socket open until its CQE; now it is
                // closed, and the peer reads EOF.
                assert_eq!(read_to_eof(&client).await, b"");
            });
        });
    }
}

#[test]
fn dropping_an_adapter_with_a_write_in_flight_sends_only_a_prefix_of_its_bytes() {
    on_both_drivers(20, |_| async {
        let (client, server) = tcp_pair().await;
        let sent = pattern(32 << 20);
        let mut io = Compat::with_capacity(16, sent.len(), client);
        // More than the socket buffers hold, to a peer that does not read
        // yet: the write op stays in flight, owning the write buffer.
        let n = tk::write(&mut io, &sent).await.unwrap();
        assert_eq!(n, sent.len(), "one write takes a whole buffer");
        ringloop::time::sleep(Duration::from_millis(20)).await;
        assert!(io.unflushed() > 0, "the peer is not reading: bytes remain");
        drop(io);
        let got = read_to_eof(&server).await;
        assert!(got.len() < sent.len(), "the drop stopped the write");
        assert!(
            got == sent[..got.len()],
            "what arrived is a prefix of the bytes"
        );
    });
}
