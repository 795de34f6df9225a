//! Sockets in the ring's fixed-file table (`register(&FixedFiles)`): their
//! ops name the slot, round trips work on every op that can name it, and a
//! slot is freed exactly when the socket is closed and its last op is done
//! — never before, never leaked — also across ten thousand connections.

mod common;
mod net_common;

use common::{eventually, exclusive_fd_table, open_fds, watchdog};
use net_common::raise_fd_limit;
use ringloop::buf::BufRing;
use ringloop::fs::FixedFiles;
use ringloop::net::{TcpListener, TcpStream, UdpSocket, UnixStream};
use std::future::Future;
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Runs `body` on an io_uring runtime (fixed files are an io_uring feature)
/// under a watchdog.
fn run<F, Fut>(secs: u64, body: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    watchdog(secs, move || {
        ringloop::Builder::new()
            .driver(ringloop::Driver::Uring)
            .build()
            .unwrap()
            .block_on(body())
    });
}

/// A connected TCP pair over loopback: (client, server).
async fn tcp_pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

async fn read_exact(stream: &TcpStream, len: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < len {
        let (res, buf) = stream.read(vec![0; len - got.len()]).await;
        let n = res.unwrap();
        assert!(n > 0, "EOF after {} of {len} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[test]
fn a_registered_stream_is_reached_through_its_slot_not_its_fd_number() {
    let _fds = exclusive_fd_table();
    run(20, || async {
        let table = FixedFiles::new(4).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (client1, server1) = tcp_pair(&listener).await;
        let (client2, server2) = tcp_pair(&listener).await;
        server1.register(&table).unwrap();
        assert!(server1.is_registered() && !server2.is_registered());
        assert_eq!(table.available(), 3);

        // Point server1's fd *number* at connection 2. The slot still holds
        // connection 1's socket: an op that names the slot reaches
        // connection 1, one that names the number would reach connection 2.
        // SAFETY: both fds are open; dup2 atomically replaces what
        // server1's number refers to, which server1 still closes (once).
        let rc = unsafe { libc::dup2(server2.as_raw_fd(), server1.as_raw_fd()) };
        assert_eq!(rc, server1.as_raw_fd());

        let (res, _) = client1.write_all(b"one" as &'static [u8]).await;
        res.unwrap();
        let (res, _) = client2.write_all(b"two" as &'static [u8]).await;
        res.unwrap();
        let (res, buf) = server1.read(vec![0; 16]).await;
        assert_eq!(
            &buf[..res.unwrap()],
            b"one",
            "the read went through the slot"
        );
        let (res, _) = server1.write_all(b"back" as &'static [u8]).await;
        res.unwrap();
        assert_eq!(read_exact(&client1, 4).await, b"back");
        assert_eq!(read_exact(&server2, 3).await, b"two");
    });
}

#[test]
fn registered_sockets_round_trip_on_every_op_that_names_the_slot() {
    let _fds = exclusive_fd_table();
    run(20, || async {
        let table = FixedFiles::new(8).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (client, server) = tcp_pair(&listener).await;
        client.register(&table).unwrap();
        server.register(&table).unwrap();
        client.register(&table).unwrap(); // again: nothing happens
        assert_eq!(table.available(), 6);

        // write_all / read
        let (res, _) = client.write_all(b"hello".to_vec()).await;
        res.unwrap();
        assert_eq!(read_exact(&server, 5).await, b"hello");
        // send with flags / recv with flags
        let (res, _) = server.send(b"peek".to_vec(), 0).await;
        assert_eq!(res.unwrap(), 4);
        let (res, buf) = client.recv(vec![0; 4], libc::MSG_PEEK).await;
        assert_eq!(&buf[..res.unwrap()], b"peek");
        assert_eq!(read_exact(&client, 4).await, b"peek");
        // writev / readv
        let (res, _) = client.writev(vec![b"ab".to_vec(), b"cd".to_vec()]).await;
        assert_eq!(res.unwrap(), 4);
        let (res, bufs) = server.readv(vec![vec![0; 1], vec![0; 3]]).await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(bufs.concat(), b"abcd");
        // send_zc
        let (res, _) = client.send_zc(vec![7u8; 1000]).await;
        assert_eq!(res.unwrap(), 1000);
        assert_eq!(read_exact(&server, 1000).await, vec![7u8; 1000]);
        // multishot receive with a buffer ring
        let ring = BufRing::new(4, 64).unwrap();
        let mut chunks = server.recv_multishot(&ring);
        let (res, _) = client.write_all(b"multishot".to_vec()).await;
        res.unwrap();
        let mut got = Vec::new();
        while got.len() < 9 {
            got.extend_from_slice(&chunks.next().await.unwrap().unwrap());
        }
        assert_eq!(got, b"multishot");
        // shutdown: the peer reads EOF
        client.shutdown(std::net::Shutdown::Write).await.unwrap();
        assert!(chunks.next().await.is_none(), "EOF after the shutdown");
        drop(chunks);

        // UDP: send_to / recv_from, connected send / recv
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.register(&table).unwrap();
        b.register(&table).unwrap();
        let (res, _) = a.send_to(b"dgram".to_vec(), b.local_addr().unwrap()).await;
        assert_eq!(res.unwrap(), 5);
        let (res, buf) = b.recv_from(vec![0; 16]).await;
        let (n, from) = res.unwrap();
        assert_eq!((&buf[..n], from), (&b"dgram"[..], a.local_addr().unwrap()));
        b.connect(a.local_addr().unwrap()).await.unwrap();
        let (res, _) = b.send(b"reply".to_vec()).await;
        assert_eq!(res.unwrap(), 5);
        let (res, buf) = a.recv_from(vec![0; 16]).await;
        assert_eq!(&buf[..res.unwrap().0], b"reply");

        // Unix stream pair
        let (x, y) = UnixStream::pair().unwrap();
        x.register(&table).unwrap();
        y.register(&table).unwrap();
        let (res, _) = x.write_all(b"unix".to_vec()).await;
        res.unwrap();
        let (res, buf) = y.read(vec![0; 8]).await;
        assert_eq!(&buf[..res.unwrap()], b"unix");

        assert_eq!(table.available(), 2);
        drop((client, server, a, b, x, y));
        assert_eq!(table.available(), 8, "every slot is freed with its socket");
    });
}

#[test]
fn a_socket_in_another_table_or_a_full_table_is_refused() {
    let _fds = exclusive_fd_table();
    run(20, || async {
        let table = FixedFiles::new(1).unwrap();
        let (x, y) = UnixStream::pair().unwrap();
        x.register(&table).unwrap();
        let err = y.register(&table).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::QuotaExceeded);
        assert!(!y.is_registered());
        // y still works through its fd.
        let (res, _) = y.write_all(b"fd".to_vec()).await;
        res.unwrap();
        let (res, buf) = x.read(vec![0; 4]).await;
        assert_eq!(&buf[..res.unwrap()], b"fd");
    });
}

#[test]
fn a_slot_stays_reserved_until_the_last_op_on_it_completes_then_is_freed() {
    let _fds = exclusive_fd_table();
    let before = open_fds();
    run(20, || async {
        let table = FixedFiles::new(8).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut clients = Vec::new();
        for _ in 0..8 {
            let (client, server) = tcp_pair(&listener).await;
            server.register(&table).unwrap();
            // A read that nothing will satisfy, abandoned mid-flight: its
            // SQE names the slot, so the slot must outlive the stream.
            let read =
                ringloop::time::timeout(Duration::from_millis(5), server.read(vec![0u8; 64])).await;
            assert!(read.is_err(), "nothing was sent, the read timed out");
            // The stream goes too, but the cancelled read has not had its
            // CQE yet (nothing was submitted since): its slot stays taken.
            let free = table.available();
            drop(server);
            assert_eq!(
                table.available(),
                free,
                "a slot is freed only after the CQE"
            );
            clients.push(client);
        }
        eventually(
            "every slot is freed once the cancelled reads completed",
            || table.available() == 8,
        )
        .await;
        // And each slot is reusable.
        let (client, server) = tcp_pair(&listener).await;
        server.register(&table).unwrap();
        let (res, _) = client.write_all(b"reuse".to_vec()).await;
        res.unwrap();
        assert_eq!(read_exact(&server, 5).await, b"reuse");
    });
    assert_eq!(open_fds(), before, "no descriptor leaked");
}

const WANTED: usize = 10_000;

#[test]
fn ten_thousand_registered_connections_echo_and_free_every_slot() {
    let _fds = exclusive_fd_table();
    let limit = raise_fd_limit((2 * WANTED + 512) as u64) as usize;
    let count = WANTED.min(limit.saturating_sub(512) / 2);
    if count < WANTED {
        eprintln!(
            "RLIMIT_NOFILE is {limit} and cannot be raised: scaled down to {count} connections"
        );
    }
    let before = open_fds();
    run(120, move || async move {
        let table = FixedFiles::new(count as u32).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.set_backlog(65535).unwrap();
        let addr = listener.local_addr().unwrap();
        let ring = BufRing::new(256, 256).unwrap();
        let server_table = table.clone();
        let server = ringloop::spawn(async move {
            let mut incoming = listener.incoming();
            let mut tasks = Vec::with_capacity(count);
            for _ in 0..count {
                let stream = incoming.next().await.unwrap();
                stream.register(&server_table).unwrap();
                let ring = ring.clone();
                tasks.push(ringloop::spawn(async move {
                    let mut chunks = stream.recv_multishot(&ring);
                    while let Some(chunk) = chunks.next().await {
                        let (res, _) = stream.write_all(chunk.unwrap()).await;
                        res.unwrap();
                    }
                }));
            }
            tasks
        });
        let mut clients = Vec::with_capacity(count);
        for wave in (0..count).collect::<Vec<_>>().chunks(1000) {
            let connects: Vec<_> = wave
                .iter()
                .map(|_| ringloop::spawn(async move { TcpStream::connect(addr).await.unwrap() }))
                .collect();
            for c in connects {
                clients.push(c.await.unwrap());
            }
        }
        let tasks = server.await.unwrap();
        assert_eq!(table.available(), 0, "every connection holds a slot");
        let echoes: Vec<_> = clients
            .into_iter()
            .enumerate()
            .map(|(i, client)| {
                ringloop::spawn(async move {
                    let msg = format!("hello from connection {i}").into_bytes();
                    let (res, msg) = client.write_all(msg).await;
                    res.unwrap();
                    assert_eq!(read_exact(&client, msg.len()).await, msg);
                })
            })
            .collect();
        for e in echoes {
            e.await.unwrap();
        }
        // The clients are closed: every server task sees EOF and ends.
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(table.available(), count, "every slot is free again");
    });
    assert_eq!(open_fds(), before, "no descriptor leaked");
}

#[test]
fn on_the_epoll_driver_there_is_no_table_and_sockets_work_unchanged() {
    let _fds = exclusive_fd_table();
    watchdog(20, || {
        ringloop::Builder::new()
            .driver(ringloop::Driver::Epoll)
            .build()
            .unwrap()
            .block_on(async {
                let err = FixedFiles::new(4).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Unsupported);
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let (client, server) = tcp_pair(&listener).await;
                assert!(!server.is_registered());
                let (res, _) = client.write_all(b"epoll".to_vec()).await;
                res.unwrap();
                assert_eq!(read_exact(&server, 5).await, b"epoll");
            })
    });
}

#[test]
fn a_registered_stream_still_converts_from_and_into_std() {
    let _fds = exclusive_fd_table();
    run(20, || async {
        let table = FixedFiles::new(2).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let std_client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (std_server, _) = listener.accept().unwrap();
        let client = TcpStream::from_std(std_client);
        let server = TcpStream::from_std(std_server);
        client.register(&table).unwrap();
        server.register(&table).unwrap();
        let (res, _) = client.write_all(b"ring".to_vec()).await;
        res.unwrap();
        assert_eq!(read_exact(&server, 4).await, b"ring");
        // Back to std: the slot is freed, the connection lives on.
        let mut std_server = server.into_std().unwrap();
        assert_eq!(table.available(), 1);
        std::io::Write::write_all(&mut std_server, b"std").unwrap();
        assert_eq!(read_exact(&client, 3).await, b"std");
    });
}
